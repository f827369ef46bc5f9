package timed

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/suanli/suanli/internal/core"
)

// ReadOpenbPods reads an Alibaba openb pod list (openb_pod_list_*.csv:
// name, cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec, qos,
// pod_phase, creation_time, deletion_time, scheduled_time; times in
// seconds from the trace start) as a time-driven workload:
//   - arrival = creation_time; duration = deletion_time − scheduled_time
//     (the time it ran; its real queueing is not replayed);
//   - accelerators = num_gpu × gpu_milli milli-cards (sharing pods ask for
//     part of one card);
//   - tenant = qos class (the trace has no users); with spotBE,
//     best-effort (BE) pods run in the spot tier, so the production
//     scheduler may preempt them.
//
// Pods never scheduled in the trace (no scheduled_time, e.g. Pending) have
// no run time and are skipped; so are pods with a zero run time. It returns
// the jobs and how many pods were skipped. The gpu_spec model constraint
// is ignored (the simulated cluster has one model).
func ReadOpenbPods(r io.Reader, spotBE bool) ([]Job, int, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, 0, fmt.Errorf("openb pods: header: %w", err)
	}
	col, err := columns(header, "name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "qos",
		"creation_time", "deletion_time", "scheduled_time")
	if err != nil {
		return nil, 0, fmt.Errorf("openb pods: %w", err)
	}
	var jobs []Job
	skipped := 0
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return jobs, skipped, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("openb pods: line %d: %w", line, err)
		}
		if len(jobs) >= JobsMax {
			return nil, 0, fmt.Errorf("openb pods: more than %d pods", JobsMax)
		}
		j, ok, err := openbRow(rec, col, spotBE)
		if err != nil {
			return nil, 0, fmt.Errorf("openb pods: line %d: %w", line, err)
		}
		if !ok {
			skipped++
			continue
		}
		j.ID = jobID(len(jobs))
		jobs = append(jobs, j)
	}
}

func openbRow(rec []string, col map[string]int, spotBE bool) (Job, bool, error) {
	if rec[col["scheduled_time"]] == "" {
		return Job{}, false, nil
	}
	var v [7]int64
	for k, name := range []string{"cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "creation_time", "deletion_time", "scheduled_time"} {
		x, err := strconv.ParseInt(rec[col[name]], 10, 64)
		if err != nil || x < 0 {
			return Job{}, false, fmt.Errorf("%s %q is not a non-negative integer", name, rec[col[name]])
		}
		v[k] = x
	}
	cpu, mem, gpus, milli, created, deleted, scheduled := v[0], v[1], v[2], v[3], v[4], v[5], v[6]
	if gpus > 0 && (milli <= 0 || milli > MilliPerCard) {
		return Job{}, false, fmt.Errorf("gpu_milli %d not in 1..%d", milli, MilliPerCard)
	}
	if deleted <= scheduled || (gpus == 0 && cpu == 0 && mem == 0) {
		return Job{}, false, nil
	}
	j := Job{Name: rec[col["name"]], Tenant: rec[col["qos"]], ArrivalMs: created * 1000, DurationMs: (deleted - scheduled) * 1000,
		AccelMilli: gpus * milli, CPUMilli: cpu, MemMiB: mem}
	if spotBE && j.Tenant == "BE" {
		j.Tier = core.TierSpot
	}
	return j, true, nil
}

// ReadOpenbPodsFile reads an openb pod list from path.
func ReadOpenbPodsFile(path string, spotBE bool) ([]Job, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close() // read-only: a close error loses nothing
	return ReadOpenbPods(f, spotBE)
}

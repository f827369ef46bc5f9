package timed

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// GavelOptions configure the synthetic workload of Gavel's continuous-job
// experiments (OSDI'20, scheduler/utils.py: _generate_duration and
// _generate_scale_factor), written here from the published formulas.
type GavelOptions struct {
	Jobs        int
	RatePerHour float64 // Poisson arrivals, jobs per hour
	MultiGPU    bool    // sizes 1/2/4/8 w.p. 0.70/0.10/0.15/0.05; else all 1 GPU
	Seed        uint64
}

// Gavel's measured window: jobs with IDs 4000–5000 (EXPERIMENTS.md).
const (
	GavelWindowFrom = 4000
	GavelWindowTo   = 5000
	GavelRateMax    = 1_000 // jobs per hour; more is not a Gavel setting
)

// GenerateGavel draws a Gavel-like workload: Poisson arrivals (the first
// at 0), durations 60·10^U(1.5,3) s w.p. 0.8 else 60·10^U(3,4) s, and
// sizes as in GavelOptions. One tenant: Gavel's generator has no users.
func GenerateGavel(o GavelOptions) ([]Job, error) {
	if o.Jobs <= 0 || o.Jobs > JobsMax {
		return nil, fmt.Errorf("gavel: jobs %d not in 1..%d", o.Jobs, JobsMax)
	}
	if !(o.RatePerHour > 0 && o.RatePerHour <= GavelRateMax) {
		return nil, fmt.Errorf("gavel: rate %g jobs/h not in (0, %d]", o.RatePerHour, GavelRateMax)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6761_7665_6c)) // "gavel"
	jobs := make([]Job, o.Jobs)
	var atS float64
	for i := range jobs {
		if i > 0 {
			atS += rng.ExpFloat64() * 3600 / o.RatePerHour
		}
		lo, hi := 1.5, 3.0
		if rng.Float64() >= 0.8 {
			lo, hi = 3, 4
		}
		durationS := 60 * math.Pow(10, lo+(hi-lo)*rng.Float64())
		cards := int64(1)
		if o.MultiGPU {
			cards = gavelSize(rng.Float64())
		}
		jobs[i] = Job{ID: jobID(i), Tenant: "gavel", ArrivalMs: int64(math.Round(atS * 1000)),
			DurationMs: int64(math.Round(durationS * 1000)), AccelMilli: cards * MilliPerCard}
	}
	return jobs, nil
}

// gavelSize maps u ~ U(0,1) to 1/2/4/8 GPUs w.p. 0.70/0.10/0.15/0.05.
func gavelSize(u float64) int64 {
	switch {
	case u < 0.70:
		return 1
	case u < 0.80:
		return 2
	case u < 0.95:
		return 4
	}
	return 8
}

// GavelThroughputs are steps per second by job type and scale factor
// (GPUs), for one worker type.
type GavelThroughputs map[string]float64

func throughputKey(jobType string, gpus int64) string { return fmt.Sprintf("%s|%d", jobType, gpus) }

// ReadGavelThroughputs reads the isolated ("null") throughputs of one
// worker type from a Gavel throughputs JSON file (e.g. oracle_throughputs
// .json or simulation_throughputs.json; keys are "Job type" or
// "('Job type', scale)"). The MSR traces carry steps, not durations, so
// they need this file; it is not among the shared traces.
func ReadGavelThroughputs(r io.Reader, worker string) (GavelThroughputs, error) {
	var raw map[string]map[string]map[string]json.RawMessage
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("gavel throughputs: %w", err)
	}
	byType, ok := raw[worker]
	if !ok {
		return nil, fmt.Errorf("gavel throughputs: no worker type %q", worker)
	}
	out := GavelThroughputs{}
	for key, v := range byType {
		var tput float64
		if err := json.Unmarshal(v["null"], &tput); err != nil || tput <= 0 {
			continue // no isolated throughput for this type
		}
		jobType, scale := key, int64(1)
		if t, s, ok := parseTupleKey(key); ok {
			jobType, scale = t, s
		}
		out[throughputKey(jobType, scale)] = tput
	}
	return out, nil
}

// parseTupleKey reads "('ResNet-50 (batch size 16)', 2)".
func parseTupleKey(key string) (string, int64, bool) {
	if !strings.HasPrefix(key, "('") || !strings.HasSuffix(key, ")") {
		return "", 0, false
	}
	inner := strings.TrimSuffix(strings.TrimPrefix(key, "('"), ")")
	k := strings.LastIndex(inner, "',")
	if k < 0 {
		return "", 0, false
	}
	scale, err := strconv.ParseInt(strings.TrimSpace(inner[k+2:]), 10, 64)
	return inner[:k], scale, err == nil
}

// ReadGavelMSR reads one per-VC Gavel trace (7 tab-separated fields, no
// header: job_type, command, num_steps_arg, needs_data_dir, total_steps,
// arrival_time, scale_factor). Arrival times and GPU counts are Philly's;
// duration = total_steps / the isolated throughput of the job type at its
// scale factor. tenant is the VC.
func ReadGavelMSR(r io.Reader, tenant string, tput GavelThroughputs) ([]Job, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var jobs []Job
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		if len(jobs) >= JobsMax {
			return nil, fmt.Errorf("gavel msr %s: more than %d jobs", tenant, JobsMax)
		}
		j, err := gavelLine(sc.Text(), tput)
		if err != nil {
			return nil, fmt.Errorf("gavel msr %s: line %d: %w", tenant, line, err)
		}
		j.Tenant, j.Name = tenant, fmt.Sprintf("%s-%d", tenant, len(jobs))
		jobs = append(jobs, j)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("gavel msr %s: %w", tenant, err)
	}
	return jobs, nil
}

func gavelLine(text string, tput GavelThroughputs) (Job, error) {
	f := strings.Split(text, "\t")
	if len(f) != 7 {
		return Job{}, fmt.Errorf("%d fields, want 7", len(f))
	}
	steps, e1 := strconv.ParseInt(f[4], 10, 64)
	arrivalS, e2 := strconv.ParseFloat(f[5], 64)
	gpus, e3 := strconv.ParseInt(f[6], 10, 64)
	if e1 != nil || e2 != nil || e3 != nil || steps <= 0 || arrivalS < 0 || gpus <= 0 {
		return Job{}, fmt.Errorf("bad total_steps, arrival_time or scale_factor: %q %q %q", f[4], f[5], f[6])
	}
	rate, ok := tput[throughputKey(f[0], gpus)]
	if !ok {
		return Job{}, fmt.Errorf("no throughput for %q on %d GPUs", f[0], gpus)
	}
	return Job{ArrivalMs: int64(math.Round(arrivalS * 1000)), DurationMs: max(int64(math.Round(float64(steps)/rate*1000)), 1),
		AccelMilli: gpus * MilliPerCard, Class: f[0]}, nil
}

// ReadGavelMSRDir reads every *.trace of dir (one per VC, named by its
// hash) into one workload, in arrival order with IDs by that order. The
// VCs' arrival offsets are taken to share one origin.
func ReadGavelMSRDir(dir string, tput GavelThroughputs) ([]Job, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.trace"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("gavel msr: no *.trace files in %s", dir)
	}
	sort.Strings(paths)
	var all []Job
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		jobs, err := ReadGavelMSR(f, strings.TrimSuffix(filepath.Base(p), ".trace"), tput)
		f.Close() // read-only: a close error loses nothing
		if err != nil {
			return nil, err
		}
		all = append(all, jobs...)
	}
	if len(all) > JobsMax {
		return nil, fmt.Errorf("gavel msr: more than %d jobs", JobsMax)
	}
	sort.SliceStable(all, func(a, b int) bool { return all[a].ArrivalMs < all[b].ArrivalMs })
	for i := range all {
		all[i].ID = jobID(i)
	}
	return all, nil
}

package timed

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PhillyRecord is one row of philly.csv (Pollux's per-job Philly summary).
type PhillyRecord struct {
	Submit    time.Time // no zone in the file; read as UTC
	DurationS float64
	GPUs      int64
	GPUTimeS  float64
	Cluster   string // the virtual cluster: our tenant
}

// phillyTimeLayout is how philly.csv writes submit times.
const phillyTimeLayout = "2006-01-02 15:04:05"

// Pollux's filter on philly.csv (workload.py): at least a minute long and
// under 1000 GPU-hours.
const (
	PolluxDurationMinS = 60
	PolluxGPUTimeMaxS  = 1000 * 3600
)

// ReadPhilly reads philly.csv (timestamp,duration,num_gpus,gpu_time,cluster).
// Blank lines are skipped; anything else malformed is an error naming its
// line.
func ReadPhilly(r io.Reader) ([]PhillyRecord, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("philly: header: %w", err)
	}
	col, err := columns(header, "timestamp", "duration", "num_gpus", "gpu_time", "cluster")
	if err != nil {
		return nil, fmt.Errorf("philly: %w", err)
	}
	var out []PhillyRecord
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("philly: line %d: %w", line, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(out) >= JobsMax {
			return nil, fmt.Errorf("philly: more than %d jobs", JobsMax)
		}
		p, err := phillyRow(rec, col)
		if err != nil {
			return nil, fmt.Errorf("philly: line %d: %w", line, err)
		}
		out = append(out, p)
	}
}

func phillyRow(rec []string, col map[string]int) (PhillyRecord, error) {
	if len(rec) < len(col) {
		return PhillyRecord{}, fmt.Errorf("%d fields, want %d", len(rec), len(col))
	}
	var p PhillyRecord
	var err error
	if p.Submit, err = time.Parse(phillyTimeLayout, rec[col["timestamp"]]); err != nil {
		return p, fmt.Errorf("timestamp: %w", err)
	}
	if p.DurationS, err = strconv.ParseFloat(rec[col["duration"]], 64); err != nil || p.DurationS < 0 {
		return p, fmt.Errorf("duration %q is not a non-negative number", rec[col["duration"]])
	}
	if p.GPUs, err = strconv.ParseInt(rec[col["num_gpus"]], 10, 64); err != nil || p.GPUs < 0 {
		return p, fmt.Errorf("num_gpus %q is not a non-negative integer", rec[col["num_gpus"]])
	}
	if p.GPUTimeS, err = strconv.ParseFloat(rec[col["gpu_time"]], 64); err != nil || p.GPUTimeS < 0 {
		return p, fmt.Errorf("gpu_time %q is not a non-negative number", rec[col["gpu_time"]])
	}
	p.Cluster = rec[col["cluster"]]
	return p, nil
}

// columns maps the wanted column names to their positions in header.
func columns(header []string, want ...string) (map[string]int, error) {
	col := make(map[string]int, len(want))
	for k, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = k
	}
	out := make(map[string]int, len(want))
	for _, w := range want {
		k, ok := col[w]
		if !ok {
			return nil, fmt.Errorf("no column %q in header %v", w, header)
		}
		out[w] = k
	}
	return out, nil
}

// PhillyJobs turns philly.csv rows into jobs: arrival from the earliest
// submit, the Philly run time as duration, tenant = virtual cluster. Jobs
// with no GPUs or a zero duration are dropped (they hold nothing); with
// polluxFilter, so are those Pollux's sampler drops. It returns the jobs
// and how many rows were dropped.
func PhillyJobs(recs []PhillyRecord, polluxFilter bool) ([]Job, int) {
	var first time.Time
	for i, p := range recs {
		if i == 0 || p.Submit.Before(first) {
			first = p.Submit
		}
	}
	// Submit order (file order breaks ties), so IDs sort by arrival.
	order := make([]int, len(recs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return recs[order[a]].Submit.Before(recs[order[b]].Submit) })
	jobs := make([]Job, 0, len(recs))
	dropped := 0
	for _, i := range order {
		p := recs[i]
		durationMs := int64(math.Round(p.DurationS * 1000))
		if p.GPUs == 0 || durationMs <= 0 || (polluxFilter && !polluxKeeps(p)) {
			dropped++
			continue
		}
		jobs = append(jobs, Job{ID: jobID(len(jobs)), Tenant: p.Cluster, ArrivalMs: p.Submit.Sub(first).Milliseconds(),
			DurationMs: durationMs, AccelMilli: p.GPUs * MilliPerCard})
	}
	return jobs, dropped
}

func polluxKeeps(p PhillyRecord) bool {
	return p.DurationS >= PolluxDurationMinS && p.GPUTimeS < PolluxGPUTimeMaxS
}

// ReadPhillyFile reads philly.csv from path.
func ReadPhillyFile(path string) ([]PhillyRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() // read-only: a close error loses nothing
	return ReadPhilly(f)
}

// PolluxRow is one row of a Pollux workload-N.csv.
type PolluxRow struct {
	Name        string
	TimeS       int64
	Application string
	Replicas    int64
	BatchSize   int64
}

// ReadPolluxWorkload reads workload-N.csv (name,time,application,
// num_replicas,batch_size).
func ReadPolluxWorkload(r io.Reader) ([]PolluxRow, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("pollux workload: header: %w", err)
	}
	col, err := columns(header, "name", "time", "application", "num_replicas", "batch_size")
	if err != nil {
		return nil, fmt.Errorf("pollux workload: %w", err)
	}
	var out []PolluxRow
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("pollux workload: line %d: %w", line, err)
		}
		if len(out) >= JobsMax {
			return nil, fmt.Errorf("pollux workload: more than %d jobs", JobsMax)
		}
		row := PolluxRow{Name: rec[col["name"]], Application: rec[col["application"]]}
		var e1, e2, e3 error
		row.TimeS, e1 = strconv.ParseInt(rec[col["time"]], 10, 64)
		row.Replicas, e2 = strconv.ParseInt(rec[col["num_replicas"]], 10, 64)
		row.BatchSize, e3 = strconv.ParseInt(rec[col["batch_size"]], 10, 64)
		if err := errors.Join(e1, e2, e3); err != nil || row.TimeS < 0 || row.Replicas <= 0 {
			return nil, fmt.Errorf("pollux workload: line %d: bad time or num_replicas: %v", line, rec)
		}
		if _, ok := polluxBucket[row.Application]; !ok {
			return nil, fmt.Errorf("pollux workload: line %d: unknown application %q", line, row.Application)
		}
		out = append(out, row)
	}
}

// polluxBucket is the GPU-time bucket Pollux's workload.py drew each
// application from: under 1 GPU-h, 1–10, 10–100, and 100–1000 GPU-h.
var polluxBucket = map[string]int{"cifar10": 0, "ncf": 0, "deepspeech2": 1, "bert": 1, "yolov3": 2, "imagenet": 3}

func gpuTimeBucket(gpuTimeS float64) int {
	switch {
	case gpuTimeS < 3600:
		return 0
	case gpuTimeS < 10*3600:
		return 1
	case gpuTimeS < 100*3600:
		return 2
	}
	return 3
}

// PolluxJobs gives Pollux workload rows durations. The workload files
// carry none: Pollux derives run time from per-application throughput
// models we do not have. Each row instead draws a Philly job (with a
// generator seeded by seed and the row's index) from the Pollux-filtered
// philly.csv rows of the GPU-time bucket its application stands for, and
// runs for that job's GPU time spread over its num_replicas GPUs
// (duration = gpu_time / num_replicas: linear scaling). Tenant is the
// application, so fairness is measured across job classes.
func PolluxJobs(rows []PolluxRow, philly []PhillyRecord, seed uint64) ([]Job, error) {
	var pool [4][]float64
	for _, p := range philly {
		if polluxKeeps(p) {
			b := gpuTimeBucket(p.GPUTimeS)
			pool[b] = append(pool[b], p.GPUTimeS)
		}
	}
	jobs := make([]Job, 0, len(rows))
	for i, row := range rows {
		b := polluxBucket[row.Application]
		if len(pool[b]) == 0 {
			return nil, fmt.Errorf("pollux workload: no philly job of %s's GPU-time bucket %d", row.Application, b)
		}
		rng := rand.New(rand.NewPCG(seed, uint64(i)))
		gpuTimeS := pool[b][rng.IntN(len(pool[b]))]
		durationMs := max(int64(math.Round(gpuTimeS*1000/float64(row.Replicas))), 1)
		jobs = append(jobs, Job{ID: jobID(i), Name: row.Name, Tenant: row.Application, Class: row.Application,
			ArrivalMs: row.TimeS * 1000, DurationMs: durationMs, AccelMilli: row.Replicas * MilliPerCard})
	}
	return jobs, nil
}

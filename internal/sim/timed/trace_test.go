package timed

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/core"
)

// The fixtures below are made up for the tests, in the traces' formats;
// no row of a trace is copied (research-only licences).

func TestReadPhilly(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		want    []PhillyRecord
		wantErr string
	}{
		{name: "rows and a trailing blank line",
			csv: "timestamp,duration,num_gpus,gpu_time,cluster\n2020-01-01 00:00:10,100.0,2,200.0,vcA\n2020-01-01 00:00:00,50.5,1,50.5,vcB\n\n",
			want: []PhillyRecord{
				{Submit: mustTime(t, "2020-01-01 00:00:10"), DurationS: 100, GPUs: 2, GPUTimeS: 200, Cluster: "vcA"},
				{Submit: mustTime(t, "2020-01-01 00:00:00"), DurationS: 50.5, GPUs: 1, GPUTimeS: 50.5, Cluster: "vcB"},
			}},
		{name: "columns in another order",
			csv:  "cluster,gpu_time,num_gpus,duration,timestamp\nvcC,10,1,10,2020-02-01 01:02:03\n",
			want: []PhillyRecord{{Submit: mustTime(t, "2020-02-01 01:02:03"), DurationS: 10, GPUs: 1, GPUTimeS: 10, Cluster: "vcC"}}},
		{name: "missing column", csv: "timestamp,duration,num_gpus,cluster\n", wantErr: `no column "gpu_time"`},
		{name: "bad time", csv: "timestamp,duration,num_gpus,gpu_time,cluster\nyesterday,1,1,1,a\n", wantErr: "line 2: timestamp"},
		{name: "negative gpus", csv: "timestamp,duration,num_gpus,gpu_time,cluster\n2020-01-01 00:00:00,1,-1,1,a\n", wantErr: "num_gpus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadPhilly(strings.NewReader(tc.csv))
			checkErr(t, err, tc.wantErr)
			if tc.wantErr == "" && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ReadPhilly = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPhillyJobs(t *testing.T) {
	recs, err := ReadPhilly(strings.NewReader("timestamp,duration,num_gpus,gpu_time,cluster\n" +
		"2020-01-01 00:01:00,120,2,240,vcA\n" + // kept
		"2020-01-01 00:00:30,30,1,30,vcB\n" + // under 60 s: Pollux drops it
		"2020-01-01 00:02:00,0,1,0,vcA\n" + // zero duration: always dropped
		"2020-01-01 00:03:00,4000000,1,4000000,vcC\n")) // 1111 GPU-h: Pollux drops it
	if err != nil {
		t.Fatal(err)
	}
	all, dropped := PhillyJobs(recs, false)
	if len(all) != 3 || dropped != 1 {
		t.Fatalf("PhillyJobs(no filter) = %d jobs, %d dropped, want 3, 1", len(all), dropped)
	}
	// Sorted by submit: the 30-s job (00:00:30) first, arrival 0.
	if all[0].Tenant != "vcB" || all[0].ArrivalMs != 0 || all[1].ArrivalMs != 30_000 || all[1].AccelMilli != 2000 || all[1].DurationMs != 120_000 {
		t.Errorf("PhillyJobs = %+v", all)
	}
	kept, dropped := PhillyJobs(recs, true)
	// Arrivals keep the file's time origin (its earliest submit).
	if len(kept) != 1 || dropped != 3 || kept[0].Tenant != "vcA" || kept[0].ArrivalMs != 30_000 {
		t.Errorf("PhillyJobs(pollux filter) = %+v, %d dropped, want only vcA's job at 30 s", kept, dropped)
	}
}

func TestReadPolluxWorkload(t *testing.T) {
	tests := []struct {
		name    string
		csv     string
		want    []PolluxRow
		wantErr string
	}{
		{name: "ok", csv: "name,time,application,num_replicas,batch_size\nncf-0,5,ncf,1,256\nbert-1,70,bert,8,96\n",
			want: []PolluxRow{{Name: "ncf-0", TimeS: 5, Application: "ncf", Replicas: 1, BatchSize: 256},
				{Name: "bert-1", TimeS: 70, Application: "bert", Replicas: 8, BatchSize: 96}}},
		{name: "unknown application", csv: "name,time,application,num_replicas,batch_size\nx,1,resnet,1,1\n", wantErr: "unknown application"},
		{name: "zero replicas", csv: "name,time,application,num_replicas,batch_size\nx,1,ncf,0,1\n", wantErr: "num_replicas"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadPolluxWorkload(strings.NewReader(tc.csv))
			checkErr(t, err, tc.wantErr)
			if tc.wantErr == "" && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("ReadPolluxWorkload = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPolluxJobsDrawFromTheApplicationsBucket(t *testing.T) {
	philly := []PhillyRecord{
		{DurationS: 600, GPUs: 1, GPUTimeS: 600},        // bucket 0
		{DurationS: 7200, GPUs: 1, GPUTimeS: 7200},      // bucket 1
		{DurationS: 36000, GPUs: 2, GPUTimeS: 72000},    // bucket 2
		{DurationS: 360000, GPUs: 2, GPUTimeS: 720000},  // bucket 3
		{DurationS: 30, GPUs: 1, GPUTimeS: 30},          // filtered out (< 60 s)
		{DurationS: 4e6, GPUs: 1, GPUTimeS: 4e6},        // filtered out (>= 1000 GPU-h)
		{DurationS: 3600, GPUs: 8, GPUTimeS: 28_800},    // bucket 1
		{DurationS: 100, GPUs: 1, GPUTimeS: 100},        // bucket 0
		{DurationS: 720_000, GPUs: 4, GPUTimeS: 2.88e6}, // bucket 3
	}
	rows := []PolluxRow{{Name: "a", TimeS: 0, Application: "cifar10", Replicas: 2}, {Name: "b", TimeS: 9, Application: "yolov3", Replicas: 4},
		{Name: "c", TimeS: 20, Application: "imagenet", Replicas: 8}}
	jobs, err := PolluxJobs(rows, philly, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := jobs[0].DurationMs; d != 300_000 && d != 50_000 { // 600 or 100 GPU-s over 2 replicas
		t.Errorf("cifar10 duration = %d ms, want 300000 or 50000", d)
	}
	if jobs[1].DurationMs != 18_000_000 || jobs[1].AccelMilli != 4000 || jobs[1].ArrivalMs != 9000 || jobs[1].Tenant != "yolov3" {
		t.Errorf("yolov3 job = %+v, want 72000 GPU-s / 4 = 18000 s on 4 GPUs at 9 s", jobs[1])
	}
	if d := jobs[2].DurationMs; d != 90_000_000 && d != 360_000_000 {
		t.Errorf("imagenet duration = %d ms, want 720000/8 or 2.88e6/8 s", d)
	}
	again, _ := PolluxJobs(rows, philly, 1)
	if !reflect.DeepEqual(jobs, again) {
		t.Errorf("PolluxJobs is not deterministic for one seed")
	}
}

func TestReadOpenbPods(t *testing.T) {
	const header = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n"
	tests := []struct {
		name        string
		csv         string
		want        []Job
		wantSkipped int
		wantErr     string
	}{
		{name: "sharing, multi-GPU, best effort and never scheduled",
			csv: header + "p0,4000,8192,1,500,,LS,Running,10,110,20\n" +
				"p1,32000,65536,4,1000,V100M16|V100M32,BE,Succeeded,15,75,15\n" +
				"p2,1000,1024,1,1000,,LS,Pending,30,90,\n",
			want: []Job{
				{ID: "j000000", Name: "p0", Tenant: "LS", ArrivalMs: 10_000, DurationMs: 90_000, AccelMilli: 500, CPUMilli: 4000, MemMiB: 8192},
				{ID: "j000001", Name: "p1", Tenant: "BE", ArrivalMs: 15_000, DurationMs: 60_000, AccelMilli: 4000, CPUMilli: 32000, MemMiB: 65536, Tier: core.TierSpot},
			},
			wantSkipped: 1},
		{name: "gpu_milli over a card", csv: header + "p,1,1,1,1500,,LS,Running,0,10,0\n", wantErr: "gpu_milli"},
		{name: "bad number", csv: header + "p,x,1,1,1000,,LS,Running,0,10,0\n", wantErr: "cpu_milli"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, skipped, err := ReadOpenbPods(strings.NewReader(tc.csv), true)
			checkErr(t, err, tc.wantErr)
			if tc.wantErr == "" && (!reflect.DeepEqual(got, tc.want) || skipped != tc.wantSkipped) {
				t.Errorf("ReadOpenbPods = %+v, %d skipped, want %+v, %d", got, skipped, tc.want, tc.wantSkipped)
			}
		})
	}
}

func TestReadGavelMSR(t *testing.T) {
	tput, err := ReadGavelThroughputs(strings.NewReader(`{"v100": {
		"ModelA (batch size 8)": {"null": 4.0, "ModelB": [1.0, 2.0]},
		"('ModelB', 2)": {"null": 10.0},
		"ModelC": {"ModelA (batch size 8)": [1.0, 1.0]}}, "k80": {}}`), "v100")
	if err != nil {
		t.Fatal(err)
	}
	if want := (GavelThroughputs{"ModelA (batch size 8)|1": 4, "ModelB|2": 10}); !reflect.DeepEqual(tput, want) {
		t.Fatalf("ReadGavelThroughputs = %v, want %v", tput, want)
	}
	trace := "ModelA (batch size 8)\tcd %s && run\t--steps\t1\t400\t0.000000\t1\n" +
		"ModelB\tcmd\t-n\t0\t1000\t12.500000\t2\n"
	jobs, err := ReadGavelMSR(strings.NewReader(trace), "vc1", tput)
	if err != nil {
		t.Fatal(err)
	}
	want := []Job{{Name: "vc1-0", Tenant: "vc1", Class: "ModelA (batch size 8)", ArrivalMs: 0, DurationMs: 100_000, AccelMilli: 1000},
		{Name: "vc1-1", Tenant: "vc1", Class: "ModelB", ArrivalMs: 12_500, DurationMs: 100_000, AccelMilli: 2000}}
	if !reflect.DeepEqual(jobs, want) {
		t.Errorf("ReadGavelMSR = %+v, want %+v", jobs, want)
	}
	_, err = ReadGavelMSR(strings.NewReader("ModelC\tc\t-n\t0\t10\t0\t1\n"), "vc1", tput)
	checkErr(t, err, `no throughput for "ModelC"`)
	_, err = ReadGavelMSR(strings.NewReader("too\tfew\n"), "vc1", tput)
	checkErr(t, err, "2 fields, want 7")
}

func TestGenerateGavel(t *testing.T) {
	jobs, err := GenerateGavel(GavelOptions{Jobs: 20_000, RatePerHour: 2, MultiGPU: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[int64]int{}
	long := 0
	for i, j := range jobs {
		sizes[j.AccelMilli/MilliPerCard]++
		if j.DurationMs < 60*31_622 || j.DurationMs > 60*10_000_000 { // 60·10^1.5 s .. 60·10^4 s
			t.Fatalf("job %d duration %d ms outside Gavel's range", i, j.DurationMs)
		}
		if j.DurationMs > 60_000_000 {
			long++
		}
	}
	frac := func(n int) float64 { return float64(n) / float64(len(jobs)) }
	if f := frac(sizes[1]); f < 0.68 || f > 0.72 {
		t.Errorf("1-GPU share = %.3f, want about 0.70", f)
	}
	if f := frac(sizes[8]); f < 0.04 || f > 0.06 {
		t.Errorf("8-GPU share = %.3f, want about 0.05", f)
	}
	if f := frac(long); f < 0.18 || f > 0.22 {
		t.Errorf("long-job share = %.3f, want about 0.20", f)
	}
	// 20,000 arrivals at 2 jobs/h span about 10,000 h.
	if h := float64(jobs[len(jobs)-1].ArrivalMs) / 3.6e6; h < 9_500 || h > 10_500 {
		t.Errorf("last arrival at %.0f h, want about 10000 h", h)
	}
	if _, err := GenerateGavel(GavelOptions{Jobs: 10, RatePerHour: 0}); err == nil {
		t.Errorf("GenerateGavel(rate 0) = nil error, want one")
	}
}

func TestParseCluster(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		cards   int64
		wantErr bool
	}{
		{in: "16x4", want: "16x4", cards: 64},
		{in: "16x4+8x8:A100", want: "16x4+8x8:A100", cards: 128},
		{in: "16", wantErr: true},
		{in: "0x4", wantErr: true},
		{in: "4x1000", wantErr: true},
		{in: "ax4", wantErr: true},
	}
	for _, tc := range tests {
		c, err := ParseCluster(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseCluster(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && (c.String() != tc.want || c.Cards() != tc.cards) {
			t.Errorf("ParseCluster(%q) = %s with %d cards, want %s with %d", tc.in, c, c.Cards(), tc.want, tc.cards)
		}
	}
}

func TestReplicasSplitLargeJobsByNode(t *testing.T) {
	got := replicas(Job{AccelMilli: 6000, CPUMilli: 601, MemMiB: 60}, 4)
	if len(got) != 2 || got[0].AccelCount != 4000 || got[1].AccelCount != 2000 || got[0].CPUMilli+got[1].CPUMilli != 601 || got[0].MemMiB+got[1].MemMiB != 60 {
		t.Errorf("replicas(6 GPUs on 4-GPU nodes) = %+v, want 4 + 2 with CPU and memory summing up", got)
	}
	if got := replicas(Job{AccelMilli: 500, CPUMilli: 1}, 8); len(got) != 1 || got[0].AccelCount != 500 {
		t.Errorf("replicas(half a card) = %+v, want one replica", got)
	}
}

// traceRoot is the shared traces directory: SUANLI_TRACE_DIR, else
// ../shared/traces beside the repository, else /work/shared/traces (as
// internal/sim/fgd's tests find it).
func traceRoot() string {
	if d := os.Getenv("SUANLI_TRACE_DIR"); d != "" {
		return d
	}
	if d := "../../../../shared/traces"; dirExists(d) { // from internal/sim/timed
		return d
	}
	return "/work/shared/traces"
}

func dirExists(d string) bool {
	st, err := os.Stat(d)
	return err == nil && st.IsDir()
}

// needTrace returns the path of a shared trace file, or skips the test.
func needTrace(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(traceRoot(), rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("trace not available, skipping (research-only licences keep it out of the repository): %v; "+
			"set SUANLI_TRACE_DIR to the shared traces directory", err)
	}
	return p
}

func TestRealTracesParse(t *testing.T) {
	recs, err := ReadPhillyFile(needTrace(t, "philly-pollux/philly.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 82_247 {
		t.Errorf("philly.csv has %d jobs, want 82247 (README)", len(recs))
	}
	kept := 0
	for _, p := range recs {
		if polluxKeeps(p) {
			kept++
		}
	}
	if kept != 74_428 {
		t.Errorf("Pollux filter keeps %d jobs, want 74428 (README)", kept)
	}
	jobs, skipped, err := ReadOpenbPodsFile(needTrace(t, "alibaba-gpu-v2023-openb/openb_pod_list_default.csv"), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs)+skipped != 8152 {
		t.Errorf("openb default: %d jobs + %d skipped, want 8152 pods", len(jobs), skipped)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(phillyTimeLayout, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error = %v, want one containing %q", err, want)
	}
}

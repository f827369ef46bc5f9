package timed

import (
	"os"
	"testing"
)

// polluxWorkload6 reads the Pollux workload-6 with durations from
// philly.csv, or skips.
func polluxWorkload6(b testing.TB) []Job {
	b.Helper()
	recs, err := ReadPhillyFile(needTrace(b, "philly-pollux/philly.csv"))
	if err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(needTrace(b, "philly-pollux/workloads/workload-6.csv"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rows, err := ReadPolluxWorkload(f)
	if err != nil {
		b.Fatal(err)
	}
	jobs, err := PolluxJobs(rows, recs, 6)
	if err != nil {
		b.Fatal(err)
	}
	return jobs
}

func benchRun(b *testing.B, jobs []Job, cluster string) {
	for _, name := range Policies {
		b.Run(name, func(b *testing.B) {
			p, err := NewPolicy(name, 0)
			if err != nil {
				b.Fatal(err)
			}
			opt := Options{Cluster: mustCluster(b, cluster), Policy: p, IntervalMs: DefaultIntervalMs}
			var res *Result
			for b.Loop() {
				if res, err = Run(jobs, opt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(res.Passes), "passes/op")
			b.ReportMetric(res.Metrics.JCTMeanS, "jct_mean_s")
		})
	}
}

// BenchmarkPolluxWorkload6 replays Pollux's workload-6 (160 jobs, 16×4).
func BenchmarkPolluxWorkload6(b *testing.B) {
	benchRun(b, polluxWorkload6(b), PolluxCluster)
}

// BenchmarkPhillyFull replays all of philly.csv (82,247 jobs) on 80×8;
// tens of seconds per op: run with -benchtime=1x.
func BenchmarkPhillyFull(b *testing.B) {
	recs, err := ReadPhillyFile(needTrace(b, "philly-pollux/philly.csv"))
	if err != nil {
		b.Fatal(err)
	}
	jobs, _ := PhillyJobs(recs, false)
	benchRun(b, jobs, PhillyCluster)
}

func TestPolluxWorkload6Runs(t *testing.T) {
	jobs := polluxWorkload6(t)
	fifo := run(t, jobs, PolluxCluster, PolicyFIFO, DefaultIntervalMs).Metrics
	suanli := run(t, jobs, PolluxCluster, PolicySuanli, DefaultIntervalMs).Metrics
	if fifo.Finished != 160 || suanli.Finished != 160 {
		t.Fatalf("finished: fifo %d, suanli %d, want 160", fifo.Finished, suanli.Finished)
	}
	// Backfill and fair share should cut queueing well below strict FIFO's.
	if suanli.DelayMeanS >= fifo.DelayMeanS {
		t.Errorf("mean delay: suanli %.0f s, fifo %.0f s; want suanli lower", suanli.DelayMeanS, fifo.DelayMeanS)
	}
}

package executor

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/core"
)

func run(id, cmd string, replicas int, maxDur time.Duration) Run {
	r := Run{JobID: id, Spec: core.JobSpec{Command: cmd, MaxDuration: maxDur}}
	for i := 0; i < replicas; i++ {
		r.Spec.Replicas = append(r.Spec.Replicas, core.Replica{CPUMilli: 100, MemMiB: 16})
		r.Placements = append(r.Placements, core.Placement{Index: i, NodeName: "n"})
	}
	return r
}

func await(t *testing.T, ch <-chan Outcome) Outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(30 * time.Second):
		t.Fatal("no outcome")
	}
	return Outcome{}
}

func TestLocal(t *testing.T) {
	tests := []struct {
		name      string
		cmd       string
		replicas  int
		maxDur    time.Duration
		cancel    bool
		wantState core.JobState
		wantExit  int // -1: none
		maxTook   time.Duration
		wantLog   string
	}{
		{"success", `echo "r=$SUANLI_REPLICA of $SUANLI_REPLICAS"`, 1, time.Minute, false, core.JobSucceeded, 0, 10 * time.Second, "r=0 of 1"},
		{"exit code", "echo bye >&2; exit 7", 1, time.Minute, false, core.JobFailed, 7, 10 * time.Second, "bye"},
		{"timeout kills the group", "sleep 30 & sleep 30; echo never", 1, 300 * time.Millisecond, false, core.JobTimedOut, -1, 10 * time.Second, ""},
		{"gang peer failure stops the rest", `if [ "$SUANLI_REPLICA" = 1 ]; then exit 5; fi; sleep 30`, 2, time.Minute, false, core.JobFailed, 5, 10 * time.Second, "==> replica 1 <=="},
		{"cancel", "sleep 30", 2, time.Minute, true, core.JobCancelled, -1, 10 * time.Second, ""},
		{"command not found", "no-such-command-xyz", 1, time.Minute, false, core.JobFailed, 127, 10 * time.Second, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ch := make(chan Outcome, 1)
			l := NewLocal(dir, ch)
			t0 := time.Now()
			r := run("job-1", tt.cmd, tt.replicas, tt.maxDur)
			if err := l.Start(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			// Only a run that is surely still going must refuse a second Start; a fast
			// command may already have ended, and then a new run with that id is allowed.
			if stillRunning := tt.cancel || tt.maxDur < time.Second; stillRunning {
				if err := l.Start(context.Background(), r); core.ErrorCode(err) != core.EConflict {
					t.Errorf("second Start = %v, want a conflict", err)
				}
			}
			if tt.cancel {
				time.Sleep(100 * time.Millisecond)
				if !l.Cancel("job-1") {
					t.Fatal("Cancel did not know the run")
				}
			}
			o := await(t, ch)
			took := time.Since(t0)
			if o.Result.State != tt.wantState {
				t.Fatalf("state = %s (%s), want %s", o.Result.State, o.Result.Reason, tt.wantState)
			}
			if tt.wantExit >= 0 && (o.Result.ExitCode == nil || *o.Result.ExitCode != tt.wantExit) {
				t.Errorf("exit = %v, want %d", o.Result.ExitCode, tt.wantExit)
			}
			if took > tt.maxTook {
				t.Errorf("took %s; processes were not killed", took)
			}
			if len(o.Result.Replicas) != tt.replicas {
				t.Errorf("%d replica results, want %d", len(o.Result.Replicas), tt.replicas)
			}
			logs, err := ReadLogs(dir, "job-1", tt.replicas)
			if err != nil || !strings.Contains(logs, tt.wantLog) || strings.Contains(logs, "never") {
				t.Errorf("logs = %q, %v; want %q", logs, err, tt.wantLog)
			}
			if l.Cancel("job-1") {
				t.Errorf("Cancel after the end still found the run")
			}
		})
	}
}

func TestLocalRequiresCommand(t *testing.T) {
	l := NewLocal(t.TempDir(), make(chan Outcome, 1))
	if err := l.Start(context.Background(), run("j", "", 1, time.Minute)); core.ErrorCode(err) != core.EInvalid {
		t.Errorf("Start without a command = %v, want invalid", err)
	}
}

func TestSimulated(t *testing.T) {
	tests := []struct {
		name      string
		dur, max  time.Duration
		exit      int
		cancel    bool
		wantState core.JobState
		wantUsage int64
	}{
		{"runs for its duration", 200 * time.Millisecond, time.Minute, 0, false, core.JobSucceeded, 200},
		{"simulated failure", 100 * time.Millisecond, time.Minute, 3, false, core.JobFailed, 100},
		{"longer than max is timed out at max", time.Hour, 150 * time.Millisecond, 0, false, core.JobTimedOut, 150},
		{"cancel", time.Hour, 2 * time.Hour, 0, true, core.JobCancelled, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ch := make(chan Outcome, 1)
			s := NewSimulated(dir, ch)
			r := run("job-s", "", 2, tt.max)
			r.Spec.Command, r.Spec.Duration, r.Spec.ExitCode = "", tt.dur, tt.exit
			if err := s.Start(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if tt.cancel {
				time.Sleep(50 * time.Millisecond)
				s.Cancel("job-s")
			}
			o := await(t, ch)
			if o.Result.State != tt.wantState {
				t.Fatalf("state = %s, want %s", o.Result.State, tt.wantState)
			}
			for _, rr := range o.Result.Replicas {
				if tt.wantUsage >= 0 && rr.UsageMs != tt.wantUsage {
					t.Errorf("replica %d usage %d ms, want exactly %d", rr.Index, rr.UsageMs, tt.wantUsage)
				}
			}
			logs := SimulatedLogs(core.Job{Spec: r.Spec, Placements: r.Placements, State: o.Result.State})
			if !strings.Contains(logs, "[simulated]") || !strings.Contains(logs, "nothing is executed") ||
				!strings.Contains(logs, "==> replica 1 <==") {
				t.Errorf("simulated logs must say so, per replica: %q", logs)
			}
		})
	}
}

// TestSimulatedResume: a run resumed after a restart ends at its original
// start + duration, not a full duration later.
func TestSimulatedResume(t *testing.T) {
	ch := make(chan Outcome, 1)
	s := NewSimulated(t.TempDir(), ch)
	r := run("job-r", "", 1, time.Hour)
	r.Spec.Duration = 10 * time.Second
	r.StartedAt = time.Now().Add(-9800 * time.Millisecond)
	t0 := time.Now()
	if err := s.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	o := await(t, ch)
	if took := time.Since(t0); took > 5*time.Second || o.Result.State != core.JobSucceeded || o.Result.Replicas[0].UsageMs != 10_000 {
		t.Errorf("resumed run ended after %s as %s with %d ms, want ~200 ms, succeeded, 10000 ms", took, o.Result.State, o.Result.Replicas[0].UsageMs)
	}
}

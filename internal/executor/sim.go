package executor

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// Simulated models runs on simulated centers: nothing executes; a run
// "takes" its declared duration (capped by max duration, which then means
// timed-out) and ends with the declared exit code. Its log says so plainly.
// A run resumed after a restart keeps its original start time.
type Simulated struct {
	DataDir  string
	Outcomes chan<- Outcome
	Now      func() time.Time

	mu   sync.Mutex
	runs map[string]*simRun
}

type simRun struct {
	timer *time.Timer
	start time.Time
	run   Run
	once  sync.Once
}

// NewSimulated returns a Simulated executor.
func NewSimulated(dataDir string, outcomes chan<- Outcome) *Simulated {
	return &Simulated{DataDir: dataDir, Outcomes: outcomes, Now: time.Now, runs: map[string]*simRun{}}
}

// Start begins (or resumes) a simulated run.
func (s *Simulated) Start(_ context.Context, run Run) error {
	start := run.StartedAt
	if start.IsZero() {
		start = s.Now()
	}
	runFor := min(run.Spec.Duration, run.Spec.MaxDuration)
	remaining := max(start.Add(runFor).Sub(s.Now()), 0)
	sr := &simRun{start: start, run: run}
	s.mu.Lock()
	if _, dup := s.runs[run.JobID]; dup {
		s.mu.Unlock()
		return core.Errorf(core.EConflict, "job %s is already running", run.JobID)
	}
	s.runs[run.JobID] = sr
	sr.timer = time.AfterFunc(remaining, func() { s.end(sr, false) })
	s.mu.Unlock()
	return nil
}

func orNone(model string) string {
	if model == "" {
		return "no accelerator"
	}
	return model
}

func (s *Simulated) end(sr *simRun, cancelled bool) {
	sr.once.Do(func() {
		s.mu.Lock()
		delete(s.runs, sr.run.JobID)
		s.mu.Unlock()
		spec := sr.run.Spec
		elapsed := s.Now().Sub(sr.start)
		res := store.Result{}
		switch {
		case cancelled:
			res.State, res.Reason = core.JobCancelled, "cancelled by request"
		case spec.Duration > spec.MaxDuration:
			elapsed = spec.MaxDuration
			res.State, res.Reason = core.JobTimedOut, fmt.Sprintf("declared duration %s exceeds max duration %s", spec.Duration, spec.MaxDuration)
		default:
			elapsed = spec.Duration
			res.ExitCode = intp(spec.ExitCode)
			res.State = core.JobSucceeded
			if spec.ExitCode != 0 {
				res.State, res.Reason = core.JobFailed, fmt.Sprintf("simulated exit code %d", spec.ExitCode)
			}
		}
		for _, p := range sr.run.Placements {
			rr := store.ReplicaResult{Index: p.Index, UsageMs: elapsed.Milliseconds()}
			if res.ExitCode != nil {
				rr.ExitCode = intp(*res.ExitCode)
			}
			res.Replicas = append(res.Replicas, rr)
			if f, err := os.OpenFile(logPath(s.DataDir, sr.run.JobID, p.Index), os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
				fmt.Fprintf(f, "[simulated] replica %d ended: %s after %s\n", p.Index, res.State, elapsed.Round(time.Millisecond))
				f.Close()
			}
		}
		s.Outcomes <- Outcome{JobID: sr.run.JobID, Result: res}
	})
}

// Usage returns each replica's modelled wall time so far (capped at the run's
// modelled length), and whether the run is known.
func (s *Simulated) Usage(jobID string) (map[int]int64, bool) {
	s.mu.Lock()
	sr := s.runs[jobID]
	s.mu.Unlock()
	if sr == nil {
		return nil, false
	}
	runFor := min(sr.run.Spec.Duration, sr.run.Spec.MaxDuration)
	elapsed := min(max(s.Now().Sub(sr.start), 0), runFor).Milliseconds()
	out := make(map[int]int64, len(sr.run.Placements))
	for _, p := range sr.run.Placements {
		out[p.Index] = elapsed
	}
	return out, true
}

// Cancel ends a simulated run now.
func (s *Simulated) Cancel(jobID string) bool {
	s.mu.Lock()
	sr := s.runs[jobID]
	s.mu.Unlock()
	if sr == nil {
		return false
	}
	sr.timer.Stop()
	go s.end(sr, true)
	return true
}

// Stop stops every timer without reporting outcomes (server shutdown): the
// runs resume from their recorded start time at the next start.
func (s *Simulated) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sr := range s.runs {
		sr.timer.Stop()
		sr.once.Do(func() {})
		delete(s.runs, id)
	}
}

// SimulatedLogs is the log of a simulated run, made from the job's record:
// nothing executes, so nothing is written per run (a log file per replica
// cost more than the rest of a submission).
func SimulatedLogs(j core.Job) string {
	var b strings.Builder
	for _, p := range j.Placements {
		if len(j.Placements) > 1 {
			fmt.Fprintf(&b, "==> replica %d <==\n", p.Index)
		}
		cards := int64(0)
		if p.Index < len(j.Spec.Replicas) {
			cards = j.Spec.Replicas[p.Index].AccelCount
		}
		fmt.Fprintf(&b, "[simulated] replica %d on node %s (%s x%d); declared duration %s, max %s; nothing is executed\n",
			p.Index, p.NodeName, orNone(p.AccelModel), cards, j.Spec.Duration, j.Spec.MaxDuration)
		if j.FinishedAt != nil {
			fmt.Fprintf(&b, "[simulated] %s at %s\n", j.State, j.FinishedAt.Format(time.RFC3339))
		}
	}
	return b.String()
}

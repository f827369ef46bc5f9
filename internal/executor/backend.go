package executor

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
)

// LocalBackend runs an agent's work as child processes of the agent (the
// `local` backend of `suanli agent`). Unlike Slurm or Kubernetes it keeps
// no state outside the agent: processes die with it (Pdeathsig), and after
// a restart the server sends the lost runs again under the same attempt.
type LocalBackend struct {
	exec *Local
	out  chan Outcome
	node core.Node

	mu       sync.Mutex
	runs     map[backend.Key]*backend.Status
	replicas map[backend.Key]int
}

var _ backend.Backend = (*LocalBackend)(nil)

// NewLocalBackend runs work with logs under dir, on node (this machine).
func NewLocalBackend(dir string, node core.Node) *LocalBackend {
	b := &LocalBackend{out: make(chan Outcome, OutcomeQueueMax), node: node, runs: map[backend.Key]*backend.Status{},
		replicas: map[backend.Key]int{}}
	b.exec = NewLocal(dir, b.out)
	go b.collect()
	return b
}

func (b *LocalBackend) collect() {
	for o := range b.out {
		b.mu.Lock()
		for k, st := range b.runs {
			if k.JobID != o.JobID || st.State.Terminal() {
				continue
			}
			st.State, st.Reason, st.ExitCode, st.EndedAt = backendState(o.Result.State), o.Result.Reason, o.Result.ExitCode, time.Now()
			st.Replicas = st.Replicas[:0]
			for _, r := range o.Result.Replicas {
				st.Replicas = append(st.Replicas, backend.ReplicaStatus{Index: r.Index, ExitCode: r.ExitCode, WallMs: r.UsageMs})
			}
		}
		b.mu.Unlock()
	}
}

func backendState(s core.JobState) backend.State {
	switch s {
	case core.JobSucceeded:
		return backend.Succeeded
	case core.JobCancelled:
		return backend.Cancelled
	case core.JobTimedOut:
		return backend.TimedOut
	default:
		return backend.Failed
	}
}

// Nodes reports this machine.
func (b *LocalBackend) Nodes(context.Context) ([]backend.Node, error) {
	n := b.node
	return []backend.Node{{Name: n.Name, CPUMilli: n.CPUMilli, MemMiB: n.MemMiB, AccelModel: n.AccelModel,
		AccelCount: n.AccelCount, Ready: true}}, nil
}

// Submit starts the run's processes.
func (b *LocalBackend) Submit(ctx context.Context, r backend.Run) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if st := b.runs[r.Key]; st != nil {
		return st.BackendID, nil
	}
	if err := b.exec.Start(ctx, Run{JobID: r.Key.JobID, Attempt: r.Key.Attempt, Spec: r.Spec, Placements: r.Placements}); err != nil {
		return "", err
	}
	id := "pid-group:" + r.Key.String()
	b.runs[r.Key] = &backend.Status{Key: r.Key, BackendID: id, State: backend.Running, StartedAt: time.Now()}
	b.replicas[r.Key] = len(r.Placements)
	return id, nil
}

// Runs lists runs with their usage so far.
func (b *LocalBackend) Runs(context.Context) ([]backend.Status, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]backend.Status, 0, len(b.runs))
	for k, st := range b.runs {
		s := *st
		if !s.State.Terminal() {
			s.Replicas = nil
			if usage, ok := b.exec.Usage(k.JobID); ok {
				for idx, ms := range usage {
					s.Replicas = append(s.Replicas, backend.ReplicaStatus{Index: idx, WallMs: ms})
				}
			}
		} else {
			s.Replicas = append([]backend.ReplicaStatus(nil), st.Replicas...)
		}
		out = append(out, s)
	}
	return out, nil
}

// Cancel kills the run's process groups.
func (b *LocalBackend) Cancel(_ context.Context, k backend.Key) error {
	b.exec.Cancel(k.JobID)
	return nil
}

// Logs returns the run's output.
func (b *LocalBackend) Logs(_ context.Context, k backend.Key, maxBytes int) (string, error) {
	b.mu.Lock()
	n, ok := b.replicas[k]
	b.mu.Unlock()
	if !ok {
		return "", nil
	}
	logs, err := ReadLogs(b.exec.DataDir, k.JobID, n)
	if len(logs) > maxBytes {
		logs = logs[len(logs)-maxBytes:]
	}
	return logs, err
}

// Forget drops an ended run and its logs.
func (b *LocalBackend) Forget(_ context.Context, k backend.Key) error {
	b.mu.Lock()
	st := b.runs[k]
	if st != nil && st.State.Terminal() {
		delete(b.runs, k)
		delete(b.replicas, k)
	}
	b.mu.Unlock()
	if st != nil && st.State.Terminal() {
		return os.RemoveAll(LogDir(b.exec.DataDir, k.JobID))
	}
	return nil
}

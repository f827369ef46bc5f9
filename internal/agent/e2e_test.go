package agent_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/agent"
	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/executor"
	"github.com/suanli/suanli/internal/kube"
	"github.com/suanli/suanli/internal/kube/kubetest"
	"github.com/suanli/suanli/internal/server"
	"github.com/suanli/suanli/internal/slurm"
	"github.com/suanli/suanli/internal/slurm/slurmtest"
)

// agentInterval is short so that losing an agent (3 intervals, at least
// 1 s) happens within a test.
const agentInterval = 100 * time.Millisecond

// backendCase describes one backend for the shared end-to-end scenarios.
type backendCase struct {
	name string
	// open returns a fresh backend over the same system, living until ctx
	// ends (the agent's life); called again to model an agent restart.
	open func(ctx context.Context, t *testing.T) backend.Backend
	kind core.CenterKind
	// accelModel is the catalog model of the backend's accelerators.
	accelModel string
	// commands: the backend runs commands (local, Slurm); otherwise jobs
	// declare durations (Kubernetes with KWOK's simulated pods).
	commands bool
	// survivesRestart: runs outlive the agent process (Slurm, Kubernetes).
	survivesRestart bool
}

type harness struct {
	srv                        *server.Server
	tenant, operator, provider *client.Client
	center                     string
	bc                         backendCase

	mu      sync.Mutex
	backend backend.Backend
	stop    context.CancelFunc
	done    chan struct{}
}

// quietLog discards logs unless SUANLI_TEST_LOG=1.
func quietLog() *slog.Logger {
	if os.Getenv("SUANLI_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newHarness(t *testing.T, bc backendCase) *harness {
	t.Helper()
	s, err := server.Open(context.Background(), server.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", Log: quietLog(),
		LoopInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("open server: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	h := &harness{srv: s, bc: bc, center: "edge-" + bc.name,
		tenant:   client.New(s.URL, s.Credentials.Tenant.Token),
		operator: client.New(s.URL, s.Credentials.Operator.Token),
		provider: client.New(s.URL, s.Credentials.Provider.Token)}
	// The cheapest center in the network, so that jobs without a center
	// constraint go there first.
	_, err = h.provider.CreateCenter(context.Background(), api.CenterRequest{Name: h.center, Kind: bc.kind, Region: "test",
		CoreHour: 20_000, MemGiBHour: 1_000, CardHour: map[string]core.Micros{bc.accelModel: 3_000_000}})
	if err != nil {
		t.Fatalf("create center: %v", err)
	}
	t.Cleanup(h.stopAgent) // before the server closes (cleanups run last first)
	return h
}

// startAgent runs an agent with a fresh backend until stopAgent or the
// test's end.
func (h *harness) startAgent(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := h.bc.open(ctx, t)
	done := make(chan struct{})
	a := &agent.Agent{Server: h.provider, Center: h.center, Backend: b, BackendName: h.bc.name, Interval: agentInterval, Log: quietLog()}
	go func() {
		defer close(done)
		_ = a.Run(ctx)
	}()
	h.mu.Lock()
	h.backend, h.stop, h.done = b, cancel, done
	h.mu.Unlock()
}

func (h *harness) stopAgent() {
	h.mu.Lock()
	stop, done := h.stop, h.done
	h.stop = nil
	h.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

func (h *harness) currentBackend() backend.Backend {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.backend
}

// eventually polls cond every 50 ms until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s (last: %s)", what, d, last)
}

func (h *harness) waitNodes(t *testing.T) api.CenterView {
	t.Helper()
	var v api.CenterView
	eventually(t, 30*time.Second, "the agent registers the center's nodes", func() (bool, string) {
		var err error
		v, err = h.operator.Center(context.Background(), h.center)
		if err != nil {
			return false, err.Error()
		}
		return v.Stats.ReadyNodes > 0, v.Status
	})
	return v
}

func (h *harness) waitState(t *testing.T, id string, d time.Duration, want ...core.JobState) api.JobView {
	t.Helper()
	var j api.JobView
	eventually(t, d, "job "+id+" reaches "+states(want), func() (bool, string) {
		var err error
		j, err = h.tenant.Job(context.Background(), id)
		if err != nil {
			return false, err.Error()
		}
		for _, s := range want {
			if j.State == s {
				return true, ""
			}
		}
		return false, string(j.State) + ": " + j.Reason
	})
	return j
}

func states(s []core.JobState) string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return strings.Join(out, "|")
}

// job builds a request: a command for backends that run commands, a
// declared duration (and exit code) for simulated pods.
func (h *harness) job(name, command string, duration time.Duration, exit int, replicas, accel int) api.JobRequest {
	r := api.JobRequest{Name: name, MaxDurationS: 600,
		Replicas: []api.ReplicaRequest{{Count: replicas, CPUMilli: 500, MemMiB: 64, AccelCount: int64(accel)}}}
	if accel > 0 {
		r.Replicas[0].AccelModels = []string{h.bc.accelModel}
	}
	if h.bc.commands {
		r.Command = command
	} else {
		r.DurationS, r.ExitCode = int64(duration/time.Second), exit
	}
	return r
}

func (h *harness) submit(t *testing.T, r api.JobRequest) api.JobView {
	t.Helper()
	j, err := h.tenant.Submit(context.Background(), r)
	if err != nil {
		t.Fatalf("submit %s: %v", r.Name, err)
	}
	return j
}

// runsOf counts the backend's runs of a job, and those still active.
func runsOf(t *testing.T, b backend.Backend, jobID string) (all, active int) {
	t.Helper()
	runs, err := b.Runs(context.Background())
	if err != nil {
		t.Fatalf("backend runs: %v", err)
	}
	for _, r := range runs {
		if r.Key.JobID == jobID {
			all++
			if !r.State.Terminal() {
				active++
			}
		}
	}
	return all, active
}

// exercise runs the scenarios every backend must pass.
func exercise(t *testing.T, bc backendCase) {
	h := newHarness(t, bc)
	h.startAgent(t)
	v := h.waitNodes(t)
	if v.Executor != core.ExecutorAgent || v.Status != core.CenterAvailable || v.AgentSeenAt == nil {
		t.Fatalf("center after the first sync = %+v", v.Center)
	}
	ctx := context.Background()
	pin := func(r api.JobRequest) api.JobRequest { r.Constraints.Center = h.center; return r }
	var ids []string

	t.Run("cpu job succeeds", func(t *testing.T) {
		t0 := time.Now()
		j := h.submit(t, pin(h.job("cpu", `echo "hello from replica $SUANLI_REPLICA of $SUANLI_REPLICAS"`, time.Second, 0, 1, 0)))
		ids = append(ids, j.ID)
		run := h.waitState(t, j.ID, 60*time.Second, core.JobRunning, core.JobSucceeded)
		t.Logf("%s: submit to %s in %s", bc.name, run.State, time.Since(t0).Round(time.Millisecond))
		j = h.waitState(t, j.ID, 60*time.Second, core.JobSucceeded)
		if j.Center != h.center || j.BackendID == "" || j.CostMicros <= 0 || j.ExitCode == nil || *j.ExitCode != 0 {
			t.Errorf("job = center %q backend id %q cost %d exit %v", j.Center, j.BackendID, j.CostMicros, j.ExitCode)
		}
		if bc.commands {
			logs, err := h.tenant.Logs(ctx, j.ID)
			if err != nil || !strings.Contains(logs, "hello from replica 0 of 1") {
				t.Errorf("logs = %q, %v", logs, err)
			}
		}
	})

	t.Run("accelerator gang succeeds", func(t *testing.T) {
		j := h.submit(t, pin(h.job("gang", `echo "gang member $SUANLI_REPLICA"`, time.Second, 0, 2, 1)))
		ids = append(ids, j.ID)
		j = h.waitState(t, j.ID, 60*time.Second, core.JobSucceeded, core.JobFailed)
		if j.State != core.JobSucceeded || len(j.Placements) != 2 {
			t.Fatalf("gang = %s (%s), %d placements", j.State, j.Reason, len(j.Placements))
		}
		if bc.commands {
			logs, _ := h.tenant.Logs(ctx, j.ID)
			if !strings.Contains(logs, "gang member 0") || !strings.Contains(logs, "gang member 1") {
				t.Errorf("gang logs = %q", logs)
			}
		}
	})

	t.Run("failing job reports its exit code", func(t *testing.T) {
		j := h.submit(t, pin(h.job("fail", "echo failing; exit 3", time.Second, 3, 1, 0)))
		ids = append(ids, j.ID)
		j = h.waitState(t, j.ID, 60*time.Second, core.JobFailed, core.JobSucceeded)
		if j.State != core.JobFailed || j.ExitCode == nil || *j.ExitCode != 3 {
			t.Errorf("failing job = %s exit %v (%s)", j.State, j.ExitCode, j.Reason)
		}
	})

	t.Run("cancel stops the run", func(t *testing.T) {
		j := h.submit(t, pin(h.job("cancel", "sleep 60", 60*time.Second, 0, 1, 0)))
		ids = append(ids, j.ID)
		h.waitState(t, j.ID, 60*time.Second, core.JobRunning)
		if _, err := h.tenant.Cancel(ctx, j.ID); err != nil {
			t.Fatal(err)
		}
		j = h.waitState(t, j.ID, 60*time.Second, core.JobCancelled)
		eventually(t, 30*time.Second, "the backend stops the cancelled run", func() (bool, string) {
			_, active := runsOf(t, h.currentBackend(), j.ID)
			return active == 0, "still active"
		})
	})

	if bc.survivesRestart {
		t.Run("agent restart neither loses nor duplicates", func(t *testing.T) {
			j := h.submit(t, pin(h.job("restart", "sleep 4; echo survived", 4*time.Second, 0, 1, 0)))
			ids = append(ids, j.ID)
			h.waitState(t, j.ID, 60*time.Second, core.JobRunning)
			h.stopAgent()
			time.Sleep(3 * agentInterval) // within the heartbeat timeout
			h.startAgent(t)
			j = h.waitState(t, j.ID, 60*time.Second, core.JobSucceeded, core.JobFailed, core.JobCancelled)
			if j.State != core.JobSucceeded || j.Attempt != 0 {
				t.Errorf("after an agent restart the job is %s on attempt %d (%s)", j.State, j.Attempt, j.Reason)
			}
			if all, _ := runsOf(t, h.currentBackend(), j.ID); all > 1 {
				t.Errorf("the backend ran the job %d times", all)
			}
		})
	}

	t.Run("charged once and the ledger verifies", func(t *testing.T) {
		var sum core.Micros
		for _, id := range ids {
			j, err := h.tenant.Job(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			sum += j.CostMicros
		}
		w, err := h.tenant.Wallet(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if w.SpentMicros != sum || w.HeldMicros != 0 {
			t.Errorf("wallet spent %d held %d; the jobs cost %d in all", w.SpentMicros, w.HeldMicros, sum)
		}
		if problems, err := h.operator.Verify(ctx); err != nil || len(problems) > 0 {
			t.Errorf("verify = %v, %v", problems, err)
		}
	})

	t.Run("preemption stops the run in the center's system", func(t *testing.T) {
		// The low-priority job takes every node's whole CPU (one replica
		// per node); a high-priority job pinned here can start only by
		// preempting it.
		nodes, err := h.currentBackend().Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		low := pin(h.job("low", "sleep 30", 30*time.Second, 0, 1, 0))
		low.Priority, low.Replicas = -10, nil
		smallest := int64(0)
		for _, n := range nodes {
			if !n.Ready {
				continue
			}
			low.Replicas = append(low.Replicas, api.ReplicaRequest{CPUMilli: n.CPUMilli, MemMiB: 64})
			if smallest == 0 || n.CPUMilli < smallest {
				smallest = n.CPUMilli
			}
		}
		lj := h.submit(t, low)
		ids = append(ids, lj.ID)
		h.waitState(t, lj.ID, 60*time.Second, core.JobRunning)
		high := pin(h.job("high", "sleep 1", time.Second, 0, 1, 0))
		high.Priority, high.Replicas[0].CPUMilli = 50, smallest
		hj := h.submit(t, high)
		ids = append(ids, hj.ID)
		hj = h.waitState(t, hj.ID, 90*time.Second, core.JobSucceeded, core.JobFailed)
		if hj.State != core.JobSucceeded {
			t.Fatalf("high-priority job %s (%s)", hj.State, hj.Reason)
		}
		eventually(t, 30*time.Second, "the preempted attempt is stopped in the backend", func() (bool, string) {
			runs, err := h.currentBackend().Runs(ctx)
			if err != nil {
				return false, err.Error()
			}
			for _, r := range runs {
				if r.Key.JobID == lj.ID && r.Key.Attempt == 0 && !r.State.Terminal() {
					return false, "attempt 0 still " + string(r.State)
				}
			}
			return true, ""
		})
		lv, err := h.tenant.Job(ctx, lj.ID)
		if err != nil {
			t.Fatal(err)
		}
		if lv.Attempt != 1 || lv.Preemptions != 1 {
			t.Errorf("low job on attempt %d with %d preemptions (%s %s), want the second attempt", lv.Attempt, lv.Preemptions, lv.State, lv.Reason)
		}
		if _, err := h.tenant.Cancel(ctx, lj.ID); err != nil { // no need to wait 30 s more
			t.Fatal(err)
		}
		h.waitState(t, lj.ID, 60*time.Second, core.JobCancelled)
	})

	t.Run("a lost agent's work moves to another center", func(t *testing.T) {
		// No center constraint: the agent center is the cheapest, so the
		// job goes there first and elsewhere once the center is lost.
		j := h.submit(t, h.job("moves", "sleep 3; echo moved", 3*time.Second, 0, 1, 0))
		j = h.waitState(t, j.ID, 60*time.Second, core.JobRunning)
		if j.Center != h.center {
			v, _ := h.operator.Center(ctx, h.center)
			t.Fatalf("job went to %s, want the cheapest center %s (%s: %s %q, %d/%d nodes ready, %+v)", j.Center, h.center,
				h.center, v.Status, v.StatusReason, v.Stats.ReadyNodes, v.Stats.Nodes, v.Stats)
		}
		h.stopAgent()
		if !bc.survivesRestart {
			// The agent's processes would die with it.
			_ = h.currentBackend().Cancel(ctx, backend.Key{JobID: j.ID, Attempt: 0})
		}
		eventually(t, 30*time.Second, "the center is declared lost", func() (bool, string) {
			v, err := h.operator.Center(ctx, h.center)
			if err != nil {
				return false, err.Error()
			}
			return v.Status == core.CenterUnavailable, v.Status
		})
		j = h.waitState(t, j.ID, 60*time.Second, core.JobSucceeded, core.JobFailed)
		if j.State != core.JobSucceeded || j.Attempt != 1 || j.Center == h.center {
			t.Errorf("moved job = %s attempt %d on %s (%s)", j.State, j.Attempt, j.Center, j.Reason)
		}
		events, _ := h.tenant.Events(ctx, j.ID)
		found := false
		for _, e := range events {
			found = found || e.Type == "requeued" && strings.Contains(e.Message, "agent went silent")
		}
		if !found {
			t.Errorf("no requeue event in %+v", events)
		}
		// The agent comes back: its center is available again and the old
		// attempt is stopped, not run twice.
		h.startAgent(t)
		eventually(t, 30*time.Second, "the center is available again", func() (bool, string) {
			v, err := h.operator.Center(ctx, h.center)
			if err != nil {
				return false, err.Error()
			}
			return v.Status == core.CenterAvailable, v.Status
		})
		eventually(t, 30*time.Second, "the stale attempt is stopped", func() (bool, string) {
			_, active := runsOf(t, h.currentBackend(), j.ID)
			return active == 0, "still active"
		})
		if problems, err := h.operator.Verify(ctx); err != nil || len(problems) > 0 {
			t.Errorf("verify = %v, %v", problems, err)
		}
	})
}

func TestAgentLocal(t *testing.T) {
	exercise(t, backendCase{name: "local", kind: core.KindGeneral, accelModel: "A100", commands: true,
		open: func(_ context.Context, t *testing.T) backend.Backend {
			return executor.NewLocalBackend(t.TempDir(), core.Node{Name: "agent-host", CPUMilli: 8000, MemMiB: 16384,
				AccelModel: "A100", AccelCount: 8})
		}})
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }

func TestAgentSlurm(t *testing.T) {
	c := slurmtest.Start(t)
	work := t.TempDir()
	exercise(t, backendCase{name: "slurm", kind: core.KindHPC, accelModel: "A100", commands: true, survivesRestart: true,
		open: func(_ context.Context, t *testing.T) backend.Backend {
			b, err := slurm.New(slurm.Options{Runner: slurm.Exec{Conf: c.Conf}, WorkDir: work})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}})
}

func TestAgentKubernetes(t *testing.T) {
	c := kubetest.Start(t)
	exercise(t, backendCase{name: "kubernetes", kind: core.KindAI, accelModel: "A100", commands: false, survivesRestart: true,
		open: func(ctx context.Context, t *testing.T) backend.Backend {
			b, err := kube.New(kube.Config{Client: c.Clientset, Tolerations: kubetest.Tolerations()})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Start(ctx); err != nil {
				t.Fatal(err)
			}
			return b
		}})
}

package sqlstore

import (
	"context"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/core"
)

func TestSyncNodes(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if _, err := f.s.w.ExecContext(ctx, `UPDATE centers SET executor = 'agent'`); err != nil {
		t.Fatal(err)
	}
	v0, _ := f.s.TopologyVersion(ctx)
	byName := func() map[string]core.Node {
		ns, err := f.s.Nodes(ctx, f.center.ID)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]core.Node{}
		for _, n := range ns {
			m[n.Name] = n
		}
		return m
	}
	n1 := byName()["n1"]
	steps := []struct {
		name        string
		nodes       []core.Node
		wantChanged int
		want        map[string]string // name → status
	}{
		{"same node, unchanged", []core.Node{{Name: "n1", CPUMilli: 8000, MemMiB: 8192, AccelModel: "A100", AccelCount: 8, Status: "ready"}},
			0, map[string]string{"n1": "ready"}},
		{"a new node", []core.Node{{Name: "n1", CPUMilli: 8000, MemMiB: 8192, AccelModel: "A100", AccelCount: 8, Status: "ready"},
			{Name: "n2", CPUMilli: 4000, MemMiB: 4096, Status: "ready"}}, 1, map[string]string{"n1": "ready", "n2": "ready"}},
		{"drained", []core.Node{{Name: "n1", CPUMilli: 8000, MemMiB: 8192, AccelModel: "A100", AccelCount: 8, Status: "down"},
			{Name: "n2", CPUMilli: 4000, MemMiB: 4096, Status: "ready"}}, 1, map[string]string{"n1": "down", "n2": "ready"}},
		{"gone nodes are kept, down", []core.Node{{Name: "n2", CPUMilli: 4000, MemMiB: 4096, Status: "ready"}},
			0, map[string]string{"n1": "down", "n2": "ready"}},
		{"back, with more memory", []core.Node{{Name: "n1", CPUMilli: 8000, MemMiB: 16384, AccelModel: "A100", AccelCount: 8, Status: "ready"},
			{Name: "n2", CPUMilli: 4000, MemMiB: 4096, Status: "ready"}}, 1, map[string]string{"n1": "ready", "n2": "ready"}},
	}
	for _, st := range steps {
		changed, err := f.s.SyncNodes(ctx, f.center.ID, st.nodes)
		if err != nil || changed != st.wantChanged {
			t.Fatalf("%s: changed %d, %v; want %d", st.name, changed, err, st.wantChanged)
		}
		got := byName()
		for name, status := range st.want {
			if got[name].Status != status {
				t.Errorf("%s: node %s is %q, want %q", st.name, name, got[name].Status, status)
			}
		}
	}
	if got := byName()["n1"]; got.ID != n1.ID || got.MemMiB != 16384 {
		t.Errorf("n1 = %+v: the node keeps its ID (placements refer to it) and takes the new size", got)
	}
	if v1, _ := f.s.TopologyVersion(ctx); v1 <= v0 {
		t.Errorf("topology version %d -> %d: node changes must invalidate the scheduler's cache", v0, v1)
	}
	if _, err := f.s.SyncNodes(ctx, f.center.ID, []core.Node{{Name: "n9", CPUMilli: 1000, MemMiB: 1, AccelModel: "Nope", AccelCount: 1, Status: "ready"}}); core.ErrorCode(err) != core.EInvalid {
		t.Errorf("unknown model: %v, want invalid", err)
	}
	if len(byName()) != 2 {
		t.Errorf("a refused sync added nodes")
	}
}

func TestHeartbeatLoseRestore(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if _, err := f.s.w.ExecContext(ctx, `UPDATE centers SET executor = 'agent'`); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	f.s.Now = func() time.Time { return now }
	if _, err := f.s.AgentHeartbeat(ctx, f.center.ID, 3*time.Second); err != nil {
		t.Fatal(err)
	}
	j, err := f.s.SubmitJob(ctx, f.tenant.ID, spec(), perHour(1))
	if err != nil {
		t.Fatal(err)
	}
	f.place(t, j.ID)
	if err := f.s.MarkStarted(ctx, j.ID, 0, "slurm-42", now.Add(-time.Second), "running"); err != nil {
		t.Fatal(err)
	}
	if err := f.s.MarkStarted(ctx, j.ID, 1, "slurm-43", now, "running"); core.ErrorCode(err) != core.EConflict {
		t.Errorf("MarkStarted of another attempt = %v, want conflict", err)
	}
	if stale, _ := f.s.StaleAgentCenters(ctx); len(stale) != 0 {
		t.Fatalf("stale right after a heartbeat: %v", stale)
	}
	now = now.Add(4 * time.Second)
	stale, err := f.s.StaleAgentCenters(ctx)
	if err != nil || len(stale) != 1 {
		t.Fatalf("stale after the timeout = %v, %v", stale, err)
	}
	requeued, failed, err := f.s.LoseCenter(ctx, f.center.ID, 1000)
	if err != nil || len(requeued) != 1 || len(failed) != 0 {
		t.Fatalf("lose = %v %v %v", requeued, failed, err)
	}
	got, _ := f.s.Job(ctx, j.ID)
	if got.State != core.JobQueued || got.Attempt != 1 || got.BackendID != "" || got.CenterID != "" {
		t.Errorf("lost job = %s attempt %d backend %q center %q", got.State, got.Attempt, got.BackendID, got.CenterID)
	}
	c, _ := f.s.Center(ctx, f.center.ID)
	if c.Status != core.CenterUnavailable || c.StatusReason == "" {
		t.Errorf("lost center = %s (%s)", c.Status, c.StatusReason)
	}
	if stale, _ := f.s.StaleAgentCenters(ctx); len(stale) != 0 {
		t.Errorf("an unavailable center is lost again: %v", stale)
	}
	restored, err := f.s.AgentHeartbeat(ctx, f.center.ID, 3*time.Second)
	if err != nil || !restored {
		t.Fatalf("heartbeat after the loss: restored %v, %v", restored, err)
	}
	if c, _ := f.s.Center(ctx, f.center.ID); c.Status != core.CenterAvailable || c.StatusReason != "" {
		t.Errorf("restored center = %s (%s)", c.Status, c.StatusReason)
	}
	// An operator's own unavailable mark is not lifted by a heartbeat.
	if err := f.s.SetCenterStatus(ctx, f.center.ID, core.CenterUnavailable); err != nil {
		t.Fatal(err)
	}
	if restored, _ := f.s.AgentHeartbeat(ctx, f.center.ID, 3*time.Second); restored {
		t.Error("a heartbeat lifted the operator's unavailable mark")
	}
}

package server

import (
	"context"
	"testing"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// TestUsageReports: a center reports storage and egress for a job by event
// id; duplicates are ignored, conflicting repeats refused, wall time of
// server-metered runs refused, and an event after settlement is charged
// once, directly.
func TestUsageReports(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)
	j := submit(t, tenant, api.JobRequest{Command: "true", MaxDurationS: 60, Constraints: core.Constraints{Center: "local"},
		Replicas: []api.ReplicaRequest{{CPUMilli: 100, MemMiB: 16}}})
	j = waitJob(t, tenant, j.ID)
	provider := client.New(s.URL, s.Credentials.Provider.Token)
	ev := store.UsageEvent{ID: "egress-1", JobID: j.ID, Replica: 0, EgressMiB: 2048}
	late, err := provider.ReportUsage(ctx, ev)
	if err != nil || !late {
		t.Fatalf("late report = %v, %v; want charged late", late, err)
	}
	after, _ := tenant.Job(ctx, j.ID)
	// 2 GiB of egress at 0.80 CNY/GiB = 1.60 CNY more.
	if after.CostMicros != j.CostMicros+1_600_000 {
		t.Errorf("cost after a late egress report = %d, want %d", after.CostMicros, j.CostMicros+1_600_000)
	}
	if _, err := provider.ReportUsage(ctx, ev); err != nil {
		t.Errorf("duplicate report = %v, want ignored", err)
	}
	if again, _ := tenant.Job(ctx, j.ID); again.CostMicros != after.CostMicros {
		t.Errorf("a duplicate changed the cost: %d -> %d", after.CostMicros, again.CostMicros)
	}
	ev.EgressMiB = 1
	if _, err := provider.ReportUsage(ctx, ev); err == nil || err.(*client.Error).Code != core.EConflict {
		t.Errorf("conflicting repeat = %v, want conflict", err)
	}
	if _, err := provider.ReportUsage(ctx, store.UsageEvent{ID: "wall", JobID: j.ID, WallMs: 5}); err == nil ||
		err.(*client.Error).Code != core.EInvalid {
		t.Errorf("wall time for a server-metered run = %v, want invalid", err)
	}
	if _, err := tenant.ReportUsage(ctx, store.UsageEvent{ID: "x", JobID: j.ID, EgressMiB: 1}); err == nil {
		t.Error("a tenant reported usage")
	}
	op := client.New(s.URL, s.Credentials.Operator.Token)
	if problems, err := op.Verify(ctx); err != nil || len(problems) != 0 {
		t.Errorf("verify: %v %v", problems, err)
	}
}

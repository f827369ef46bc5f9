package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
)

// TestTenantQuota: with a one-card quota, a tenant's second one-card job
// waits, saying why, until the first ends.
func TestTenantQuota(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	op := client.New(s.URL, s.Credentials.Operator.Token)
	if err := op.Do(ctx, http.MethodPut, "/api/v1/orgs/"+s.Credentials.Tenant.OrgID+"/policy",
		map[string]int64{"weight": 1, "quota_accelerators": 1}, nil); err != nil {
		t.Fatal(err)
	}
	if err := op.Do(ctx, http.MethodPut, "/api/v1/orgs/"+s.Credentials.Tenant.OrgID+"/policy",
		map[string]int64{"weight": 0}, nil); err == nil {
		t.Error("weight 0 accepted")
	}
	c := client.New(s.URL, s.Credentials.Tenant.Token)
	req := api.JobRequest{DurationS: 2, MaxDurationS: 60, Replicas: []api.ReplicaRequest{{AccelCount: 1, CPUMilli: 1000, MemMiB: 1024}}}
	a := submit(t, c, req)
	b := submit(t, c, req)
	var reason string
	for i := 0; i < 100; i++ {
		j, _ := c.Job(ctx, b.ID)
		if reason = j.Reason; strings.Contains(reason, "quota") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(reason, "quota") {
		t.Errorf("second job's reason %q, want the quota", reason)
	}
	a, b = waitJob(t, c, a.ID), waitJob(t, c, b.ID)
	if a.State != core.JobSucceeded || b.State != core.JobSucceeded || b.StartedAt.Before(*a.FinishedAt) {
		t.Errorf("a %s ended %v, b %s started %v: want b to start after a ended", a.State, a.FinishedAt, b.State, b.StartedAt)
	}
}

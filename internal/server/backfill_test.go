package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/seed"
)

// TestWhyPending: on the local center, a job that needs the whole machine
// waits behind one that uses half of it, with a reservation; a long small
// job behind it, which would fit in the free half now, is held back so it
// does not delay the big one, and says why.
func TestWhyPending(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	c := client.New(s.URL, s.Credentials.Tenant.Token)
	all := seed.LocalNode().CPUMilli
	local := core.Constraints{Center: "local"}
	first := submit(t, c, api.JobRequest{Command: "sleep 1", MaxDurationS: 3, Constraints: local,
		Replicas: []api.ReplicaRequest{{CPUMilli: all / 2, MemMiB: 16}}})
	for j, _ := c.Job(ctx, first.ID); j.State != core.JobRunning; j, _ = c.Job(ctx, first.ID) {
		time.Sleep(20 * time.Millisecond)
	}
	big := submit(t, c, api.JobRequest{Command: "true", MaxDurationS: 60, Constraints: local,
		Replicas: []api.ReplicaRequest{{CPUMilli: all, MemMiB: 16}}})
	small := submit(t, c, api.JobRequest{Command: "true", MaxDurationS: 3600, Constraints: local,
		Replicas: []api.ReplicaRequest{{CPUMilli: 100, MemMiB: 16}}})
	// While the first job runs: big has a reservation; small would delay it.
	deadline := time.Now().Add(10 * time.Second)
	var bigReason, smallReason string
	for time.Now().Before(deadline) {
		b, _ := c.Job(ctx, big.ID)
		sm, _ := c.Job(ctx, small.ID)
		bigReason, smallReason = b.Reason, sm.Reason
		if strings.Contains(bigReason, "reserved on local") && strings.Contains(smallReason, "would delay job "+big.ID) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(bigReason, "reserved on local") || !strings.Contains(smallReason, "would delay job "+big.ID) {
		t.Errorf("reasons: big %q, small %q; want a reservation and a held-back small job", bigReason, smallReason)
	}
	// Then everything runs, the big job before the small one.
	b := waitJob(t, c, big.ID)
	sm := waitJob(t, c, small.ID)
	if b.State != core.JobSucceeded || sm.State != core.JobSucceeded || sm.StartedAt.Before(*b.StartedAt) {
		t.Errorf("big %s at %v, small %s at %v; want both to succeed, big first", b.State, b.StartedAt, sm.State, sm.StartedAt)
	}
}

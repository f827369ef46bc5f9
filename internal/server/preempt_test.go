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

// TestPreemptionEndToEnd: on the local center (real processes), a
// low-priority job holding the whole machine is preempted by a
// high-priority one: its process is stopped, its usage so far charged, it
// is queued again and says why it waits (node by node), and it runs to
// completion once the high-priority job is done. Both jobs' events say why
// they went where they did.
func TestPreemptionEndToEnd(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	c := client.New(s.URL, s.Credentials.Tenant.Token)
	all := seed.LocalNode().CPUMilli
	local := core.Constraints{Center: "local"}
	low := submit(t, c, api.JobRequest{Command: "sleep 1", MaxDurationS: 60, Priority: -10, Constraints: local,
		Replicas: []api.ReplicaRequest{{CPUMilli: all, MemMiB: 16}}})
	waitState(t, c, low.ID, core.JobRunning)
	time.Sleep(300 * time.Millisecond) // some usage to charge
	high := submit(t, c, api.JobRequest{Command: "sleep 1", MaxDurationS: 60, Priority: 50, Constraints: local,
		Replicas: []api.ReplicaRequest{{CPUMilli: all, MemMiB: 16}}})

	// While the high-priority job runs, the low one waits and says why.
	waitState(t, c, high.ID, core.JobRunning)
	var reason string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		j, err := c.Job(ctx, low.ID)
		if err != nil {
			t.Fatal(err)
		}
		if reason = j.Reason; j.State == core.JobQueued && strings.Contains(reason, "short of free CPU") {
			break
		}
	}
	if !strings.Contains(reason, "insufficient free resources") || !strings.Contains(reason, "local: 1 short of free CPU") {
		t.Errorf("preempted job's reason %q, want node-level why-pending", reason)
	}

	h, l := waitJob(t, c, high.ID), waitJob(t, c, low.ID)
	if h.State != core.JobSucceeded || l.State != core.JobSucceeded {
		t.Fatalf("high %s, low %s: want both to succeed", h.State, l.State)
	}
	if l.Attempt != 1 || l.Preemptions != 1 || l.StartedAt.Before(*h.StartedAt) {
		t.Errorf("low ran as attempt %d (%d preemptions) from %v, high started %v: want a second attempt after high",
			l.Attempt, l.Preemptions, l.StartedAt, h.StartedAt)
	}
	// The first attempt's usage stays charged: more than the second's 1 s.
	if l.UsageS <= 1.0 {
		t.Errorf("low's usage %.2f s, want the preempted attempt's usage charged too", l.UsageS)
	}
	lowEvents := eventText(t, c, low.ID)
	for _, want := range []string{"preempted for job " + high.ID + " (priority 50) on local", "queued again", "why: local scored"} {
		if !strings.Contains(lowEvents, want) {
			t.Errorf("low's events lack %q:\n%s", want, lowEvents)
		}
	}
	if highEvents := eventText(t, c, high.ID); !strings.Contains(highEvents, "stopped job "+low.ID) {
		t.Errorf("high's events lack the preemption:\n%s", highEvents)
	}
	op := client.New(s.URL, s.Credentials.Operator.Token)
	if problems, err := op.Verify(ctx); err != nil || len(problems) > 0 {
		t.Errorf("verify: %v %v", problems, err)
	}
}

func waitState(t *testing.T, c *client.Client, id string, want core.JobState) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		j, err := c.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == want {
			return
		}
	}
	t.Fatalf("job %s never reached %s", id, want)
}

func eventText(t *testing.T, c *client.Client, id string) string {
	t.Helper()
	evs, err := c.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range evs {
		b.WriteString(e.Type + ": " + e.Message + "\n")
	}
	return b.String()
}

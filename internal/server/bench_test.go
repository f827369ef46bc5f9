package server

import (
	"context"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/control"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/sched"
)

// BenchmarkLocalJobLatency measures submit → succeeded for `true` on the
// local center, through the HTTP API, the control loop and a real process,
// on the full seeded demo network (~19,000 nodes).
func BenchmarkLocalJobLatency(b *testing.B) {
	s, err := Open(context.Background(), Config{DataDir: b.TempDir(), Addr: "127.0.0.1:0", Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	c := client.New(s.URL, s.Credentials.Tenant.Token)
	ctx := context.Background()
	req := api.JobRequest{Command: "true", MaxDurationS: 60, Replicas: []api.ReplicaRequest{{CPUMilli: 100, MemMiB: 16}},
		Constraints: core.Constraints{Center: "local"}}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j, err := c.Submit(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if j, err = c.Wait(ctx, j.ID, 2*time.Millisecond, nil); err != nil || j.State != core.JobSucceeded {
			b.Fatalf("job %s: %v", j.State, err)
		}
	}
}

// BenchmarkSchedulingPass measures one scheduling pass's input and policy
// on the seeded demo network: reading the snapshot from SQLite, and the
// pure policy over it with 100 queued jobs.
func BenchmarkSchedulingPass(b *testing.B) {
	s, err := Open(context.Background(), Config{DataDir: b.TempDir(), Addr: "127.0.0.1:0", Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.Run("snapshot", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := control.Snapshot(ctx, s.Store, s.Topology, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	snap, err := control.Snapshot(ctx, s.Store, s.Topology, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("nodes in snapshot: %d", len(snap.Nodes))
	for i := 0; i < 100; i++ {
		snap.Queue = append(snap.Queue, sched.Job{ID: "j" + string(rune('a'+i%26)) + time.Duration(i).String(), Seq: int64(i),
			Replicas:    []core.Replica{{AccelCount: 8, CPUMilli: 1000, MemMiB: 1024}, {AccelCount: 8, CPUMilli: 1000, MemMiB: 1024}},
			HasDuration: true})
	}
	b.Run("policy-100-jobs", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			sched.CheapestFirst{}.Schedule(snap)
		}
	})
}

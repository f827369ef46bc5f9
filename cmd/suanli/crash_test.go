package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
)

// TestKillUnderLoad runs the real server under concurrent load (job
// submissions from several clients, top-ups), kills it with SIGKILL at
// random moments, restarts it, and checks that every operation a client
// retried until acknowledged happened exactly once, and that the ledger
// verifies.
func TestKillUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := build(t)
	data := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "up", "--data", data, "--addr", addr)
		cmd.Stdout, cmd.Stderr = &lockedBuffer{}, &lockedBuffer{}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	up := start()
	creds := filepath.Join(data, "demo-credentials.json")
	var cr struct {
		Tenant, Operator struct {
			Token string `json:"token"`
			OrgID string `json:"org_id"`
		}
	}
	for i := 0; ; i++ {
		raw, err := os.ReadFile(creds)
		if err == nil && json.Unmarshal(raw, &cr) == nil && cr.Tenant.Token != "" {
			break
		}
		if i > 600 {
			t.Fatal("server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	server := "http://" + addr
	tenant := client.New(server, cr.Tenant.Token)
	tenant.HTTP.Timeout = 5 * time.Second
	operator := client.New(server, cr.Operator.Token)
	operator.HTTP.Timeout = 5 * time.Second
	ctx := context.Background()
	before := waitWallet(t, tenant)

	// retry runs op until it is acknowledged; the server may be down.
	retry := func(op func() error) {
		for i := 0; ; i++ {
			if err := op(); err == nil {
				return
			} else if ce, ok := err.(*client.Error); ok && ce.Status < 500 {
				t.Errorf("rejected: %v", err)
				return
			}
			if i > 2000 {
				t.Error("operation never acknowledged")
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	const clients, perClient, topups = 3, 40, 40
	var submitted atomic.Int64
	jobIDs := sync.Map{}
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for n := 0; n < perClient; n++ {
				req := api.JobRequest{DurationS: 1, MaxDurationS: 60, IdempotencyKey: fmt.Sprintf("c%d-%d", c, n),
					Replicas: []api.ReplicaRequest{{AccelCount: 1, CPUMilli: 1000, MemMiB: 1024}}}
				if n%4 == 0 { // some real processes too
					req = api.JobRequest{Command: "sleep 0.3", MaxDurationS: 60, IdempotencyKey: req.IdempotencyKey,
						Constraints: core.Constraints{Center: "local"}, Replicas: []api.ReplicaRequest{{CPUMilli: 100, MemMiB: 16}}}
				}
				retry(func() error {
					j, err := tenant.Submit(ctx, req)
					if err == nil {
						jobIDs.Store(req.IdempotencyKey, j.ID)
					}
					return err
				})
				submitted.Add(1)
				time.Sleep(40 * time.Millisecond) // spread the load over several kills
			}
		}(c)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; n < topups; n++ {
			retry(func() error {
				_, err := operator.TopUp(ctx, cr.Tenant.OrgID, core.MicrosPerYuan, fmt.Sprintf("crash-topup-%d", n))
				return err
			})
			time.Sleep(60 * time.Millisecond)
		}
	}()

	// Kill and restart the server at random moments while the load runs.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	kills := 0
	r := rand.New(rand.NewPCG(1, 2))
	for loop := true; loop && kills < 6; {
		select {
		case <-done:
			loop = false
		case <-time.After(time.Duration(150+r.IntN(450)) * time.Millisecond):
			_ = up.Process.Kill() // SIGKILL
			_ = up.Wait()         // the kill is the expected error
			kills++
			up = start()
		}
	}
	<-done
	defer func() {
		_ = up.Process.Kill()
		_ = up.Wait()
	}()
	t.Logf("%d kills during %d submissions and %d top-ups", kills, submitted.Load(), topups)
	if kills < 3 {
		t.Errorf("only %d kills; the load ended too soon to test recovery", kills)
	}

	// Every acknowledged job exists once and ends.
	distinct := map[string]bool{}
	jobIDs.Range(func(k, v any) bool {
		id := v.(string)
		if distinct[id] {
			t.Errorf("two keys map to job %s", id)
		}
		distinct[id] = true
		ctx2, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		j, err := tenant.Wait(ctx2, id, 50*time.Millisecond, nil)
		if err != nil || !j.State.Terminal() {
			t.Errorf("job %s (%s): %s %v", k, id, j.State, err)
		}
		return true
	})
	_, total, err := tenant.Jobs(ctx, client.JobsFilter{})
	if err != nil || total != clients*perClient || len(distinct) != clients*perClient {
		t.Errorf("%d jobs exist for %d distinct acknowledged keys, want %d each (%v)", total, len(distinct), clients*perClient, err)
	}
	w, err := tenant.Wallet(ctx, "")
	if err != nil || w.CreditedMicros != before.CreditedMicros+topups*core.MicrosPerYuan {
		t.Errorf("credited %d, want %d: top-ups lost or applied twice (%v)", w.CreditedMicros,
			before.CreditedMicros+topups*core.MicrosPerYuan, err)
	}
	if w.HeldMicros != 0 {
		t.Errorf("%d still held after every job ended", w.HeldMicros)
	}
	problems, err := operator.Verify(ctx)
	if err != nil || len(problems) != 0 {
		t.Errorf("ledger verify after %d kills: %v %v", kills, problems, err)
	}
}

func waitWallet(t *testing.T, c *client.Client) api.WalletView {
	t.Helper()
	for i := 0; ; i++ {
		w, err := c.Wallet(context.Background(), "")
		if err == nil {
			return w
		}
		if i > 400 {
			t.Fatalf("wallet: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

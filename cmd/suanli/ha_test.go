package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/seed"
	"github.com/suanli/suanli/internal/store/pgtest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// replica is one `suanli serve` process.
type replica struct {
	cmd *exec.Cmd
	url string
	out *lockedBuffer
}

func startReplica(t *testing.T, bin, data, dsn string) *replica {
	t.Helper()
	r := &replica{out: &lockedBuffer{}}
	r.cmd = exec.Command(bin, "--data", data, "serve", "--db", dsn, "--addr", "127.0.0.1:0", "--lease-ttl", "2s")
	stdout, err := r.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stderr = r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.cmd.Process.Kill(); _ = r.cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(r.out, line)
			if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "API:"); ok {
				found <- strings.TrimSuffix(strings.TrimSpace(rest), "/api/v1")
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case r.url = <-found:
	case <-time.After(60 * time.Second):
		t.Fatalf("replica did not start:\n%s", r.out.String())
	}
	return r
}

type leaderz struct {
	Replica string `json:"replica"`
	Leading bool   `json:"leading"`
}

func (r *replica) leaderz() (leaderz, error) {
	var z leaderz
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(r.url + "/leaderz")
	if err != nil {
		return z, err
	}
	defer resp.Body.Close()
	return z, json.NewDecoder(resp.Body).Decode(&z)
}

// migrated builds the binary and a fresh PostgreSQL database with the demo
// network (`suanli migrate --demo`), for replicas to serve.
func migrated(t *testing.T) (bin, data, dsn string, cr seed.Credentials) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary and runs replicas on PostgreSQL")
	}
	dsn = pgtest.Database(t)
	bin = build(t)
	data = t.TempDir()
	if out, err := exec.Command(bin, "--data", data, "migrate", "--db", dsn, "--demo").CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(data, "demo-credentials.json"))
	if err != nil || json.Unmarshal(raw, &cr) != nil {
		t.Fatalf("credentials: %v", err)
	}
	return bin, data, dsn, cr
}

// haJob is a 1-second simulated job whose idempotency key is its name, so
// a retried submission is the same job.
func haJob(key string) api.JobRequest {
	return api.JobRequest{Name: key, IdempotencyKey: key, DurationS: 1, MaxDurationS: 120,
		Replicas: []api.ReplicaRequest{{CPUMilli: 1000, MemMiB: 1024}}}
}

// TestFailover runs three `serve` replicas on one PostgreSQL, a stream of
// submissions from several clients, and kills the leader with SIGKILL three
// times. Afterwards every acknowledged job exists exactly once, was placed
// once and ran to its end, and the ledger verifies; the takeover times are
// logged.
func TestFailover(t *testing.T) {
	bin, data, dsn, cr := migrated(t)
	var mu sync.Mutex
	reps := []*replica{}
	for i := 0; i < 3; i++ {
		reps = append(reps, startReplica(t, bin, data, dsn))
	}
	urls := func() string {
		mu.Lock()
		defer mu.Unlock()
		var u []string
		for _, r := range reps {
			u = append(u, r.url)
		}
		return strings.Join(u, ",")
	}

	// Clients: each submits jobs with its own idempotency keys and retries
	// a submission until it is acknowledged.
	const clients = 4
	acked := map[string]string{} // idempotency key → job id
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("ha-%d-%d", c, n)
				req := haJob(key)
				deadline := time.Now().Add(60 * time.Second)
				for time.Now().Before(deadline) {
					cl := client.New(urls(), cr.Tenant.Token)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					j, err := cl.Submit(ctx, req)
					cancel()
					if err == nil {
						mu.Lock()
						acked[key] = j.ID
						mu.Unlock()
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}(c)
	}

	var takeovers []time.Duration
	for kill := 0; kill < 3; kill++ {
		time.Sleep(3 * time.Second)
		mu.Lock()
		current := append([]*replica(nil), reps...)
		mu.Unlock()
		leader := -1
		for i, r := range current {
			if z, err := r.leaderz(); err == nil && z.Leading {
				leader = i
			}
		}
		if leader < 0 {
			t.Fatalf("kill %d: no replica leads", kill)
		}
		if err := current[leader].cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		_ = current[leader].cmd.Wait()
		took := time.Duration(-1)
		for time.Since(t0) < 30*time.Second && took < 0 {
			for i, r := range current {
				if i == leader {
					continue
				}
				if z, err := r.leaderz(); err == nil && z.Leading {
					took = time.Since(t0)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if took < 0 {
			t.Fatalf("kill %d: no replica took over within 30 s", kill)
		}
		takeovers = append(takeovers, took)
		// A fresh replica replaces the dead one.
		fresh := startReplica(t, bin, data, dsn)
		mu.Lock()
		reps[leader] = fresh
		mu.Unlock()
	}
	close(stop)
	wg.Wait()
	t.Logf("takeover after SIGKILL of the leader (lease 2 s): %v", takeovers)
	for _, d := range takeovers {
		if d > 10*time.Second {
			t.Errorf("takeover took %s, more than 10 s", d)
		}
	}

	cl := client.New(urls(), cr.Tenant.Token)
	op := client.New(urls(), cr.Operator.Token)
	ctx := context.Background()
	mu.Lock()
	want := len(acked)
	mu.Unlock()
	if want < 20 {
		t.Fatalf("only %d submissions acknowledged", want)
	}
	// Wait for every job to end (each declares 1 s on a simulated center).
	jobs := waitAllEnded(t, cl, 90*time.Second)
	byName := map[string][]api.JobView{}
	for _, j := range jobs {
		byName[j.Name] = append(byName[j.Name], j)
	}
	keys := make([]string, 0, len(acked))
	for k := range acked {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got := byName[k]
		if len(got) != 1 || got[0].ID != acked[k] {
			t.Errorf("submission %s: %d jobs, want exactly the acknowledged %s", k, len(got), acked[k])
			continue
		}
		if got[0].State != core.JobSucceeded {
			t.Errorf("job %s (%s) is %s: %s", got[0].ID, k, got[0].State, got[0].Reason)
		}
		events, err := cl.Events(ctx, got[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		placed := 0
		for _, e := range events {
			if e.Type == "scheduled" {
				placed++
			}
		}
		if placed != 1 {
			t.Errorf("job %s was placed %d times", got[0].ID, placed)
		}
	}
	if problems, err := op.Verify(ctx); err != nil || len(problems) > 0 {
		t.Errorf("ledger verify after failovers: %v %v", problems, err)
	}
	t.Logf("%d submissions acknowledged by 3 replicas through 3 leader kills; all placed once, succeeded, ledger verified", want)
}

// waitAllEnded lists every job of the client's tenant until none is
// active (or the deadline passes, which is an error) and returns them.
func waitAllEnded(t *testing.T, cl *client.Client, within time.Duration) []api.JobView {
	t.Helper()
	ctx := context.Background()
	var jobs []api.JobView
	for deadline := time.Now().Add(within); ; {
		jobs = jobs[:0]
		for off := 0; ; off += 500 {
			page, total, err := cl.Jobs(ctx, client.JobsFilter{Limit: 500, Offset: off})
			if err != nil {
				t.Fatal(err)
			}
			jobs = append(jobs, page...)
			if off+500 >= total {
				break
			}
		}
		active := 0
		for _, j := range jobs {
			if !j.State.Terminal() {
				active++
			}
		}
		if active == 0 {
			return jobs
		}
		if time.Now().After(deadline) {
			t.Errorf("%d jobs still active after %s", active, within)
			return jobs
		}
		time.Sleep(500 * time.Millisecond)
	}
}

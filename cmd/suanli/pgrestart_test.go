package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store/pgtest"
)

// TestPostgresRestart restarts PostgreSQL under a stream of submissions to
// two replicas: clients get retryable errors (503 or no connection), never
// a 500, and nothing acknowledged is lost or doubled.
func TestPostgresRestart(t *testing.T) {
	bin, data, dsn, cr := migrated(t)
	a, b := startReplica(t, bin, data, dsn), startReplica(t, bin, data, dsn)
	urls := a.url + "," + b.url

	var mu sync.Mutex
	acked := map[string]string{}
	statuses := map[int]int{} // HTTP status of failed attempts (0: no response)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 3; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			cl := client.New(urls, cr.Tenant.Token)
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("pg-%d-%d", c, n)
				req := haJob(key)
				for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					j, err := cl.Submit(ctx, req)
					cancel()
					if err == nil {
						mu.Lock()
						acked[key] = j.ID
						mu.Unlock()
						break
					}
					var e *client.Error
					mu.Lock()
					if errors.As(err, &e) {
						statuses[e.Status]++
					} else {
						statuses[0]++
					}
					mu.Unlock()
					time.Sleep(100 * time.Millisecond)
				}
			}
		}(c)
	}
	time.Sleep(2 * time.Second)
	t0 := time.Now()
	pgtest.Restart(t)
	t.Logf("PostgreSQL restarted in %s", time.Since(t0).Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d submissions acknowledged; failed attempts by HTTP status (0 = no response): %v", len(acked), statuses)
	if statuses[500] > 0 {
		t.Errorf("%d attempts got 500; a database outage must answer 503 (retryable)", statuses[500])
	}
	if t.Failed() {
		t.Logf("replica logs:\n%s\n%s", a.out.String(), b.out.String())
	}
	cl := client.New(urls, cr.Tenant.Token)
	ctx := context.Background()
	jobs := waitAllEnded(t, cl, 60*time.Second)
	byName := map[string][]api.JobView{}
	for _, j := range jobs {
		byName[j.Name] = append(byName[j.Name], j)
	}
	for k, id := range acked {
		got := byName[k]
		if len(got) != 1 || got[0].ID != id || got[0].State != core.JobSucceeded {
			t.Errorf("submission %s: %d jobs (want exactly %s, succeeded): %+v", k, len(got), id, got)
		}
	}
	if problems, err := client.New(urls, cr.Operator.Token).Verify(ctx); err != nil || len(problems) > 0 {
		t.Errorf("ledger verify after the restart: %v %v", problems, err)
	}
}

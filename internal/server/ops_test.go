package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
)

// TestOnboarding: the operator registers a company, mints its token and
// funds its wallet; the company runs a job and sees only its own things.
func TestOnboarding(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	op := client.New(s.URL, s.Credentials.Operator.Token)
	org, err := op.CreateOrg(ctx, "华中某制造有限公司", "914403001922038216", core.RoleTenant)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := op.CreateToken(ctx, org.ID, "ci")
	if err != nil || !strings.HasPrefix(tok, "sl_") {
		t.Fatalf("CreateToken = %q, %v", tok, err)
	}
	w, err := op.TopUp(ctx, org.ID, 50*core.MicrosPerYuan, "BANK-1")
	if err != nil || w.AvailableMicros != 50*core.MicrosPerYuan {
		t.Fatalf("TopUp = %+v, %v", w, err)
	}
	// The same bank reference does not credit twice.
	if w, err = op.TopUp(ctx, org.ID, 50*core.MicrosPerYuan, "BANK-1"); err != nil || w.AvailableMicros != 50*core.MicrosPerYuan {
		t.Fatalf("repeated TopUp = %+v, %v; want no second credit", w, err)
	}
	me := client.New(s.URL, tok)
	who, err := me.Whoami(ctx)
	if err != nil || who.ID != org.ID || who.Role != core.RoleTenant {
		t.Fatalf("Whoami = %+v, %v", who, err)
	}
	j := submit(t, me, api.JobRequest{DurationS: 1, MaxDurationS: 60, Replicas: []api.ReplicaRequest{{AccelCount: 1, CPUMilli: 1000, MemMiB: 1024}}})
	j = waitJob(t, me, j.ID)
	if j.State != core.JobSucceeded || !j.Simulated || j.CostMicros <= 0 {
		t.Fatalf("job = %s simulated=%v cost %d", j.State, j.Simulated, j.CostMicros)
	}
	// Cheapest center for one card of any model: Ascend 910 at 4.00/card-hour on zs-xiqu.
	if j.Center != "zs-xiqu" || j.CostMicros != 1111 {
		t.Errorf("job ran on %s for %d micros, want zs-xiqu for 1111 (4.00 CNY/h for 1 s)", j.Center, j.CostMicros)
	}
	jobs, total, err := me.Jobs(ctx, client.JobsFilter{})
	if err != nil || total != 1 || len(jobs) != 1 {
		t.Errorf("the new tenant sees %d jobs (total %d), want only its own 1", len(jobs), total)
	}
}

func TestHealthMetricsOpenAPI(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	// One API call so that the latency histogram has a sample.
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)
	j := submit(t, tenant, api.JobRequest{Command: "true", MaxDurationS: 10, Replicas: []api.ReplicaRequest{{CPUMilli: 100, MemMiB: 16}}})
	waitJob(t, tenant, j.ID)
	code, body := get("/metrics")
	for _, want := range []string{`suanli_jobs{state="succeeded"} 1`, `suanli_jobs{state="queued"} 0`,
		"suanli_scheduling_cycle_seconds_count", `suanli_api_request_duration_seconds_count{operation="submit-job",status="201"} 1`,
		`suanli_jobs_finished_total{state="succeeded"} 1`} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %q", code, want)
		}
	}
	code, body = get("/openapi.json")
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || code != 200 {
		t.Fatalf("/openapi.json: %d %v", code, err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi version %q, want 3.1", doc.OpenAPI)
	}
	for _, p := range []string{"/api/v1/jobs", "/api/v1/jobs/{id}/logs", "/api/v1/wallet", "/api/v1/centers"} {
		if doc.Paths[p] == nil {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
}

// TestIdempotentSubmit: a retried submission with the same key returns the
// first job and holds money once; the same key with another spec conflicts.
func TestIdempotentSubmit(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	c := client.New(s.URL, s.Credentials.Tenant.Token)
	req := api.JobRequest{DurationS: 1, MaxDurationS: 60, IdempotencyKey: "req-42", Tier: "spot",
		Replicas: []api.ReplicaRequest{{AccelCount: 1, CPUMilli: 1000, MemMiB: 1024}}}
	a := submit(t, c, req)
	b := submit(t, c, req)
	if a.ID != b.ID {
		t.Fatalf("retry created job %s besides %s", b.ID, a.ID)
	}
	if _, total, _ := c.Jobs(ctx, client.JobsFilter{}); total != 1 {
		t.Errorf("%d jobs, want 1", total)
	}
	req.DurationS = 2
	if _, err := c.Submit(ctx, req); err == nil {
		t.Errorf("same key, different job: accepted, want a conflict")
	}
	done := waitJob(t, c, a.ID)
	// Spot is 0.6x: one Ascend 910 card-second at 4.00 x 0.6 CNY/h = 667 micros.
	if done.Tier != "spot" || done.CostMicros != 667 {
		t.Errorf("spot job tier %q cost %d, want spot and 667", done.Tier, done.CostMicros)
	}
}

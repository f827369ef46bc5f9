package server

import (
	"bytes"
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

type apiResp struct {
	status int
	body   map[string]any
}

func call(t *testing.T, method, url, token, body string) apiResp {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := apiResp{status: resp.StatusCode}
	_ = json.Unmarshal(raw, &r.body) // non-JSON bodies leave body nil; the test checks it
	return r
}

// checkRejected asserts a refused request's status and error code, a
// message, and, when field is set, that the field and the message name it
// (exactly when exact is set: "priority" must not pass for
// "priority_class").
func checkRejected(t *testing.T, r apiResp, status int, code, field string, exact bool) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d (%v), want %d", r.status, r.body, status)
	}
	if got, _ := r.body["code"].(string); got != code {
		t.Errorf("code = %q, want %q (body %v)", got, code, r.body)
	}
	msg, _ := r.body["message"].(string)
	if msg == "" {
		t.Errorf("empty message in %v", r.body)
	}
	if field == "" {
		return
	}
	got, _ := r.body["field"].(string)
	named := strings.Contains(got, field)
	if exact {
		named = strings.TrimPrefix(got, "body.") == field
	}
	if !named || !strings.Contains(msg, field) {
		t.Errorf("field %q / message %q do not name %q", got, msg, field)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)

	// A second tenant with its own job, which the first must not see.
	other, err := s.Store.CreateOrg(ctx, "Other Co", creditCodeForTest(t, "91310000MA1234567"), core.RoleTenant)
	if err != nil {
		t.Fatal(err)
	}
	otherTok, err := s.Store.CreateToken(ctx, other.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.TopUp(ctx, other.ID, 1000*core.MicrosPerYuan, "t1"); err != nil {
		t.Fatal(err)
	}
	otherJob, err := client.New(s.URL, otherTok).Submit(ctx, api.JobRequest{DurationS: 1, MaxDurationS: 10,
		Replicas: []api.ReplicaRequest{{CPUMilli: 1000, MemMiB: 100}}})
	if err != nil {
		t.Fatal(err)
	}

	poor, err := s.Store.CreateOrg(ctx, "Poor Co", creditCodeForTest(t, "91310000MA7654321"), core.RoleTenant)
	if err != nil {
		t.Fatal(err)
	}
	poorTok, err := s.Store.CreateToken(ctx, poor.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.TopUp(ctx, poor.ID, 10*core.MicrosPerYuan, "t1"); err != nil {
		t.Fatal(err)
	}

	good := `{"command":"echo hi","replicas":[{"cpu_milli":1000,"mem_mib":64}],"max_duration_s":60}`
	tok := s.Credentials.Tenant.Token
	jobs := s.URL + "/api/v1/jobs"
	tests := []struct {
		name       string
		method     string
		url        string
		token      string
		body       string
		wantStatus int
		wantCode   string
		wantField  string // substring of the field the error names
	}{
		{"no token", "GET", jobs, "", "", 401, "unauthorized", ""},
		{"unknown token", "GET", jobs, "sl_nope", "", 401, "unauthorized", ""},
		{"malformed JSON", "POST", jobs, tok, `{"command": "echo",`, 400, "malformed", ""},
		{"unknown field", "POST", jobs, tok, strings.Replace(good, `"command"`, `"colour":"red","command"`, 1), 422, "invalid", "colour"},
		{"negative cpu", "POST", jobs, tok, strings.Replace(good, `"cpu_milli":1000`, `"cpu_milli":-5`, 1), 422, "invalid", "cpu_milli"},
		{"negative accel count", "POST", jobs, tok, strings.Replace(good, `"cpu_milli":1000`, `"cpu_milli":1000,"accel_count":-1`, 1), 422, "invalid", "accel_count"},
		{"zero replicas", "POST", jobs, tok, `{"command":"x","replicas":[],"max_duration_s":60}`, 422, "invalid", "replicas"},
		{"unknown accelerator model", "POST", jobs, tok, strings.Replace(good, `"cpu_milli":1000`, `"cpu_milli":1000,"accel_count":1,"accel_models":["TPUv9"]`, 1), 422, "invalid", "accel_models"},
		{"missing command and duration", "POST", jobs, tok, `{"replicas":[{"cpu_milli":1000,"mem_mib":64}],"max_duration_s":60}`, 422, "invalid", "command"},
		{"missing max duration", "POST", jobs, tok, `{"command":"x","replicas":[{"cpu_milli":1000,"mem_mib":64}]}`, 422, "invalid", "max_duration_s"},
		{"wrong type", "POST", jobs, tok, strings.Replace(good, `"max_duration_s":60`, `"max_duration_s":"soon"`, 1), 422, "invalid", "max_duration_s"},
		{"unknown center", "POST", jobs, tok, strings.Replace(good, `"max_duration_s":60`, `"max_duration_s":60,"constraints":{"center":"atlantis"}`, 1), 422, "unschedulable", ""},
		{"too big for any center", "POST", jobs, tok, strings.Replace(good, `"cpu_milli":1000`, `"cpu_milli":1000000`, 1), 422, "unschedulable", ""},
		{"wallet cannot cover the hold", "POST", jobs, poorTok, `{"duration_s":60,"replicas":[{"count":8,"accel_count":8,"cpu_milli":1000,"mem_mib":64}],"max_duration_s":600}`, 402, "insufficient_funds", ""},
		{"wallet cannot cover a rolling hold", "POST", jobs, poorTok, `{"duration_s":60,"replicas":[{"count":8,"accel_count":8,"cpu_milli":1000,"mem_mib":64}],"max_duration_s":2592000}`, 402, "insufficient_funds", ""},
		{"oversized body", "POST", jobs, tok, `{"command":"` + strings.Repeat("x", 2<<20) + `","replicas":[{"cpu_milli":1,"mem_mib":1}],"max_duration_s":1}`, 413, "too_large", ""},
		{"operator cannot submit", "POST", jobs, s.Credentials.Operator.Token, good, 403, "forbidden", ""},
		{"provider cannot submit", "POST", jobs, s.Credentials.Provider.Token, good, 403, "forbidden", ""},
		{"tenant cannot top up", "POST", s.URL + "/api/v1/wallet/topup", tok, `{"org_id":"x","amount_micros":5,"reference":"r"}`, 403, "forbidden", ""},
		{"top up of a non-tenant", "POST", s.URL + "/api/v1/wallet/topup", s.Credentials.Operator.Token, `{"org_id":"` + s.Credentials.Operator.OrgID + `","amount_micros":5,"reference":"r"}`, 422, "invalid", "org_id"},
		{"top up negative", "POST", s.URL + "/api/v1/wallet/topup", s.Credentials.Operator.Token, `{"org_id":"` + other.ID + `","amount_micros":-5,"reference":"r"}`, 422, "invalid", "amount_micros"},
		{"another tenant's job", "GET", jobs + "/" + otherJob.ID, tok, "", 404, "not_found", ""},
		{"another tenant's job logs", "GET", jobs + "/" + otherJob.ID + "/logs", tok, "", 404, "not_found", ""},
		{"cancel another tenant's job", "POST", jobs + "/" + otherJob.ID + "/cancel", tok, "", 404, "not_found", ""},
		{"unknown job", "GET", jobs + "/job-nope", tok, "", 404, "not_found", ""},
		{"bad state filter", "GET", jobs + "?state=dancing", tok, "", 422, "invalid", "state"},
		{"bad limit", "GET", jobs + "?limit=-1", tok, "", 422, "invalid", "limit"},
		{"another tenant's wallet", "GET", s.URL + "/api/v1/wallet?org_id=" + other.ID, tok, "", 404, "not_found", ""},
		{"tenant cannot list orgs", "GET", s.URL + "/api/v1/orgs", tok, "", 403, "forbidden", ""},
		{"bad credit code check character", "POST", s.URL + "/api/v1/orgs", s.Credentials.Operator.Token, `{"name":"X","credit_code":"914403001922038217","role":"tenant"}`, 422, "invalid", "credit_code"},
		{"credit code with a forbidden letter", "POST", s.URL + "/api/v1/orgs", s.Credentials.Operator.Token, `{"name":"X","credit_code":"91440300192203821I","role":"tenant"}`, 422, "invalid", "credit_code"},
		{"duplicate credit code", "POST", s.URL + "/api/v1/orgs", s.Credentials.Operator.Token, `{"name":"X","credit_code":"` + other.CreditCode + `","role":"tenant"}`, 409, "conflict", ""},
		{"unknown role", "POST", s.URL + "/api/v1/orgs", s.Credentials.Operator.Token, `{"name":"X","credit_code":"914403001922038216","role":"king"}`, 422, "invalid", "role"},
		{"tenant cannot create orgs", "POST", s.URL + "/api/v1/orgs", tok, `{"name":"X","credit_code":"914403001922038216","role":"tenant"}`, 403, "forbidden", ""},
		{"token for unknown org", "POST", s.URL + "/api/v1/orgs/org-nope/tokens", s.Credentials.Operator.Token, `{}`, 404, "not_found", ""},
		{"unknown API path is JSON 404", "GET", s.URL + "/api/v1/nope", tok, "", 404, "not_found", ""},
		{"tenant cannot check the ledger", "GET", s.URL + "/api/v1/ledger/check", tok, "", 403, "forbidden", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			walletBefore, _ := tenant.Wallet(ctx, "")
			_, totalBefore, _ := tenant.Jobs(ctx, client.JobsFilter{})
			checkRejected(t, call(t, tt.method, tt.url, tt.token, tt.body), tt.wantStatus, tt.wantCode, tt.wantField, false)
			walletAfter, err := tenant.Wallet(ctx, "")
			if err != nil {
				t.Fatalf("wallet after: %v", err)
			}
			_, totalAfter, err := tenant.Jobs(ctx, client.JobsFilter{})
			if err != nil {
				t.Fatalf("jobs after: %v", err)
			}
			if walletAfter != walletBefore || totalAfter != totalBefore {
				t.Errorf("a rejected request changed state: wallet %+v -> %+v, jobs %d -> %d", walletBefore, walletAfter, totalBefore, totalAfter)
			}
		})
	}
}

func creditCodeForTest(t *testing.T, first17 string) string {
	t.Helper()
	ch, ok := core.CreditCodeCheckChar(first17)
	if !ok {
		t.Fatalf("bad credit code prefix %q", first17)
	}
	return first17 + string(ch)
}

// FuzzSubmitNever5xx throws arbitrary bodies at the submit endpoint: the
// answer is always a 2xx or 4xx, never a 5xx or a dropped connection.
func FuzzSubmitNever5xx(f *testing.F) {
	f.Add(`{"command":"true","replicas":[{"cpu_milli":1,"mem_mib":1}],"max_duration_s":1}`)
	f.Add(`{"replicas":[{"count":300,"cpu_milli":1,"mem_mib":1}],"duration_s":1,"max_duration_s":1}`)
	f.Add(`{"replicas":[{"accel_models":["A100","A100"],"accel_count":64,"cpu_milli":1,"mem_mib":1}],"duration_s":5,"max_duration_s":5,"constraints":{"kind":"hpc","domestic_only":true}}`)
	f.Add(`[]`)
	f.Add(`{"replicas":null}`)
	s, err := Open(context.Background(), Config{DataDir: f.TempDir(), Addr: "127.0.0.1:0", Log: quietLog()})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, body string) {
		req, _ := http.NewRequest("POST", s.URL+"/api/v1/jobs", bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+s.Credentials.Tenant.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("request failed: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("status %d for body %q", resp.StatusCode, body)
		}
	})
}

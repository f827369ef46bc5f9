package cli

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// TestNetworkCLI drives the network, scheduler and policy commands
// against a server: good input changes what the next command shows; bad
// input exits 1 with one readable line and changes nothing.
func TestNetworkCLI(t *testing.T) {
	s, as := cliServer(t)
	op, tenant := s.Credentials.Operator.Token, s.Credentials.Tenant.Token
	ok := succeeded(t)

	ok(as(op, "network", "link", "set", "--from", "zz-west", "--to", "aa-east", "--latency-ms", "18", "--bandwidth-mbps", "1000"))
	var links []core.Link
	if err := json.Unmarshal([]byte(ok(as(tenant, "network", "links", "-o", "json"))), &links); err != nil {
		t.Fatal(err)
	}
	want := core.Link{From: "aa-east", To: "zz-west", LatencyMs: 18, BandwidthMbps: 1000}
	if !hasLink(links, want) {
		t.Errorf("network links = %+v, want it to hold %+v", links, want)
	}
	if out := ok(as(tenant, "network", "links")); !strings.Contains(out, "aa-east") || !strings.Contains(out, "LATENCY") {
		t.Errorf("network links table:\n%s", out)
	}
	ok(as(op, "network", "link", "rm", "zz-west", "aa-east"))

	ok(as(op, "scheduler", "weights", "set", "price=50,network=50"))
	var w core.ScoreWeights
	if err := json.Unmarshal([]byte(ok(as(tenant, "scheduler", "weights", "-o", "json"))), &w); err != nil {
		t.Fatal(err)
	}
	if w != (core.ScoreWeights{Price: 50, Network: 50}) {
		t.Errorf("scheduler weights = %+v", w)
	}

	ok(as(op, "org", "policy", s.Credentials.Tenant.OrgID, "--cohort", "lab-2", "--borrow-accelerators", "8",
		"--weights", "price=70,green=30"))
	ps, err := s.Store.TenantPolicies(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantPolicy := store.TenantPolicy{OrgID: s.Credentials.Tenant.OrgID, Weight: 1, Cohort: "lab-2", BorrowAccel: 8,
		Weights: &core.ScoreWeights{Price: 70, Green: 30}}
	if !hasPolicy(ps, wantPolicy) {
		t.Errorf("policies = %+v, want %+v among them", ps, wantPolicy)
	}

	before := ok(as(op, "network", "links", "-o", "json"))
	for _, tc := range []struct {
		args []string
		want string // in the error line
	}{
		{[]string{"network", "link", "set", "--from", "a", "--to", "a", "--latency-ms", "1", "--bandwidth-mbps", "1"}, "--to"},
		{[]string{"network", "link", "set", "--from", "a", "--to", "b", "--latency-ms", "-1", "--bandwidth-mbps", "1"}, "--latency-ms"},
		{[]string{"network", "link", "set", "--from", "a", "--to", "b", "--latency-ms", "1"}, "--bandwidth-mbps"},
		{[]string{"network", "link", "rm", "atlantis", "lemuria"}, "not found"},
		{[]string{"scheduler", "weights", "set", "price=101"}, "weights.price"},
		{[]string{"scheduler", "weights", "set", "speed=5"}, "unknown factor"},
		{[]string{"scheduler", "weights", "set", "price=0"}, "at least one"},
		{[]string{"org", "policy", s.Credentials.Tenant.OrgID, "--cohort", "Lab 2"}, "cohort"},
		{[]string{"org", "policy", s.Credentials.Tenant.OrgID, "--borrow-cpu", "-5"}, "borrow_cpu_milli"},
		{[]string{"org", "policy", s.Credentials.Tenant.OrgID, "--weights", "price=x"}, "--weights"},
	} {
		out, errOut, code := as(op, tc.args...)
		if code != 1 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and one line naming %q", tc.args, code, out, errOut, tc.want)
		}
	}
	if after := ok(as(op, "network", "links", "-o", "json")); after != before {
		t.Errorf("bad input changed the links")
	}
	if ps2, _ := s.Store.TenantPolicies(context.Background()); !hasPolicy(ps2, wantPolicy) {
		t.Errorf("bad input changed the policy: %+v", ps2)
	}
	_, errOut, code := as(tenant, "job", "submit", "--duration", "1s", "--data-size-gib", "-1")
	if code != 1 || !strings.Contains(errOut, "--data-size-gib") {
		t.Errorf("job submit --data-size-gib -1: exit %d, %q", code, errOut)
	}
	_, errOut, code = as(tenant, "job", "submit", "--duration", "1s", "--weights", "price=200")
	if code != 1 || !strings.Contains(errOut, "--weights") {
		t.Errorf("job submit --weights price=200: exit %d, %q", code, errOut)
	}
	out := ok(as(tenant, "job", "submit", "--duration", "1s", "--data-region", "beijing", "--data-center", "bj-mentougou",
		"--data-size-gib", "100", "--weights", "price=50,locality=50", "-o", "json"))
	var j struct {
		Data    core.DataSpec      `json:"data"`
		Weights *core.ScoreWeights `json:"weights"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}
	if j.Data.Region != "beijing" || len(j.Data.Centers) != 1 || j.Data.SizeGiB != 100 || j.Weights == nil || j.Weights.Locality != 50 {
		t.Errorf("submitted job data %+v weights %+v", j.Data, j.Weights)
	}
}

func hasLink(ls []core.Link, l core.Link) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

func hasPolicy(ps []store.TenantPolicy, p store.TenantPolicy) bool {
	for _, x := range ps {
		if x.OrgID == p.OrgID && x.Weight == p.Weight && x.Cohort == p.Cohort && x.BorrowAccel == p.BorrowAccel &&
			(x.Weights == nil) == (p.Weights == nil) && (x.Weights == nil || *x.Weights == *p.Weights) {
			return true
		}
	}
	return false
}

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// networkState is what the network endpoints may change.
type networkState struct {
	Links    []core.Link
	Policies []store.TenantPolicy
	Weights  core.ScoreWeights
	Jobs     int
}

func readNetworkState(t *testing.T, op, tenant *client.Client) networkState {
	t.Helper()
	ctx := context.Background()
	var st networkState
	var err error
	if st.Links, err = op.Links(ctx); err != nil {
		t.Fatal(err)
	}
	if st.Policies, err = op.Policies(ctx); err != nil {
		t.Fatal(err)
	}
	if st.Weights, err = op.SchedWeights(ctx); err != nil {
		t.Fatal(err)
	}
	if _, st.Jobs, err = tenant.Jobs(ctx, client.JobsFilter{}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestNetworkAPI sets links, the platform weights and a policy with a
// cohort through the API, submits a job with data and weights, and reads
// them all back.
func TestNetworkAPI(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	op := client.New(s.URL, s.Credentials.Operator.Token)
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)

	if err := op.SetLink(ctx, core.Link{From: "zz-west", To: "aa-east", LatencyMs: 18, BandwidthMbps: 100_000}); err != nil {
		t.Fatal(err)
	}
	links, err := tenant.Links(ctx) // any principal reads the network
	if err != nil {
		t.Fatal(err)
	}
	want := core.Link{From: "aa-east", To: "zz-west", LatencyMs: 18, BandwidthMbps: 100_000}
	if !containsLink(links, want) {
		t.Errorf("Links = %+v, want it to hold %+v", links, want)
	}
	if err := op.DeleteLink(ctx, "zz-west", "aa-east"); err != nil {
		t.Fatal(err)
	}
	if links, _ := tenant.Links(ctx); containsLink(links, want) {
		t.Errorf("the link is still there after DeleteLink: %+v", links)
	}

	w := core.ScoreWeights{Price: 30, Network: 40, Locality: 30}
	if err := op.SetSchedWeights(ctx, w); err != nil {
		t.Fatal(err)
	}
	if got, err := tenant.SchedWeights(ctx); err != nil || got != w {
		t.Errorf("SchedWeights = %+v, %v; want %+v", got, err, w)
	}

	tw := core.ScoreWeights{Price: 10, Green: 90}
	p := store.TenantPolicy{OrgID: s.Credentials.Tenant.OrgID, Weight: 2, QuotaAccel: 64, Cohort: "lab-9",
		BorrowAccel: 32, Weights: &tw}
	if err := op.SetPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	ps, err := op.Policies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !containsPolicy(ps, p) {
		t.Errorf("Policies = %s, want it to hold %s", jsonOf(ps), jsonOf(p))
	}

	j := submit(t, tenant, api.JobRequest{DurationS: 1, MaxDurationS: 60,
		Replicas: []api.ReplicaRequest{{CPUMilli: 1000, MemMiB: 64}},
		Data:     core.DataSpec{Region: "beijing", Centers: []string{"bj-mentougou"}, SizeGiB: 200},
		Weights:  &api.WeightsRequest{Price: 50, Network: 50}})
	got, err := tenant.Job(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Data, core.DataSpec{Region: "beijing", Centers: []string{"bj-mentougou"}, SizeGiB: 200}) ||
		got.Weights == nil || *got.Weights != (core.ScoreWeights{Price: 50, Network: 50}) {
		t.Errorf("job data %+v weights %+v, want what was submitted", got.Data, got.Weights)
	}
}

func containsLink(ls []core.Link, l core.Link) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}

func containsPolicy(ps []store.TenantPolicy, p store.TenantPolicy) bool {
	for _, x := range ps {
		if reflect.DeepEqual(x, p) {
			return true
		}
	}
	return false
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v) // test output only
	return string(b)
}

// TestNetworkBadInput: bad links, weights, policies and job data get a
// 4xx with a code and a message naming the field, and change nothing.
func TestNetworkBadInput(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	op := client.New(s.URL, s.Credentials.Operator.Token)
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)
	opTok, tok, provTok := s.Credentials.Operator.Token, s.Credentials.Tenant.Token, s.Credentials.Provider.Token
	links, weights := s.URL+"/api/v1/network/links", s.URL+"/api/v1/scheduler/weights"
	policy := s.URL + "/api/v1/orgs/" + s.Credentials.Tenant.OrgID + "/policy"
	jobs := s.URL + "/api/v1/jobs"
	link := func(from, to string, latency, mbps int64) string {
		return fmt.Sprintf(`{"from":%q,"to":%q,"latency_ms":%d,"bandwidth_mbps":%d}`, from, to, latency, mbps)
	}
	job := func(extra string) string {
		return `{"duration_s":1,"replicas":[{"cpu_milli":1000,"mem_mib":64}],"max_duration_s":60,` + extra + `}`
	}
	for _, tt := range []struct {
		name, method, url, token, body string
		wantStatus                     int
		wantCode, wantField            string
	}{
		{"tenant cannot set a link", "PUT", links, tok, link("a", "b", 1, 1), 403, "forbidden", ""},
		{"provider cannot remove a link", "DELETE", links + "/beijing/shanghai", provTok, "", 403, "forbidden", ""},
		{"link without from", "PUT", links, opTok, link("", "b", 1, 1), 422, "invalid", "from"},
		{"link to itself", "PUT", links, opTok, link("a", "a", 1, 1), 422, "invalid", "to"},
		{"link region too long", "PUT", links, opTok, link(strings.Repeat("r", 65), "b", 1, 1), 422, "invalid", "from"},
		{"negative latency", "PUT", links, opTok, link("a", "b", -1, 1), 422, "invalid", "latency_ms"},
		{"latency too large", "PUT", links, opTok, link("a", "b", 10_001, 1), 422, "invalid", "latency_ms"},
		{"zero bandwidth", "PUT", links, opTok, link("a", "b", 1, 0), 422, "invalid", "bandwidth_mbps"},
		{"link with an unknown field", "PUT", links, opTok, `{"from":"a","to":"b","latency_ms":1,"bandwidth_mbps":1,"jitter_ms":3}`, 422, "invalid", "jitter_ms"},
		{"remove an unknown link", "DELETE", links + "/atlantis/lemuria", opTok, "", 404, "not_found", ""},
		{"tenant cannot set weights", "PUT", weights, tok, `{"weights":{"price":100}}`, 403, "forbidden", ""},
		{"weight too large", "PUT", weights, opTok, `{"weights":{"price":101}}`, 422, "invalid", "weights.price"},
		{"negative weight", "PUT", weights, opTok, `{"weights":{"price":10,"green":-1}}`, 422, "invalid", "weights.green"},
		{"all weights zero", "PUT", weights, opTok, `{"weights":{}}`, 422, "invalid", "weights"},
		{"unknown factor", "PUT", weights, opTok, `{"weights":{"speed":5}}`, 422, "invalid", "speed"},
		{"cohort with capitals and a space", "PUT", policy, opTok, `{"weight":1,"cohort":"Lab 1"}`, 422, "invalid", "cohort"},
		{"cohort too long", "PUT", policy, opTok, `{"weight":1,"cohort":"` + strings.Repeat("a", 65) + `"}`, 422, "invalid", "cohort"},
		{"negative borrow", "PUT", policy, opTok, `{"weight":1,"borrow_accelerators":-1}`, 422, "invalid", "borrow_accelerators"},
		{"policy weight too large", "PUT", policy, opTok, `{"weight":1,"weights":{"price":200}}`, 422, "invalid", "weights.price"},
		{"policy weights all zero", "PUT", policy, opTok, `{"weight":1,"weights":{}}`, 422, "invalid", "weights"},
		{"tenant cannot set its policy", "PUT", policy, tok, `{"weight":1000}`, 403, "forbidden", ""},
		{"job weight too large", "POST", jobs, tok, job(`"weights":{"price":101}`), 422, "invalid", "weights.price"},
		{"job weights all zero", "POST", jobs, tok, job(`"weights":{}`), 422, "invalid", "weights"},
		{"job data size negative", "POST", jobs, tok, job(`"data":{"size_gib":-1}`), 422, "invalid", "data.size_gib"},
		{"job data region too long", "POST", jobs, tok, job(`"data":{"region":"` + strings.Repeat("r", 65) + `"}`), 422, "invalid", "data.region"},
		{"job data on too many centers", "POST", jobs, tok, job(`"data":{"centers":[` + strings.Repeat(`"c",`, core.DataCentersMax) + `"c"]}`), 422, "invalid", "data.centers"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := readNetworkState(t, op, tenant)
			checkRejected(t, call(t, tt.method, tt.url, tt.token, tt.body), tt.wantStatus, tt.wantCode, tt.wantField, false)
			if after := readNetworkState(t, op, tenant); !reflect.DeepEqual(after, before) {
				t.Errorf("a rejected request changed state:\n  before %s\n  after  %s", jsonOf(before), jsonOf(after))
			}
		})
	}
}

package server

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/suanli/suanli/internal/api"
	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/seed"
)

// TestPriorityClassAPI lists the demo's classes, sets and replaces one,
// submits jobs with classes (the job's priority is the class's value,
// also when the request repeats it), and removes the class.
func TestPriorityClassAPI(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	defer s.Close()
	op := client.New(s.URL, s.Credentials.Operator.Token)
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)

	cs, err := tenant.PriorityClasses(ctx) // any principal reads the classes
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cs, seed.DemoPriorityClasses) {
		t.Errorf("PriorityClasses = %+v, want the demo's %+v", cs, seed.DemoPriorityClasses)
	}

	gold := core.PriorityClass{Name: "gold", Value: 300, Description: "first draft"}
	if err := op.SetPriorityClass(ctx, gold); err != nil {
		t.Fatal(err)
	}
	gold.Value, gold.Description = 500, "contracted capacity"
	if err := op.SetPriorityClass(ctx, gold); err != nil { // replaces the first
		t.Fatal(err)
	}
	cs, err = tenant.PriorityClasses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(seed.DemoPriorityClasses)+1 || cs[0] != gold {
		t.Errorf("PriorityClasses = %+v, want gold first, once", cs)
	}

	job := func(class string, priority int) api.JobRequest {
		return api.JobRequest{DurationS: 1, MaxDurationS: 60, Replicas: []api.ReplicaRequest{{CPUMilli: 1000, MemMiB: 64}},
			PriorityClass: class, Priority: priority}
	}
	for _, tc := range []struct {
		req  api.JobRequest
		want int
	}{
		{job("gold", 0), 500},
		{job("gold", 500), 500}, // repeating the class's value is no conflict
		{job("best-effort", 0), -100},
		{job("", 7), 7}, // no class: the priority as given
	} {
		j := submit(t, tenant, tc.req)
		got, err := tenant.Job(ctx, j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.Priority != tc.want || got.Priority != tc.want || got.PriorityClass != tc.req.PriorityClass {
			t.Errorf("submit class %q priority %d: job priority %d (stored %d), class %q; want %d, %q",
				tc.req.PriorityClass, tc.req.Priority, j.Priority, got.Priority, got.PriorityClass, tc.want, tc.req.PriorityClass)
		}
	}

	if err := op.DeletePriorityClass(ctx, "gold"); err != nil {
		t.Fatal(err)
	}
	if cs, _ := tenant.PriorityClasses(ctx); len(cs) != len(seed.DemoPriorityClasses) {
		t.Errorf("PriorityClasses after delete = %+v", cs)
	}
	var ae *client.Error
	if _, err := tenant.Submit(ctx, job("gold", 0)); !errors.As(err, &ae) || ae.Code != core.EInvalid {
		t.Errorf("submit with a removed class = %v, want invalid", err)
	}
}

// priorityClassState is what the priority-class endpoints and a refused
// submission may change.
type priorityClassState struct {
	Classes []core.PriorityClass
	Jobs    int
}

func readPriorityClassState(t *testing.T, tenant *client.Client) priorityClassState {
	t.Helper()
	ctx := context.Background()
	var st priorityClassState
	var err error
	if st.Classes, err = tenant.PriorityClasses(ctx); err != nil {
		t.Fatal(err)
	}
	if _, st.Jobs, err = tenant.Jobs(ctx, client.JobsFilter{}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestPriorityClassBadInput: bad classes, a non-operator's writes, an
// unknown class and a priority that contradicts the class get a 4xx with
// a code and a message naming the field, and change nothing (no class,
// no job).
func TestPriorityClassBadInput(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	tenant := client.New(s.URL, s.Credentials.Tenant.Token)
	opTok, tok, provTok := s.Credentials.Operator.Token, s.Credentials.Tenant.Token, s.Credentials.Provider.Token
	classes, jobs := s.URL+"/api/v1/priority-classes", s.URL+"/api/v1/jobs"
	job := func(extra string) string {
		return `{"duration_s":1,"replicas":[{"cpu_milli":1000,"mem_mib":64}],"max_duration_s":60,` + extra + `}`
	}
	for _, tt := range []struct {
		name, method, url, token, body string
		wantStatus                     int
		wantCode, wantField            string
	}{
		{"tenant cannot set a class", "PUT", classes, tok, `{"name":"vip","value":999}`, 403, "forbidden", ""},
		{"provider cannot set a class", "PUT", classes, provTok, `{"name":"vip","value":999}`, 403, "forbidden", ""},
		{"tenant cannot remove a class", "DELETE", classes + "/batch", tok, "", 403, "forbidden", ""},
		{"class without a name", "PUT", classes, opTok, `{"name":"","value":1}`, 422, "invalid", "name"},
		{"class name with capitals", "PUT", classes, opTok, `{"name":"Gold","value":1}`, 422, "invalid", "name"},
		{"class name starting with a digit", "PUT", classes, opTok, `{"name":"1st","value":1}`, 422, "invalid", "name"},
		{"class name with a space", "PUT", classes, opTok, `{"name":"best effort","value":1}`, 422, "invalid", "name"},
		{"class name too long", "PUT", classes, opTok, `{"name":"` + strings.Repeat("a", 64) + `","value":1}`, 422, "invalid", "name"},
		{"class value too large", "PUT", classes, opTok, `{"name":"x","value":1001}`, 422, "invalid", "value"},
		{"class value too small", "PUT", classes, opTok, `{"name":"x","value":-1001}`, 422, "invalid", "value"},
		{"class description too long", "PUT", classes, opTok, `{"name":"x","value":1,"description":"` + strings.Repeat("d", 257) + `"}`, 422, "invalid", "description"},
		{"class with an unknown field", "PUT", classes, opTok, `{"name":"x","value":1,"preempts":false}`, 422, "invalid", "preempts"},
		{"remove an unknown class", "DELETE", classes + "/gold", opTok, "", 404, "not_found", ""},
		{"job with an unknown class", "POST", jobs, tok, job(`"priority_class":"gold"`), 422, "invalid", "priority_class"},
		{"job with a malformed class", "POST", jobs, tok, job(`"priority_class":"Gold!"`), 422, "invalid", "priority_class"},
		{"job priority contradicts its class", "POST", jobs, tok, job(`"priority_class":"production","priority":5`), 422, "invalid", "priority"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := readPriorityClassState(t, tenant)
			checkRejected(t, call(t, tt.method, tt.url, tt.token, tt.body), tt.wantStatus, tt.wantCode, tt.wantField, true)
			if after := readPriorityClassState(t, tenant); !reflect.DeepEqual(after, before) {
				t.Errorf("a rejected request changed state:\n  before %s\n  after  %s", jsonOf(before), jsonOf(after))
			}
		})
	}
}

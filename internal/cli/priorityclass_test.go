package cli

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/seed"
)

// TestPriorityClassCLI drives `priority-class` and `job submit
// --priority-class` against a server: good input changes what the next
// command shows; bad input exits 1 with one readable line and changes
// nothing.
func TestPriorityClassCLI(t *testing.T) {
	s, as := cliServer(t)
	op, tenant := s.Credentials.Operator.Token, s.Credentials.Tenant.Token
	ok := succeeded(t)
	list := func() []core.PriorityClass {
		t.Helper()
		var cs []core.PriorityClass
		if err := json.Unmarshal([]byte(ok(as(tenant, "priority-class", "list", "-o", "json"))), &cs); err != nil {
			t.Fatal(err)
		}
		return cs
	}

	if got := list(); !reflect.DeepEqual(got, seed.DemoPriorityClasses) {
		t.Errorf("priority-class list = %+v, want the demo's", got)
	}
	ok(as(op, "priority-class", "set", "gold", "--value", "500", "--description", "contracted capacity"))
	want := core.PriorityClass{Name: "gold", Value: 500, Description: "contracted capacity"}
	if got := list(); len(got) == 0 || got[0] != want {
		t.Errorf("priority-class list = %+v, want %+v first", got, want)
	}
	if out := ok(as(tenant, "priority-class", "list")); !strings.Contains(out, "gold") || !strings.Contains(out, "VALUE") ||
		!strings.Contains(out, "best-effort") {
		t.Errorf("priority-class list table:\n%s", out)
	}

	out := ok(as(tenant, "job", "submit", "--duration", "1s", "--priority-class", "gold", "-o", "json"))
	var j struct {
		Priority      int    `json:"priority"`
		PriorityClass string `json:"priority_class"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatal(err)
	}
	if j.Priority != 500 || j.PriorityClass != "gold" {
		t.Errorf("job submit --priority-class gold: priority %d class %q, want 500 gold", j.Priority, j.PriorityClass)
	}

	jobCount := func() int {
		t.Helper()
		var l struct{ Total int }
		if err := json.Unmarshal([]byte(ok(as(tenant, "job", "list", "-o", "json"))), &l); err != nil {
			t.Fatal(err)
		}
		return l.Total
	}
	before, jobsBefore := list(), jobCount()
	for _, tc := range []struct {
		token string
		args  []string
		want  string // in the error line
	}{
		{op, []string{"priority-class", "set", "Gold", "--value", "1"}, "NAME"},
		{op, []string{"priority-class", "set", "x", "--value", "1001"}, "--value"},
		{op, []string{"priority-class", "set", "x", "--value", "1", "--description", strings.Repeat("d", 257)}, "--description"},
		{op, []string{"priority-class", "set", "x"}, "value"},
		{op, []string{"priority-class", "set"}, "arg"},
		{op, []string{"priority-class", "rm", "platinum"}, "not found"},
		{tenant, []string{"priority-class", "set", "mine", "--value", "1000"}, "operator"},
		{tenant, []string{"priority-class", "rm", "gold"}, "operator"},
		{tenant, []string{"job", "submit", "--duration", "1s", "--priority-class", "platinum"}, "unknown priority class"},
		{tenant, []string{"job", "submit", "--duration", "1s", "--priority-class", "gold", "--priority", "5"}, "sets priority 500"},
	} {
		out, errOut, code := as(tc.token, tc.args...)
		if code != 1 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 1 and one line naming %q", tc.args, code, out, errOut, tc.want)
		}
	}
	if after := list(); !reflect.DeepEqual(after, before) {
		t.Errorf("bad input changed the classes: %+v", after)
	}
	if after := jobCount(); after != jobsBefore {
		t.Errorf("bad input created a job: %d jobs, had %d", after, jobsBefore)
	}

	ok(as(op, "priority-class", "rm", "gold"))
	if got := list(); !reflect.DeepEqual(got, seed.DemoPriorityClasses) {
		t.Errorf("priority-class list after rm = %+v, want the demo's", got)
	}
}

package sqlstore

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/suanli/suanli/internal/core"
)

// TestPriorityClasses: classes are listed highest value first, then by
// name; a second set replaces a class; a delete removes it (a second is
// not found); bad classes are refused naming the field and change nothing.
func TestPriorityClasses(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "OFF")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SetPriorityClass(ctx, core.PriorityClass{Name: "batch", Value: -50, Description: "throughput"}, "op"))
	must(s.SetPriorityClass(ctx, core.PriorityClass{Name: "production", Value: 10}, "op"))
	must(s.SetPriorityClass(ctx, core.PriorityClass{Name: "default", Value: 0}, "op"))
	must(s.SetPriorityClass(ctx, core.PriorityClass{Name: "b-tie", Value: 0}, "op"))
	// The same name again replaces the class.
	must(s.SetPriorityClass(ctx, core.PriorityClass{Name: "production", Value: 100, Description: "用户-facing"}, "op2"))
	want := []core.PriorityClass{
		{Name: "production", Value: 100, Description: "用户-facing"},
		{Name: "b-tie", Value: 0},
		{Name: "default", Value: 0},
		{Name: "batch", Value: -50, Description: "throughput"},
	}
	check := func(what string, want []core.PriorityClass) {
		t.Helper()
		got, err := s.PriorityClasses(ctx)
		must(err)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: PriorityClasses = %+v, want %+v", what, got, want)
		}
	}
	check("after sets", want)
	var by string
	must(s.r.QueryRowContext(ctx, `SELECT updated_by FROM priority_classes WHERE name = 'production'`).Scan(&by))
	if by != "op2" {
		t.Errorf("updated_by = %q, want op2", by)
	}
	if c, err := s.PriorityClass(ctx, "batch"); err != nil || c != want[3] {
		t.Errorf("PriorityClass(batch) = %+v, %v; want %+v", c, err, want[3])
	}
	if _, err := s.PriorityClass(ctx, "gold"); core.ErrorCode(err) != core.ENotFound {
		t.Errorf("PriorityClass(gold) = %v, want not found", err)
	}

	for _, tc := range []struct {
		class core.PriorityClass
		field string
	}{
		{core.PriorityClass{Name: ""}, "name"},
		{core.PriorityClass{Name: "Production"}, "name"},
		{core.PriorityClass{Name: "9-lives"}, "name"},
		{core.PriorityClass{Name: "-x"}, "name"},
		{core.PriorityClass{Name: "best effort"}, "name"},
		{core.PriorityClass{Name: "a_b"}, "name"},
		{core.PriorityClass{Name: strings.Repeat("a", core.PriorityClassNameLenMax+1)}, "name"},
		{core.PriorityClass{Name: "x", Value: core.PriorityMax + 1}, "value"},
		{core.PriorityClass{Name: "x", Value: core.PriorityMin - 1}, "value"},
		{core.PriorityClass{Name: "x", Description: strings.Repeat("d", core.PriorityClassDescriptionLenMax+1)}, "description"},
	} {
		wantFieldError(t, fmt.Sprintf("SetPriorityClass(%.80q)", tc.class.Name), s.SetPriorityClass(ctx, tc.class, "op"), tc.field)
	}
	check("after bad input", want)
	// The bounds themselves are allowed.
	must(s.SetPriorityClass(ctx, core.PriorityClass{Name: strings.Repeat("z", core.PriorityClassNameLenMax),
		Value: core.PriorityMin, Description: strings.Repeat("d", core.PriorityClassDescriptionLenMax)}, "op"))
	must(s.DeletePriorityClass(ctx, strings.Repeat("z", core.PriorityClassNameLenMax), "op"))

	must(s.DeletePriorityClass(ctx, "default", "op"))
	if err := s.DeletePriorityClass(ctx, "default", "op"); core.ErrorCode(err) != core.ENotFound {
		t.Errorf("second DeletePriorityClass = %v, want not found", err)
	}
	check("after delete", []core.PriorityClass{want[0], want[1], want[3]})
}

// TestPriorityClassesMax: once core.PriorityClassesMax classes exist a
// new one is refused as a conflict, while an existing one may still be
// changed.
func TestPriorityClassesMax(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "OFF")
	for i := range core.PriorityClassesMax {
		if err := s.SetPriorityClass(ctx, core.PriorityClass{Name: fmt.Sprintf("c%03d", i), Value: i}, "op"); err != nil {
			t.Fatal(err)
		}
	}
	err := s.SetPriorityClass(ctx, core.PriorityClass{Name: "one-more"}, "op")
	if core.ErrorCode(err) != core.EConflict {
		t.Errorf("SetPriorityClass past the limit = %v, want a conflict", err)
	}
	if err := s.SetPriorityClass(ctx, core.PriorityClass{Name: "c007", Value: 1000}, "op"); err != nil {
		t.Errorf("changing an existing class at the limit: %v", err)
	}
	cs, err := s.PriorityClasses(ctx)
	if err != nil || len(cs) != core.PriorityClassesMax {
		t.Fatalf("PriorityClasses = %d classes, %v; want %d", len(cs), err, core.PriorityClassesMax)
	}
	if cs[0] != (core.PriorityClass{Name: "c007", Value: 1000}) {
		t.Errorf("PriorityClasses[0] = %+v, want c007 at 1000", cs[0])
	}
}

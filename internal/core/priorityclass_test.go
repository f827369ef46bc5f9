package core

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestPriorityClassValidate: names are DNS-label-like (lowercase letters,
// digits, '-', starting with a letter), values within the priority range,
// descriptions bounded; a bad one names its field.
func TestPriorityClassValidate(t *testing.T) {
	for _, tc := range []struct {
		c     PriorityClass
		field string // "" = valid
	}{
		{PriorityClass{Name: "best-effort", Value: -100, Description: "空闲时运行"}, ""},
		{PriorityClass{Name: "a", Value: PriorityMax}, ""},
		{PriorityClass{Name: "p2", Value: PriorityMin}, ""},
		{PriorityClass{Name: strings.Repeat("a", PriorityClassNameLenMax), Description: strings.Repeat("d", PriorityClassDescriptionLenMax)}, ""},
		{PriorityClass{Name: ""}, "name"},
		{PriorityClass{Name: "Prod"}, "name"},
		{PriorityClass{Name: "2nd"}, "name"},
		{PriorityClass{Name: "-x"}, "name"},
		{PriorityClass{Name: "a.b"}, "name"},
		{PriorityClass{Name: "生产"}, "name"},
		{PriorityClass{Name: strings.Repeat("a", PriorityClassNameLenMax+1)}, "name"},
		{PriorityClass{Name: "x", Value: PriorityMax + 1}, "value"},
		{PriorityClass{Name: "x", Value: PriorityMin - 1}, "value"},
		{PriorityClass{Name: "x", Description: strings.Repeat("d", PriorityClassDescriptionLenMax+1)}, "description"},
	} {
		err := tc.c.Validate()
		var ce *Error
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("Validate(%.40q) = %v, want nil", tc.c.Name, err)
		case tc.field != "" && (!errors.As(err, &ce) || ce.Code != EInvalid || ce.Field != tc.field):
			t.Errorf("Validate(%.40q) = %v, want invalid naming %s", tc.c.Name, err, tc.field)
		}
	}
}

// TestJobSpecPriorityClass: a spec's class name is checked like a class's
// own name, under the field priority_class.
func TestJobSpecPriorityClass(t *testing.T) {
	s := JobSpec{Replicas: []Replica{{CPUMilli: 1000, MemMiB: 64}}, Duration: time.Second, MaxDuration: time.Minute, PriorityClass: "batch"}
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate = %v, want nil", err)
	}
	s.PriorityClass = "Batch!"
	var ce *Error
	if err := s.Validate(); !errors.As(err, &ce) || ce.Field != "priority_class" {
		t.Errorf("Validate with class %q = %v, want invalid naming priority_class", s.PriorityClass, err)
	}
}

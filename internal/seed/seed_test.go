package seed

import (
	"testing"

	"github.com/suanli/suanli/internal/core"
)

func TestDemoNodeCounts(t *testing.T) {
	// Published P ÷ per-node TFLOPS, to the nearest node.
	want := map[string]int{
		"bj-mentougou": 45,    // 100P / (280 TF x 8 Ascend 910B)
		"yc-baidu":     20,    // 50P / (312 x 8 A800)
		"yc-zksz":      22,    // 50P / (280 x 8)
		"yc-ruixin":    68,    // 80P / (148 x 8 H20)
		"yc-advanced":  16961, // 125P / 7.37 TF FP64 per 2xEPYC 9654 node
		"yc-hpc":       1880,  // 10P / 5.32 TF FP64 per 2xXeon 8358 node
		"gz-haizhu":    89,
		"sh-jinshan":   60,
		"zs-xiqu":      15,
	}
	seen := map[string]bool{}
	for _, s := range Demo {
		nodes, err := s.Nodes()
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		if len(nodes) != want[s.Name] {
			t.Errorf("%s: %d nodes, want %d", s.Name, len(nodes), want[s.Name])
		}
		var tf float64
		for _, n := range nodes {
			tf += n.CapacityTFLOPS(s.Kind)
		}
		// The modelled capacity is within half a node of the published figure.
		perNode := nodes[0].CapacityTFLOPS(s.Kind)
		if d := tf - s.PFLOPS*1000; d > perNode/2 || d < -perNode/2 {
			t.Errorf("%s: modelled %.0f TFLOPS, published %.0f", s.Name, tf, s.PFLOPS*1000)
		}
		if s.Source == "" || !s.Kind.Valid() || seen[s.Name] {
			t.Errorf("%s: needs a source, a valid kind and a unique name", s.Name)
		}
		seen[s.Name] = true
		if s.Accel != "" {
			a, _ := core.LookupAccelerator(s.Accel)
			if a.Domestic != s.Domestic {
				t.Errorf("%s: domestic flag %v disagrees with its %s cards", s.Name, s.Domestic, s.Accel)
			}
			if s.CardHour <= 0 {
				t.Errorf("%s: no card-hour price", s.Name)
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("%d demo centers, want %d", len(seen), len(want))
	}
}

func TestCreditCodesValid(t *testing.T) {
	for _, n := range []int{1, 2, 99, 100, 108} {
		if err := core.ValidateCreditCode(creditCode("420500", n)); err != nil {
			t.Errorf("creditCode(%d): %v", n, err)
		}
	}
}

func TestLocalNode(t *testing.T) {
	n := LocalNode()
	if n.CPUMilli < 1000 || n.MemMiB < 64 || n.Name == "" {
		t.Errorf("LocalNode = %+v, want this machine's cores and memory", n)
	}
}

// TestDemoPriorityClasses: the demo's classes are valid, distinct, within
// the limit, and listed highest value first as the store lists them.
func TestDemoPriorityClasses(t *testing.T) {
	if len(DemoPriorityClasses) > core.PriorityClassesMax {
		t.Fatalf("%d demo classes, over the limit %d", len(DemoPriorityClasses), core.PriorityClassesMax)
	}
	seen := map[string]bool{}
	for i, c := range DemoPriorityClasses {
		if err := c.Validate(); err != nil {
			t.Errorf("class %+v: %v", c, err)
		}
		if seen[c.Name] {
			t.Errorf("class %s twice", c.Name)
		}
		seen[c.Name] = true
		if i > 0 && c.Value >= DemoPriorityClasses[i-1].Value {
			t.Errorf("class %s (%d) not below %s (%d)", c.Name, c.Value, DemoPriorityClasses[i-1].Name, DemoPriorityClasses[i-1].Value)
		}
	}
	if !seen["default"] {
		t.Errorf("no default class")
	}
}

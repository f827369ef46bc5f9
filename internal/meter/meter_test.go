package meter

import (
	"testing"

	"github.com/suanli/suanli/internal/core"
	"pgregory.net/rapid"
)

func rates() Rates {
	book := core.PriceBook{CardHour: map[string]core.Micros{"A100": 8 * core.MicrosPerYuan}, CoreHour: 40_000, MemGiBHour: 5_000}
	gpu, _ := book.RateScaled(core.Replica{AccelCount: 2}, "A100")
	cpu, _ := book.RateScaled(core.Replica{CPUMilli: 1500, MemMiB: 3000}, "")
	return Rates{Replica: map[int]int64{0: gpu, 1: cpu}, StorageGiBHour: 300, EgressGiB: 500_000, MaxMs: 48 * 3_600_000}
}

// TestCumulativeEqualsOneInterval: 3,600 one-second captures charge exactly
// what one one-hour capture does.
func TestCumulativeEqualsOneInterval(t *testing.T) {
	r := rates()
	var charged core.Micros
	for s := int64(1); s <= 3600; s++ {
		total := Total(r, Usage{ReplicaMs: map[int]int64{0: s * 1000, 1: s * 1000}})
		if total < charged {
			t.Fatalf("total decreased at %d s", s)
		}
		charged += total - charged
	}
	want := Total(r, Usage{ReplicaMs: map[int]int64{0: 3_600_000, 1: 3_600_000}})
	// 2 A100 at 8 CNY + 1.5 cores at 0.04 + 2.93 GiB at 0.005 for one hour.
	if charged != want || want != 16_074_648 {
		t.Errorf("3,600 one-second charges = %d, one hour = %d, want both 16074648", charged, want)
	}
}

// TestPropWindowingInvariant: any split of usage into intervals charges the
// same total, and the splits always add up.
func TestPropWindowingInvariant(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		r := rates()
		steps := rapid.SliceOfN(rapid.Int64Range(0, 400_000), 1, 50).Draw(rt, "steps")
		vat := rapid.Int64Range(0, 2000).Draw(rt, "vat")
		comm := rapid.Int64Range(0, BPSMax).Draw(rt, "comm")
		var u Usage
		u.ReplicaMs = map[int]int64{}
		var charged, vatSum, commSum, provSum core.Micros
		for _, ms := range steps {
			u.ReplicaMs[0] += ms
			u.ReplicaMs[1] += ms / 2
			u.StorageMiBMs += ms * 10
			u.EgressMiB += ms / 1000
			total := Total(r, u)
			if total < charged {
				rt.Fatalf("total went down: %d < %d", total, charged)
			}
			charged = total
			v, c, p := Split(total, vat, comm)
			if v+c+p != total || v < vatSum || c < commSum || p < provSum {
				rt.Fatalf("cumulative split %d+%d+%d of %d not monotone or not adding up", v, c, p, total)
			}
			vatSum, commSum, provSum = v, c, p
		}
		if one := Total(r, u); one != charged {
			rt.Fatalf("windowed %d != single interval %d", charged, one)
		}
	})
}

func TestSplit(t *testing.T) {
	// 106 CNY gross at 6 % VAT: 6 VAT, 100 net; 10 % commission: 10; provider 90.
	v, c, p := Split(106*core.MicrosPerYuan, 600, 1000)
	if v != 6*core.MicrosPerYuan || c != 10*core.MicrosPerYuan || p != 90*core.MicrosPerYuan {
		t.Errorf("Split(106) = %d, %d, %d", v, c, p)
	}
	if got := Share(1_000_001, 2000); got != 200_000 {
		t.Errorf("Share = %d, want 200000", got)
	}
	if got := TierRate(1_000_000, "spot"); got != 600_000 {
		t.Errorf("TierRate spot = %d", got)
	}
}

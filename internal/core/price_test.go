package core

import (
	"math/big"
	"testing"
)

func TestCostRounding(t *testing.T) {
	book := PriceBook{CardHour: map[string]Micros{"A100": 8 * MicrosPerYuan}, CoreHour: 40_000, MemGiBHour: 5_000}
	gpu := Replica{AccelCount: 2, CPUMilli: 8000, MemMiB: 65536}
	cpu := Replica{CPUMilli: 1000, MemMiB: 1024}
	tests := []struct {
		name  string
		r     Replica
		model string
		ms    int64
		want  Micros
	}{
		{"two A100 for one hour", gpu, "A100", 3_600_000, 16 * MicrosPerYuan},
		{"two A100 for one second", gpu, "A100", 1000, 4444},       // 16e6/3600 = 4444.44
		{"one core 1GiB for one hour", cpu, "", 3_600_000, 45_000}, // 0.04 + 0.005 CNY
		{"one core 1GiB for 1 ms", cpu, "", 1, 0},                  // 0.0125 micros rounds down
		{"one core 1GiB for 40 ms", cpu, "", 40, 1},                // 0.5 micros rounds half up
		{"zero time", gpu, "A100", 0, 0},
	}
	for _, tt := range tests {
		rate, ok := book.RateScaled(tt.r, tt.model)
		if !ok {
			t.Fatalf("%s: no rate", tt.name)
		}
		got := Cost(CostTerm(new(big.Int), rate, tt.ms))
		if got != tt.want {
			t.Errorf("%s: Cost = %d, want %d", tt.name, got, tt.want)
		}
	}
	if _, ok := book.RateScaled(gpu, "H100"); ok {
		t.Errorf("RateScaled(H100) ok, want no price")
	}
}

func TestCreditCode(t *testing.T) {
	first := "91110000MA0000000"
	ch, ok := CreditCodeCheckChar(first)
	if !ok {
		t.Fatal("CreditCodeCheckChar failed on a valid prefix")
	}
	good := first + string(ch)
	if err := ValidateCreditCode(good); err != nil {
		t.Fatalf("ValidateCreditCode(%q) = %v, want nil", good, err)
	}
	// A real published code (Huawei Technologies Co., Ltd.).
	if err := ValidateCreditCode("914403001922038216"); err != nil {
		t.Errorf("ValidateCreditCode(Huawei) = %v, want nil", err)
	}
	bad := []string{"", "91110000MA000000", good[:17] + "0", "91110000MA00000I0X", "91AB0000MA0000000" + string(ch)}
	for _, b := range bad {
		if b == good {
			continue
		}
		if err := ValidateCreditCode(b); ErrorCode(err) != EInvalid {
			t.Errorf("ValidateCreditCode(%q) = %v, want invalid", b, err)
		}
	}
}

func TestParseYuan(t *testing.T) {
	tests := []struct {
		in   string
		want Micros
		err  bool
	}{
		{"1", 1_000_000, false}, {"0.000001", 1, false}, {"12.5", 12_500_000, false},
		{"-3.25", -3_250_000, false}, {"1.0000001", 0, true}, {"abc", 0, true}, {"", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseYuan(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
	if s := Micros(12_345_678).Yuan(); s != "12.35" {
		t.Errorf("Yuan = %s, want 12.35", s)
	}
}

func TestBilledMs(t *testing.T) {
	for _, tt := range []struct{ in, want int64 }{{-5, 0}, {0, 0}, {1, 1000}, {999, 1000}, {1000, 1000}, {1001, 2000}, {3_600_000, 3_600_000}} {
		if got := BilledMs(tt.in); got != tt.want {
			t.Errorf("BilledMs(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

package core

import (
	"fmt"
	"strconv"
	"strings"
)

// Micros is an amount of money in 微元 (1e-6 CNY). Money is never a float:
// GPU-second prices are below one fen, so the ledger keeps six decimals.
type Micros int64

// MicrosPerYuan is the number of Micros in one CNY.
const MicrosPerYuan Micros = 1_000_000

// Yuan formats m as CNY with two decimals, rounding half away from zero.
// It is for display only; the ledger keeps the exact value.
func (m Micros) Yuan() string {
	neg := m < 0
	v := int64(m)
	if neg {
		v = -v
	}
	fen := (v + 5_000) / 10_000
	s := fmt.Sprintf("%d.%02d", fen/100, fen%100)
	if neg && fen != 0 {
		s = "-" + s
	}
	return s
}

// Exact formats m as CNY with all six decimals.
func (m Micros) Exact() string {
	neg := m < 0
	v := int64(m)
	if neg {
		v = -v
	}
	s := fmt.Sprintf("%d.%06d", v/1_000_000, v%1_000_000)
	if neg {
		s = "-" + s
	}
	return s
}

// ParseYuan parses a decimal CNY amount such as "12.5" or "0.000001" into
// Micros. More than six decimals is an error rather than a silent rounding.
func ParseYuan(s string) (Micros, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty amount")
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" {
		whole = "0"
	}
	if len(frac) > 6 {
		return 0, fmt.Errorf("amount %q has more than 6 decimals", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 {
		return 0, fmt.Errorf("amount %q is not a decimal number", s)
	}
	if w > 9_000_000_000_000 {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	var f int64
	if frac != "" {
		f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64)
		if err != nil || f < 0 {
			return 0, fmt.Errorf("amount %q is not a decimal number", s)
		}
	}
	v := Micros(w*1_000_000 + f)
	if neg {
		v = -v
	}
	return v, nil
}

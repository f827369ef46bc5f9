package core

import "math/big"

// RateScale is the fixed-point scale of a replica's rate: a rate is Micros
// per hour × RateScale. It lets card, milli-core and MiB prices add up in
// integers: 1,024,000 = 1000 milli-cores × 1024 MiB per GiB.
const RateScale = 1_024_000

// msPerHour converts a rate per hour to a rate per millisecond.
const msPerHour = 3_600_000

// RateScaled returns the price per hour × RateScale of one replica running
// on a node with accelerator model (empty for none). ok is false when the
// price book has no price for that model.
//
// Accelerator replicas pay per card-hour; their CPU and memory are included
// (as at most GPU clouds). CPU-only replicas pay per core-hour (by
// milli-core) plus per GiB-hour of memory.
func (p PriceBook) RateScaled(r Replica, model string) (int64, bool) {
	if r.AccelCount > 0 {
		price, ok := p.CardHour[model]
		if !ok {
			return 0, false
		}
		return int64(price) * r.AccelCount * RateScale, true
	}
	return int64(p.CoreHour)*r.CPUMilli*1024 + int64(p.MemGiBHour)*r.MemMiB*1000, true
}

// Cost returns the charge for usage given as Σ rate_i × ms_i over replicas
// (see CostTerm). This is the one rounding rule of suanli: the exact sum is
// divided once and rounded half up to the nearest 1e-6 CNY, so a job is
// never rounded per replica or per interval.
func Cost(rateMs *big.Int) Micros {
	den := big.NewInt(msPerHour * RateScale)
	q, r := new(big.Int).QuoRem(rateMs, den, new(big.Int))
	if r.Lsh(r, 1).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		panic("cost overflows int64 micros") // bounded by job limits; a bug if reached
	}
	return Micros(q.Int64())
}

// CostTerm adds rate × ms to sum and returns sum.
func CostTerm(sum *big.Int, rateScaled, ms int64) *big.Int {
	return sum.Add(sum, new(big.Int).Mul(big.NewInt(rateScaled), big.NewInt(ms)))
}

// CommissionBPSMax bounds the operator's commission: 100 % in basis points.
const CommissionBPSMax = 10_000

// BilledMs is the billable part of a replica's wall time: per-second
// billing (按秒计费), each started second counts in full. Money is then
// rounded once, by Cost.
func BilledMs(wallMs int64) int64 {
	if wallMs <= 0 {
		return 0
	}
	return (wallMs + 999) / 1000 * 1000
}

// Package meter turns usage into money. It is pure: cumulative usage and
// rates in, cumulative amounts out. Charging is cumulative on purpose: each
// capture charges Total(usage so far) − what was already charged, so 3,600
// one-second intervals cost exactly what one hour costs, to the 1e-6 CNY,
// and splits (VAT, commission, voucher share) are cumulative the same way,
// so they never drift by a rounding unit per interval.
package meter

import (
	"math/big"

	"github.com/suanli/suanli/internal/core"
)

// Rates prices one job: each replica's rate (core.RateScale fixed point, per
// hour, tier included), storage and egress prices, and the max duration
// that caps billed time.
type Rates struct {
	Replica        map[int]int64 // by replica index
	StorageGiBHour core.Micros
	EgressGiB      core.Micros
	MaxMs          int64
}

// Usage is a job's cumulative usage.
type Usage struct {
	ReplicaMs    map[int]int64 // wall time per replica
	CoveredMs    map[int]int64 // billed time per replica already paid by prepaid bundles (资源包)
	StorageMiBMs int64         // MiB × ms of storage
	EgressMiB    int64
}

// Scale of storage and egress terms, so they share Cost's denominator
// (ms per hour × core.RateScale).
const (
	storageTerm = core.RateScale / 1024             // price per GiB-hour × MiB·ms
	egressTerm  = 3_600_000 * core.RateScale / 1024 // price per GiB × MiB
)

// Total is the cumulative charge for u: per replica, wall time billed per
// started second and capped at the max duration, times its rate; plus
// storage and egress; rounded once, half up.
func Total(r Rates, u Usage) core.Micros {
	sum := new(big.Int)
	for idx, ms := range u.ReplicaMs {
		billed := max(Billed(r, ms)-u.CoveredMs[idx], 0)
		core.CostTerm(sum, r.Replica[idx], billed)
	}
	core.CostTerm(sum, int64(r.StorageGiBHour)*storageTerm, u.StorageMiBMs)
	core.CostTerm(sum, int64(r.EgressGiB)*egressTerm, u.EgressMiB)
	return core.Cost(sum)
}

// Billed is the billable part of a replica's cumulative wall time: per
// started second, capped at the max duration.
func Billed(r Rates, wallMs int64) int64 {
	billed := core.BilledMs(wallMs)
	if r.MaxMs > 0 {
		billed = min(billed, r.MaxMs)
	}
	return billed
}

// BPSMax is 100 % in basis points.
const BPSMax = 10_000

// share returns round-half-up(a × num / den) for non-negative inputs.
func share(a core.Micros, num, den int64) core.Micros {
	if a < 0 || num < 0 || den <= 0 {
		panic("meter: share of a negative amount or rate")
	}
	x := new(big.Int).Mul(big.NewInt(int64(a)), big.NewInt(num))
	x.Add(x, big.NewInt(den/2))
	return core.Micros(x.Quo(x, big.NewInt(den)).Int64())
}

// Split divides a cumulative gross charge (VAT included, as list prices
// are) into VAT, the operator's commission on the net, and the provider's
// share. The three always add up to gross.
func Split(gross core.Micros, vatBPS, commissionBPS int64) (vat, commission, provider core.Micros) {
	vat = share(gross, vatBPS, BPSMax+vatBPS)
	net := gross - vat
	commission = share(net, commissionBPS, BPSMax)
	return vat, commission, net - commission
}

// Share returns round-half-up(a × bps / 10,000): a voucher's part of an
// eligible charge.
func Share(a core.Micros, bps int64) core.Micros { return share(a, bps, BPSMax) }

// Tier multipliers in basis points of the list price. Spot work is
// preemptible and cheap; guaranteed work is never preempted.
var TierBPS = map[string]int64{core.TierSpot: 6_000, core.TierNormal: 10_000, core.TierGuaranteed: 13_000}

// TierRate applies a tier's multiplier to a replica rate.
func TierRate(rateScaled int64, tier string) int64 {
	bps, ok := TierBPS[tier]
	if !ok {
		panic("meter: unknown tier " + tier)
	}
	x := new(big.Int).Mul(big.NewInt(rateScaled), big.NewInt(bps))
	return x.Quo(x, big.NewInt(BPSMax)).Int64()
}

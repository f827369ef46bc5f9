package core

import (
	"fmt"
	"strconv"
	"strings"
)

// ScoreWeights weigh the factors that rank the centers able to run a job
// now. Each weight is 0..ScoreWeightMax; a factor's score is 0..1 among the
// candidates, and a center's score is the weighted mean. A job's weights
// override its tenant's, which override the platform default.
type ScoreWeights struct {
	Price    int `json:"price"`    // cheaper per normalized PFLOPS is better
	Network  int `json:"network"`  // 运力: shorter transfer of the job's data to the center
	Locality int `json:"locality"` // 存力: the data is already stored at the center
	Domestic int `json:"domestic"` // the job runs on domestic (国产) chips
	Green    int `json:"green"`    // larger share of green power
	Load     int `json:"load"`     // less loaded centers, to spread work
}

// ScoreWeightMax bounds each weight.
const ScoreWeightMax = 100

// DefaultScoreWeights rank mainly by price, as tenants pay for what they
// use, with the network and data location next.
var DefaultScoreWeights = ScoreWeights{Price: 60, Network: 15, Locality: 10, Domestic: 5, Green: 5, Load: 5}

// ScoreFactors names the factors in the order of ScoreWeights' fields.
var ScoreFactors = [6]string{"price", "network", "locality", "domestic", "green", "load"}

// Array returns the weights in ScoreFactors order.
func (w ScoreWeights) Array() [6]int {
	return [6]int{w.Price, w.Network, w.Locality, w.Domestic, w.Green, w.Load}
}

// Validate checks the weights' bounds; field names them in errors.
func (w ScoreWeights) Validate(field string) error {
	sum := 0
	for i, v := range w.Array() {
		if v < 0 || v > ScoreWeightMax {
			return FieldErrorf(field+"."+ScoreFactors[i], "must be between 0 and %d", ScoreWeightMax)
		}
		sum += v
	}
	if sum == 0 {
		return FieldErrorf(field, "at least one weight must be positive")
	}
	return nil
}

// ParseScoreWeights reads "price=60,network=20,...": factors not named are
// 0, so the string says the whole policy.
func ParseScoreWeights(s string) (ScoreWeights, error) {
	var a [6]int
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ScoreWeights{}, fmt.Errorf("weight %q: want factor=value", part)
		}
		i := -1
		for j, f := range ScoreFactors {
			if f == k {
				i = j
			}
		}
		if i < 0 {
			return ScoreWeights{}, fmt.Errorf("unknown factor %q (want %s)", k, strings.Join(ScoreFactors[:], ", "))
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return ScoreWeights{}, fmt.Errorf("weight %s: %q is not an integer", k, v)
		}
		a[i] = n
	}
	w := ScoreWeights{Price: a[0], Network: a[1], Locality: a[2], Domestic: a[3], Green: a[4], Load: a[5]}
	return w, w.Validate("weights")
}

func (w ScoreWeights) String() string {
	parts := make([]string, 0, 6)
	for i, v := range w.Array() {
		parts = append(parts, fmt.Sprintf("%s=%d", ScoreFactors[i], v))
	}
	return strings.Join(parts, ",")
}

// Limits of a job's data description.
const (
	DataCentersMax = 16
	DataSizeGiBMax = 1 << 20 // 1 PiB
	RegionLenMax   = 64
)

// DataSpec says where a job's input data is: the region it lives in, the
// centers that already hold a copy, and its size. The scheduler estimates
// the transfer to each candidate center from the network links.
type DataSpec struct {
	Region  string   `json:"region,omitempty"`
	Centers []string `json:"centers,omitempty"` // names or IDs
	SizeGiB int64    `json:"size_gib,omitempty"`
}

// Validate checks the data description's bounds.
func (d DataSpec) Validate() error {
	switch {
	case len(d.Region) > RegionLenMax:
		return FieldErrorf("data.region", "longer than %d bytes", RegionLenMax)
	case len(d.Centers) > DataCentersMax:
		return FieldErrorf("data.centers", "at most %d centers", DataCentersMax)
	case d.SizeGiB < 0 || d.SizeGiB > DataSizeGiBMax:
		return FieldErrorf("data.size_gib", "must be between 0 and %d", DataSizeGiBMax)
	}
	return nil
}

// Link is the network between two regions (运力), the same both ways.
type Link struct {
	From          string `json:"from"`
	To            string `json:"to"`
	LatencyMs     int64  `json:"latency_ms"`
	BandwidthMbps int64  `json:"bandwidth_mbps"`
}

// Limits of the network description.
const (
	LinksMax         = 10_000
	LinkLatencyMsMax = 10_000
	LinkMbpsMax      = 100_000_000 // 100 Tbit/s
)

// Validate checks a link's fields.
func (l Link) Validate() error {
	switch {
	case l.From == "" || len(l.From) > RegionLenMax:
		return FieldErrorf("from", "a region of 1 to %d bytes is required", RegionLenMax)
	case l.To == "" || len(l.To) > RegionLenMax:
		return FieldErrorf("to", "a region of 1 to %d bytes is required", RegionLenMax)
	case l.From == l.To:
		return FieldErrorf("to", "must differ from from (a region reaches itself without a link)")
	case l.LatencyMs < 0 || l.LatencyMs > LinkLatencyMsMax:
		return FieldErrorf("latency_ms", "must be between 0 and %d", LinkLatencyMsMax)
	case l.BandwidthMbps <= 0 || l.BandwidthMbps > LinkMbpsMax:
		return FieldErrorf("bandwidth_mbps", "must be between 1 and %d", LinkMbpsMax)
	}
	return nil
}

// TransferMs estimates moving sizeGiB over the link: latency plus size over
// bandwidth.
func (l Link) TransferMs(sizeGiB int64) int64 {
	bits := sizeGiB * 8 * 1024 // Mbit (GiB → Mibit, close enough for ranking)
	return l.LatencyMs + bits*1000/max(l.BandwidthMbps, 1)
}

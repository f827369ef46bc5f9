// Package timed is the time-driven simulator: jobs arrive at trace times,
// wait in a queue, run for their durations and depart on a simulated
// cluster, while a sched.Policy (the production scheduler, or a baseline)
// decides who starts when. The clock is virtual and event-driven, so the
// same input gives byte-identical output.
//
// Trace durations serve as each job's declared maximum duration
// (sched.Job.MaxDurationMs): the simulator knows exactly when a running job
// will end, which is what the scheduler's EASY backfill plans with. In
// production a job may end before its declared maximum; here it never does.
//
// Accelerators are counted in milli-cards throughout (1000 = one card), as
// the Alibaba openb trace shares GPUs: a Philly job of 4 GPUs asks for
// 4000. Only sharing traces use amounts that are not whole cards.
package timed

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/suanli/suanli/internal/core"
)

// MilliPerCard is one whole accelerator in the units the simulator uses.
const MilliPerCard = 1000

// JobsMax bounds the jobs one replay reads or generates.
const JobsMax = 500_000

// Job is one job of a workload as the simulator replays it.
type Job struct {
	ID         string // unique; also the scheduler's job ID
	Name       string // the trace's name, if any
	Tenant     string // the trace's user or virtual cluster
	Class      string // e.g. the Pollux application; reports only
	ArrivalMs  int64
	DurationMs int64 // run time once started; also its declared maximum
	AccelMilli int64 // accelerators for the whole job, milli-cards
	CPUMilli   int64 // CPU for the whole job
	MemMiB     int64
	Priority   int
	Tier       string // core.TierSpot, "" or core.TierGuaranteed
}

// validate checks one job of a workload (bad trace input, not a bug).
func (j Job) validate() error {
	switch {
	case j.ID == "":
		return fmt.Errorf("job without an ID")
	case j.ArrivalMs < 0:
		return fmt.Errorf("job %s: negative arrival %d ms", j.ID, j.ArrivalMs)
	case j.DurationMs <= 0:
		return fmt.Errorf("job %s: duration %d ms is not positive", j.ID, j.DurationMs)
	case j.AccelMilli < 0 || j.CPUMilli < 0 || j.MemMiB < 0:
		return fmt.Errorf("job %s: negative request", j.ID)
	case j.AccelMilli == 0 && j.CPUMilli == 0 && j.MemMiB == 0:
		return fmt.Errorf("job %s: requests nothing", j.ID)
	}
	return nil
}

// jobID names the i-th job of a workload so IDs sort in arrival order.
func jobID(i int) string { return fmt.Sprintf("j%06d", i) }

// CenterSpec is one simulated center: Nodes nodes, each with CardsPerNode
// accelerators of Model.
type CenterSpec struct {
	Nodes        int
	CardsPerNode int64
	Model        string
}

// Cluster is the simulated platform: one or more centers.
type Cluster struct {
	Centers []CenterSpec
}

// Cluster limits: bad --cluster input is rejected past these.
const (
	CentersMax      = 16
	NodesMax        = 10_000
	CardsPerNodeMax = 64
)

// Node capacity besides accelerators. Trace jobs that state no CPU or
// memory ask for none, so these only bind for traces that do (openb).
const (
	NodeCPUMilli = 128_000
	NodeMemMiB   = 1 << 20 // 1 TiB
)

// DefaultModel is the accelerator model of simulated nodes: the traces'
// clusters (Philly, Pollux's testbed) ran on NVIDIA GPUs of that era.
const DefaultModel = "V100"

// CardHourPrice is every simulated center's list price per card-hour
// (10 CNY). All centers cost the same, so price never decides placement.
const CardHourPrice core.Micros = 10 * core.MicrosPerYuan

// ParseCluster reads "16x4" (16 nodes of 4 cards), "16x4:A100", or several
// centers joined by "+", e.g. "16x4+8x8".
func ParseCluster(s string) (Cluster, error) {
	var c Cluster
	for part := range strings.SplitSeq(s, "+") {
		spec, model, hasModel := strings.Cut(strings.TrimSpace(part), ":")
		nodes, cards, ok := strings.Cut(spec, "x")
		n, err1 := strconv.Atoi(nodes)
		k, err2 := strconv.ParseInt(cards, 10, 64)
		if !ok || err1 != nil || err2 != nil || n <= 0 || k <= 0 {
			return Cluster{}, fmt.Errorf("cluster %q: want NODESxCARDS, e.g. 16x4 or 16x4+8x8", s)
		}
		if n > NodesMax || k > CardsPerNodeMax {
			return Cluster{}, fmt.Errorf("cluster %q: at most %d nodes of %d cards per center", s, NodesMax, CardsPerNodeMax)
		}
		if !hasModel || model == "" {
			model = DefaultModel
		}
		c.Centers = append(c.Centers, CenterSpec{Nodes: n, CardsPerNode: k, Model: model})
	}
	if len(c.Centers) > CentersMax {
		return Cluster{}, fmt.Errorf("cluster %q: at most %d centers", s, CentersMax)
	}
	return c, nil
}

// String is the spec ParseCluster reads.
func (c Cluster) String() string {
	parts := make([]string, len(c.Centers))
	for i, cs := range c.Centers {
		parts[i] = fmt.Sprintf("%dx%d", cs.Nodes, cs.CardsPerNode)
		if cs.Model != DefaultModel {
			parts[i] += ":" + cs.Model
		}
	}
	return strings.Join(parts, "+")
}

// Cards is the cluster's number of accelerators.
func (c Cluster) Cards() int64 {
	var n int64
	for _, cs := range c.Centers {
		n += int64(cs.Nodes) * cs.CardsPerNode
	}
	return n
}

// maxCardsPerNode is the largest node of the cluster, in cards.
func (c Cluster) maxCardsPerNode() int64 {
	var m int64
	for _, cs := range c.Centers {
		m = max(m, cs.CardsPerNode)
	}
	return m
}

// replicas splits a job into a gang the scheduler can place: one replica
// if it fits on the largest node, else replicas of a whole node's cards
// and one with the rest (a 6-GPU job on 4-GPU nodes is 4 + 2), as the
// traces' multi-node jobs ran one worker group per machine. CPU and memory
// are shared out in proportion, the remainder on the first replica.
func replicas(j Job, cardsPerNode int64) []core.Replica {
	perNode := cardsPerNode * MilliPerCard
	if j.AccelMilli <= perNode || perNode <= 0 {
		return []core.Replica{{AccelCount: j.AccelMilli, CPUMilli: j.CPUMilli, MemMiB: j.MemMiB}}
	}
	n := (j.AccelMilli + perNode - 1) / perNode
	out := make([]core.Replica, n)
	left := j.AccelMilli
	for i := range out {
		a := min(left, perNode)
		left -= a
		out[i] = core.Replica{AccelCount: a, CPUMilli: j.CPUMilli * a / j.AccelMilli, MemMiB: j.MemMiB * a / j.AccelMilli}
	}
	var cpu, mem int64
	for _, r := range out {
		cpu, mem = cpu+r.CPUMilli, mem+r.MemMiB
	}
	out[0].CPUMilli += j.CPUMilli - cpu
	out[0].MemMiB += j.MemMiB - mem
	return out
}

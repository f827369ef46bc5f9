package sched

import (
	"fmt"
	"sort"
	"strings"

	"github.com/suanli/suanli/internal/core"
)

// Preemption limits: how many blocked jobs per pass may look for victims,
// how many victims a pass may stop, and how many running jobs of one
// center one attempt considers (lowest importance first).
const (
	PreemptAttemptsMax   = 256
	PreemptionsMax       = 1_000
	VictimsConsideredMax = 64
)

// mayPreempt reports whether job may stop running work v: never guaranteed
// work; lower-priority work; spot work of equal priority for a job that is
// not spot itself (so spot jobs never trade places with each other).
func mayPreempt(job Job, v *Running) bool {
	switch {
	case v.Tier == core.TierGuaranteed || v.ID == job.ID:
		return false
	case v.Priority < job.Priority:
		return true
	}
	return v.Tier == core.TierSpot && job.Tier != core.TierSpot && v.Priority <= job.Priority
}

// victims indexes running work by center for preemption.
type victims struct {
	byCenter map[string][]*Running // sorted by ID
	gone     map[string]bool       // stopped by this pass
	nowMs    int64
}

func newVictims(s Snapshot) *victims {
	v := &victims{byCenter: map[string][]*Running{}, gone: map[string]bool{}, nowMs: s.NowMs}
	for i := range s.Running {
		r := &s.Running[i]
		v.byCenter[r.CenterID] = append(v.byCenter[r.CenterID], r)
	}
	for _, rs := range v.byCenter {
		sort.Slice(rs, func(i, j int) bool { return rs[i].ID < rs[j].ID })
	}
	return v
}

// lostWork is what stopping v throws away: its rate times how long it ran.
func (vs *victims) lostWork(v *Running) int64 {
	return v.RateScaled / 1000 * max(vs.nowMs-v.StartedAtMs, 0) / 1000
}

// importance orders victims most important first: higher priority, then
// not spot, then more work lost, then ID. Reprieves go in this order, so
// the victims left are the least important.
func (vs *victims) importance(a, b *Running) bool {
	if a.Priority != b.Priority {
		return a.Priority > b.Priority
	}
	if (a.Tier == core.TierSpot) != (b.Tier == core.TierSpot) {
		return b.Tier == core.TierSpot
	}
	if la, lb := vs.lostWork(a), vs.lostWork(b); la != lb {
		return la > lb
	}
	return a.ID < b.ID
}

// size orders running jobs by what they hold: accelerators, then CPU.
func size(v *Running) [2]int64 {
	var s [2]int64
	for _, a := range v.Allocs {
		s[0] += a.Accel
		s[1] += a.CPU
	}
	return s
}

// free gives v's capacity back on the working state; take takes it again.
func (st *state) free(v *Running) {
	for _, a := range v.Allocs {
		if n := st.byID[a.NodeID]; n != nil {
			st.adjust(n, -a.CPU, -a.Mem, -a.Accel)
			st.raise(n)
		}
	}
}

func (st *state) take(v *Running) {
	for _, a := range v.Allocs {
		if n := st.byID[a.NodeID]; n != nil {
			st.adjust(n, a.CPU, a.Mem, a.Accel)
		}
	}
}

// preemptOption is one center where stopping victims lets the job start.
type preemptOption struct {
	center  Center
	victims []*Running
	maxPrio int
	lost    int64
}

func (o *preemptOption) better(p *preemptOption) bool {
	if len(o.victims) != len(p.victims) {
		return len(o.victims) < len(p.victims)
	}
	if o.maxPrio != p.maxPrio {
		return o.maxPrio < p.maxPrio
	}
	if o.lost != p.lost {
		return o.lost < p.lost
	}
	return o.center.Name < p.center.Name
}

// preempt looks for the fewest, least important running jobs whose
// capacity lets job's whole gang start on one eligible center. The job
// starts in a later pass, once its victims have stopped; until then the
// capacity it needs is held (see the end), and the victims wait for it
// (Job.WaitsFor). allowed says which running jobs this job may stop.
func (st *state) preempt(job Job, vs *victims, allowed func(*Running) bool) *preemptOption {
	var best *preemptOption
	for _, c := range st.centers {
		if ok, _ := eligibleFor(c, job); !ok {
			continue
		}
		var cand []*Running
		for _, v := range vs.byCenter[c.ID] {
			if !vs.gone[v.ID] && allowed(v) {
				cand = append(cand, v)
			}
		}
		if len(cand) == 0 {
			continue
		}
		sort.Slice(cand, func(i, j int) bool { return vs.importance(cand[i], cand[j]) })
		if len(cand) > VictimsConsideredMax {
			cand = cand[len(cand)-VictimsConsideredMax:] // keep the least important
		}
		// Reprieve most important first; then again with, within a
		// priority, the smallest first, which stops fewer but larger jobs.
		// Keep the better of the two.
		bySize := append([]*Running(nil), cand...)
		sort.SliceStable(bySize, func(i, j int) bool {
			a, b := bySize[i], bySize[j]
			if a.Priority != b.Priority {
				return a.Priority > b.Priority
			}
			sa, sb := size(a), size(b)
			return sa[0] < sb[0] || (sa[0] == sb[0] && sa[1] < sb[1])
		})
		for _, order := range [][]*Running{cand, bySize} {
			if o := st.victimsAt(c, job, order, vs); o != nil && (best == nil || o.better(best)) {
				best = o
			}
		}
	}
	if best == nil {
		return nil
	}
	// Hold what the job will take: its gang is placed on the state with
	// the victims freed, then the victims are charged back, so until the
	// pass ends neither their capacity nor the free capacity the job
	// needs goes to anyone else (the nodes read as over-committed, which
	// no placement fits).
	for _, v := range best.victims {
		vs.gone[v.ID] = true
		st.free(v)
	}
	if st.tryGang(best.center, job) == nil {
		panic("sched: a preemption option does not fit once applied") // victimsAt checked it on this state
	}
	for _, v := range best.victims {
		st.take(v)
	}
	return best
}

// victimsAt frees every candidate on c, checks the gang fits, then
// reprieves candidates most important first while it still fits. The
// working state is left as it was.
func (st *state) victimsAt(c Center, job Job, cand []*Running, vs *victims) *preemptOption {
	for _, v := range cand {
		st.free(v)
	}
	fits := func() bool {
		d := st.tryGang(c, job)
		if d == nil {
			return false
		}
		st.unplace(d, job)
		return true
	}
	if !fits() {
		for _, v := range cand {
			st.take(v)
		}
		return nil
	}
	o := &preemptOption{center: c}
	for _, v := range cand {
		st.take(v)
		if fits() {
			continue // reprieved
		}
		st.free(v)
		o.victims = append(o.victims, v)
	}
	if len(o.victims) == 0 {
		return nil // it fits without stopping anything: not a preemption (place decides it)
	}
	o.maxPrio = o.victims[0].Priority
	for _, v := range o.victims {
		st.take(v)
		o.maxPrio = max(o.maxPrio, v.Priority)
		o.lost += vs.lostWork(v)
	}
	return o
}

// describe says which jobs a preemption stops, for the preemptor's reason.
func (o *preemptOption) describe() string {
	ids := make([]string, 0, len(o.victims))
	for _, v := range o.victims {
		ids = append(ids, v.ID)
	}
	return fmt.Sprintf("waiting for %d preempted job(s) to stop on %s: %s", len(o.victims), o.center.Name, strings.Join(ids, ", "))
}

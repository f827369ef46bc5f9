package sched

import (
	"fmt"
	"sort"

	"github.com/suanli/suanli/internal/core"
)

// TenantsMax bounds the tenants one pass orders fairly; past it, jobs of
// further tenants keep plain FIFO order within their priority.
const TenantsMax = 10_000

// Tenant is a tenant's share policy: its weight in the fair share (0 means
// 1) and its quota of CPU milli-cores, memory MiB and accelerators across
// the network (0 in a dimension means no limit there).
type Tenant struct {
	Weight int64
	Quota  [3]int64
	// Cohort names the tenants that lend each other idle quota: a tenant
	// of a cohort may exceed its quota while the cohort as a whole stays
	// within the sum of its members' quotas, by at most Borrow in each
	// dimension (0 = no limit but the cohort's). Lenders reclaim what they
	// lent by preemption when they need it.
	Cohort string
	Borrow [3]int64
	// Weights rank centers for the tenant's jobs (nil: the default).
	Weights *core.ScoreWeights
}

// fairShare orders jobs of equal priority across tenants by weighted
// dominant resource share (DRF): the tenant whose largest share of the
// network's CPU, memory or accelerators, divided by its weight, is the
// smallest goes next; within a tenant, FIFO. Usage counts what tenants
// hold now and what this pass gives them.
type fairShare struct {
	tenants map[string]Tenant
	usage   map[string][3]int64
	total   [3]int64
	cohorts map[string][]string // cohort -> member tenants, sorted
	// With TenantAccelTFLOPS in the snapshot, the accelerator share is
	// of the network's dense FP16 TFLOPS (an H100 weighs about three
	// A100s); nil: of its accelerator count.
	tflops  map[string]int64
	totalTF int64
	nodes   map[string]*Node
}

func newFairShare(s Snapshot, st *state) *fairShare {
	f := &fairShare{tenants: s.Tenants, usage: map[string][3]int64{}, cohorts: map[string][]string{}}
	for t, u := range s.TenantUsage {
		f.usage[t] = u
	}
	for name, t := range s.Tenants {
		if t.Cohort != "" {
			f.cohorts[t.Cohort] = append(f.cohorts[t.Cohort], name)
		}
	}
	for _, ms := range f.cohorts {
		sort.Strings(ms)
	}
	if s.TenantAccelTFLOPS != nil {
		f.tflops, f.nodes = make(map[string]int64, len(s.TenantAccelTFLOPS)), st.byID
		for t, v := range s.TenantAccelTFLOPS {
			f.tflops[t] = v
		}
		for _, n := range s.Nodes {
			if n.Ready && n.AccelCount > 0 {
				f.totalTF += n.AccelCount * tflopsOf(n.AccelModel)
			}
		}
	}
	for _, n := range s.Nodes {
		if n.Ready {
			f.total = [3]int64{f.total[0] + n.CPUMilli, f.total[1] + n.MemMiB, f.total[2] + n.AccelCount}
		}
	}
	return f
}

func demand(j Job) [3]int64 {
	var d [3]int64
	for _, r := range j.Replicas {
		d = [3]int64{d[0] + r.CPUMilli, d[1] + r.MemMiB, d[2] + r.AccelCount}
	}
	return d
}

// share is a tenant's weighted dominant share.
func (f *fairShare) share(tenant string) float64 {
	u := f.usage[tenant]
	var dom float64
	for k := 0; k < 2; k++ {
		if f.total[k] > 0 {
			dom = max(dom, float64(u[k])/float64(f.total[k]))
		}
	}
	switch {
	case f.tflops != nil && f.totalTF > 0:
		dom = max(dom, float64(f.tflops[tenant])/float64(f.totalTF))
	case f.tflops == nil && f.total[2] > 0:
		dom = max(dom, float64(u[2])/float64(f.total[2]))
	}
	w := f.tenants[tenant].Weight
	if w <= 0 {
		w = 1
	}
	return dom / float64(w)
}

var dimNames = [3]string{"CPU", "memory", "accelerator"}

// overQuota says why job would take its tenant past its quota ("" if not).
// A tenant in a cohort may go past its quota by borrowing: while the
// cohort's members together stay within the sum of their quotas, and by
// no more than the tenant's borrowing limit.
func (f *fairShare) overQuota(j Job) string {
	t := f.tenants[j.Tenant]
	q := t.Quota
	u, d := f.usage[j.Tenant], demand(j)
	for k := 0; k < 3; k++ {
		if q[k] <= 0 || u[k]+d[k] <= q[k] {
			continue
		}
		why := fmt.Sprintf("tenant %s quota: %s would reach %d of %d", j.Tenant, dimNames[k], u[k]+d[k], q[k])
		if t.Cohort == "" {
			return why
		}
		if excess := u[k] + d[k] - q[k]; t.Borrow[k] > 0 && excess > t.Borrow[k] {
			return fmt.Sprintf("%s, and borrowing %d would pass its borrowing limit of %d", why, excess, t.Borrow[k])
		}
		if cq, cu := f.cohortTotals(t.Cohort, k); cu+d[k] > cq {
			lendable := max(cq-cu, 0) - max(q[k]-u[k], 0) // what the others leave idle
			return fmt.Sprintf("%s, and cohort %s has %d idle to lend", why, t.Cohort, max(lendable, 0))
		}
	}
	return ""
}

// cohortTotals sums, over a cohort's members with a quota in dimension k,
// their quotas and what they hold.
func (f *fairShare) cohortTotals(cohort string, k int) (quota, used int64) {
	for _, m := range f.cohorts[cohort] {
		if q := f.tenants[m].Quota[k]; q > 0 {
			quota += q
			used += f.usage[m][k]
		}
	}
	return quota, used
}

// borrowing reports whether tenant holds more than its quota somewhere.
func (f *fairShare) borrowing(tenant string) bool {
	q, u := f.tenants[tenant].Quota, f.usage[tenant]
	for k := 0; k < 3; k++ {
		if q[k] > 0 && u[k] > q[k] {
			return true
		}
	}
	return false
}

// withinQuota reports whether job keeps its tenant within a quota it has.
func (f *fairShare) withinQuota(j Job) bool {
	q, u, d := f.tenants[j.Tenant].Quota, f.usage[j.Tenant], demand(j)
	has := false
	for k := 0; k < 3; k++ {
		if q[k] > 0 {
			has = true
			if u[k]+d[k] > q[k] {
				return false
			}
		}
	}
	return has
}

// reclaims reports whether job may take back, by preemption, quota its
// tenant lent: v belongs to another tenant of the same cohort that is
// borrowing now, and job keeps its own tenant within its quota.
func (f *fairShare) reclaims(j Job, v *Running) bool {
	t := f.tenants[j.Tenant]
	if t.Cohort == "" || v.Tenant == j.Tenant || f.tenants[v.Tenant].Cohort != t.Cohort {
		return false
	}
	return f.borrowing(v.Tenant) && f.withinQuota(j)
}

// remove takes a preempted job's holdings off its tenant's usage.
func (f *fairShare) remove(v *Running) {
	u := f.usage[v.Tenant]
	for _, a := range v.Allocs {
		u = [3]int64{u[0] - a.CPU, u[1] - a.Mem, u[2] - a.Accel}
		if n := f.nodes[a.NodeID]; f.tflops != nil && n != nil {
			f.tflops[v.Tenant] -= a.Accel * tflopsOf(n.AccelModel)
		}
	}
	f.usage[v.Tenant] = u
}

// placed adds the compute of a decision's accelerators to its tenant.
func (f *fairShare) placed(j Job, d *Decision) {
	if f.tflops == nil {
		return
	}
	for _, p := range d.Placements {
		if r := j.Replicas[p.Index]; r.AccelCount > 0 {
			f.tflops[j.Tenant] += r.AccelCount * tflopsOf(p.AccelModel)
		}
	}
}

// run feeds the sorted queue to decide in fair-share order and records
// what placed jobs take.
func (f *fairShare) run(queue []*Job, decide func(*Job) bool) {
	for i := 0; i < len(queue); {
		j := i
		for j < len(queue) && queue[j].Priority == queue[i].Priority {
			j++
		}
		f.level(queue[i:j], decide)
		i = j
	}
}

// level orders one priority level: tenants by share, each tenant FIFO.
func (f *fairShare) level(jobs []*Job, decide func(*Job) bool) {
	single := true
	for _, job := range jobs[1:] {
		if job.Tenant != jobs[0].Tenant {
			single = false
			break
		}
	}
	if single { // one tenant: plain FIFO
		for _, job := range jobs {
			if decide(job) {
				f.add(*job)
			}
		}
		return
	}
	byTenant := map[string][]*Job{}
	var names []string
	for _, job := range jobs {
		key := job.Tenant
		if _, ok := byTenant[key]; !ok {
			if len(names) >= TenantsMax {
				key = names[len(names)-1] // bounded: fold the rest into the last tenant's FIFO
			} else {
				names = append(names, key)
			}
		}
		byTenant[key] = append(byTenant[key], job)
	}
	sort.Strings(names)
	for {
		pick := ""
		best := 0.0
		for _, t := range names {
			if len(byTenant[t]) == 0 {
				continue
			}
			// Equal shares go to the tenant whose next job came first.
			sh := f.share(t)
			if pick == "" || sh < best || (sh == best && earlier(*byTenant[t][0], *byTenant[pick][0])) {
				pick, best = t, sh
			}
		}
		if pick == "" {
			return
		}
		job := byTenant[pick][0]
		byTenant[pick] = byTenant[pick][1:]
		if decide(job) {
			f.add(*job)
		}
	}
}

func earlier(a, b Job) bool {
	if a.Seq != b.Seq {
		return a.Seq < b.Seq
	}
	return a.ID < b.ID
}

func (f *fairShare) add(j Job) {
	u, d := f.usage[j.Tenant], demand(j)
	f.usage[j.Tenant] = [3]int64{u[0] + d[0], u[1] + d[1], u[2] + d[2]}
}

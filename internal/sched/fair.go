package sched

import (
	"fmt"
	"sort"
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
}

func newFairShare(s Snapshot, st *state) *fairShare {
	f := &fairShare{tenants: s.Tenants, usage: map[string][3]int64{}}
	for t, u := range s.TenantUsage {
		f.usage[t] = u
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
	for k := 0; k < 3; k++ {
		if f.total[k] > 0 {
			dom = max(dom, float64(u[k])/float64(f.total[k]))
		}
	}
	w := f.tenants[tenant].Weight
	if w <= 0 {
		w = 1
	}
	return dom / float64(w)
}

var dimNames = [3]string{"CPU", "memory", "accelerator"}

// overQuota says why job would take its tenant past its quota ("" if not).
func (f *fairShare) overQuota(j Job) string {
	q := f.tenants[j.Tenant].Quota
	u, d := f.usage[j.Tenant], demand(j)
	for k := 0; k < 3; k++ {
		if q[k] > 0 && u[k]+d[k] > q[k] {
			return fmt.Sprintf("tenant %s quota: %s would reach %d of %d", j.Tenant, dimNames[k], u[k]+d[k], q[k])
		}
	}
	return ""
}

// run feeds the sorted queue to decide in fair-share order and records
// what placed jobs take.
func (f *fairShare) run(queue []Job, decide func(Job) bool) {
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
func (f *fairShare) level(jobs []Job, decide func(Job) bool) {
	byTenant := map[string][]Job{}
	var names []string
	for _, job := range jobs {
		if _, ok := byTenant[job.Tenant]; !ok {
			if len(names) >= TenantsMax {
				job.Tenant = names[len(names)-1] // bounded: fold the rest into the last tenant's FIFO
			} else {
				names = append(names, job.Tenant)
			}
		}
		byTenant[job.Tenant] = append(byTenant[job.Tenant], job)
	}
	if len(names) == 1 { // one tenant: plain FIFO
		for _, job := range jobs {
			if decide(job) {
				f.add(job)
			}
		}
		return
	}
	sort.Strings(names)
	for {
		pick := ""
		best := 0.0
		for _, t := range names {
			if len(byTenant[t]) == 0 {
				continue
			}
			if sh := f.share(t); pick == "" || sh < best {
				pick, best = t, sh
			}
		}
		if pick == "" {
			return
		}
		job := byTenant[pick][0]
		byTenant[pick] = byTenant[pick][1:]
		if decide(job) {
			f.add(job)
		}
	}
}

func (f *fairShare) add(j Job) {
	u, d := f.usage[j.Tenant], demand(j)
	f.usage[j.Tenant] = [3]int64{u[0] + d[0], u[1] + d[1], u[2] + d[2]}
}

package sched_test

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/sched"
)

// Fixture builders in the style MakeJob("a").GPUs(2, "A100").Obj(). Centers
// are referred to by name in tests; a center's ID is always "id-"+name so
// that name and ID constraints can be told apart.

func centerID(name string) string { return "id-" + name }

type centerBuilder struct{ c sched.Center }

// makeCenter returns an available simulated AI center in region "north"
// with CPU prices set and no accelerator prices.
func makeCenter(name string) *centerBuilder {
	return &centerBuilder{c: sched.Center{
		ID: centerID(name), Name: name, Kind: core.KindAI, Region: "north", Available: true,
		Executor: core.ExecutorSimulated,
		Prices:   core.PriceBook{CardHour: map[string]core.Micros{}, CoreHour: 40_000, MemGiBHour: 5_000},
	}}
}

// Card sets the card-hour price of model in whole yuan.
func (b *centerBuilder) Card(model string, yuan int64) *centerBuilder {
	b.c.Prices.CardHour[model] = core.Micros(yuan) * core.MicrosPerYuan
	return b
}

// CPU sets the core-hour and GiB-hour prices in micros.
func (b *centerBuilder) CPU(coreHour, memGiBHour core.Micros) *centerBuilder {
	b.c.Prices.CoreHour, b.c.Prices.MemGiBHour = coreHour, memGiBHour
	return b
}

func (b *centerBuilder) Region(r string) *centerBuilder        { b.c.Region = r; return b }
func (b *centerBuilder) Kind(k core.CenterKind) *centerBuilder { b.c.Kind = k; return b }
func (b *centerBuilder) Domestic() *centerBuilder              { b.c.Domestic = true; return b }
func (b *centerBuilder) Unavailable() *centerBuilder           { b.c.Available = false; return b }
func (b *centerBuilder) Local() *centerBuilder                 { b.c.Executor = core.ExecutorLocal; return b }
func (b *centerBuilder) Obj() sched.Center                     { return b.c }

type nodeBuilder struct{ n sched.Node }

// makeNode returns a ready CPU node with 8 cores and 32 GiB in center "c1".
func makeNode(id string) *nodeBuilder {
	return &nodeBuilder{n: sched.Node{ID: id, Name: "name-" + id, CenterID: centerID("c1"), Ready: true,
		CPUMilli: 8000, MemMiB: 32 * 1024}}
}

// In puts the node in the center called name.
func (b *nodeBuilder) In(name string) *nodeBuilder { b.n.CenterID = centerID(name); return b }

func (b *nodeBuilder) GPUs(model string, n int64) *nodeBuilder {
	b.n.AccelModel, b.n.AccelCount = model, n
	return b
}

func (b *nodeBuilder) CPU(milli int64) *nodeBuilder { b.n.CPUMilli = milli; return b }
func (b *nodeBuilder) Mem(mib int64) *nodeBuilder   { b.n.MemMiB = mib; return b }
func (b *nodeBuilder) Down() *nodeBuilder           { b.n.Ready = false; return b }

// Used marks capacity as already allocated.
func (b *nodeBuilder) Used(cpu, mem, accel int64) *nodeBuilder {
	b.n.UsedCPU, b.n.UsedMem, b.n.UsedAccel = cpu, mem, accel
	return b
}

func (b *nodeBuilder) Obj() sched.Node { return b.n }

type jobBuilder struct {
	j    sched.Job
	r    core.Replica // template for Gang
	gang int
}

// makeJob returns a runnable single-replica job asking for 1 core and 1 GiB.
func makeJob(id string) *jobBuilder {
	return &jobBuilder{
		j:    sched.Job{ID: id, HasCommand: true, HasDuration: true},
		r:    core.Replica{CPUMilli: 1000, MemMiB: 1024},
		gang: 1,
	}
}

func (b *jobBuilder) Seq(s int64) *jobBuilder    { b.j.Seq = s; return b }
func (b *jobBuilder) Priority(p int) *jobBuilder { b.j.Priority = p; return b }
func (b *jobBuilder) CPU(milli int64) *jobBuilder {
	b.r.CPUMilli = milli
	return b
}
func (b *jobBuilder) Mem(mib int64) *jobBuilder { b.r.MemMiB = mib; return b }

// GPUs asks for n accelerators per replica of any of models (any model when
// none are given).
func (b *jobBuilder) GPUs(n int64, models ...string) *jobBuilder {
	b.r.AccelCount, b.r.AccelModels = n, models
	return b
}

// Gang makes the job n replicas of the template.
func (b *jobBuilder) Gang(n int) *jobBuilder { b.gang = n; return b }

// Replicas replaces the template with explicit, possibly different replicas.
func (b *jobBuilder) Replicas(rs ...core.Replica) *jobBuilder {
	b.j.Replicas, b.gang = rs, 0
	return b
}

func (b *jobBuilder) Center(c string) *jobBuilder        { b.j.Constraints.Center = c; return b }
func (b *jobBuilder) Region(r string) *jobBuilder        { b.j.Constraints.Region = r; return b }
func (b *jobBuilder) Kind(k core.CenterKind) *jobBuilder { b.j.Constraints.Kind = k; return b }
func (b *jobBuilder) DomesticOnly() *jobBuilder          { b.j.Constraints.DomesticOnly = true; return b }
func (b *jobBuilder) NoCommand() *jobBuilder             { b.j.HasCommand = false; return b }
func (b *jobBuilder) NoDuration() *jobBuilder            { b.j.HasDuration = false; return b }
func (b *jobBuilder) Constraints(k core.Constraints) *jobBuilder {
	b.j.Constraints = k
	return b
}

func (b *jobBuilder) Obj() sched.Job {
	j := b.j
	if b.gang > 0 {
		j.Replicas = nil
		for range b.gang {
			r := b.r
			r.AccelModels = slices.Clone(b.r.AccelModels)
			j.Replicas = append(j.Replicas, r)
		}
	} else {
		j.Replicas = slices.Clone(j.Replicas)
	}
	return j
}

// outcome renders where each job went: "c1: n1,n2" (nodes in replica order,
// by node ID) or "pending".
func outcome(p sched.Plan) map[string]string {
	out := map[string]string{}
	for _, d := range p.Decisions {
		nodes := make([]string, len(d.Placements))
		for _, pl := range d.Placements {
			if pl.Index >= 0 && pl.Index < len(nodes) {
				nodes[pl.Index] = pl.NodeID
			}
		}
		out[d.JobID] = strings.TrimPrefix(d.CenterID, "id-") + ": " + strings.Join(nodes, ",")
	}
	for _, p := range p.Pending {
		out[p.JobID] = "pending"
	}
	return out
}

// diffOutcome lists the jobs whose outcome differs, got before want.
func diffOutcome(got, want map[string]string) string {
	keys := map[string]bool{}
	for k := range got {
		keys[k] = true
	}
	for k := range want {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		g, gok := got[k]
		w, wok := want[k]
		if g != w || gok != wok {
			fmt.Fprintf(&b, "\n  job %s: got %q, want %q", k, g, w)
		}
	}
	return b.String()
}

// cloneSnapshot deep-copies s so a test can check Schedule left it alone.
func cloneSnapshot(s sched.Snapshot) sched.Snapshot {
	c := sched.Snapshot{
		Centers:           slices.Clone(s.Centers),
		Nodes:             slices.Clone(s.Nodes),
		Queue:             slices.Clone(s.Queue),
		NowMs:             s.NowMs,
		Releases:          slices.Clone(s.Releases),
		Tenants:           maps.Clone(s.Tenants),
		TenantUsage:       maps.Clone(s.TenantUsage),
		Links:             slices.Clone(s.Links),
		TenantAccelTFLOPS: maps.Clone(s.TenantAccelTFLOPS),
		Weights:           s.Weights,
		Running:           slices.Clone(s.Running),
	}
	for i := range c.Running {
		c.Running[i].Allocs = slices.Clone(c.Running[i].Allocs)
	}
	for i := range c.Centers {
		m := make(map[string]core.Micros, len(c.Centers[i].Prices.CardHour))
		for k, v := range c.Centers[i].Prices.CardHour {
			m[k] = v
		}
		c.Centers[i].Prices.CardHour = m
	}
	for i := range c.Queue {
		c.Queue[i].Replicas = slices.Clone(c.Queue[i].Replicas)
		for j := range c.Queue[i].Replicas {
			c.Queue[i].Replicas[j].AccelModels = slices.Clone(c.Queue[i].Replicas[j].AccelModels)
		}
	}
	return c
}

// fataler is what the harness needs of *testing.T and *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// schedule is the test harness: it runs CheapestFirst, fails the test when
// the snapshot was changed or the plan breaks a structural invariant, and
// returns the plan.
func schedule(t fataler, s sched.Snapshot) sched.Plan {
	t.Helper()
	before := cloneSnapshot(s)
	p := sched.CheapestFirst{}.Schedule(s)
	if !reflect.DeepEqual(s, before) {
		t.Fatalf("Schedule changed its snapshot:\n got %+v\nwant %+v", s, before)
	}
	if err := checkPlan(s, p); err != nil {
		t.Fatalf("plan breaks an invariant: %v\nplan: %+v", err, p)
	}
	return p
}

package sched_test

import (
	"fmt"
	"testing"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/sched"
)

// benchSnapshot is 10 centers × 2,000 nodes and 1,000 queued jobs: a mix of
// single-card, 8-card gang and CPU jobs, about a third of them constrained
// to a model, with nodes partly allocated.
func benchSnapshot() sched.Snapshot {
	const centers, nodesPer, jobs = 10, 2_000, 1_000
	models := []string{"A100", "H100", "Ascend910B", "V100"}
	var s sched.Snapshot
	for ci := range centers {
		c := makeCenter(fmt.Sprintf("c%02d", ci)).CPU(core.Micros(20_000+1_000*ci), 5_000)
		for mi, m := range models {
			c.Card(m, int64(5+mi+ci%3))
		}
		if ci%2 == 0 {
			c.Domestic()
		}
		s.Centers = append(s.Centers, c.Obj())
		for ni := range nodesPer {
			n := makeNode(fmt.Sprintf("c%02d-n%04d", ci, ni)).In(c.c.Name).CPU(64_000).Mem(512*1024).
				GPUs(models[(ci+ni)%len(models)], 8)
			if ni%3 == 0 {
				n.Used(16_000, 128*1024, 2)
			}
			s.Nodes = append(s.Nodes, n.Obj())
		}
	}
	for ji := range jobs {
		b := makeJob(fmt.Sprintf("j%04d", ji)).Seq(int64(ji)).Priority(ji % 3)
		switch ji % 3 {
		case 0:
			b.GPUs(1)
		case 1:
			b.GPUs(8, models[ji%len(models)]).Gang(4)
		case 2:
			b.CPU(4000).Mem(16 * 1024).Gang(2)
		}
		s.Queue = append(s.Queue, b.Obj())
	}
	return s
}

func BenchmarkScheduleCheapestFirst(b *testing.B) {
	s := benchSnapshot()
	b.ReportAllocs()
	b.ResetTimer()
	var p sched.Plan
	for b.Loop() {
		p = sched.CheapestFirst{}.Schedule(s)
	}
	b.StopTimer()
	b.ReportMetric(float64(len(p.Decisions)), "placed")
}

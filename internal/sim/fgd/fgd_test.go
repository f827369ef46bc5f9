package fgd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// Unit tests on hand-made nodes: each policy's score, the tie-breaks and the
// fragment measure, with values worked out by hand from fgd-method.md.

// testNode builds a node with the given CPU left and GPU milli left.
func testNode(cpu int64, left ...int64) *node {
	n := &node{cpuLeft: cpu, cpuCap: cpu, memLeft: 1 << 20, gpus: len(left)}
	copy(n.left[:], left)
	return n
}

func sharePod(cpu, milli int64) *demand {
	return &demand{cpu: cpu, milli: milli, gpus: 1, models: anyModel}
}

func wholePod(cpu int64, gpus int) *demand {
	return &demand{cpu: cpu, milli: MilliPerGPU, gpus: gpus, models: anyModel}
}

func cpuPod(cpu int64) *demand { return &demand{cpu: cpu, models: anyModel} }

func TestFragBuckets(t *testing.T) {
	// Idle GPU 1300 milli on GPUs [1000, 300], 8000 milli-CPU left.
	typical := []typicalPod{
		{shape: shape{cpu: 4000, milli: 500, gpus: 1}, weight: 0.5, models: anyModel},    // fits: the 300 GPU is fragment (Q2), the 1000 one is not (Q3)
		{shape: shape{cpu: 16000, milli: 1000, gpus: 1}, weight: 0.25, models: anyModel}, // GPU fits, CPU does not: all idle is Q4
		{shape: shape{cpu: 2000}, weight: 0.125, models: anyModel},                       // CPU-only and fits: all idle is XL
		{shape: shape{cpu: 1000, milli: 500, gpus: 1}, weight: 0.125, models: 1 << 1},    // model 1 only: no access
	}
	b := fragBuckets(8000, []int64{1000, 300}, 0, typical)
	want := [bucketCount]float64{bucketLackGPU: 150, bucketSatisfied: 500, bucketLackCPU: 325, bucketCPUOnlyFit: 162.5, bucketNoAccess: 162.5}
	if b != want {
		t.Errorf("fragBuckets = %v, want %v", b, want)
	}
	if got := fragAmount(&b); got != 800 {
		t.Errorf("fragAmount = %v, want 800 (every bucket but Q3)", got)
	}
}

func TestBestFit(t *testing.T) {
	// 1 − (0.5·(64000−16000)/128000 + 0.5·(2000−500)/8000) = 1 − 0.28125 = 0.71875 → 71.
	if got := bestFitRaw(testNode(64000, 1000, 1000), sharePod(16000, 500)); got != 71 {
		t.Errorf("bestFitRaw = %d, want 71", got)
	}
	// Integer normalisation can merge neighbouring raw scores.
	s := []int64{50, 51, 250}
	normalize(s)
	if !slices.Equal(s, []int64{0, 0, 100}) {
		t.Errorf("normalize(50, 51, 250) = %v, want [0 0 100]", s)
	}
	s = []int64{7, 7}
	normalize(s)
	if !slices.Equal(s, []int64{0, 0}) {
		t.Errorf("normalize(7, 7) = %v, want [0 0]", s)
	}
}

func TestDotProd(t *testing.T) {
	// Node [0.5, 0.25] · pod [0.25, 0.125] = 0.15625; 100·(1 − 0.078125) → 92.
	if got := dotProdScore(testNode(64000, 1000, 1000), wholePod(32000, 1)); got != 92 {
		t.Errorf("dotProdScore = %d, want 92", got)
	}
}

func TestPacking(t *testing.T) {
	tests := []struct {
		name string
		n    *node
		d    *demand
		want int64
	}{
		{"idle 8-GPU node", testNode(96000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000), sharePod(1000, 500), 25},
		{"idle 2-GPU node", testNode(96000, 1000, 1000), sharePod(1000, 500), 31},
		{"idle 1-GPU node", testNode(96000, 1000), wholePod(1000, 1), 32},
		{"share on a used GPU", testNode(96000, 1000, 500, 200), sharePod(1000, 300), 95},
		{"share needs a free GPU", testNode(96000, 1000, 500, 200), sharePod(1000, 600), 49},
		{"two free GPUs on a used node", testNode(96000, 1000, 1000, 500, 1000), wholePod(1000, 2), 48},
		{"CPU-only pod", testNode(96000, 1000, 500), cpuPod(1000), 0},
	}
	for _, tt := range tests {
		if got := packingScore(tt.n, tt.d); got != tt.want {
			t.Errorf("%s: packingScore = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestClustering(t *testing.T) {
	idle := testNode(96000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000)
	shared := testNode(96000, 500, 1000, 1000, 1000, 1000, 1000, 1000, 1000) // b = 25·500/8000 = 1
	shared.affinity[0] = 1
	mixed := testNode(96000, 500, 0, 1000, 1000, 1000, 1000, 1000, 1000) // b = 25·1500/8000 = 4
	mixed.affinity[0], mixed.affinity[1] = 1, 1
	tests := []struct {
		name string
		n    *node
		d    *demand
		want int64
	}{
		{"empty node", idle, sharePod(1000, 500), 25},
		{"only my tag", shared, sharePod(1000, 500), 76},
		{"my tag and others", mixed, sharePod(1000, 500), 54},
		{"other tags only", shared, wholePod(1000, 1), 1},
		{"CPU-only pod", shared, cpuPod(1000), 0},
	}
	for _, tt := range tests {
		if got := clusteringScore(tt.n, tt.d); got != tt.want {
			t.Errorf("%s: clusteringScore = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestFGDScore(t *testing.T) {
	// One typical pod: 500 milli on one GPU. A GPU left below 500 is fragment.
	typical := []typicalPod{{shape: shape{cpu: 1000, milli: 500, gpus: 1}, weight: 1, models: anyModel}}
	fresh := func(cpu int64, left ...int64) *node {
		n := testNode(cpu, left...)
		n.refresh(typical)
		return n
	}
	tests := []struct {
		name      string
		n         *node
		d         *demand
		wantScore int64
		wantGPU   int
	}{
		// Both GPUs give the same state: Δ = 0 → 50, lowest index.
		{"equal GPUs tie to index 0", fresh(10000, 1000, 1000), sharePod(1000, 500), 50, 0},
		// GPU 0 → [400, 1000] leaves 400 fragment: σ(−0.4) → 40; GPU 1 → [700, 700]: 50.
		{"the GPU that adds no fragment", fresh(10000, 700, 1000), sharePod(1000, 300), 50, 1},
		// Filling the 400 GPU removes 400 fragment: σ(0.4) → 59.
		{"fill a fragment", fresh(10000, 400, 1000), sharePod(1000, 400), 59, 0},
		// A whole GPU: [0, 1000] has no fragment left either way: 50.
		{"whole GPU", fresh(10000, 1000, 1000), wholePod(1000, 1), 50, -1},
	}
	for _, tt := range tests {
		s, g := fgdScore(tt.n, tt.d, typical)
		if s != tt.wantScore || g != tt.wantGPU {
			t.Errorf("%s: fgdScore = %d, GPU %d, want %d, GPU %d", tt.name, s, g, tt.wantScore, tt.wantGPU)
		}
	}
}

func TestGPUSelection(t *testing.T) {
	n := testNode(96000, 500, 300, 300, 1000)
	if got := bestShareGPU(n, sharePod(0, 200)); got != 1 {
		t.Errorf("bestShareGPU = %d, want 1 (least left that fits, lowest index)", got)
	}
	if got := exclusiveGPUs(testNode(96000, 1000, 500, 1000, 1000), wholePod(0, 2), nil); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("exclusiveGPUs = %v, want [0 2]", got)
	}
	// Random GPU choice takes one draw per fitting GPU: all four fit 300.
	a, b := rand.New(rand.NewSource(7)), rand.New(rand.NewSource(7))
	randomShareGPU(n, sharePod(0, 300), a)
	for c := 1; c <= 4; c++ {
		b.Intn(c)
	}
	if a.Int63() != b.Int63() {
		t.Error("randomShareGPU did not take exactly one draw per fitting GPU")
	}
}

func TestTypicalPods(t *testing.T) {
	var pods []Pod
	add := func(k int, p Pod) {
		for range k {
			pods = append(pods, p)
		}
	}
	add(11, Pod{CPUMilli: 4000, GPUs: 1, GPUMilli: 500})
	add(4, Pod{CPUMilli: 1000, GPUs: 1, GPUMilli: 1000})
	add(4, Pod{CPUMilli: 2000, GPUs: 1, GPUMilli: 1000})
	add(1, Pod{CPUMilli: 8000})
	// 95 % of 20 pods is 19: 11, then 4 + 4 reach it, the last shape is cut.
	// Equal counts go to the larger CPU first.
	got := typicalPods(pods)
	wantCPU := []int64{4000, 2000, 1000}
	if len(got) != len(wantCPU) {
		t.Fatalf("typicalPods kept %d shapes, want %d", len(got), len(wantCPU))
	}
	for i, p := range got {
		if p.cpu != wantCPU[i] {
			t.Errorf("typical %d: cpu %d, want %d", i, p.cpu, wantCPU[i])
		}
	}
	if w := (11.0 / 20) / (19.0 / 20); got[0].weight != w {
		t.Errorf("weight = %v, want %v", got[0].weight, w)
	}
}

// TestTieBreak places on identical nodes: the smallest name prefix wins, for
// a score tie and for BestFit's all-zero normalisation.
func TestTieBreak(t *testing.T) {
	nodes := []Node{
		{Name: "a", CPUMilli: 64000, MemoryMiB: 1024, GPUs: 2, Model: "T4"},
		{Name: "b", CPUMilli: 64000, MemoryMiB: 1024, GPUs: 2, Model: "T4"},
		{Name: "c", CPUMilli: 64000, MemoryMiB: 1024, GPUs: 2, Model: "T4"},
	}
	for _, p := range Policies[:len(Policies)-1] {
		c, err := newCluster(nodes, []int{2, 0, 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := &replayer{policy: p, cluster: c, classes: map[shape]int{{}: 0}, fgdCache: make([]fgdEntry, len(nodes))}
		if !r.schedule(&demand{cpu: 1000, mem: 10, milli: 500, gpus: 1, models: anyModel}) {
			t.Fatalf("%s: pod not placed", p)
		}
		if got := c.nodes[1].left[0]; got != 500 {
			t.Errorf("%s: node b (prefix 0000) GPU 0 left = %d, want 500: the tie must go to the smallest prefix", p, got)
		}
	}
}

// TestReplayDeterministic replays a synthetic trace twice per policy and
// requires byte-identical summaries; it needs no trace files.
func TestReplayDeterministic(t *testing.T) {
	nodes, pods := syntheticTrace(42)
	for _, p := range Policies {
		var out [2][]byte
		for i := range out {
			s, err := ReplaySeeds(nodes, pods, p, 1.3, []int64{1, 2, 3}, 1+i)
			if err != nil {
				t.Fatal(err)
			}
			if out[i], err = json.Marshal(s); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(out[0], out[1]) {
			t.Errorf("%s: two replays differ", p)
		}
	}
}

// TestReplayInvariants checks a synthetic replay's bookkeeping: the request
// only grows, allocation never passes it nor the capacity, and a model
// constraint is honoured.
func TestReplayInvariants(t *testing.T) {
	nodes, pods := syntheticTrace(7)
	for _, p := range Policies {
		run, err := Replay(nodes, pods, Config{Policy: p, Seed: 5, Tune: 1.3})
		if err != nil {
			t.Fatal(err)
		}
		var last int64
		for i, e := range run.Events {
			if e.ArrivedMilli < last || e.UsedMilli > e.ArrivedMilli || e.UsedMilli > run.TotalGPUs*MilliPerGPU {
				t.Fatalf("%s: event %d inconsistent: %+v", p, i, e)
			}
			last = e.ArrivedMilli
		}
		if run.Failed == 0 {
			t.Errorf("%s: no pod failed at 1.3x capacity", p)
		}
	}
	// A pod that only accepts a model the cluster lacks fits nowhere.
	c, err := newCluster(nodes, seqPrefix(len(nodes)), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &demand{cpu: 1, mem: 1, milli: 100, gpus: 1, models: c.modelSet("H100|B200")}
	for i := range c.nodes {
		if c.nodes[i].feasible(d) {
			t.Fatalf("node %d accepts a pod constrained to absent models", i)
		}
	}
}

func TestReadPods(t *testing.T) {
	csv := "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos\n" +
		"p1,4000,1024,1,1500,,LS\n" + // clamped to one GPU
		"p2,2000,512,0,500,,BE\n" + // CPU-only: the GPU share is dropped
		"p3,1000,256,2,1000,V100M16|V100M32,LS\n"
	pods, err := ReadPods(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	want := []Pod{
		{Name: "p1", CPUMilli: 4000, MemoryMiB: 1024, GPUs: 1, GPUMilli: 1000},
		{Name: "p2", CPUMilli: 2000, MemoryMiB: 512},
		{Name: "p3", CPUMilli: 1000, MemoryMiB: 256, GPUs: 2, GPUMilli: 1000, Spec: "V100M16|V100M32"},
	}
	if !slices.Equal(pods, want) {
		t.Errorf("ReadPods = %+v, want %+v", pods, want)
	}
	if _, err := ReadPods(strings.NewReader("name,cpu_milli\np,1\n")); err == nil {
		t.Error("ReadPods accepted a file without the GPU columns")
	}
}

func TestRound2(t *testing.T) {
	// Python's round(x, 2) rounds the exact binary value, ties to even.
	for x, want := range map[float64]float64{0.125: 0.12, 0.375: 0.38, 2.675: 2.67, 95.135000001: 95.14} {
		if got := round2(x); got != want {
			t.Errorf("round2(%v) = %v, want %v", x, got, want)
		}
	}
}

// syntheticTrace is a small openb-like cluster and workload, generated from a
// seed: 40 nodes of three models and 400 pods of every class.
func syntheticTrace(seed int64) ([]Node, []Pod) {
	rng := rand.New(rand.NewSource(seed))
	models := []string{"A10", "T4", "V100M32"}
	nodes := make([]Node, 40)
	for i := range nodes {
		gpus := []int{1, 2, 4, 8}[rng.Intn(4)]
		nodes[i] = Node{Name: fmt.Sprintf("node-%03d", i), CPUMilli: int64(16000 * gpus), MemoryMiB: int64(65536 * gpus),
			GPUs: gpus, Model: models[rng.Intn(len(models))]}
	}
	pods := make([]Pod, 400)
	for i := range pods {
		p := Pod{Name: fmt.Sprintf("pod-%04d", i), CPUMilli: int64(1000 * (1 + rng.Intn(16))), MemoryMiB: int64(1024 * (1 + rng.Intn(8)))}
		switch k := rng.Intn(10); {
		case k < 2: // CPU-only
		case k < 6:
			p.GPUs, p.GPUMilli = 1, int64(100*(1+rng.Intn(9)))
		default:
			p.GPUs, p.GPUMilli = []int{1, 2, 4, 8}[rng.Intn(4)], MilliPerGPU
		}
		if rng.Intn(5) == 0 && p.GPUs > 0 {
			p.Spec = models[rng.Intn(len(models))] + "|" + models[rng.Intn(len(models))]
		}
		pods[i] = p
	}
	return nodes, pods
}

func seqPrefix(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

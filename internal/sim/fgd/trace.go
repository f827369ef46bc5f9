// Package fgd replays an Alibaba openb GPU-cluster trace the way the ATC'23
// paper "Beware of Fragmentation" (FGD) ran its experiments: pods sorted by
// name, shuffled by a seed, tuned up to a multiple of the cluster's GPU
// capacity, placed once each in order with no departures, and the GPU
// allocation and fragmentation recorded after every pod.
//
// The core is deterministic: no clock, no global random source. Each run
// creates its own math/rand (v1) source from the seed and consumes draws in
// exactly the order the authors' simulator did, so the same seed gives the
// same placements and byte-identical output.
package fgd

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// MilliPerGPU is the capacity of one GPU in milli-GPU.
const MilliPerGPU = 1000

// MaxGPUsPerNode bounds the GPUs of one node; the openb traces have at most 8.
const MaxGPUsPerNode = 8

// maxModels bounds the distinct GPU models of a cluster, so a pod's allowed
// models fit in a uint64 bit set.
const maxModels = 64

// Node is one row of openb_node_list_gpu_node.csv.
type Node struct {
	Name      string
	CPUMilli  int64
	MemoryMiB int64
	GPUs      int
	Model     string
}

// Pod is one row of an openb_pod_list_*.csv, turned into the resources the
// authors' simulator saw. GPUMilli is per GPU; it is 0 for CPU-only pods.
type Pod struct {
	Name      string
	CPUMilli  int64
	MemoryMiB int64
	GPUs      int
	GPUMilli  int64
	// Spec is the '|'-separated list of GPU models the pod accepts; empty
	// means any model.
	Spec string
}

// TotalGPUMilli is the pod's GPU request over all its GPUs.
func (p Pod) TotalGPUMilli() int64 { return p.GPUMilli * int64(p.GPUs) }

// ErrTrace is returned, wrapped, for a malformed trace file.
var ErrTrace = errors.New("fgd: malformed trace")

// ReadNodesFile reads a node list CSV from path.
func ReadNodesFile(path string) ([]Node, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadNodes(f)
}

// ReadPodsFile reads a pod list CSV from path.
func ReadPodsFile(path string) ([]Pod, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadPods(f)
}

// ReadNodes reads the columns sn, cpu_milli, memory_mib, gpu and model.
func ReadNodes(r io.Reader) ([]Node, error) {
	rows, col, err := readTable(r, "sn", "cpu_milli", "memory_mib", "gpu", "model")
	if err != nil {
		return nil, err
	}
	nodes := make([]Node, 0, len(rows))
	for i, row := range rows {
		n := Node{Name: row[col["sn"]], Model: row[col["model"]]}
		var gpus int64
		if n.CPUMilli, err = integer(row[col["cpu_milli"]]); err == nil {
			if n.MemoryMiB, err = integer(row[col["memory_mib"]]); err == nil {
				gpus, err = integer(row[col["gpu"]])
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: node row %d: %w", ErrTrace, i+2, err)
		}
		if gpus < 0 || gpus > MaxGPUsPerNode {
			return nil, fmt.Errorf("%w: node row %d: %d GPUs, want 0..%d", ErrTrace, i+2, gpus, MaxGPUsPerNode)
		}
		n.GPUs = int(gpus)
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// ReadPods reads the columns name, cpu_milli, memory_mib, num_gpu, gpu_milli
// and gpu_spec; the time and phase columns are ignored, as in the paper. As
// the authors' CSV-to-YAML step did, gpu_milli is kept only for GPU pods and
// clamped to 0..1000.
func ReadPods(r io.Reader) ([]Pod, error) {
	rows, col, err := readTable(r, "name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli", "gpu_spec")
	if err != nil {
		return nil, err
	}
	pods := make([]Pod, 0, len(rows))
	for i, row := range rows {
		p := Pod{Name: row[col["name"]], Spec: row[col["gpu_spec"]]}
		var gpus, milli int64
		if p.CPUMilli, err = integer(row[col["cpu_milli"]]); err == nil {
			if p.MemoryMiB, err = integer(row[col["memory_mib"]]); err == nil {
				if gpus, err = integer(row[col["num_gpu"]]); err == nil {
					milli, err = integer(row[col["gpu_milli"]])
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: pod row %d: %w", ErrTrace, i+2, err)
		}
		if gpus < 0 || gpus > MaxGPUsPerNode {
			return nil, fmt.Errorf("%w: pod row %d: %d GPUs, want 0..%d", ErrTrace, i+2, gpus, MaxGPUsPerNode)
		}
		if gpus > 0 {
			p.GPUs = int(gpus)
			p.GPUMilli = min(max(milli, 0), MilliPerGPU)
		}
		if p.GPUMilli == 0 {
			// A GPU pod asking for no GPU share is CPU-only to every filter
			// and score of the authors' simulator.
			p.GPUs = 0
		}
		pods = append(pods, p)
	}
	return pods, nil
}

// readTable reads a CSV with a header and returns its rows and the index of
// each wanted column.
func readTable(r io.Reader, want ...string) ([][]string, map[string]int, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrTrace, err)
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("%w: no header", ErrTrace)
	}
	col := make(map[string]int, len(want))
	for i, h := range rows[0] {
		col[strings.TrimSpace(h)] = i
	}
	for _, w := range want {
		if _, ok := col[w]; !ok {
			return nil, nil, fmt.Errorf("%w: no column %q", ErrTrace, w)
		}
	}
	return rows[1:], col, nil
}

// integer parses an integer cell; a decimal is truncated toward zero, as
// Python's int() did in the authors' conversion script.
func integer(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<62 {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	return int64(f), nil
}

package core

import "sort"

// Accelerator describes one accelerator model. Throughput figures are dense
// (no sparsity) and nominal (vendor peak) unless Measured is set; the source
// of each figure is kept so a capacity report can be traced back.
type Accelerator struct {
	Name       string  `json:"name"`
	Vendor     string  `json:"vendor"`
	Domestic   bool    `json:"domestic"`
	MemoryGiB  int     `json:"memory_gib"`
	FP16TFLOPS float64 `json:"fp16_tflops"` // dense FP16/BF16 tensor peak
	FP64TFLOPS float64 `json:"fp64_tflops"` // FP64 peak (vector, not tensor)
	Measured   bool    `json:"measured"`
	Source     string  `json:"source"`
}

// CPUModel describes a CPU node type used by 超算 and 通算 centers, whose
// capacity is counted in FP64.
type CPUModel struct {
	Name          string  `json:"name"`
	Vendor        string  `json:"vendor"`
	Domestic      bool    `json:"domestic"`
	CoresPerNode  int     `json:"cores_per_node"`
	FP64TFLOPS    float64 `json:"fp64_tflops_per_node"`
	MemoryGiBNode int     `json:"memory_gib_per_node"`
	Source        string  `json:"source"`
}

// catalog is versioned data: change a figure only with its source.
var catalog = []Accelerator{
	{Name: "A100", Vendor: "NVIDIA", MemoryGiB: 80, FP16TFLOPS: 312, FP64TFLOPS: 9.7,
		Source: "NVIDIA A100 datasheet: 312 TFLOPS FP16 tensor dense (624 sparse), 9.7 FP64"},
	{Name: "A800", Vendor: "NVIDIA", MemoryGiB: 80, FP16TFLOPS: 312, FP64TFLOPS: 9.7,
		Source: "China-market A100 with reduced NVLink; same compute as A100"},
	{Name: "H100", Vendor: "NVIDIA", MemoryGiB: 80, FP16TFLOPS: 989, FP64TFLOPS: 34,
		Source: "NVIDIA H100 SXM datasheet: 1,979 TFLOPS FP16 sparse = 989 dense, 34 FP64"},
	{Name: "H20", Vendor: "NVIDIA", MemoryGiB: 96, FP16TFLOPS: 148, FP64TFLOPS: 1,
		Source: "press figures for H20 (unverified): 148 TFLOPS FP16 dense"},
	{Name: "Ascend910B", Vendor: "Huawei", Domestic: true, MemoryGiB: 64, FP16TFLOPS: 280, FP64TFLOPS: 0,
		Measured: true, Source: "Gitee AI cluster docs: 280 TFLOPS FP16 (several articles say 320 nominal)"},
	{Name: "Ascend910", Vendor: "Huawei", Domestic: true, MemoryGiB: 32, FP16TFLOPS: 256, FP64TFLOPS: 0,
		Source: "Huawei Ascend 910 (2019) launch figure: 256 TFLOPS FP16"},
	{Name: "V100", Vendor: "NVIDIA", MemoryGiB: 32, FP16TFLOPS: 125, FP64TFLOPS: 7.8,
		Source: "NVIDIA V100 SXM2 datasheet: 125 TFLOPS tensor, 7.8 FP64"},
}

var cpuCatalog = []CPUModel{
	{Name: "2xEPYC9654", Vendor: "AMD", CoresPerNode: 192, FP64TFLOPS: 7.37, MemoryGiBNode: 768,
		Source: "derived: 2 sockets x 96 cores x 2.4 GHz base x 16 FP64 FLOP/cycle (Zen 4, 2x256-bit FMA), AMD spec sheet"},
	{Name: "2xKunpeng920", Vendor: "Huawei", Domestic: true, CoresPerNode: 128, FP64TFLOPS: 2.66, MemoryGiBNode: 512,
		Source: "derived: 2 sockets x 64 cores x 2.6 GHz x 8 FP64 FLOP/cycle (2x128-bit NEON FMA), Huawei spec sheet"},
	{Name: "2xXeon8358", Vendor: "Intel", CoresPerNode: 64, FP64TFLOPS: 5.32, MemoryGiBNode: 512,
		Source: "derived: 2 sockets x 32 cores x 2.6 GHz base x 32 FP64 FLOP/cycle (2x AVX-512 FMA), Intel ARK"},
}

// Catalog returns the accelerator catalog sorted by name.
func Catalog() []Accelerator {
	out := append([]Accelerator(nil), catalog...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// LookupAccelerator returns the catalog entry for name.
func LookupAccelerator(name string) (Accelerator, bool) {
	for _, a := range catalog {
		if a.Name == name {
			return a, true
		}
	}
	return Accelerator{}, false
}

// CPUCatalog returns the CPU node types.
func CPUCatalog() []CPUModel { return append([]CPUModel(nil), cpuCatalog...) }

// LookupCPU returns the CPU node type called name.
func LookupCPU(name string) (CPUModel, bool) {
	for _, c := range cpuCatalog {
		if c.Name == name {
			return c, true
		}
	}
	return CPUModel{}, false
}

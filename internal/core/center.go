package core

import (
	"fmt"
	"time"
)

// CenterKind is the type of a compute center.
type CenterKind string

// Center kinds. Their capacity is normalized differently: 智算 in PFLOPS
// FP16 dense, 超算 in PFLOPS FP64, 通算 in PFLOPS FP64 of its CPUs.
const (
	KindAI      CenterKind = "ai"      // 智算
	KindHPC     CenterKind = "hpc"     // 超算
	KindGeneral CenterKind = "general" // 通算
)

// Valid reports whether k is a known kind.
func (k CenterKind) Valid() bool { return k == KindAI || k == KindHPC || k == KindGeneral }

// Executor names how a center runs work.
const (
	ExecutorLocal     = "local"     // real child processes on this machine
	ExecutorSimulated = "simulated" // modelled nodes; a job "runs" for its declared duration
	ExecutorAgent     = "agent"     // the center's own system (Slurm, Kubernetes) driven by `suanli agent`
)

// ValidExecutor reports whether e is a known executor.
func ValidExecutor(e string) bool {
	return e == ExecutorLocal || e == ExecutorSimulated || e == ExecutorAgent
}

// Center statuses.
const (
	CenterAvailable   = "available"
	CenterUnavailable = "unavailable"
)

// Center is a compute center (算力中心) that contributes nodes.
type Center struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	DisplayName   string     `json:"display_name"`
	Kind          CenterKind `json:"kind"`
	Region        string     `json:"region"`
	PUEMilli      int        `json:"pue_milli"`       // PUE x 1000, e.g. 1250 = 1.25
	GreenPercent  int        `json:"green_percent"`   // share of green power, 0..100
	Domestic      bool       `json:"domestic"`        // mainly domestic (国产) chips
	ProviderOrgID string     `json:"provider_org_id"` // the provider that runs it
	Executor      string     `json:"executor"`        // ExecutorLocal, ExecutorSimulated or ExecutorAgent
	Status        string     `json:"status"`
	StatusReason  string     `json:"status_reason,omitempty"` // why it is unavailable
	// AgentSeenAt is the last heartbeat of the center's agent (agent
	// centers only).
	AgentSeenAt   *time.Time `json:"agent_seen_at,omitempty"`
	Prices        PriceBook  `json:"prices"`
	NominalPFLOPS float64    `json:"nominal_pflops"` // the published "P" figure the seed used
	Source        string     `json:"source"`         // where the published figure comes from
	CreatedAt     time.Time  `json:"created_at"`
}

// PriceBook is a center's list prices for the normal tier, all in Micros
// per hour. Accelerator jobs pay per card-hour and their CPU and memory are
// included; CPU-only jobs pay per core-hour plus per GiB-hour of memory.
type PriceBook struct {
	CardHour       map[string]Micros `json:"card_hour"` // by accelerator model
	CoreHour       Micros            `json:"core_hour"`
	MemGiBHour     Micros            `json:"mem_gib_hour"`
	StorageGiBHour Micros            `json:"storage_gib_hour"` // reported by the center's meter
	EgressGiB      Micros            `json:"egress_gib"`       // per GiB leaving the center
}

// Node statuses.
const (
	NodeReady = "ready"
	NodeDown  = "down"
)

// Node is one machine in a center. Accelerators are of one model.
type Node struct {
	ID         string `json:"id"`
	CenterID   string `json:"center_id"`
	Name       string `json:"name"`
	CPUMilli   int64  `json:"cpu_milli"`
	MemMiB     int64  `json:"mem_mib"`
	AccelModel string `json:"accel_model,omitempty"`
	AccelCount int64  `json:"accel_count"`
	CPUModel   string `json:"cpu_model,omitempty"`
	Status     string `json:"status"`
}

// CapacityTFLOPS returns the node's normalized capacity for a center of kind:
// FP16 dense accelerator TFLOPS for 智算, FP64 TFLOPS (accelerators plus CPUs)
// otherwise.
func (n Node) CapacityTFLOPS(kind CenterKind) float64 {
	var t float64
	if a, ok := LookupAccelerator(n.AccelModel); ok {
		if kind == KindAI {
			t += a.FP16TFLOPS * float64(n.AccelCount)
		} else {
			t += a.FP64TFLOPS * float64(n.AccelCount)
		}
	}
	if kind != KindAI {
		if c, ok := LookupCPU(n.CPUModel); ok {
			t += c.FP64TFLOPS
		}
	}
	return t
}

// CenterStats is a center's capacity and how much of it is allocated.
// Capacity is in PFLOPS normalized for the center's kind (see CenterKind);
// schedulable capacity counts only ready nodes of an available center.
type CenterStats struct {
	Nodes             int              `json:"nodes"`
	ReadyNodes        int              `json:"ready_nodes"`
	Accelerators      map[string]int64 `json:"accelerators"` // cards by model
	CPUMilli          int64            `json:"cpu_milli"`
	MemMiB            int64            `json:"mem_mib"`
	UsedCPUMilli      int64            `json:"used_cpu_milli"`
	UsedMemMiB        int64            `json:"used_mem_mib"`
	UsedAccelerators  int64            `json:"used_accelerators"`
	CapacityPFLOPS    float64          `json:"capacity_pflops"`
	SchedulablePFLOPS float64          `json:"schedulable_pflops"`
	AllocatedPFLOPS   float64          `json:"allocated_pflops"`
	RunningJobs       int              `json:"running_jobs"`
}

// Utilization is the allocated share of schedulable capacity, 0..1. For
// centers without accelerators it is the allocated CPU share.
func (s CenterStats) Utilization() float64 {
	if s.SchedulablePFLOPS > 0 {
		return s.AllocatedPFLOPS / s.SchedulablePFLOPS
	}
	if s.CPUMilli > 0 {
		return float64(s.UsedCPUMilli) / float64(s.CPUMilli)
	}
	return 0
}

// NodesPerCenterMax bounds one center's node list.
const NodesPerCenterMax = 100_000

// ValidateNodes checks a center's node list as its agent reports it:
// names unique, capacity positive, accelerators of a catalog model.
func ValidateNodes(nodes []Node) error {
	if len(nodes) > NodesPerCenterMax {
		return FieldErrorf("nodes", "at most %d", NodesPerCenterMax)
	}
	seen := make(map[string]bool, len(nodes))
	for i, n := range nodes {
		f := fmt.Sprintf("nodes[%d]", i)
		_, known := LookupAccelerator(n.AccelModel)
		switch {
		case n.Name == "" || len(n.Name) > 253:
			return FieldErrorf(f+".name", "must be 1 to 253 bytes")
		case seen[n.Name]:
			return FieldErrorf(f+".name", "%q appears twice", n.Name)
		case n.CPUMilli <= 0 || n.MemMiB <= 0:
			return FieldErrorf(f, "cpu_milli and mem_mib must be positive")
		case n.AccelCount < 0 || (n.AccelCount > 0 && n.AccelModel == ""):
			return FieldErrorf(f+".accel_model", "is required with accelerators")
		case n.AccelModel != "" && !known:
			return FieldErrorf(f+".accel_model", "%q is not in the catalog", n.AccelModel)
		case n.Status != NodeReady && n.Status != NodeDown:
			return FieldErrorf(f+".status", "must be ready or down")
		}
		seen[n.Name] = true
	}
	return nil
}

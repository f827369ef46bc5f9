// Package store holds the types shared by suanli's store implementations
// (filters, results, plan assignments), so that consumers can define the
// small interfaces they need without importing a database package.
package store

import (
	"time"

	"github.com/suanli/suanli/internal/core"
)

// Page limits.
const (
	JobsPageMax      = 500
	EventsPerJobMax  = 1000
	TransfersPageMax = 1000
	HoursMax         = 24 * 31
)

// JobFilter selects jobs. Empty fields do not filter.
type JobFilter struct {
	TenantOrgID   string
	ProviderOrgID string // jobs placed on this provider's centers
	State         core.JobState
	CenterID      string
	Limit         int // capped at JobsPageMax
	Offset        int
}

// TransferFilter selects transfers. Limit is capped at TransfersPageMax.
type TransferFilter struct {
	AccountID string // either side
	JobID     string
	Limit     int
	Offset    int
}

// Assignment is one scheduling decision to commit.
type Assignment struct {
	JobID      string
	CenterID   string
	Placements []core.Placement
	Why        string // why this center: the scheduler's scores, kept in the job's events
}

// ReplicaResult is how one replica ended.
type ReplicaResult struct {
	Index    int
	ExitCode *int
	UsageMs  int64
}

// Result is how a job ended.
type Result struct {
	State    core.JobState
	ExitCode *int
	Reason   string
	Replicas []ReplicaResult
	// Attempt, when set, ties the result to one attempt: a job that has
	// since been requeued (another attempt) refuses it with a conflict.
	Attempt *int
}

// Revenue is money captured from tenants in a period, and its split.
type Revenue struct {
	Gross      core.Micros `json:"gross_micros"`
	Provider   core.Micros `json:"provider_micros"`
	Commission core.Micros `json:"commission_micros"`
}

// HourlyPoint is one hour of activity.
type HourlyPoint struct {
	Hour     time.Time   `json:"hour"`
	Revenue  core.Micros `json:"revenue_micros"`
	Finished int         `json:"finished_jobs"`
}

// Allocation is what one replica of a scheduled or running job holds on a
// node, and when it gives it back at the latest (its start, or placement if
// not started, plus the job's max duration).
type Allocation struct {
	NodeID          string
	TenantOrgID     string
	CPU, Mem, Accel int64
	ReleaseAtMs     int64
	// The job holding it, for preemption: its ID, center, priority,
	// tier, when it started (or was scheduled) and the replica's rate.
	JobID       string
	Attempt     int
	CenterID    string
	Priority    int
	Tier        string
	StartedAtMs int64
	RateScaled  int64
}

// MeterStatus tells the control loop what metering a running job found.
type MeterStatus struct {
	Short  bool      // the wallet could not fund the next rolling window
	StopAt time.Time // when the grace period ends (Short only)
}

// TenantPolicy is a tenant's fair-share weight (1..1000) and quotas of
// CPU milli-cores, memory MiB and accelerators across the network (0 = no
// limit in that dimension).
//
// Tenants of one Cohort may borrow each other's idle quota; Borrow* cap
// what the tenant may hold beyond its own quota by borrowing (0 = no cap
// beyond what the cohort has idle). Weights, when set, rank centers for
// the tenant's jobs instead of the platform default.
type TenantPolicy struct {
	OrgID       string             `json:"org_id"`
	Weight      int64              `json:"weight"`
	QuotaCPU    int64              `json:"quota_cpu_milli"`
	QuotaMem    int64              `json:"quota_mem_mib"`
	QuotaAccel  int64              `json:"quota_accelerators"`
	Cohort      string             `json:"cohort"`
	BorrowCPU   int64              `json:"borrow_cpu_milli"`
	BorrowMem   int64              `json:"borrow_mem_mib"`
	BorrowAccel int64              `json:"borrow_accelerators"`
	Weights     *core.ScoreWeights `json:"weights,omitempty"`
}

// CohortLenMax bounds a cohort's name.
const CohortLenMax = 64

// ValidCohort reports whether name may name a cohort: empty (no cohort),
// or 1..CohortLenMax lowercase letters, digits and '-', so that it reads
// the same in a URL, a table and a log line.
func ValidCohort(name string) bool {
	if len(name) > CohortLenMax {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

package core

import (
	"fmt"
	"strings"
	"time"
)

// JobState is where a job is in its lifecycle.
type JobState string

// Job states: queued → scheduled → running → one of the terminal states.
const (
	JobQueued    JobState = "queued"
	JobScheduled JobState = "scheduled"
	JobRunning   JobState = "running"
	JobSucceeded JobState = "succeeded"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
	JobTimedOut  JobState = "timed-out"
)

// JobStates lists all states in lifecycle order.
var JobStates = []JobState{JobQueued, JobScheduled, JobRunning, JobSucceeded, JobFailed, JobCancelled, JobTimedOut}

// Terminal reports whether s is a final state.
func (s JobState) Terminal() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCancelled || s == JobTimedOut
}

// Valid reports whether s is a known state.
func (s JobState) Valid() bool {
	for _, v := range JobStates {
		if v == s {
			return true
		}
	}
	return false
}

// Limits on job specs. They keep one job from exhausting the scheduler or
// the database; each is checked by Validate.
const (
	JobNameLenMax       = 128
	ReplicasMax         = 256
	AccelCountMax       = 64
	CPUMilliMax         = 1_024_000
	MemMiBMax           = 16 * 1024 * 1024
	CommandLenMax       = 8192
	MaxDurationMax      = 30 * 24 * time.Hour
	PriorityMin         = -1000
	PriorityMax         = 1000
	AcceptableModelsMax = 16
	DefaultAttempts     = 3  // runs lost with their center are retried up to this many attempts
	MaxAttempts         = 10 // the most attempts a spec may ask for
)

// Replica is the resource request of one replica of a gang.
type Replica struct {
	AccelModels []string `json:"accel_models,omitempty"` // acceptable models; empty = any model when AccelCount > 0
	AccelCount  int64    `json:"accel_count"`
	CPUMilli    int64    `json:"cpu_milli"`
	MemMiB      int64    `json:"mem_mib"`
}

// Constraints restrict where a job may run. Empty fields do not constrain.
type Constraints struct {
	Center       string     `json:"center,omitempty"`
	Region       string     `json:"region,omitempty"`
	Kind         CenterKind `json:"kind,omitempty"`
	DomesticOnly bool       `json:"domestic_only,omitempty"`
}

// JobSpec is what a tenant submits.
type JobSpec struct {
	Name        string        `json:"name"`
	Replicas    []Replica     `json:"replicas"`
	Command     string        `json:"command,omitempty"`   // run by real executors (`local`)
	Duration    time.Duration `json:"duration,omitempty"`  // declared run time on simulated centers
	ExitCode    int           `json:"exit_code,omitempty"` // exit code a simulated run reports
	MaxDuration time.Duration `json:"max_duration"`
	Priority    int           `json:"priority"`
	// PriorityClass, when set, names the operator-defined class whose
	// value Priority was set to at submission (kept to show where the
	// number came from; the scheduler reads only Priority).
	PriorityClass string `json:"priority_class,omitempty"`
	Tier          string `json:"tier,omitempty"` // spot, normal (default) or guaranteed
	// IdempotencyKey, when set, makes a retried submission return the job
	// the first one created instead of a second job.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// MaxAttempts bounds how often a run lost with its center (agent gone,
	// server restart) is requeued: 1 fails the job instead; 0 means
	// DefaultAttempts.
	MaxAttempts int         `json:"max_attempts,omitempty"`
	Constraints Constraints `json:"constraints"`
	// Data is where the job's input is; centers near it score higher.
	Data DataSpec `json:"data,omitzero"`
	// Weights, when set, rank candidate centers for this job instead of
	// its tenant's or the platform's weights.
	Weights *ScoreWeights `json:"weights,omitempty"`
}

// Tiers are priced as multiples of the list price (see meter.TierBPS) and
// decide what preemption may stop (see internal/sched): spot work by equal
// or higher priority, normal work by higher priority, guaranteed never.
const (
	TierSpot       = "spot"
	TierNormal     = "normal"
	TierGuaranteed = "guaranteed"
)

// Tiers lists the tiers, cheapest first.
var Tiers = []string{TierSpot, TierNormal, TierGuaranteed}

// Validate checks the spec's fields and bounds. It does not check that a
// center can run it; the scheduler does that.
func (s *JobSpec) Validate() error {
	if len(s.Name) > JobNameLenMax {
		return FieldErrorf("name", "longer than %d bytes", JobNameLenMax)
	}
	if len(s.Replicas) == 0 {
		return FieldErrorf("replicas", "at least one replica is required")
	}
	if len(s.Replicas) > ReplicasMax {
		return FieldErrorf("replicas", "at most %d replicas", ReplicasMax)
	}
	for i, r := range s.Replicas {
		f := fmt.Sprintf("replicas[%d]", i)
		switch {
		case r.AccelCount < 0 || r.AccelCount > AccelCountMax:
			return FieldErrorf(f+".accel_count", "must be between 0 and %d", AccelCountMax)
		case r.CPUMilli <= 0 || r.CPUMilli > CPUMilliMax:
			return FieldErrorf(f+".cpu_milli", "must be between 1 and %d", CPUMilliMax)
		case r.MemMiB <= 0 || r.MemMiB > MemMiBMax:
			return FieldErrorf(f+".mem_mib", "must be between 1 and %d", MemMiBMax)
		case len(r.AccelModels) > AcceptableModelsMax:
			return FieldErrorf(f+".accel_models", "at most %d models", AcceptableModelsMax)
		case len(r.AccelModels) > 0 && r.AccelCount == 0:
			return FieldErrorf(f+".accel_count", "must be positive when accel_models is set")
		}
		for _, m := range r.AccelModels {
			if _, ok := LookupAccelerator(m); !ok {
				return FieldErrorf(f+".accel_models", "unknown accelerator model %q", m)
			}
		}
	}
	if s.Command == "" && s.Duration == 0 {
		return FieldErrorf("command", "a command (for real centers) or a declared duration (for simulated centers) is required")
	}
	if len(s.IdempotencyKey) > 128 {
		return FieldErrorf("idempotency_key", "longer than 128 bytes")
	}
	if len(s.Command) > CommandLenMax {
		return FieldErrorf("command", "longer than %d bytes", CommandLenMax)
	}
	if strings.ContainsRune(s.Command, 0) {
		return FieldErrorf("command", "contains a NUL byte")
	}
	if s.MaxDuration <= 0 || s.MaxDuration > MaxDurationMax {
		return FieldErrorf("max_duration", "must be positive and at most %s", MaxDurationMax)
	}
	if s.Duration < 0 || s.Duration > MaxDurationMax {
		return FieldErrorf("duration", "must be between 0 and %s", MaxDurationMax)
	}
	if s.ExitCode < 0 || s.ExitCode > 255 {
		return FieldErrorf("exit_code", "must be between 0 and 255")
	}
	if s.Priority < PriorityMin || s.Priority > PriorityMax {
		return FieldErrorf("priority", "must be between %d and %d", PriorityMin, PriorityMax)
	}
	if s.PriorityClass != "" {
		if err := ValidatePriorityClassName("priority_class", s.PriorityClass); err != nil {
			return err
		}
	}
	if s.Tier != "" && s.Tier != TierSpot && s.Tier != TierNormal && s.Tier != TierGuaranteed {
		return FieldErrorf("tier", "must be spot, normal or guaranteed")
	}
	if s.Constraints.Kind != "" && !s.Constraints.Kind.Valid() {
		return FieldErrorf("constraints.kind", "must be one of ai, hpc, general")
	}
	if s.MaxAttempts < 0 || s.MaxAttempts > MaxAttempts {
		return FieldErrorf("max_attempts", "must be between 0 and %d", MaxAttempts)
	}
	if err := s.Data.Validate(); err != nil {
		return err
	}
	if s.Weights != nil {
		if err := s.Weights.Validate("weights"); err != nil {
			return err
		}
	}
	return nil
}

// Attempts is how many attempts the job may have in all.
func (s *JobSpec) Attempts() int {
	if s.MaxAttempts == 0 {
		return DefaultAttempts
	}
	return s.MaxAttempts
}

// Job is a batch job: a gang of replicas that start together.
type Job struct {
	ID          string   `json:"id"`
	Seq         int64    `json:"seq"` // submission order, for FIFO
	TenantOrgID string   `json:"tenant_org_id"`
	Spec        JobSpec  `json:"spec"`
	State       JobState `json:"state"`
	CenterID    string   `json:"center_id,omitempty"`
	Attempt     int      `json:"attempt"`
	Preemptions int      `json:"preemptions,omitempty"` // attempts ended by preemption (not counted by max_attempts)
	// WaitsFor is the job that last preempted this one: it starts first
	// (until WaitsUntil at the latest).
	WaitsFor   string     `json:"waits_for,omitempty"`
	WaitsUntil *time.Time `json:"waits_until,omitempty"`
	BackendID  string     `json:"backend_id,omitempty"` // the run's id in the center's own system (Slurm job id, Kubernetes Job)
	// CancelRequested: the tenant asked to cancel and the run is being
	// stopped.
	CancelRequested bool        `json:"cancel_requested,omitempty"`
	HoldMicros      Micros      `json:"hold_micros"` // amount of the current hold
	HoldSeq         int         `json:"hold_seq"`    // rolling holds are numbered from 0
	CostMicros      Micros      `json:"cost_micros"` // charged so far (all of it once the job ended)
	Charges         Charges     `json:"charges"`
	UsageMs         int64       `json:"usage_ms"` // wall time of the gang, summed over replicas
	ExitCode        *int        `json:"exit_code,omitempty"`
	Reason          string      `json:"reason,omitempty"` // why it is pending, or why it ended
	Placements      []Placement `json:"placements,omitempty"`
	SubmittedAt     time.Time   `json:"submitted_at"`
	ScheduledAt     *time.Time  `json:"scheduled_at,omitempty"`
	StartedAt       *time.Time  `json:"started_at,omitempty"`
	FinishedAt      *time.Time  `json:"finished_at,omitempty"`
}

// Charges is how a job's cost so far was paid and split. Paid: voucher +
// wallet (+ arrears when a wallet could not cover usage beyond its hold);
// split: VAT + commission + provider = cost.
type Charges struct {
	VoucherMicros    Micros `json:"voucher_micros"`
	VoucherSchemeID  string `json:"voucher_scheme_id,omitempty"`
	ArrearsMicros    Micros `json:"arrears_micros"`
	VATMicros        Micros `json:"vat_micros"`
	CommissionMicros Micros `json:"commission_micros"`
	ProviderMicros   Micros `json:"provider_micros"`
	CaptureSeq       int    `json:"capture_seq"`
}

// Placement assigns replica Index of a job to a node, with the accelerator
// model it got there.
type Placement struct {
	Index      int    `json:"index"`
	NodeID     string `json:"node_id"`
	NodeName   string `json:"node_name,omitempty"`
	AccelModel string `json:"accel_model,omitempty"`
	ExitCode   *int   `json:"exit_code,omitempty"`
	UsageMs    int64  `json:"usage_ms"`
	RateScaled int64  `json:"rate_scaled"` // price per hour x RateScale, fixed at placement
}

// Event is one entry of a job's history.
type Event struct {
	JobID   string    `json:"job_id"`
	At      time.Time `json:"at"`
	Type    string    `json:"type"`
	Message string    `json:"message"`
}

// Package backend describes a center's own workload system (Slurm,
// Kubernetes, local processes) as the suanli agent drives it. The agent
// owns no state of its own: every run it submits carries its Key in the
// backend (Slurm job name and comment, Kubernetes labels), so after a
// restart the agent rebuilds what runs from the backend itself.
package backend

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/suanli/suanli/internal/core"
)

// Key names one attempt of a suanli job. A job requeued elsewhere gets a
// new attempt, so a backend can tell a stale run from the current one.
type Key struct {
	JobID   string
	Attempt int
}

// keyPrefix marks names the agent made, so it never touches other work.
const keyPrefix = "suanli."

// String is the run's name in the backend: "suanli.<job id>.<attempt>".
// It is a valid Slurm job name and Kubernetes label value (job ids are
// lower-case alphanumerics and dashes).
func (k Key) String() string { return fmt.Sprintf("%s%s.%d", keyPrefix, k.JobID, k.Attempt) }

// ParseKey reads a name made by Key.String.
func ParseKey(s string) (Key, bool) {
	rest, ok := strings.CutPrefix(s, keyPrefix)
	if !ok {
		return Key{}, false
	}
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return Key{}, false
	}
	a, err := strconv.Atoi(rest[i+1:])
	if err != nil || a < 0 {
		return Key{}, false
	}
	return Key{JobID: rest[:i], Attempt: a}, true
}

// Run is one attempt the agent asks the backend to run. Replicas form a
// gang: all start together in one allocation or none does. Placements
// name the nodes suanli's scheduler chose; backends treat them as hints
// (the center's own scheduler places within the center).
type Run struct {
	Key        Key
	TenantID   string // the tenant org; Kubernetes namespaces per tenant
	Spec       core.JobSpec
	Placements []core.Placement
}

// State of a run in the backend.
type State string

// Run states. Pending means accepted by the backend but not started.
const (
	Pending   State = "pending"
	Running   State = "running"
	Succeeded State = "succeeded"
	Failed    State = "failed"
	Cancelled State = "cancelled"
	TimedOut  State = "timed_out"
)

// Terminal reports whether the run has ended.
func (s State) Terminal() bool {
	return s == Succeeded || s == Failed || s == Cancelled || s == TimedOut
}

// ReplicaStatus is one replica's end and usage.
type ReplicaStatus struct {
	Index    int  `json:"index"`
	ExitCode *int `json:"exit_code,omitempty"`
	// WallMs is how long the replica has run so far (or ran), from the
	// backend's own accounting where it has one.
	WallMs int64 `json:"wall_ms"`
}

// Status is what the backend knows of one run.
type Status struct {
	Key       Key
	BackendID string // Slurm job id, Kubernetes Job name, process group id
	State     State
	Reason    string // the backend's words for why it is pending or how it ended
	StartedAt time.Time
	EndedAt   time.Time
	ExitCode  *int // the run's exit code (first failing replica), when it ended
	Replicas  []ReplicaStatus
}

// Node is one machine as the backend reports it.
type Node struct {
	Name       string
	CPUMilli   int64
	MemMiB     int64
	AccelModel string // catalog name (core.Catalog), empty when none
	AccelCount int64
	Ready      bool   // schedulable: not drained, down or cordoned
	Reason     string // why not ready, in the backend's words
}

// Backend is a center's workload system.
type Backend interface {
	// Nodes lists the center's nodes with their capacity and state.
	Nodes(ctx context.Context) ([]Node, error)
	// Submit starts a run. It is idempotent by Key: when the backend
	// already has a run with this key it returns that run's id.
	Submit(ctx context.Context, r Run) (backendID string, err error)
	// Runs lists every run with a suanli key the backend knows, active
	// and recently ended (until Forget).
	Runs(ctx context.Context) ([]Status, error)
	// Cancel stops a run; unknown or ended runs are not an error.
	Cancel(ctx context.Context, k Key) error
	// Logs returns the run's output, each replica's cut to its last
	// maxBytes, several replicas under "==> replica N <==" headers.
	Logs(ctx context.Context, k Key, maxBytes int) (string, error)
	// Forget drops an ended run's records once suanli has settled it.
	Forget(ctx context.Context, k Key) error
}

// Package agentproto is the wire protocol between `suanli agent` and the
// server. The agent pulls: each sync reports everything the center's
// system runs for suanli and gets back what to start, cancel, forget and
// upload logs for. Reports are whole, not deltas, so a lost or repeated
// sync changes nothing and a restarted agent needs no state of its own.
package agentproto

import (
	"time"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
)

// Limits of one sync.
const (
	RunsMax      = 10_000  // runs reported in one sync
	NodesMax     = 100_000 // nodes reported in one sync
	BodyBytesMax = 32 << 20
	// LogBytesMax bounds one log upload (the tail is kept).
	LogBytesMax = 1 << 20
	// MissedHeartbeats is how many sync intervals the server waits before
	// it gives a silent center's work to others.
	MissedHeartbeats = 3
)

// SyncRequest is one heartbeat with the agent's full report.
type SyncRequest struct {
	Backend    string `json:"backend" enum:"local,slurm,kubernetes" doc:"The center's system."`
	IntervalMs int64  `json:"interval_ms" minimum:"100" maximum:"600000" doc:"The agent's sync interval; the center is declared lost after 3 intervals without a sync."`
	// Nodes is the full node list; omitted (null) when unchanged since the
	// agent's last successful sync.
	Nodes []Node      `json:"nodes,omitempty" maxItems:"100000"`
	Runs  []RunReport `json:"runs" maxItems:"10000" doc:"Every run with a suanli key the center's system knows."`
}

// Node is one machine of the center as its system reports it.
type Node struct {
	Name       string `json:"name" minLength:"1" maxLength:"253"`
	CPUMilli   int64  `json:"cpu_milli"`
	MemMiB     int64  `json:"mem_mib"`
	AccelModel string `json:"accel_model,omitempty" doc:"Catalog name of the accelerator model."`
	AccelCount int64  `json:"accel_count"`
	Ready      bool   `json:"ready"`
	Reason     string `json:"reason,omitempty" maxLength:"1024"`
}

// RunReport is one run as the center's system sees it.
type RunReport struct {
	JobID     string                  `json:"job_id" minLength:"1" maxLength:"128"`
	Attempt   int                     `json:"attempt" minimum:"0"`
	BackendID string                  `json:"backend_id,omitempty" maxLength:"256"`
	State     backend.State           `json:"state" enum:"pending,running,succeeded,failed,cancelled,timed_out"`
	Reason    string                  `json:"reason,omitempty" maxLength:"4096"`
	StartedAt *time.Time              `json:"started_at,omitempty"`
	EndedAt   *time.Time              `json:"ended_at,omitempty"`
	ExitCode  *int                    `json:"exit_code,omitempty"`
	Replicas  []backend.ReplicaStatus `json:"replicas,omitempty" maxItems:"1024"`
}

// SyncResponse tells the agent what to do.
type SyncResponse struct {
	CenterID     string     `json:"center_id"`
	CenterStatus string     `json:"center_status"`
	Start        []RunOrder `json:"start" doc:"Runs to submit (idempotent by key)."`
	Cancel       []RunRef   `json:"cancel" doc:"Runs to stop: cancelled by their tenant, or no longer expected here."`
	Forget       []RunRef   `json:"forget" doc:"Ended runs suanli has settled; the agent may drop their records."`
	Logs         []RunRef   `json:"logs" doc:"Runs whose logs someone asked for; upload them."`
}

// RunOrder is a run to submit.
type RunOrder struct {
	JobID      string           `json:"job_id"`
	Attempt    int              `json:"attempt"`
	TenantID   string           `json:"tenant_id"`
	Spec       core.JobSpec     `json:"spec"`
	Placements []core.Placement `json:"placements"`
}

// RunRef names one run.
type RunRef struct {
	JobID   string `json:"job_id"`
	Attempt int    `json:"attempt"`
	Reason  string `json:"reason,omitempty"`
}

// Key is the run's backend key.
func (r RunRef) Key() backend.Key { return backend.Key{JobID: r.JobID, Attempt: r.Attempt} }

// Key is the run's backend key.
func (r RunOrder) Key() backend.Key { return backend.Key{JobID: r.JobID, Attempt: r.Attempt} }

// LogUpload carries a run's logs.
type LogUpload struct {
	JobID   string `json:"job_id" minLength:"1" maxLength:"128"`
	Attempt int    `json:"attempt" minimum:"0"`
	Text    string `json:"text" maxLength:"1048576"`
}

// Package agent joins a center's own system (Slurm, Kubernetes, local
// processes) to suanli. It pulls: every interval it reports the center's
// nodes and every suanli run the system knows, and does what the server
// answers (start, cancel, forget, upload logs). It keeps no state that a
// restart could lose: runs carry their key in the backend, so the next
// report after a restart rebuilds everything.
package agent

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/suanli/suanli/internal/agentproto"
	"github.com/suanli/suanli/internal/backend"
)

// Limits.
const (
	DefaultInterval = 2 * time.Second
	BackoffMax      = 30 * time.Second
	// UploadedMax bounds the set of ended runs whose final logs went up.
	UploadedMax = agentproto.RunsMax
)

// Server is what the agent needs from the suanli server.
type Server interface {
	AgentSync(ctx context.Context, center string, req agentproto.SyncRequest) (agentproto.SyncResponse, error)
	UploadLogs(ctx context.Context, center string, u agentproto.LogUpload) error
}

// Agent syncs one center.
type Agent struct {
	Server      Server
	Center      string
	Backend     backend.Backend
	BackendName string // local, slurm or kubernetes
	Interval    time.Duration
	Log         *slog.Logger

	nodesHash string               // of the last node list the server accepted
	uploaded  map[backend.Key]bool // ended runs whose final logs went up
	lastTook  time.Duration        // how long the last sync took
}

// Run syncs until ctx ends. Errors are logged and retried with backoff; a
// center whose agent cannot sync is declared lost by the server after
// three intervals, which is the point: its work goes elsewhere.
func (a *Agent) Run(ctx context.Context) error {
	interval := a.interval()
	failures := 0
	for {
		next := interval
		busy, err := a.SyncOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failures++
			next = min(interval<<min(failures, 5), BackoffMax)
			a.Log.Warn("sync failed", "center", a.Center, "err", err, "retry_in", next)
		default:
			failures = 0
			if busy {
				next = interval / 4 // report the runs it just started soon
			}
		}
		t := time.NewTimer(next)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

func (a *Agent) interval() time.Duration {
	if a.Interval <= 0 {
		return DefaultInterval
	}
	return a.Interval
}

// SyncOnce reports once and carries out the answer. busy says it started
// or cancelled runs.
func (a *Agent) SyncOnce(ctx context.Context) (busy bool, err error) {
	if a.uploaded == nil {
		a.uploaded = map[backend.Key]bool{}
	}
	t0 := time.Now()
	defer func() { a.lastTook = time.Since(t0) }()
	runs, err := a.Backend.Runs(ctx)
	if err != nil {
		// Without the backend the agent cannot vouch for any run; staying
		// silent lets the server move the work.
		return false, fmt.Errorf("list runs: %w", err)
	}
	if len(runs) > agentproto.RunsMax {
		return false, fmt.Errorf("the backend reports %d runs, more than %d", len(runs), agentproto.RunsMax)
	}
	// The server waits 3 periods for the next sync; a period is the
	// interval plus the time a sync takes (a busy Slurm controller can
	// take seconds to answer).
	period := a.interval() + a.lastTook
	req := agentproto.SyncRequest{Backend: a.BackendName, IntervalMs: period.Milliseconds(), Runs: make([]agentproto.RunReport, 0, len(runs))}
	for _, r := range runs {
		if r.State.Terminal() && !a.uploaded[r.Key] {
			// Final logs go up before the end is reported, so a job never
			// reads as ended without its output.
			a.upload(ctx, r.Key)
			if len(a.uploaded) < UploadedMax {
				a.uploaded[r.Key] = true
			}
		}
		req.Runs = append(req.Runs, report(r))
	}
	nodes, err := a.Backend.Nodes(ctx)
	var hash string
	if err != nil {
		a.Log.Warn("list nodes; keeping the last list", "center", a.Center, "err", err)
	} else {
		hash = nodesHash(nodes)
		if hash != a.nodesHash {
			req.Nodes = make([]agentproto.Node, 0, len(nodes))
			for _, n := range nodes {
				req.Nodes = append(req.Nodes, agentproto.Node{Name: n.Name, CPUMilli: n.CPUMilli, MemMiB: n.MemMiB,
					AccelModel: n.AccelModel, AccelCount: n.AccelCount, Ready: n.Ready, Reason: n.Reason})
			}
		}
	}
	resp, err := a.Server.AgentSync(ctx, a.Center, req)
	if err != nil {
		return false, fmt.Errorf("sync: %w", err)
	}
	if req.Nodes != nil {
		a.nodesHash = hash
	}
	acted := 0 // runs started or cancelled: report their new state soon
	for _, c := range resp.Cancel {
		if err := a.Backend.Cancel(ctx, c.Key()); err != nil {
			a.Log.Error("cancel", "run", c.Key().String(), "err", err)
			continue
		}
		acted++
		a.Log.Info("cancelled", "run", c.Key().String(), "why", c.Reason)
	}
	for _, s := range resp.Start {
		id, err := a.Backend.Submit(ctx, backend.Run{Key: s.Key(), TenantID: s.TenantID, Spec: s.Spec, Placements: s.Placements})
		if err != nil {
			// The server sends it again next sync; a spec the backend can
			// never run stays pending there with this error in the log.
			a.Log.Error("submit", "run", s.Key().String(), "err", err)
			continue
		}
		acted++
		a.Log.Info("submitted", "run", s.Key().String(), "backend_id", id)
	}
	for _, f := range resp.Forget {
		if err := a.Backend.Forget(ctx, f.Key()); err != nil {
			a.Log.Warn("forget", "run", f.Key().String(), "err", err)
			continue
		}
		delete(a.uploaded, f.Key())
	}
	for _, l := range resp.Logs {
		a.upload(ctx, l.Key())
	}
	a.Log.Debug("synced", "center", a.Center, "runs", len(req.Runs), "took", time.Since(t0))
	return acted > 0, nil
}

func (a *Agent) upload(ctx context.Context, k backend.Key) {
	text, err := a.Backend.Logs(ctx, k, agentproto.LogBytesMax)
	if err != nil {
		text = fmt.Sprintf("suanli agent: cannot read logs from %s: %v\n", a.BackendName, err)
	}
	if len(text) > agentproto.LogBytesMax {
		text = text[len(text)-agentproto.LogBytesMax:]
	}
	// A stale run's upload is refused (404/409); that is expected and the
	// end report that follows sorts it out.
	if err := a.Server.UploadLogs(ctx, a.Center, agentproto.LogUpload{JobID: k.JobID, Attempt: k.Attempt, Text: text}); err != nil {
		a.Log.Debug("upload logs", "run", k.String(), "err", err)
	}
}

func report(s backend.Status) agentproto.RunReport {
	r := agentproto.RunReport{JobID: s.Key.JobID, Attempt: s.Key.Attempt, BackendID: s.BackendID, State: s.State,
		Reason: s.Reason, ExitCode: s.ExitCode, Replicas: s.Replicas}
	if len(r.Reason) > 4096 {
		r.Reason = r.Reason[:4096]
	}
	if !s.StartedAt.IsZero() {
		t := s.StartedAt
		r.StartedAt = &t
	}
	if !s.EndedAt.IsZero() {
		t := s.EndedAt
		r.EndedAt = &t
	}
	return r
}

func nodesHash(nodes []backend.Node) string {
	sorted := append([]backend.Node(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	raw, _ := json.Marshal(sorted) // plain structs: cannot fail
	sum := sha256.Sum256(raw)
	return fmt.Sprintf("%x", sum)
}

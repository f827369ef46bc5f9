// Package slurm is the backend for centers that run Slurm. It drives
// Slurm through its command-line tools (sbatch, squeue, scancel, scontrol,
// sacct), whose text formats have stayed stable across releases, unlike
// the REST and JSON schemas. The tools run on the agent's host or, through
// ssh, on a login node.
//
// A run is one batch job named and commented with its key
// ("suanli.<job>.<attempt>"); its files (batch script, one log and one
// exit-code file per replica) live in <WorkDir>/<key>, which must be on a
// file system the compute nodes share with the agent.
//
// What the backend knows of ended runs comes from squeue while Slurm keeps
// them in memory (MinJobAge, 300 s by default), then from the jobcomp/filetxt
// log when the agent can read it, and from sacct when the cluster has
// accounting. A cluster with neither forgets a run MinJobAge after it ends.
package slurm

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
)

var _ backend.Backend = (*Backend)(nil)

// Bounds on what one call reads and returns.
const (
	// RunsMax bounds the runs Runs returns and the ended jobs the backend
	// remembers from the jobcomp log.
	RunsMax = 10_000
	// NodesMax bounds the nodes Nodes returns.
	NodesMax = 65_536
	// squeueLinesMax bounds the squeue lines read: every job of the
	// cluster, not only suanli's, is listed.
	squeueLinesMax = 1_000_000
	// SacctWindow is how far back sacct looks for ended runs.
	SacctWindow = 7 * 24 * time.Hour
	// LogBytesDefault is the per-replica log cut when Logs is given no
	// positive maxBytes.
	LogBytesDefault = 1 << 20
)

// Options configure a Backend. WorkDir is required.
type Options struct {
	// Runner runs the CLI; nil means Exec{} (local commands, default
	// SLURM_CONF).
	Runner Runner
	// Partition, when set, is where runs go, and Nodes lists only its
	// nodes.
	Partition string
	// WorkDir holds one directory per run: an absolute path that is the
	// same on the agent's host and on the compute nodes.
	WorkDir string
	// GresModels maps Slurm GRES types to catalog models ("a100" → "A100").
	// Types not listed match catalog names case-insensitively.
	GresModels map[string]string
	// DefaultGPUModel is the catalog model of untyped GPUs ("gpu:4").
	DefaultGPUModel string
	// JobCompLog is the jobcomp/filetxt file as the agent's host sees it.
	// Empty means: the cluster's JobCompLoc when the runner is local Exec
	// and the cluster uses jobcomp/filetxt, else none.
	JobCompLog string
	// Location is the slurmctld host's time zone, in which Slurm prints
	// times; nil means time.Local.
	Location *time.Location
}

// Backend is a Slurm cluster. It is safe for concurrent use.
type Backend struct {
	runner          Runner
	partition       string
	workDir         string
	gresModels      map[string]string // lower-case GRES type → catalog model
	modelTypes      map[string]string // catalog model → GRES type, from GresModels
	defaultGPUModel string
	jobCompLog      string
	loc             *time.Location

	submitMu sync.Mutex // one Submit at a time, so a key is looked up and submitted atomically

	configMu sync.Mutex
	config   *slurmConfig // read once; nil until then
	jobComp  *jobComp     // nil when no jobcomp log is readable

	sacctMu   sync.Mutex
	sacctAt   time.Time // when sacctRecs were read
	sacctRecs []record  // the last full sacct listing
}

// New returns a Backend for the cluster the options describe. It does not
// contact Slurm; the first call that needs the cluster's configuration
// reads it.
func New(o Options) (*Backend, error) {
	if !filepath.IsAbs(o.WorkDir) {
		return nil, core.FieldErrorf("work_dir", "must be an absolute path, got %q", o.WorkDir)
	}
	if strings.ContainsAny(o.WorkDir, "%\n") {
		// sbatch and srun expand %j, %t, ... in output paths.
		return nil, core.FieldErrorf("work_dir", "must not contain %% or a newline, got %q", o.WorkDir)
	}
	if o.DefaultGPUModel != "" {
		if _, ok := core.LookupAccelerator(o.DefaultGPUModel); !ok {
			return nil, core.FieldErrorf("default_gpu_model", "unknown accelerator model %q", o.DefaultGPUModel)
		}
	}
	b := &Backend{
		runner:          o.Runner,
		partition:       o.Partition,
		workDir:         filepath.Clean(o.WorkDir),
		gresModels:      map[string]string{},
		modelTypes:      map[string]string{},
		defaultGPUModel: o.DefaultGPUModel,
		jobCompLog:      o.JobCompLog,
		loc:             o.Location,
	}
	if b.runner == nil {
		b.runner = Exec{}
	}
	if b.loc == nil {
		b.loc = time.Local
	}
	types := make([]string, 0, len(o.GresModels))
	for t := range o.GresModels {
		types = append(types, t)
	}
	sort.Strings(types) // several types of one model: the first name is asked for
	for _, t := range types {
		m := o.GresModels[t]
		if _, ok := core.LookupAccelerator(m); !ok {
			return nil, core.FieldErrorf("gres_models", "type %q: unknown accelerator model %q", t, m)
		}
		b.gresModels[strings.ToLower(t)] = m
		if _, ok := b.modelTypes[m]; !ok {
			b.modelTypes[m] = t
		}
	}
	return b, nil
}

func (b *Backend) run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	return b.runner.Run(ctx, stdin, name, args...)
}

// setup reads the cluster's configuration once: whether it has accounting
// (sacct) and where its jobcomp log is.
func (b *Backend) setup(ctx context.Context) (slurmConfig, *jobComp, error) {
	b.configMu.Lock()
	defer b.configMu.Unlock()
	if b.config != nil {
		return *b.config, b.jobComp, nil
	}
	out, err := b.run(ctx, nil, "scontrol", "show", "config")
	if err != nil {
		return slurmConfig{}, nil, err
	}
	c := parseConfig(out)
	path := b.jobCompLog
	if e, local := b.runner.(Exec); path == "" && local && e.SSHHost == "" {
		path = c.jobCompLog // the controller's own path is ours too
	}
	if path != "" {
		b.jobComp = newJobComp(path)
	}
	b.config = &c
	return c, b.jobComp, nil
}

// modelOf is the catalog model of GRES type t ("" when unknown).
func (b *Backend) modelOf(t string) string {
	if t == "" {
		return b.defaultGPUModel
	}
	if m, ok := b.gresModels[strings.ToLower(t)]; ok {
		return m
	}
	for _, a := range core.Catalog() {
		if strings.EqualFold(a.Name, t) {
			return a.Name
		}
	}
	return ""
}

// gpuType is the GRES type to ask for catalog model m: the configured
// type, none for the default model (untyped GPUs), else the model's name
// in lower case (the usual gres.conf spelling).
func (b *Backend) gpuType(m string) string {
	if t, ok := b.modelTypes[m]; ok {
		return t
	}
	if m == b.defaultGPUModel {
		return ""
	}
	return strings.ToLower(m)
}

// checkKey rejects keys that are not safe as a file name, a Slurm job
// name and an --export value (no slash, comma, space or quote).
func checkKey(k backend.Key) error {
	if k.JobID == "" || len(k.JobID) > 128 || k.Attempt < 0 {
		return core.FieldErrorf("key", "invalid run key %q", k.String())
	}
	for i := 0; i < len(k.JobID); i++ {
		c := k.JobID[i]
		if !(isLetter(c) || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return core.FieldErrorf("key", "run key %q: job id may hold letters, digits, '-', '_' and '.' only", k.String())
		}
	}
	return nil
}

func (b *Backend) runDir(k backend.Key) string { return filepath.Join(b.workDir, k.String()) }

// Nodes lists the cluster's nodes (the partition's when one is set) from
// `scontrol show node -o`. GPUs are the node's gpu GRES whose type maps to
// a catalog model; a node with several models reports the one it has most
// of.
func (b *Backend) Nodes(ctx context.Context) ([]backend.Node, error) {
	out, err := b.run(ctx, nil, "scontrol", "show", "node", "--oneliner")
	if err != nil {
		return nil, err
	}
	var nodes []backend.Node
	for _, n := range parseNodes(out, NodesMax) {
		if b.partition != "" && !contains(n.partitions, b.partition) {
			continue
		}
		node := backend.Node{
			Name:     n.name,
			CPUMilli: n.cpus * 1000,
			MemMiB:   n.memMiB,
			Ready:    nodeReady(n.state),
		}
		node.AccelModel, node.AccelCount = b.accelerators(n.gres)
		if !node.Ready {
			node.Reason = n.reason
			if node.Reason == "" {
				node.Reason = "slurm state " + n.state
			}
		}
		nodes = append(nodes, node)
	}
	return nodes, nil
}

func (b *Backend) accelerators(gs []gres) (model string, count int64) {
	byModel := map[string]int64{}
	var order []string
	for _, g := range gs {
		m := b.modelOf(g.typ)
		if g.name != "gpu" || m == "" {
			continue
		}
		if _, ok := byModel[m]; !ok {
			order = append(order, m)
		}
		byModel[m] += g.count
	}
	for _, m := range order {
		if byModel[m] > count {
			model, count = m, byModel[m]
		}
	}
	return model, count
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Submit starts run r as one batch job, or returns the job that already
// has r's key: the one recorded in the run's directory, one Slurm still
// lists, or one the jobcomp log or accounting recorded. Without jobcomp
// and accounting, a run whose directory was removed (Forget) and that
// Slurm no longer lists is submitted again.
func (b *Backend) Submit(ctx context.Context, r backend.Run) (string, error) {
	if err := checkKey(r.Key); err != nil {
		return "", err
	}
	if err := r.Spec.Validate(); err != nil {
		return "", err
	}
	b.submitMu.Lock()
	defer b.submitMu.Unlock()
	id, found, err := b.find(ctx, r.Key)
	if err != nil || found {
		return id, err
	}
	dir := b.runDir(r.Key)
	// Whatever is there is left from a submission that never reached
	// Slurm (no job id was recorded and Slurm has none).
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("slurm: run dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("slurm: run dir: %w", err)
	}
	sub := buildSubmission(r, dir, b.partition, b.gpuType)
	if err := writeFiles(dir, map[string]string{
		scriptFile:   sub.script,
		replicasFile: strconv.Itoa(len(r.Spec.Replicas)) + "\n",
	}); err != nil {
		return "", err
	}
	out, err := b.run(ctx, []byte(sub.script), "sbatch", sub.args...)
	if err != nil {
		return "", err
	}
	id, err = parseJobID(out)
	if err != nil {
		return "", err
	}
	// The id makes a retried Submit idempotent even after Slurm and its
	// logs have forgotten the job.
	if err := writeFiles(dir, map[string]string{jobIDFile: id + "\n"}); err != nil {
		return "", err
	}
	return id, nil
}

// jobIDFile records the Slurm job id of a submitted run.
const jobIDFile = "job-id"

func writeFiles(dir string, files map[string]string) error {
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("slurm: run dir: %w", err)
		}
	}
	return nil
}

// find looks for a Slurm job that already carries key k.
func (b *Backend) find(ctx context.Context, k backend.Key) (id string, found bool, err error) {
	if data, err := os.ReadFile(filepath.Join(b.runDir(k), jobIDFile)); err == nil {
		if id := strings.TrimSpace(string(data)); id != "" {
			return id, true, nil
		}
	}
	recs, err := b.squeue(ctx, k.String())
	if err != nil {
		return "", false, err
	}
	if len(pick(recs)) == 0 { // only then ask the slower sources
		ended, err := b.ended(ctx, k.String())
		if err != nil {
			return "", false, err
		}
		recs = ended
	}
	best, ok := pick(recs)[k]
	if !ok {
		return "", false, nil
	}
	return best.jobID, true, nil
}

// squeue lists the suanli jobs Slurm holds in memory, active and recently
// ended; name, when set, narrows it to one key.
func (b *Backend) squeue(ctx context.Context, name string) ([]record, error) {
	args := []string{"--noheader", "--states=all", "--Format=" + squeueFormat}
	if name != "" {
		args = append(args, "--name="+name)
	}
	if b.partition != "" {
		args = append(args, "--partition="+b.partition)
	}
	out, err := b.run(ctx, nil, "squeue", args...)
	if err != nil {
		return nil, err
	}
	return parseSqueue(out, b.loc, squeueLinesMax), nil
}

// ended lists suanli jobs that ended, from the jobcomp log and from
// accounting, where the cluster has them; name, when set, narrows it to
// one key.
func (b *Backend) ended(ctx context.Context, name string) ([]record, error) {
	cfg, jc, err := b.setup(ctx)
	if err != nil {
		return nil, err
	}
	var recs []record
	if jc != nil {
		if err := jc.refresh(b.loc); err != nil {
			return nil, err
		}
		if name == "" {
			recs = jc.records()
		} else if r, ok := jc.lookup(name); ok {
			recs = append(recs, r)
		}
	}
	if cfg.accounting {
		acct, err := b.sacct(ctx, name, sacctRefresh(cfg.minJobAge))
		if err != nil {
			return nil, err
		}
		recs = append(recs, acct...)
	}
	return recs, nil
}

// sacctRefreshMax bounds how long a full sacct listing is reused.
const sacctRefreshMax = time.Minute

// sacctRefresh is how long a full sacct listing may be reused: squeue
// lists ended jobs for MinJobAge, so accounting only has to catch them
// before then. Half of it leaves room for slurmdbd's own lag.
func sacctRefresh(minJobAge time.Duration) time.Duration {
	if minJobAge < 0 {
		return 0
	}
	return min(minJobAge/2, sacctRefreshMax)
}

// sacct lists suanli jobs from accounting over the last SacctWindow; with
// a name, only that key's (never cached: Submit must not miss a job).
func (b *Backend) sacct(ctx context.Context, name string, reuse time.Duration) ([]record, error) {
	if name == "" {
		b.sacctMu.Lock()
		defer b.sacctMu.Unlock()
		if !b.sacctAt.IsZero() && time.Since(b.sacctAt) < reuse {
			return b.sacctRecs, nil
		}
	}
	args := []string{"--noheader", "--parsable2", "--allocations", "--format=" + sacctFormat,
		"--starttime=now-" + strconv.Itoa(int(SacctWindow/time.Hour)) + "hours", "--endtime=now"}
	if name != "" {
		args = append(args, "--name="+name)
	}
	if b.partition != "" {
		args = append(args, "--partition="+b.partition)
	}
	out, err := b.run(ctx, nil, "sacct", args...)
	if err != nil {
		return nil, err
	}
	recs := parseSacct(out, b.loc, squeueLinesMax)
	if name == "" {
		b.sacctAt, b.sacctRecs = time.Now(), recs
	}
	return recs, nil
}

// pick chooses one job per key: an active one over an ended one, then the
// newest (highest id). Several jobs per key only arise when one was
// submitted by hand or the idempotency records were lost.
func pick(recs []record) map[backend.Key]record {
	best := make(map[backend.Key]record, len(recs))
	for _, r := range recs {
		cur, ok := best[r.key]
		if !ok || better(r, cur) {
			best[r.key] = r
		}
	}
	return best
}

func better(a, b record) bool {
	aActive, bActive := !stateOf(a.state).Terminal(), !stateOf(b.state).Terminal()
	if aActive != bActive {
		return aActive
	}
	ai, _ := strconv.ParseUint(a.jobID, 10, 64)
	bi, _ := strconv.ParseUint(b.jobID, 10, 64)
	if ai != bi {
		return ai > bi
	}
	// The same job from two sources: squeue comes last in the list and
	// knows the final exit code, so a later record of one job wins.
	return true
}

// Runs lists the suanli runs Slurm knows: every active one, and every
// ended one whose run directory is still there (Forget removes it, so a
// settled run is not reported again, even after an agent restart).
func (b *Backend) Runs(ctx context.Context) ([]backend.Status, error) {
	ended, err := b.ended(ctx, "")
	if err != nil {
		return nil, err
	}
	active, err := b.squeue(ctx, "")
	if err != nil {
		return nil, err
	}
	best := pick(append(ended, active...)) // squeue last: it wins ties
	keys := make([]backend.Key, 0, len(best))
	for k := range best {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, c := best[keys[i]], best[keys[j]]
		ai, _ := strconv.ParseUint(a.jobID, 10, 64)
		ci, _ := strconv.ParseUint(c.jobID, 10, 64)
		return ai > ci // newest first, so the bound drops the oldest
	})
	out := make([]backend.Status, 0, min(len(keys), RunsMax))
	for _, k := range keys {
		if len(out) == RunsMax {
			break
		}
		r := best[k]
		dir := b.runDir(k)
		if stateOf(r.state).Terminal() {
			if _, err := os.Stat(dir); err != nil {
				continue // forgotten, or not this agent's
			}
		}
		out = append(out, status(r, dir))
	}
	return out, nil
}

// status turns a record into a backend.Status, with per-replica exit codes
// from the files the replicas wrote in dir.
//
// Every replica of a gang starts with the allocation and is stopped with
// it, so each one's WallMs is the job's elapsed time as Slurm counts it.
// A replica's exit code is the one it recorded; when the file is missing
// (the replica was killed, or the file system is not shared) it is 0 for
// a job that succeeded, the job's code for a one-replica job that failed,
// else unset (a cancelled or timed-out replica did not exit on its own).
func status(r record, dir string) backend.Status {
	st := backend.Status{
		Key:       r.key,
		BackendID: r.jobID,
		State:     stateOf(r.state),
		Reason:    r.reason,
		StartedAt: r.start,
		EndedAt:   r.end,
	}
	terminal := st.State.Terminal()
	var exit *int
	if terminal && r.exit.known {
		exit = intp(r.exit.code)
		if r.exit.code == 0 && r.exit.signal != 0 {
			exit = intp(128 + r.exit.signal) // the shell convention, as the local executor reports
		}
		st.ExitCode = exit
	}
	st.Reason = reason(r, terminal)
	tasks := r.tasks
	if tasks <= 0 {
		tasks = readReplicas(dir)
	}
	wall := r.wall
	if wall < 0 && !r.start.IsZero() && !r.end.IsZero() {
		wall = r.end.Sub(r.start)
	}
	for i := 0; i < tasks; i++ {
		rs := backend.ReplicaStatus{Index: i, WallMs: max(wall, 0).Milliseconds()}
		if terminal {
			rs.ExitCode = readExit(filepath.Join(dir, replicaExit(i)))
			switch {
			case rs.ExitCode != nil:
			case st.State == backend.Succeeded:
				rs.ExitCode = intp(0)
			case tasks == 1 && st.State == backend.Failed:
				rs.ExitCode = exit
			}
		}
		st.Replicas = append(st.Replicas, rs)
	}
	return st
}

// reason is Slurm's reason, with what the backend state does not say: the
// exact Slurm state where several map to one, and a killing signal.
func reason(r record, terminal bool) string {
	var parts []string
	switch r.state {
	case "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "PREEMPTED", "SPECIAL_EXIT", "DEADLINE", "REVOKED",
		"SUSPENDED", "STOPPED", "REQUEUED", "REQUEUE_HOLD", "RESV_DEL_HOLD":
		parts = append(parts, "slurm state "+r.state)
	}
	if r.reason != "" {
		parts = append(parts, r.reason)
	}
	if terminal && r.exit.known && r.exit.signal != 0 {
		parts = append(parts, "killed by signal "+strconv.Itoa(r.exit.signal))
	}
	return strings.Join(parts, "; ")
}

// readReplicas is the gang size Submit recorded, 1 when unknown.
func readReplicas(dir string) int {
	data, err := os.ReadFile(filepath.Join(dir, replicasFile))
	if err != nil {
		return 1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || n < 1 || n > core.ReplicasMax {
		return 1
	}
	return n
}

func readExit(path string) *int {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || n < 0 || n > 255 {
		return nil
	}
	return &n
}

func intp(v int) *int { return &v }

// Cancel cancels every Slurm job named with k (`scancel --name`), which is
// a no-op when there is none or it ended.
func (b *Backend) Cancel(ctx context.Context, k backend.Key) error {
	if err := checkKey(k); err != nil {
		return err
	}
	args := []string{"--name=" + k.String()}
	if b.partition != "" {
		args = append(args, "--partition="+b.partition)
	}
	_, err := b.run(ctx, nil, "scancel", args...)
	return err
}

// Logs returns the run's replica logs, each cut to its last maxBytes
// (LogBytesDefault when maxBytes is not positive), under "==> replica N
// <==" headers when the gang has several replicas. When no replica has
// written a log yet it returns the batch step's output instead, where
// Slurm reports a step that could not start.
func (b *Backend) Logs(ctx context.Context, k backend.Key, maxBytes int) (string, error) {
	if err := checkKey(k); err != nil {
		return "", err
	}
	if maxBytes <= 0 {
		maxBytes = LogBytesDefault
	}
	dir := b.runDir(k)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return "", core.Errorf(core.ENotFound, "no logs for run %s", k)
	}
	replicas := readReplicas(dir)
	var sb strings.Builder
	logs := 0
	for i := 0; i < replicas; i++ {
		data, err := readTail(filepath.Join(dir, replicaLog(i)), int64(maxBytes))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("slurm: logs: %w", err)
		}
		if replicas > 1 {
			fmt.Fprintf(&sb, "==> replica %d <==\n", i)
		}
		sb.Write(data)
		logs++
	}
	if logs == 0 {
		data, err := readTail(filepath.Join(dir, batchLog), int64(maxBytes))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("slurm: logs: %w", err)
		}
		sb.Write(data)
	}
	return sb.String(), nil
}

func readTail(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(st.Size()-n, 0)
	buf := make([]byte, st.Size()-off)
	_, err = f.ReadAt(buf, off)
	return buf, err
}

// Forget removes an ended run's directory (its logs and records); Slurm
// drops its jobs on its own. A run Slurm still runs or queues is refused:
// its replicas still write there.
func (b *Backend) Forget(ctx context.Context, k backend.Key) error {
	if err := checkKey(k); err != nil {
		return err
	}
	recs, err := b.squeue(ctx, k.String())
	if err != nil {
		return err
	}
	for _, r := range recs {
		if r.key == k && !stateOf(r.state).Terminal() {
			return core.Errorf(core.EConflict, "run %s is still %s in slurm (job %s)", k, strings.ToLower(r.state), r.jobID)
		}
	}
	if err := os.RemoveAll(b.runDir(k)); err != nil {
		return fmt.Errorf("slurm: forget %s: %w", k, err)
	}
	return nil
}

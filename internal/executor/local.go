package executor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// Local runs each replica's command as a real child process with
// `/bin/sh -c`, in its own process group so that cancel and timeout kill
// everything the command started. Children are killed if the server dies
// (Pdeathsig), so a restart never leaves orphans running unbilled.
//
// CPU and memory requests are used for placement only; they are not
// enforced on the process (no cgroups on this path).
type Local struct {
	DataDir  string
	Outcomes chan<- Outcome

	mu      sync.Mutex
	runs    map[string]*localRun // by job ID
	stopped bool
}

type localRun struct {
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	start  map[int]time.Time
	wallMs map[int]int64 // set when a replica ends
}

var (
	errCancelled = errors.New("cancelled")
	errTimedOut  = errors.New("max duration reached")
	errGangPeer  = errors.New("another replica of the gang failed")
)

// NewLocal returns a Local executor that writes logs under dataDir.
func NewLocal(dataDir string, outcomes chan<- Outcome) *Local {
	return &Local{DataDir: dataDir, Outcomes: outcomes, runs: map[string]*localRun{}}
}

// Start starts every replica of run and returns once they are started. The
// outcome is reported when the last replica exits.
func (l *Local) Start(ctx context.Context, run Run) error {
	if run.Spec.Command == "" {
		return core.FieldErrorf("command", "the local center runs commands; none given")
	}
	if err := os.MkdirAll(LogDir(l.DataDir, run.JobID), 0o755); err != nil {
		return fmt.Errorf("log dir: %w", err)
	}
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		cancel(nil)
		return core.Errorf(core.EConflict, "executor stopped")
	}
	if _, dup := l.runs[run.JobID]; dup {
		l.mu.Unlock()
		cancel(nil)
		return core.Errorf(core.EConflict, "job %s is already running", run.JobID)
	}
	lr := &localRun{cancel: cancel, start: map[int]time.Time{}, wallMs: map[int]int64{}}
	l.runs[run.JobID] = lr
	l.mu.Unlock()

	type done struct {
		idx   int
		exit  int
		usage time.Duration
		err   error
	}
	results := make(chan done, len(run.Placements))
	started := 0
	for _, p := range run.Placements {
		cmd, logf, err := l.command(run, p.Index)
		t0 := time.Now() // wall time is billed from the fork
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			if logf != nil {
				fmt.Fprintf(logf, "suanli: cannot start: %v\n", err)
				logf.Close()
			}
			cancel(errGangPeer)
			results <- done{idx: p.Index, exit: 127, err: err}
			continue
		}
		started++
		lr.mu.Lock()
		lr.start[p.Index] = t0
		lr.mu.Unlock()
		go func(idx int, cmd *exec.Cmd, logf *os.File, t0 time.Time) {
			waitErr := make(chan error, 1)
			go func() { waitErr <- cmd.Wait() }()
			var err error
			select {
			case err = <-waitErr:
			case <-runCtx.Done():
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the whole group; error means it is gone
				err = <-waitErr
			}
			logf.Close()
			exit := 0
			if cmd.ProcessState != nil {
				exit = cmd.ProcessState.ExitCode()
				if exit < 0 { // killed by a signal
					if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
						exit = 128 + int(ws.Signal())
					}
				}
			}
			if exit != 0 {
				cancel(errGangPeer) // gang: one replica failing stops the rest
			}
			usage := time.Since(t0)
			lr.mu.Lock()
			lr.wallMs[idx] = usage.Milliseconds()
			lr.mu.Unlock()
			results <- done{idx: idx, exit: exit, usage: usage, err: err}
		}(p.Index, cmd, logf, t0)
	}
	timer := time.AfterFunc(run.Spec.MaxDuration, func() { cancel(errTimedOut) })
	go func() {
		res := store.Result{State: core.JobSucceeded}
		for range run.Placements {
			d := <-results
			res.Replicas = append(res.Replicas, store.ReplicaResult{Index: d.idx, ExitCode: intp(d.exit), UsageMs: d.usage.Milliseconds()})
			if d.exit != 0 && res.ExitCode == nil {
				res.ExitCode = intp(d.exit)
			}
		}
		timer.Stop()
		cause := context.Cause(runCtx)
		switch {
		case errors.Is(cause, errCancelled):
			res.State, res.Reason = core.JobCancelled, "cancelled by request"
		case errors.Is(cause, errTimedOut):
			res.State, res.Reason = core.JobTimedOut, fmt.Sprintf("killed after max duration %s", run.Spec.MaxDuration)
		case res.ExitCode != nil:
			res.State = core.JobFailed
			res.Reason = "exit code " + strconv.Itoa(*res.ExitCode)
			if started < len(run.Placements) {
				res.Reason = "a replica could not start"
			}
		default:
			res.ExitCode = intp(0)
		}
		cancel(nil)
		l.mu.Lock()
		delete(l.runs, run.JobID)
		stopped := l.stopped
		l.mu.Unlock()
		if stopped {
			return // shutdown: the job is recovered at the next start
		}
		l.Outcomes <- Outcome{JobID: run.JobID, Result: res}
	}()
	return nil
}

func (l *Local) command(run Run, idx int) (*exec.Cmd, *os.File, error) {
	logf, err := os.OpenFile(logPath(l.DataDir, run.JobID, idx), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command("/bin/sh", "-c", run.Spec.Command)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = LogDir(l.DataDir, run.JobID)
	cmd.Env = append(os.Environ(),
		"SUANLI_RUN="+RunKey(l.DataDir)+":"+run.JobID,
		"SUANLI_JOB_ID="+run.JobID,
		"SUANLI_REPLICA="+strconv.Itoa(idx),
		"SUANLI_REPLICAS="+strconv.Itoa(len(run.Placements)),
		"SUANLI_ATTEMPT="+strconv.Itoa(run.Attempt),
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd, logf, nil
}

// Usage returns each started replica's wall time so far in milliseconds
// (final for replicas that ended), and whether the run is known.
func (l *Local) Usage(jobID string) (map[int]int64, bool) {
	l.mu.Lock()
	r := l.runs[jobID]
	l.mu.Unlock()
	if r == nil {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[int]int64, len(r.start))
	for idx, t0 := range r.start {
		if ms, done := r.wallMs[idx]; done {
			out[idx] = ms
		} else {
			out[idx] = time.Since(t0).Milliseconds()
		}
	}
	return out, true
}

// Cancel stops a run; it reports whether the run was known. The outcome
// (state cancelled) follows on the Outcomes channel.
func (l *Local) Cancel(jobID string) bool {
	l.mu.Lock()
	r := l.runs[jobID]
	l.mu.Unlock()
	if r == nil {
		return false
	}
	r.cancel(errCancelled)
	return true
}

// Stop kills every running process without reporting outcomes; used at
// shutdown. The jobs stay running in the store and are requeued by
// recovery at the next start (see sqlstore.Store.RecoverLost).
func (l *Local) Stop() {
	l.mu.Lock()
	l.stopped = true
	runs := make([]*localRun, 0, len(l.runs))
	for _, r := range l.runs {
		runs = append(runs, r)
	}
	l.mu.Unlock()
	for _, r := range runs {
		r.cancel(errCancelled)
	}
}

// RunKey identifies processes started for one data dir: every replica's
// environment carries SUANLI_RUN=<key>:<job>, inherited by whatever it
// starts, so a later server can find them.
func RunKey(dataDir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	h := sha256.Sum256([]byte(abs))
	return hex.EncodeToString(h[:8])
}

// procScanMax bounds the /proc scan.
const procScanMax = 1 << 20

// ReapOrphans kills processes left running by an earlier server on the same
// data dir. Pdeathsig kills a replica's shell when the server dies, but not
// what the shell started; those keep the SUANLI_RUN variable and are found
// here. It returns how many it killed. Processes that cleared their
// environment escape it.
func ReapOrphans(dataDir string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("scan /proc: %w", err)
	}
	needle := []byte("SUANLI_RUN=" + RunKey(dataDir) + ":")
	killed := 0
	for i, e := range entries {
		if i >= procScanMax {
			break
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, needle) {
			continue // gone, or not ours
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	return killed, nil
}

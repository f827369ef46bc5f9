package slurm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/slurm/slurmtest"
)

// These tests drive a real single-node cluster (slurmtest.Start: 8 CPUs,
// 4 fake a100 GPUs) through the backend, the way the agent does: submit,
// poll Runs every 200 ms until the run reaches a state, then look at the
// status and the logs. They share one cluster; the node drain test runs
// first and alone (a drained node starts nothing), the rest in parallel.

const pollEvery = 200 * time.Millisecond

type realEnv struct {
	b *Backend
	c *slurmtest.Cluster
}

func TestReal(t *testing.T) {
	t.Parallel() // with TestTwoClusters: the time-limit run is the long pole
	c := slurmtest.Start(t)
	b, err := New(Options{Runner: Exec{Conf: c.Conf}, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	e := &realEnv{b: b, c: c}
	// The time-limit run takes longest (see testTimeout): it starts first.
	timeout := e.startTimeout(t)
	t.Run("latency", e.testLatency)
	t.Run("nodes and drain", e.testNodes)
	t.Run("jobs", func(t *testing.T) {
		t.Run("cpu job", e.testCPUJob)
		t.Run("gpu gang", e.testGang)
		t.Run("failing job", e.testFailing)
		t.Run("failing gang", e.testFailingGang)
		t.Run("declared duration", e.testDeclared)
		t.Run("cancel", e.testCancel)
		t.Run("idempotent submit", e.testIdempotent)
		t.Run("jobcomp after slurm forgets", e.testJobComp)
		t.Run("time limit", func(t *testing.T) { e.testTimeout(t, timeout) })
	})
	if dir := os.Getenv("SUANLI_SLURM_RECORD"); dir != "" {
		e.record(t, dir)
	}
}

// record writes the CLI output the unit tests parse into dir (the
// testdata dir, when refreshing it): squeue with every kind of job the
// tests above left behind plus a held, a running and two foreign jobs,
// and the jobcomp log.
func (e *realEnv) record(t *testing.T, dir string) {
	ctx := context.Background()
	run := func(name string, args ...string) []byte {
		t.Helper()
		out, err := e.c.Command(ctx, name, args...).Output()
		if err != nil {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		return out
	}
	k := backend.Key{JobID: "recorded-running", Attempt: 0}
	e.submit(t, k, spec("sleep 30", 2, 1))
	run("sbatch", "--hold", "--job-name=suanli.recorded-held.0", "--comment=suanli.recorded-held.0", "--output=/dev/null", "--wrap=true")
	run("sbatch", "--job-name=suanli.not-ours.0", "--comment=someone else", "--output=/dev/null", "--wrap=sleep 30")
	run("sbatch", "--job-name=a name|with bars", "--output=/dev/null", "--wrap=sleep 30")
	e.waitState(t, k, 30*time.Second, backend.Running)
	files := map[string][]byte{
		"squeue.txt":             run("squeue", "--noheader", "--states=all", "--Format="+squeueFormat),
		"scontrol-show-node.txt": run("scontrol", "show", "node", "--oneliner"),
	}
	run("scancel", "--name=suanli.recorded-held.0")
	run("scancel", "--name=suanli.not-ours.0")
	run("scancel", "--name=a name|with bars")
	if err := e.b.Cancel(ctx, k); err != nil {
		t.Fatal(err)
	}
	e.waitEnded(t, k, 30*time.Second)
	jobcomp, err := os.ReadFile(e.c.JobCompLog)
	if err != nil {
		t.Fatal(err)
	}
	files["jobcomp.txt"] = jobcomp
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func spec(cmd string, replicas int, accel int64) core.JobSpec {
	s := core.JobSpec{Name: "t", Command: cmd, MaxDuration: 10 * time.Minute}
	for i := 0; i < replicas; i++ {
		r := core.Replica{CPUMilli: 1000, MemMiB: 256, AccelCount: accel}
		if accel > 0 {
			r.AccelModels = []string{"A100"}
		}
		s.Replicas = append(s.Replicas, r)
	}
	return s
}

func (e *realEnv) submit(t *testing.T, k backend.Key, s core.JobSpec) string {
	t.Helper()
	id, err := e.b.Submit(context.Background(), backend.Run{Key: k, TenantID: "org-1", Spec: s})
	if err != nil {
		t.Fatalf("Submit(%s): %v", k, err)
	}
	return id
}

// wait polls Runs until the run with key k satisfies ok, up to timeout.
func (e *realEnv) wait(t *testing.T, k backend.Key, timeout time.Duration, what string, ok func(backend.Status) bool) backend.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last backend.Status
	for {
		runs, err := e.b.Runs(context.Background())
		if err != nil {
			t.Fatalf("Runs: %v", err)
		}
		for _, st := range runs {
			if st.Key == k {
				last = st
				if ok(st) {
					return st
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not %s after %s; last status %+v", k, what, timeout, last)
		}
		time.Sleep(pollEvery)
	}
}

func (e *realEnv) waitState(t *testing.T, k backend.Key, timeout time.Duration, want backend.State) backend.Status {
	t.Helper()
	return e.wait(t, k, timeout, string(want), func(st backend.Status) bool { return st.State == want })
}

func (e *realEnv) waitEnded(t *testing.T, k backend.Key, timeout time.Duration) backend.Status {
	t.Helper()
	return e.wait(t, k, timeout, "ended", func(st backend.Status) bool { return st.State.Terminal() })
}

func (e *realEnv) scontrol(t *testing.T, args ...string) string {
	t.Helper()
	out, err := e.c.Command(context.Background(), "scontrol", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("scontrol %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (e *realEnv) testNodes(t *testing.T) {
	ctx := context.Background()
	node := func() backend.Node {
		t.Helper()
		nodes, err := e.b.Nodes(ctx)
		if err != nil {
			t.Fatalf("Nodes: %v", err)
		}
		if len(nodes) != 1 {
			t.Fatalf("Nodes = %+v, want the one node", nodes)
		}
		return nodes[0]
	}
	got := node()
	want := backend.Node{Name: e.c.Node, CPUMilli: slurmtest.CPUs * 1000, MemMiB: slurmtest.MemMiB,
		AccelModel: "A100", AccelCount: slurmtest.GPUs, Ready: true}
	if got != want {
		t.Fatalf("Nodes()[0] = %+v, want %+v", got, want)
	}
	e.scontrol(t, "update", "NodeName="+e.c.Node, "State=DRAIN", "Reason=test")
	drained := node()
	e.scontrol(t, "update", "NodeName="+e.c.Node, "State=RESUME") // before any check can stop the test
	if drained.Ready || !strings.HasPrefix(drained.Reason, "test") {
		t.Errorf("drained node = %+v, want not ready with reason test", drained)
	}
	// Slurm marks a resumed node not responding until it pings it again.
	deadline := time.Now().Add(15 * time.Second)
	for again := node(); !again.Ready; again = node() {
		if time.Now().After(deadline) {
			t.Fatalf("resumed node = %+v, want ready", again)
		}
		time.Sleep(pollEvery)
	}
}

// testLatency measures how soon a trivial job runs and ends, polling
// faster than the agent does, and logs it (go test -v shows it).
func (e *realEnv) testLatency(t *testing.T) {
	for i := 0; i < 3; i++ {
		e.measure(t, backend.Key{JobID: "latency", Attempt: i})
	}
}

func (e *realEnv) measure(t *testing.T, k backend.Key) {
	t0 := time.Now()
	e.submit(t, k, spec("true", 1, 0))
	var running, done time.Duration
	deadline := t0.Add(30 * time.Second)
	for done == 0 && time.Now().Before(deadline) {
		runs, err := e.b.Runs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range runs {
			if st.Key != k {
				continue
			}
			if running == 0 && st.State != backend.Pending {
				running = time.Since(t0)
			}
			if st.State.Terminal() {
				done = time.Since(t0)
				if st.State != backend.Succeeded {
					t.Errorf("state %s, want succeeded", st.State)
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if done == 0 {
		t.Fatal("trivial job did not end in 30 s")
	}
	t.Logf("sbatch→running %s, sbatch→completed %s", running.Round(time.Millisecond), done.Round(time.Millisecond))
}

func (e *realEnv) testCPUJob(t *testing.T) {
	t.Parallel()
	k := backend.Key{JobID: "cpu-job", Attempt: 2}
	e.submit(t, k, spec(`echo "hello from $SUANLI_JOB_ID attempt $SUANLI_ATTEMPT replica $SUANLI_REPLICA of $SUANLI_REPLICAS"; echo to stderr >&2`, 1, 0))
	st := e.waitEnded(t, k, 30*time.Second)
	if st.State != backend.Succeeded || st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("status %+v, want succeeded with exit 0", st)
	}
	if len(st.Replicas) != 1 || st.Replicas[0].ExitCode == nil || *st.Replicas[0].ExitCode != 0 {
		t.Errorf("replicas %+v, want one with exit 0", st.Replicas)
	}
	if st.StartedAt.IsZero() || st.EndedAt.Before(st.StartedAt) {
		t.Errorf("started %v ended %v", st.StartedAt, st.EndedAt)
	}
	logs, err := e.b.Logs(context.Background(), k, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := "hello from cpu-job attempt 2 replica 0 of 1\nto stderr\n"; logs != want {
		t.Errorf("Logs = %q, want %q", logs, want)
	}
	if tail, _ := e.b.Logs(context.Background(), k, 10); tail != "to stderr\n" {
		t.Errorf("Logs(10 bytes) = %q, want the last 10 bytes", tail)
	}
	// Forget drops the run: Runs no longer lists it, its logs are gone.
	if err := e.b.Forget(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	runs, err := e.b.Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Key == k {
			t.Errorf("Runs still lists %s after Forget: %+v", k, r)
		}
	}
	if _, err := e.b.Logs(context.Background(), k, 100); core.ErrorCode(err) != core.ENotFound {
		t.Errorf("Logs after Forget: %v, want not found", err)
	}
}

func (e *realEnv) testGang(t *testing.T) {
	t.Parallel()
	k := backend.Key{JobID: "gpu-gang", Attempt: 0}
	id := e.submit(t, k, spec(`echo "replica $SUANLI_REPLICA of $SUANLI_REPLICAS"; sleep 2`, 2, 1))
	e.waitState(t, k, 30*time.Second, backend.Running)
	// Slurm gave the gang one GPU per replica.
	if job := e.scontrol(t, "-d", "show", "job", id); !strings.Contains(job, "gpu:a100:2") {
		t.Errorf("scontrol show job %s does not show 2 a100 GPUs:\n%s", id, job)
	}
	st := e.waitEnded(t, k, 30*time.Second)
	if st.State != backend.Succeeded || len(st.Replicas) != 2 {
		t.Fatalf("status %+v, want succeeded with 2 replicas", st)
	}
	for _, r := range st.Replicas {
		if r.ExitCode == nil || *r.ExitCode != 0 || r.WallMs < 1000 {
			t.Errorf("replica %+v, want exit 0 after about 2 s", r)
		}
	}
	logs, err := e.b.Logs(context.Background(), k, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if want := "==> replica 0 <==\nreplica 0 of 2\n==> replica 1 <==\nreplica 1 of 2\n"; logs != want {
		t.Errorf("Logs = %q, want %q", logs, want)
	}
}

func (e *realEnv) testFailing(t *testing.T) {
	t.Parallel()
	k := backend.Key{JobID: "failing", Attempt: 0}
	e.submit(t, k, spec("echo failing; exit 3", 1, 0))
	st := e.waitEnded(t, k, 30*time.Second)
	if st.State != backend.Failed || st.ExitCode == nil || *st.ExitCode != 3 {
		t.Fatalf("status %+v, want failed with exit 3", st)
	}
	if r := st.Replicas; len(r) != 1 || r[0].ExitCode == nil || *r[0].ExitCode != 3 {
		t.Errorf("replicas %+v, want one with exit 3", r)
	}
}

// testFailingGang: replica 1 fails at once, replica 0 would sleep; Slurm
// kills the gang and the run reports replica 1's code, not the signal
// that stopped replica 0.
func (e *realEnv) testFailingGang(t *testing.T) {
	t.Parallel()
	k := backend.Key{JobID: "failing-gang", Attempt: 1}
	e.submit(t, k, spec(`if [ "$SUANLI_REPLICA" = 1 ]; then exit 5; fi; sleep 60`, 2, 0))
	st := e.waitEnded(t, k, 40*time.Second)
	if st.State != backend.Failed || st.ExitCode == nil || *st.ExitCode != 5 {
		t.Fatalf("status %+v, want failed with exit 5", st)
	}
	if r := st.Replicas; len(r) != 2 || r[1].ExitCode == nil || *r[1].ExitCode != 5 || r[0].ExitCode != nil {
		t.Errorf("replicas %+v, want replica 1 exit 5 and replica 0 killed (no code)", r)
	}
	if d := st.EndedAt.Sub(st.StartedAt); d > 20*time.Second {
		t.Errorf("gang ran %s; the failing replica should have stopped it", d)
	}
}

// testDeclared: a spec with a declared duration and exit code (written for
// simulated centers) runs as a sleep through real Slurm.
func (e *realEnv) testDeclared(t *testing.T) {
	t.Parallel()
	k := backend.Key{JobID: "declared", Attempt: 0}
	s := spec("", 1, 0)
	s.Duration, s.ExitCode = 1500*time.Millisecond, 4
	e.submit(t, k, s)
	st := e.waitEnded(t, k, 30*time.Second)
	if st.State != backend.Failed || st.ExitCode == nil || *st.ExitCode != 4 {
		t.Fatalf("status %+v, want failed with exit 4", st)
	}
	if w := st.Replicas[0].WallMs; w < 1000 {
		t.Errorf("wall %d ms, want the declared 1.5 s", w)
	}
}

func (e *realEnv) testCancel(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	k := backend.Key{JobID: "cancel", Attempt: 0}
	e.submit(t, k, spec("sleep 60", 1, 0))
	e.waitState(t, k, 30*time.Second, backend.Running)
	if err := e.b.Forget(ctx, k); core.ErrorCode(err) != core.EConflict {
		t.Errorf("Forget of a running run: %v, want conflict", err)
	}
	t0 := time.Now()
	if err := e.b.Cancel(ctx, k); err != nil {
		t.Fatal(err)
	}
	st := e.waitEnded(t, k, 30*time.Second)
	if st.State != backend.Cancelled {
		t.Fatalf("status %+v, want cancelled", st)
	}
	t.Logf("cancel→cancelled %s", time.Since(t0).Round(time.Millisecond))
	if err := e.b.Cancel(ctx, k); err != nil {
		t.Errorf("second Cancel: %v, want nil", err)
	}
	if err := e.b.Cancel(ctx, backend.Key{JobID: "never-submitted", Attempt: 0}); err != nil {
		t.Errorf("Cancel of an unknown run: %v, want nil", err)
	}
}

func (e *realEnv) testIdempotent(t *testing.T) {
	t.Parallel()
	k := backend.Key{JobID: "twice", Attempt: 0}
	s := spec("sleep 1", 1, 0)
	id1 := e.submit(t, k, s)
	id2 := e.submit(t, k, s)
	if id1 != id2 {
		t.Fatalf("second Submit = %s, want the first job %s", id2, id1)
	}
	e.waitEnded(t, k, 30*time.Second)
	// Without the id file (a lost agent disk) Slurm still knows the job.
	if err := os.Remove(filepath.Join(e.b.runDir(k), jobIDFile)); err != nil {
		t.Fatal(err)
	}
	id3, found, err := e.b.find(context.Background(), k)
	if err != nil || !found || id3 != id1 {
		t.Errorf("find after the run ended = %s, %v, %v; want %s", id3, found, err, id1)
	}
	out, err := e.c.Command(context.Background(), "squeue", "-h", "-t", "all", "--name="+k.String(), "-o", "%i").Output()
	if err != nil {
		t.Fatal(err)
	}
	if ids := strings.Fields(string(out)); len(ids) != 1 || ids[0] != id1 {
		t.Errorf("slurm has jobs %v named %s, want just %s", ids, k, id1)
	}
}

// forgetful hides ended jobs from squeue, as Slurm does MinJobAge after
// they end, so the backend must find them in the jobcomp log.
type forgetful struct{ Runner }

func (f forgetful) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	out, err := f.Runner.Run(ctx, stdin, name, args...)
	if name != "squeue" || err != nil {
		return out, err
	}
	var kept []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Split(l, "|"); len(f) > 1 && !stateOf(f[1]).Terminal() {
			kept = append(kept, l)
		}
	}
	return []byte(strings.Join(kept, "\n")), nil
}

func (e *realEnv) testJobComp(t *testing.T) {
	t.Parallel()
	b, err := New(Options{Runner: forgetful{Exec{Conf: e.c.Conf}}, WorkDir: e.b.workDir, JobCompLog: e.c.JobCompLog})
	if err != nil {
		t.Fatal(err)
	}
	k := backend.Key{JobID: "jobcomp", Attempt: 0}
	e.submit(t, k, spec("exit 7", 1, 0))
	e.waitEnded(t, k, 30*time.Second)
	e2 := &realEnv{b: b, c: e.c}
	st := e2.waitEnded(t, k, 10*time.Second)
	if st.State != backend.Failed || st.ExitCode == nil || *st.ExitCode != 7 || len(st.Replicas) != 1 {
		t.Errorf("status from jobcomp %+v, want failed with exit 7 and one replica", st)
	}
}

// startTimeout submits a run that outlives its time limit, unless -short.
func (e *realEnv) startTimeout(t *testing.T) backend.Key {
	k := backend.Key{JobID: "timeout", Attempt: 0}
	if testing.Short() {
		return k
	}
	s := spec("sleep 300", 1, 0)
	s.MaxDuration = 20 * time.Second // rounded up to Slurm's 1 minute
	e.submit(t, k, s)
	return k
}

// testTimeout: Slurm's time limits are whole minutes and it checks them
// every 30 s, so the run ends 60–90 s after it started; it started before
// the other tests and ends alongside them.
func (e *realEnv) testTimeout(t *testing.T, k backend.Key) {
	if testing.Short() {
		t.Skip("takes over a minute")
	}
	t.Parallel()
	st := e.waitEnded(t, k, 120*time.Second)
	if st.State != backend.TimedOut {
		t.Fatalf("status %+v, want timed out", st)
	}
	if d := st.EndedAt.Sub(st.StartedAt); d < time.Minute {
		t.Errorf("ran %s, want at least the 1 minute limit", d)
	}
}

package slurm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
)

func newTestBackend(t *testing.T, r Runner, o Options) *Backend {
	t.Helper()
	o.Runner = r
	if o.WorkDir == "" {
		o.WorkDir = t.TempDir()
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testRun(jobID string, replicas int) backend.Run {
	return backend.Run{Key: backend.Key{JobID: jobID, Attempt: 0}, Spec: spec("echo hi", replicas, 0)}
}

// TestSubmitIdempotent: a second Submit of a key returns the first job,
// whether the backend finds it in its run dir or, with the dir's record
// lost, in squeue; a concurrent burst makes one job.
func TestSubmitIdempotent(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	b := newTestBackend(t, f, Options{})
	run := testRun("j-1", 2)
	id1, err := b.Submit(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := b.Submit(ctx, run)
	if err != nil || id2 != id1 {
		t.Fatalf("second Submit = %q, %v; want %q", id2, err, id1)
	}
	if err := os.Remove(filepath.Join(b.runDir(run.Key), jobIDFile)); err != nil {
		t.Fatal(err)
	}
	id3, err := b.Submit(ctx, run)
	if err != nil || id3 != id1 {
		t.Fatalf("Submit without the id file = %q, %v; want %q from squeue", id3, err, id1)
	}
	var wg sync.WaitGroup
	other := testRun("j-2", 1)
	ids := make([]string, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], _ = b.Submit(ctx, other)
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("concurrent Submits = %v, want one job", ids)
		}
	}
	if n := f.count("sbatch"); n != 2 {
		t.Errorf("%d sbatch calls, want 2 (one per key)", n)
	}
}

// TestSubmitLostReply: sbatch queued the job but its reply was lost; the
// retry finds the job instead of queueing a second one.
func TestSubmitLostReply(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	f.sbatchErr = &CommandError{Command: "sbatch", Stderr: "Socket timed out on send/recv operation", Err: errors.New("exit status 1")}
	b := newTestBackend(t, f, Options{})
	run := testRun("lost", 1)
	if _, err := b.Submit(ctx, run); err == nil {
		t.Fatal("Submit with a failing sbatch succeeded")
	}
	f.sbatchErr = nil
	id, err := b.Submit(ctx, run)
	if err != nil || id != "100" {
		t.Fatalf("retried Submit = %q, %v; want the queued job 100", id, err)
	}
	if n := f.count("sbatch"); n != 1 {
		t.Errorf("%d sbatch calls, want 1", n)
	}
}

func TestSubmitRejects(t *testing.T) {
	b := newTestBackend(t, newFake(t), Options{})
	bad := testRun("a/b", 1)
	if _, err := b.Submit(context.Background(), bad); core.ErrorCode(err) != core.EInvalid {
		t.Errorf("Submit with key %s: %v, want invalid", bad.Key, err)
	}
	noReplicas := testRun("ok", 1)
	noReplicas.Spec.Replicas = nil
	if _, err := b.Submit(context.Background(), noReplicas); core.ErrorCode(err) != core.EInvalid {
		t.Errorf("Submit without replicas: %v, want invalid", err)
	}
}

func TestCommandErrorIsOneLine(t *testing.T) {
	f := newFake(t)
	f.failNext["squeue"] = &CommandError{Command: "squeue --noheader", Stderr: oneLine([]byte("slurm_load_jobs error:\n Unable to contact slurm controller (connect failure)\n")), Err: errors.New("exit status 1")}
	b := newTestBackend(t, f, Options{})
	_, err := b.Runs(context.Background())
	want := "slurm: squeue --noheader: slurm_load_jobs error: Unable to contact slurm controller (connect failure): exit status 1"
	var ce *CommandError
	if err == nil || err.Error() != want || !errors.As(err, &ce) {
		t.Errorf("Runs error = %v, want %q as a *CommandError", err, want)
	}
}

func TestExecError(t *testing.T) {
	_, err := Exec{}.Run(context.Background(), nil, "sh", "-c", "echo first >&2; echo second >&2; exit 3")
	var ce *CommandError
	if !errors.As(err, &ce) || ce.ExitCode() != 3 {
		t.Fatalf("error %v, want a *CommandError with exit code 3", err)
	}
	if want := `slurm: sh -c 'echo first >&2; echo second >&2; exit 3': first second: exit status 3`; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	out, err := Exec{}.Run(context.Background(), []byte("from stdin"), "cat")
	if err != nil || string(out) != "from stdin" {
		t.Errorf("cat = %q, %v; want the stdin back", out, err)
	}
}

func TestExecSSH(t *testing.T) {
	got := Exec{Conf: "/etc/slurm x/slurm.conf", SSHHost: "login1"}.argv("sbatch", []string{"--comment=it's", "--parsable"})
	want := []string{"ssh", "-o", "BatchMode=yes", "login1", "--",
		`'env' 'SLURM_TIME_FORMAT=standard' 'SLURM_CONF=/etc/slurm x/slurm.conf' 'sbatch' '--comment=it'\''s' '--parsable'`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("argv = %q, want %q", got, want)
	}
}

// TestRuns reads recorded squeue output: suanli jobs only (not a job
// named like one with another comment, nor one whose name holds the
// separator), active ones always, ended ones while their run dir exists,
// with each replica's exit code from its file.
func TestRuns(t *testing.T) {
	f := newFake(t)
	b := newTestBackend(t, recorded{f, map[string][]byte{"squeue": readTestdata(t, "squeue.txt")}}, Options{})
	keep := map[string]map[string]string{ // run dir files of the ended runs the agent has not forgotten
		"suanli.failing-gang.1": {replicasFile: "2\n", replicaExit(1): "5\n", failedFile: "1\n"},
		"suanli.timeout.0":      {},
		"suanli.gpu-gang.0":     {replicaExit(0): "0\n", replicaExit(1): "0\n"},
		"suanli.failing.0":      {replicaExit(0): "3\n"},
		"suanli.cancel.0":       {},
	}
	for key, files := range keep {
		dir := filepath.Join(b.workDir, key)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writeFiles(dir, files); err != nil {
			t.Fatal(err)
		}
	}
	runs, err := b.Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, st := range runs {
		got[st.Key.String()] = describe(st)
	}
	want := map[string]string{
		"suanli.recorded-held.0":    "14 pending JobHeldUser exit=- started=0001-01-01T00:00:00 replicas=[0:-:0]",
		"suanli.recorded-running.0": "13 running  exit=- started=2026-11-23T17:15:50 replicas=[0:-:0 1:-:0]",
		"suanli.failing-gang.1":     "9 failed NonZeroExitCode exit=5 started=2026-11-23T17:14:42 replicas=[0:-:1000 1:5:1000]",
		"suanli.timeout.0":          "6 timed_out TimeLimit exit=143 started=2026-11-23T17:14:35 replicas=[0:-:75000]",
		"suanli.gpu-gang.0":         "12 succeeded  exit=0 started=2026-11-23T17:14:52 replicas=[0:0:3000 1:0:3000]",
		"suanli.failing.0":          "11 failed NonZeroExitCode exit=3 started=2026-11-23T17:14:48 replicas=[0:3:1000]",
		"suanli.cancel.0":           "5 cancelled  exit=0 started=2026-11-23T17:14:32 replicas=[0:-:1000]",
	}
	if !reflect.DeepEqual(got, want) {
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: got  %q\n%*swant %q", k, got[k], len(k), "", w)
			}
		}
		for k, g := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: got %q, want not listed", k, g)
			}
		}
	}
}

// TestRunsEndedSources: once squeue has forgotten ended jobs, Runs finds
// them in accounting (sacct) and in the jobcomp log; squeue's active jobs
// win over an older ended job of the same key.
func TestRunsEndedSources(t *testing.T) {
	f := newFake(t)
	f.scontrol["show config"] = []byte("AccountingStorageType   = accounting_storage/slurmdbd\nJobCompType = jobcomp/filetxt\nJobCompLoc = /elsewhere\nMinJobAge = 300 sec\n")
	squeue := "50|RUNNING|None|2026-11-23T17:30:00|2026-11-23T17:40:00|0:07|1|0|suanli.acct-ok.0|suanli.acct-ok.0\n"
	r := recorded{f, map[string][]byte{"squeue": []byte(squeue), "sacct": readTestdata(t, "sacct.txt")}}
	b := newTestBackend(t, r, Options{JobCompLog: filepath.Join("testdata", "jobcomp.txt")})
	for _, key := range []string{"suanli.acct-gang-fail.1", "suanli.failing.0", "suanli.acct-ok.0"} {
		dir := filepath.Join(b.workDir, key)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFiles(filepath.Join(b.workDir, "suanli.acct-gang-fail.1"), map[string]string{replicasFile: "2\n", replicaExit(1): "5\n"})
	runs, err := b.Runs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, st := range runs {
		got[st.Key.String()] = describe(st)
	}
	want := map[string]string{
		"suanli.acct-ok.0":        "50 running  exit=- started=2026-11-23T17:30:00 replicas=[0:-:7000]",
		"suanli.acct-gang-fail.1": "3 failed  exit=5 started=2026-11-23T17:23:27 replicas=[0:-:2000 1:5:2000]",
		"suanli.failing.0":        "11 failed  exit=3 started=2026-11-23T17:14:48 replicas=[0:3:1000]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Runs:\ngot  %q\nwant %q", got, want)
	}
	// squeue keeps ended jobs for MinJobAge, so the next poll reuses the
	// accounting listing instead of querying slurmdbd again.
	if _, err := b.Runs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.count("sacct --noheader --parsable2 --allocations --format=" + sacctFormat); n != 1 {
		t.Errorf("%d sacct calls for two polls, want 1: %q", n, f.calls)
	}
}

// describe is a one-line summary of a status for table comparisons:
// "id state reason exit=N started=T replicas=[index:exit:wallMs ...]".
func describe(st backend.Status) string {
	code := func(p *int) string {
		if p == nil {
			return "-"
		}
		return strconv.Itoa(*p)
	}
	var reps []string
	for _, r := range st.Replicas {
		reps = append(reps, fmt.Sprintf("%d:%s:%d", r.Index, code(r.ExitCode), r.WallMs))
	}
	return fmt.Sprintf("%s %s %s exit=%s started=%s replicas=[%s]", st.BackendID, st.State, st.Reason,
		code(st.ExitCode), st.StartedAt.UTC().Format("2006-01-02T15:04:05"), strings.Join(reps, " "))
}

// recorded answers some commands with recorded output and passes the
// rest to the fake.
type recorded struct {
	*fakeSlurm
	out map[string][]byte
}

func (r recorded) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	if out, ok := r.out[name]; ok {
		r.fakeSlurm.mu.Lock()
		r.fakeSlurm.calls = append(r.fakeSlurm.calls, name+" "+strings.Join(args, " "))
		r.fakeSlurm.mu.Unlock()
		return out, nil
	}
	return r.fakeSlurm.Run(ctx, stdin, name, args...)
}

func TestNodes(t *testing.T) {
	tests := []struct {
		file string
		o    Options
		want []backend.Node
	}{
		{"scontrol-show-node-drain-down.txt", Options{DefaultGPUModel: "V100"}, []backend.Node{
			{Name: "cpu01", CPUMilli: 128000, MemMiB: 256000, Reason: "slurm state UNKNOWN"},
			{Name: "gpu01", CPUMilli: 64000, MemMiB: 512000, AccelModel: "H100", AccelCount: 8, Reason: "slurm state UNKNOWN"},
			{Name: "gpu02", CPUMilli: 64000, MemMiB: 512000, AccelModel: "H100", AccelCount: 8, Reason: "power supply failed [root@2026-11-23T17:06:11]"},
			{Name: "old01", CPUMilli: 32000, MemMiB: 128000, AccelModel: "V100", AccelCount: 2, Reason: "gpu ecc errors [root@2026-11-23T17:06:11]"},
			{Name: "vm", CPUMilli: 8000, MemMiB: 16384, AccelModel: "A100", AccelCount: 4, Reason: "test [root@2026-11-23T17:06:11]"},
		}},
		{"scontrol-show-node-not-responding.txt", Options{Partition: "gpu", GresModels: map[string]string{"H100": "H20"}}, []backend.Node{
			{Name: "gpu01", CPUMilli: 64000, MemMiB: 512000, AccelModel: "H20", AccelCount: 8, Ready: true},
			{Name: "gpu02", CPUMilli: 64000, MemMiB: 512000, AccelModel: "H20", AccelCount: 8, Ready: true},
			{Name: "old01", CPUMilli: 32000, MemMiB: 128000, Reason: "gpu ecc errors [root@2026-11-23T17:06:11]"}, // untyped GPUs, no default model
		}},
		{"scontrol-show-node-not-responding.txt", Options{Partition: "debug"}, []backend.Node{
			{Name: "cpu01", CPUMilli: 128000, MemMiB: 256000, Ready: true},
			{Name: "gpu01", CPUMilli: 64000, MemMiB: 512000, AccelModel: "H100", AccelCount: 8, Ready: true},
			{Name: "gpu02", CPUMilli: 64000, MemMiB: 512000, AccelModel: "H100", AccelCount: 8, Ready: true},
			{Name: "old01", CPUMilli: 32000, MemMiB: 128000, Reason: "gpu ecc errors [root@2026-11-23T17:06:11]"},
			{Name: "vm", CPUMilli: 8000, MemMiB: 16384, AccelModel: "A100", AccelCount: 4, Reason: "slurm state IDLE+NOT_RESPONDING"},
		}},
		{"scontrol-show-node.txt", Options{}, []backend.Node{
			{Name: "vm", CPUMilli: 8000, MemMiB: 16384, AccelModel: "A100", AccelCount: 4, Ready: true},
		}},
	}
	for _, tt := range tests {
		f := newFake(t)
		f.scontrol["show node --oneliner"] = readTestdata(t, tt.file)
		b := newTestBackend(t, f, tt.o)
		got, err := b.Nodes(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Nodes(%s, partition %q):\ngot  %+v\nwant %+v", tt.file, tt.o.Partition, got, tt.want)
		}
	}
}

func TestCancelAndForget(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	b := newTestBackend(t, f, Options{Partition: "gpu"})
	run := testRun("c-1", 1)
	if _, err := b.Submit(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := b.Forget(ctx, run.Key); core.ErrorCode(err) != core.EConflict {
		t.Errorf("Forget of a running run: %v, want conflict", err)
	}
	if err := b.Cancel(ctx, run.Key); err != nil {
		t.Fatal(err)
	}
	if err := b.Cancel(ctx, run.Key); err != nil {
		t.Errorf("second Cancel: %v", err)
	}
	if n := f.count("scancel --name=suanli.c-1.0 --partition=gpu"); n != 2 {
		t.Errorf("%d scancel calls by name and partition, want 2: %q", n, f.calls)
	}
	if err := b.Forget(ctx, run.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.runDir(run.Key)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run dir after Forget: %v, want gone", err)
	}
}

func TestLogs(t *testing.T) {
	b := newTestBackend(t, newFake(t), Options{})
	one, gang := backend.Key{JobID: "one", Attempt: 0}, backend.Key{JobID: "gang", Attempt: 1}
	files := map[backend.Key]map[string]string{
		one:  {replicasFile: "1\n", replicaLog(0): "line 1\nline 2\n", batchLog: "ignored\n"},
		gang: {replicasFile: "3\n", replicaLog(0): "zero\n", replicaLog(2): "two: a long line\n"},
	}
	for k, fs := range files {
		if err := os.MkdirAll(b.runDir(k), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writeFiles(b.runDir(k), fs); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		key  backend.Key
		max  int
		want string
	}{
		{one, 100, "line 1\nline 2\n"},
		{one, 7, "line 2\n"},
		{gang, 0, "==> replica 0 <==\nzero\n==> replica 2 <==\ntwo: a long line\n"},
		{gang, 5, "==> replica 0 <==\nzero\n==> replica 2 <==\nline\n"},
	}
	for _, tt := range tests {
		got, err := b.Logs(context.Background(), tt.key, tt.max)
		if err != nil || got != tt.want {
			t.Errorf("Logs(%s, %d) = %q, %v; want %q", tt.key, tt.max, got, err, tt.want)
		}
	}
	// Before any replica wrote, the batch step's output tells why.
	noStep := backend.Key{JobID: "no-step", Attempt: 0}
	os.MkdirAll(b.runDir(noStep), 0o755)
	writeFiles(b.runDir(noStep), map[string]string{batchLog: "srun: error: Unable to create step\n"})
	if got, _ := b.Logs(context.Background(), noStep, 100); got != "srun: error: Unable to create step\n" {
		t.Errorf("Logs without replica logs = %q, want the batch log", got)
	}
	if _, err := b.Logs(context.Background(), backend.Key{JobID: "nothing", Attempt: 0}, 100); core.ErrorCode(err) != core.ENotFound {
		t.Errorf("Logs of an unknown run: %v, want not found", err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, o := range []Options{
		{WorkDir: "relative"},
		{WorkDir: "/runs/%u"},
		{WorkDir: "/w", DefaultGPUModel: "Z9000"},
		{WorkDir: "/w", GresModels: map[string]string{"a100": "nope"}},
	} {
		if _, err := New(o); core.ErrorCode(err) != core.EInvalid {
			t.Errorf("New(%+v) = %v, want invalid", o, err)
		}
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestBinary builds the real binary, runs `suanli up` as a child process and
// drives it with the CLI exactly as the README shows.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := build(t)
	data := t.TempDir()
	up, upOut := startUp(t, bin, data)
	defer up.Process.Kill() //nolint:errcheck // already exited on the happy path
	run := runner(t, bin, data)

	var before struct {
		AvailableMicros int64 `json:"available_micros"`
	}
	out, errOut, code := run("wallet", "show", "--output", "json")
	if code != 0 || json.Unmarshal([]byte(out), &before) != nil {
		t.Fatalf("wallet show: %d %s %s", code, out, errOut)
	}

	out, errOut, code = run("job", "submit", "--center", "local", "--cpu", "1000", "--mem", "256", "--cmd", "echo hello", "--wait", "--output", "json")
	if code != 0 {
		t.Fatalf("submit exit %d: %s %s", code, out, errOut)
	}
	var job struct {
		ID         string `json:"id"`
		State      string `json:"state"`
		CostMicros int64  `json:"cost_micros"`
	}
	if err := json.Unmarshal([]byte(out), &job); err != nil || job.State != "succeeded" {
		t.Fatalf("submit output %q (%v), want a succeeded job", out, err)
	}
	if !strings.Contains(errOut, "succeeded") {
		t.Errorf("no live progress on stderr: %q", errOut)
	}
	if out, _, code = run("job", "logs", job.ID); code != 0 || out != "hello\n" {
		t.Errorf("job logs = %q (exit %d), want hello", out, code)
	}
	var after struct {
		AvailableMicros int64 `json:"available_micros"`
	}
	out, _, _ = run("wallet", "show", "--output", "json")
	if err := json.Unmarshal([]byte(out), &after); err != nil || after.AvailableMicros != before.AvailableMicros-job.CostMicros || job.CostMicros <= 0 {
		t.Errorf("wallet %d -> %d, charge %d: want reduced by exactly the (positive) charge", before.AvailableMicros, after.AvailableMicros, job.CostMicros)
	}

	// Table output and errors.
	if out, _, code = run("center", "list"); code != 0 || !strings.Contains(out, "bj-mentougou") || !strings.Contains(out, "simulated") {
		t.Errorf("center list (exit %d):\n%s", code, out)
	}
	if out, errOut, code = run("job", "get", "job-nope"); code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, "not found") {
		t.Errorf("job get of an unknown id: exit %d, stderr %q; want non-zero and one readable line", code, errOut)
	}
	if _, errOut, code = run("job", "submit", "--cpu", "-1", "--cmd", "true"); code == 0 || !strings.Contains(errOut, "cpu_milli") {
		t.Errorf("bad submit: exit %d, stderr %q; want non-zero naming cpu_milli", code, errOut)
	}
	if _, errOut, code = run("job", "submit", "--cmd", "exit 4", "--center", "local", "--wait"); code == 0 || !strings.Contains(errOut, "failed") {
		t.Errorf("failing job with --wait: exit %d, stderr %q; want non-zero", code, errOut)
	}
	// An operator correction through the CLI: a goodwill credit of 1 CNY, applied once.
	var who struct {
		TenantOrgID string `json:"tenant_org_id"`
	}
	_ = json.Unmarshal([]byte(mustJob(t, run, job.ID)), &who)
	out, _, _ = run("wallet", "show", "--output", "json")
	_ = json.Unmarshal([]byte(out), &after) // the balance before the adjustment
	for i := 0; i < 2; i++ {
		if _, errOut, code := run("--as", "operator", "ledger", "adjust", "--org", who.TenantOrgID, "--amount", "1",
			"--reason", "goodwill", "--ref", "ticket-1"); code != 0 {
			t.Fatalf("ledger adjust: exit %d: %s", code, errOut)
		}
	}
	var credited struct {
		AvailableMicros int64 `json:"available_micros"`
	}
	out, _, _ = run("wallet", "show", "--output", "json")
	if err := json.Unmarshal([]byte(out), &credited); err != nil || credited.AvailableMicros != after.AvailableMicros+1_000_000 {
		t.Errorf("after a 1 CNY adjustment given twice with one ref: %d, want %d", credited.AvailableMicros, after.AvailableMicros+1_000_000)
	}
	if out, _, code = run("--as", "operator", "ledger", "verify"); code != 0 || !strings.Contains(out, "balanced") {
		t.Errorf("ledger verify: exit %d %q", code, out)
	}

	// SIGTERM stops it cleanly.
	if err := up.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- up.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("up exited with %v:\n%s", err, upOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("up did not stop on SIGTERM:\n%s", upOut.String())
	}
}

// lockedBuffer is written by the child's output copier and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "suanli")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startUp runs `suanli up` on data and waits until it is serving.
func startUp(t *testing.T, bin, data string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	out := &lockedBuffer{}
	up := exec.Command(bin, "up", "--data", data, "--addr", "127.0.0.1:0")
	up.Stdout, up.Stderr = out, out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; !strings.Contains(out.String(), "suanli is up"); i++ {
		if i > 600 {
			t.Fatalf("up did not start:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(data, "demo-credentials.json")); err != nil {
		t.Fatalf("credentials: %v", err)
	}
	return up, out
}

// runner runs CLI commands against the server whose data dir is data.
func runner(t *testing.T, bin, data string) func(args ...string) (string, string, int) {
	return func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--data", data}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return stdout.String(), stderr.String(), code
	}
}

// TestCrashRecovery kills `suanli up` with SIGKILL while a real job runs:
// the job's shell dies with it; what the shell started is killed by the next
// start (no orphan keeps running unbilled), which requeues the job; it then
// runs to completion.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := build(t)
	data := t.TempDir()
	up, _ := startUp(t, bin, data)
	run := runner(t, bin, data)
	marker := fmt.Sprintf("suanli-crash-marker-%d", time.Now().UnixNano())
	counter := filepath.Join(data, "runs")
	out, errOut, code := run("job", "submit", "--center", "local", "--cmd",
		"echo run >> "+counter+"; if [ $(wc -l < "+counter+") -lt 2 ]; then sleep 300 # "+marker+"\nfi", "--output", "json")
	var job struct{ ID string }
	if code != 0 || json.Unmarshal([]byte(out), &job) != nil {
		t.Fatalf("submit: %d %s %s", code, out, errOut)
	}
	for i := 0; ; i++ {
		if len(processesWith(marker)) > 0 {
			break
		}
		if i > 400 {
			t.Fatal("the job's process never started")
		}
		time.Sleep(25 * time.Millisecond)
	}
	if err := up.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = up.Wait() // killed: the error is expected
	time.Sleep(500 * time.Millisecond)
	if pids := processesWith(marker); len(pids) > 0 {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL) //nolint:errcheck // cleanup
		}
		t.Fatal("the job's shell outlived the killed server")
	}
	if len(processesWithEnv("SUANLI_JOB_ID="+job.ID)) == 0 {
		t.Fatal("the shell's child should still be running until the restart reaps it")
	}

	up2, _ := startUp(t, bin, data)
	defer func() {
		up2.Process.Signal(syscall.SIGTERM) //nolint:errcheck // best effort
		up2.Wait()                          //nolint:errcheck // best effort
	}()
	var got struct {
		Job struct {
			State   string `json:"state"`
			Attempt int    `json:"attempt"`
		} `json:"job"`
		Events []struct{ Type string } `json:"events"`
	}
	for i := 0; ; i++ {
		out, _, _ = run("job", "get", job.ID, "--output", "json")
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("job get: %v: %s", err, out)
		}
		if got.Job.State == "succeeded" {
			break
		}
		if i > 400 {
			t.Fatalf("job after restart: %+v", got.Job)
		}
		time.Sleep(25 * time.Millisecond)
	}
	requeued := false
	for _, e := range got.Events {
		requeued = requeued || e.Type == "requeued"
	}
	if pids := processesWithEnv("SUANLI_JOB_ID=" + job.ID); len(pids) > 0 {
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL) //nolint:errcheck // cleanup
		}
		t.Errorf("processes %v of the lost run survived the restart", pids)
	}
	if got.Job.Attempt != 1 || !requeued {
		t.Errorf("job = %+v with events %+v, want attempt 1 after a requeued event", got.Job, got.Events)
	}
}

// processesWith returns the PIDs whose command line contains marker.
func processesWith(marker string) []int { return procsWhere("cmdline", marker) }

// procsWhere returns the PIDs whose /proc/PID/<file> contains needle (read
// from /proc, so the test needs no procps).
func procsWhere(file, needle string) []int {
	entries, _ := os.ReadDir("/proc") // no /proc: no processes found
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), file))
		if err == nil && bytes.Contains(data, []byte(needle)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// processesWithEnv returns the PIDs whose environment holds entry.
func processesWithEnv(entry string) []int { return procsWhere("environ", entry+"\x00") }

// mustJob returns `job get ID --output json`'s job object as JSON.
func mustJob(t *testing.T, run func(args ...string) (string, string, int), id string) string {
	t.Helper()
	out, errOut, code := run("job", "get", id, "--output", "json")
	if code != 0 {
		t.Fatalf("job get %s: %s", id, errOut)
	}
	var v struct{ Job json.RawMessage }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	return string(v.Job)
}

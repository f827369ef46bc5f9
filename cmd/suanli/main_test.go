package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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
	bin := filepath.Join(t.TempDir(), "suanli")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := t.TempDir()
	var upOut lockedBuffer
	up := exec.Command(bin, "up", "--data", data, "--addr", "127.0.0.1:0")
	up.Stdout, up.Stderr = &upOut, &upOut
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	defer up.Process.Kill() //nolint:errcheck // already exited on the happy path
	creds := filepath.Join(data, "demo-credentials.json")
	for i := 0; ; i++ {
		if strings.Contains(upOut.String(), "suanli is up") {
			break
		}
		if i > 600 {
			t.Fatalf("up did not start:\n%s", upOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := os.Stat(creds); err != nil {
		t.Fatalf("credentials: %v", err)
	}

	run := func(args ...string) (string, string, int) {
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

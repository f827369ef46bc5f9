package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAgentBinary joins a center to `suanli up` with `suanli agent` as a
// separate process, exactly as the README shows, and runs a job there.
func TestAgentBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := build(t)
	data := t.TempDir()
	up, _ := startUp(t, bin, data)
	defer up.Process.Kill() //nolint:errcheck // cleanup
	run := runner(t, bin, data)

	// Bad invocations: non-zero exit, one readable line, nothing started.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"agent", "--as", "provider"}, "--center"},
		{[]string{"agent", "--as", "provider", "--center", "x", "--backend", "pbs"}, "--backend"},
		{[]string{"agent", "--as", "provider", "--center", "no-such"}, "does not exist"},
		{[]string{"agent", "--as", "provider", "--center", "local"}, "not by an agent"},
		{[]string{"agent", "--as", "provider", "--center", "x", "--kind", "quantum", "--region", "r"}, "--kind"},
		{[]string{"agent", "--as", "tenant", "--center", "x", "--kind", "general", "--region", "r"}, "register"},
	} {
		_, errOut, code := run(tc.args...)
		if code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want non-zero, one line naming %q", tc.args, code, errOut, tc.want)
		}
	}

	out := &lockedBuffer{}
	agent := exec.Command(bin, "--data", data, "agent", "--as", "provider", "--center", "edge-box", "--backend", "local",
		"--kind", "general", "--region", "本机", "--core-hour", "0.02", "--interval", "200ms")
	agent.Stdout, agent.Stderr = out, out
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer agent.Process.Kill() //nolint:errcheck // cleanup
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, _, _ := run("center", "list", "--output", "json")
		if strings.Contains(list, `"edge-box"`) && strings.Contains(list, `"agent_seen_at"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not register its center:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	stdout, errOut, code := run("job", "submit", "--center", "edge-box", "--cpu", "500", "--mem", "64",
		"--cmd", "echo through the agent", "--wait", "--output", "json")
	var job struct {
		ID        string `json:"id"`
		State     string `json:"state"`
		Center    string `json:"center"`
		BackendID string `json:"backend_id"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &job) != nil || job.State != "succeeded" || job.Center != "edge-box" || job.BackendID == "" {
		t.Fatalf("submit through the agent: exit %d %q %q\nagent:\n%s", code, stdout, errOut, out.String())
	}
	if logs, _, code := run("job", "logs", job.ID); code != 0 || !strings.Contains(logs, "through the agent") {
		t.Errorf("logs = %q (exit %d)", logs, code)
	}
	if list, _, _ := run("center", "list"); !strings.Contains(list, "edge-box") || !strings.Contains(list, "agent") {
		t.Errorf("center list does not show the agent center:\n%s", list)
	}
	if err := agent.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := agent.Wait(); err != nil {
		t.Errorf("agent after SIGTERM: %v\n%s", err, out.String())
	}
}

package cli

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/seed"
)

// TestJobGetExplains: `suanli job get` shows why a job went where it did
// (the chosen center's scores, the runners-up and the job's own weights)
// and why a job that cannot start now is pending.
func TestJobGetExplains(t *testing.T) {
	s, run := cliServer(t)
	ok := succeeded(t)
	as := func(args ...string) string {
		t.Helper()
		return ok(run(s.Credentials.Tenant.Token, args...))
	}
	idOf := regexp.MustCompile(`job-[0-9a-f-]{36}`)
	placed := idOf.FindString(as("job", "submit", "--accel-count", "1", "--cpu", "4000", "--mem", "16384", "--duration", "1m",
		"--max-duration", "2m", "--data-region", "beijing", "--data-size-gib", "200", "--weights", "price=40,network=60"))
	all := strconv.FormatInt(seed.LocalNode().CPUMilli, 10)
	first := idOf.FindString(as("job", "submit", "--center", "local", "--cmd", "sleep 3", "--cpu", all, "--mem", "16", "--max-duration", "1m"))
	second := idOf.FindString(as("job", "submit", "--center", "local", "--cmd", "true", "--cpu", all, "--mem", "16", "--max-duration", "1m"))
	if placed == "" || first == "" || second == "" {
		t.Fatal("no job ids in the submit output")
	}
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = as("job", "get", placed); strings.Contains(got, "why:") {
			break
		}
	}
	for _, want := range []string{"why:", "scored", "next:", "weights price=40,network=60,locality=0"} {
		if !strings.Contains(got, want) {
			t.Errorf("job get %s lacks %q:\n%s", placed, want, got)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got = as("job", "get", second); strings.Contains(got, "short of free CPU") {
			break
		}
	}
	if !strings.Contains(got, "queued") || !strings.Contains(got, "local: 1 short of free CPU") {
		t.Errorf("job get %s should say why it waits (node by node):\n%s", second, got)
	}
}

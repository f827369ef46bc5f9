package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTinyPollux writes a made-up Pollux workload and a philly.csv beside
// its directory, as the shared traces lay them out.
func writeTinyPollux(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "workloads"), 0o755); err != nil {
		t.Fatal(err)
	}
	philly := "timestamp,duration,num_gpus,gpu_time,cluster\n" +
		"2020-01-01 00:00:00,600,1,600,a\n2020-01-01 00:01:00,7200,1,7200,b\n" +
		"2020-01-01 00:02:00,40000,1,40000,a\n2020-01-01 00:03:00,400000,1,400000,b\n"
	workload := "name,time,application,num_replicas,batch_size\n" +
		"ncf-0,0,ncf,1,256\ncifar10-1,10,cifar10,4,512\nbert-2,20,bert,4,96\nyolov3-3,30,yolov3,2,8\nimagenet-4,40,imagenet,4,200\n"
	for path, body := range map[string]string{filepath.Join(dir, "philly.csv"): philly, filepath.Join(dir, "workloads", "workload-1.csv"): workload} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "workloads", "workload-1.csv")
}

func TestSimRunJSON(t *testing.T) {
	w := writeTinyPollux(t)
	for _, policy := range []string{"suanli", "fifo", "fifo-backfill"} {
		out, errOut, code := runCLI(t, "sim", "run", "--trace", "philly-pollux", "--workload", w, "--policy", policy, "--cluster", "2x4", "-o", "json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", policy, code, errOut)
		}
		var got struct {
			Policy  string
			Metrics struct {
				Jobs     int `json:"jobs"`
				Finished int `json:"finished"`
			} `json:"metrics"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("%s: %v\n%s", policy, err, out)
		}
		if got.Policy != policy || got.Metrics.Jobs != 5 || got.Metrics.Finished != 5 {
			t.Errorf("%s: got %+v, want 5 jobs all finished", policy, got)
		}
	}
}

func TestSimRunTableAndGavel(t *testing.T) {
	out, errOut, code := runCLI(t, "sim", "run", "--trace", "gavel", "--jobs", "50", "--rate", "4", "--multi-gpu", "--policy", "fifo")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "cluster 27x4 (108 cards)") || !strings.Contains(out, "jobs 50 (finished 50") {
		t.Errorf("table output:\n%s", out)
	}
}

func TestSimRunBadFlags(t *testing.T) {
	w := writeTinyPollux(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--workload", w, "--policy", "lottery"}, "--policy"},
		{[]string{"--workload", w, "--cluster", "4"}, "--cluster"},
		{[]string{"--workload", w, "--interval", "5ms"}, "--interval"},
		{[]string{"--workload", w, "--bucket", "0s"}, "--bucket"},
		{[]string{"--workload", w, "--queue-max", "-1"}, "--queue-max"},
		{[]string{"--trace", "helios", "--workload", w}, "--trace"},
		{[]string{"--trace", "philly"}, "--workload"},
		{[]string{"--workload", filepath.Join(t.TempDir(), "none.csv")}, "--workload"},
		{[]string{"--workload", w, "--philly", filepath.Join(t.TempDir(), "none.csv")}, "--philly"},
		{[]string{"--trace", "gavel", "--rate", "0"}, "--rate"},
		{[]string{"--trace", "gavel-msr", "--workload", t.TempDir()}, "--gavel-throughputs"},
		{[]string{"--workload", w, "-o", "csv"}, "--output"},
	}
	for _, tc := range tests {
		_, errOut, code := runCLI(t, append([]string{"sim", "run"}, tc.args...)...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("sim run %v: exit %d, stderr %q; want an error naming %s", tc.args, code, errOut, tc.want)
		}
	}
	_, errOut, code := runCLI(t, "sim", "queueing-report", "--traces", t.TempDir(), "--out", t.TempDir())
	if code == 0 || !strings.Contains(errOut, "--traces") {
		t.Errorf("queueing-report on an empty dir: exit %d, stderr %q; want an error naming --traces", code, errOut)
	}
}

package slurm

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/backend"
)

func TestParseKV(t *testing.T) {
	line := "NodeName=vm Arch=x86_64 OS=Linux 6.18.44 #1 SMP @0  RealMemory=16384 State=IDLE+DRAIN Reason=gpu ecc errors [root@2026-11-23T17:06:11]"
	got := parseKV(line)
	want := map[string]string{
		"NodeName": "vm", "Arch": "x86_64", "OS": "Linux 6.18.44 #1 SMP @0", "RealMemory": "16384",
		"State": "IDLE+DRAIN", "Reason": "gpu ecc errors [root@2026-11-23T17:06:11]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseKV = %q, want %q", got, want)
	}
	if kv := parseKV("AllocNode:Sid=localhost:25836 CPUs/Task=1 ReqB:S:C:T=0:0:*:*"); kv["AllocNode:Sid"] != "localhost:25836" || kv["CPUs/Task"] != "1" || kv["ReqB:S:C:T"] != "0:0:*:*" {
		t.Errorf("parseKV of scontrol's compound keys = %q", kv)
	}
}

func TestParseGres(t *testing.T) {
	tests := []struct {
		in   string
		want []gres
	}{
		{"gpu:a100:4", []gres{{"gpu", "a100", 4}}},
		{"gpu:2", []gres{{"gpu", "", 2}}},
		{"gpu:a100:2(S:0),gpu:h100:2(S:1)", []gres{{"gpu", "a100", 2}, {"gpu", "h100", 2}}},
		{"gpu:a100:2(S:0,1),mps:100", []gres{{"gpu", "a100", 2}, {"mps", "", 100}}},
		{"gpu:a100:4(IDX:0-3)", []gres{{"gpu", "a100", 4}}},
		{"(null)", nil},
		{"", nil},
		{"gpu:a100:x,gpu", nil},
	}
	for _, tt := range tests {
		if got := parseGres(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseGres(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestNodeReady(t *testing.T) {
	tests := map[string]bool{
		"IDLE": true, "MIXED": true, "ALLOCATED": true, "IDLE+POWERED_DOWN": true, "COMPLETING": true,
		"IDLE+DRAIN": false, "MIXED+DRAIN": false, "DOWN": false, "DOWN+NOT_RESPONDING": false,
		"IDLE+NOT_RESPONDING": false, "UNKNOWN": false, "UNKNOWN+DRAIN": false, "FUTURE": false,
		"ALLOCATED+FAIL": false, "IDLE+MAINTENANCE": false, "DOWN*": false, "IDLE*": false, "": false,
	}
	for in, want := range tests {
		if got := nodeReady(in); got != want {
			t.Errorf("nodeReady(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestParseElapsed(t *testing.T) {
	tests := map[string]time.Duration{
		"0:00": 0, "1:15": 75 * time.Second, "1:02:03": time.Hour + 2*time.Minute + 3*time.Second,
		"2-01:00:00": 49 * time.Hour, "INVALID": -1, "": -1, "1:x": -1, "1": -1,
	}
	for in, want := range tests {
		if got := parseElapsed(in); got != want {
			t.Errorf("parseElapsed(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestParseExit(t *testing.T) {
	pairs := map[string]exitStatus{
		"0:0": {0, 0, true}, "3:0": {3, 0, true}, "0:15": {0, 15, true}, "143:0": {143, 0, true},
		"": {}, "x:1": {}, "3": {},
	}
	for in, want := range pairs {
		if got := parseExitPair(in); got != want {
			t.Errorf("parseExitPair(%q) = %+v, want %+v", in, got, want)
		}
	}
	// squeue's exit_code is the raw wait status.
	waits := map[string]exitStatus{
		"0": {0, 0, true}, "768": {3, 0, true}, "36608": {143, 0, true}, "9": {0, 9, true}, "15": {0, 15, true},
		"": {}, "-1": {},
	}
	for in, want := range waits {
		if got := parseWaitStatus(in); got != want {
			t.Errorf("parseWaitStatus(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestStateOf(t *testing.T) {
	tests := map[string]backend.State{
		"PENDING": backend.Pending, "CONFIGURING": backend.Pending, "REQUEUED": backend.Pending,
		"RUNNING": backend.Running, "COMPLETING": backend.Running, "SUSPENDED": backend.Running,
		"COMPLETED": backend.Succeeded,
		"FAILED":    backend.Failed, "NODE_FAIL": backend.Failed, "OUT_OF_MEMORY": backend.Failed,
		"BOOT_FAIL": backend.Failed, "PREEMPTED": backend.Failed,
		"CANCELLED": backend.Cancelled,
		"TIMEOUT":   backend.TimedOut, "DEADLINE": backend.TimedOut,
		"SOMETHING_NEW": backend.Pending,
	}
	for in, want := range tests {
		if got := stateOf(in); got != want {
			t.Errorf("stateOf(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestParseSqueue reads recorded output: suanli jobs of every state, a
// held one, and two foreign jobs (one named like a suanli job but with
// another comment, one with the separator in its name) that are skipped.
func TestParseSqueue(t *testing.T) {
	recs := parseSqueue(readTestdata(t, "squeue.txt"), time.UTC, 1000)
	got := map[string]record{}
	for _, r := range recs {
		got[r.key.String()] = r
	}
	if len(recs) != 14 || len(got) != 14 {
		t.Fatalf("%d records (%d keys), want the 14 suanli jobs", len(recs), len(got))
	}
	at := func(s string) time.Time { return parseTime(s, time.UTC) }
	tests := []struct {
		key  string
		want record
	}{
		{"suanli.failing-gang.1", record{jobID: "9", key: backend.Key{JobID: "failing-gang", Attempt: 1}, state: "FAILED", reason: "NonZeroExitCode",
			start: at("2026-11-23T17:14:42"), end: at("2026-11-23T17:14:43"), wall: time.Second, tasks: 2, exit: exitStatus{5, 0, true}}},
		{"suanli.timeout.0", record{jobID: "6", key: backend.Key{JobID: "timeout"}, state: "TIMEOUT", reason: "TimeLimit",
			start: at("2026-11-23T17:14:35"), end: at("2026-11-23T17:15:50"), wall: 75 * time.Second, tasks: 1, exit: exitStatus{143, 0, true}}},
		{"suanli.recorded-running.0", record{jobID: "13", key: backend.Key{JobID: "recorded-running"}, state: "RUNNING",
			start: at("2026-11-23T17:15:50"), tasks: 2}}, // no exit, and no end (squeue shows the expected one)
		{"suanli.recorded-held.0", record{jobID: "14", key: backend.Key{JobID: "recorded-held"}, state: "PENDING", reason: "JobHeldUser", tasks: 1}},
	}
	for _, tt := range tests {
		if g := got[tt.key]; !reflect.DeepEqual(g, tt.want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", tt.key, g, tt.want)
		}
	}
	if _, ok := got["suanli.not-ours.0"]; ok {
		t.Error("a job named like a suanli job with another comment was taken for one")
	}
}

func TestParseJobComp(t *testing.T) {
	recs := parseJobComp(readTestdata(t, "jobcomp.txt"), time.UTC, 1000)
	got := map[string]record{}
	for _, r := range recs {
		got[r.key.String()] = r
	}
	// The file has no comments: a job named like a suanli key is taken
	// for one (suanli.not-ours.0); the name with bars is not a key.
	if len(recs) != 15 || len(got) != 15 {
		t.Fatalf("%d records (%d keys), want 15", len(recs), len(got))
	}
	at := func(s string) time.Time { return parseTime(s, time.UTC) }
	tests := []struct {
		key  string
		want record
	}{
		{"suanli.failing.0", record{jobID: "11", key: backend.Key{JobID: "failing"}, state: "FAILED",
			start: at("2026-11-23T17:14:48"), end: at("2026-11-23T17:14:49"), wall: time.Second, exit: exitStatus{3, 0, true}}},
		{"suanli.timeout.0", record{jobID: "6", key: backend.Key{JobID: "timeout"}, state: "TIMEOUT",
			start: at("2026-11-23T17:14:35"), end: at("2026-11-23T17:15:50"), wall: 75 * time.Second, exit: exitStatus{0, 0, true}}},
		{"suanli.recorded-held.0", record{jobID: "14", key: backend.Key{JobID: "recorded-held"}, state: "CANCELLED",
			start: at("2026-11-23T17:15:50"), end: at("2026-11-23T17:15:50"), wall: 0, exit: exitStatus{0, 0, true}}},
	}
	for _, tt := range tests {
		if g := got[tt.key]; !reflect.DeepEqual(g, tt.want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", tt.key, g, tt.want)
		}
	}
}

// TestParseSacct reads recorded sacct output (a cluster with slurmdbd)
// and two written lines for what the recording lacks: a running job and
// a foreign job with the separator in its name.
func TestParseSacct(t *testing.T) {
	out := append(readTestdata(t, "sacct.txt"),
		"43|RUNNING|None|0:0|2026-11-23T17:24:31|Unknown|9|suanli.running.0\n"+
			"44|FAILED|None|3:0|2026-11-23T17:24:31|2026-11-23T17:24:32|1|a name|with bars\n"...)
	recs := parseSacct(out, time.UTC, 100)
	at := func(s string) time.Time { return parseTime(s, time.UTC) }
	want := []record{
		{jobID: "1", key: backend.Key{JobID: "x"}, state: "FAILED", start: at("2026-11-23T17:23:15"), end: at("2026-11-23T17:23:15"), wall: 0, exit: exitStatus{3, 0, true}},
		{jobID: "2", key: backend.Key{JobID: "acct-ok"}, state: "COMPLETED", start: at("2026-11-23T17:23:26"), end: at("2026-11-23T17:23:28"), wall: 2 * time.Second, exit: exitStatus{0, 0, true}},
		{jobID: "3", key: backend.Key{JobID: "acct-gang-fail", Attempt: 1}, state: "FAILED", start: at("2026-11-23T17:23:27"), end: at("2026-11-23T17:23:29"), wall: 2 * time.Second, exit: exitStatus{5, 0, true}},
		{jobID: "4", key: backend.Key{JobID: "acct-cancel"}, state: "CANCELLED", start: at("2026-11-23T17:23:27"), end: at("2026-11-23T17:23:28"), wall: time.Second, exit: exitStatus{0, 0, true}},
		{jobID: "43", key: backend.Key{JobID: "running"}, state: "RUNNING", start: at("2026-11-23T17:24:31"), wall: 9 * time.Second},
	}
	if !reflect.DeepEqual(recs, want) {
		t.Errorf("parseSacct:\ngot  %+v\nwant %+v", recs, want)
	}
}

func TestParseConfig(t *testing.T) {
	got := parseConfig(readTestdata(t, "scontrol-show-config.txt"))
	want := slurmConfig{accounting: false, jobCompLog: "/tmp/suanli-slurm.ICAF2a/log/jobcomp.txt", minJobAge: 300 * time.Second}
	if got != want {
		t.Errorf("parseConfig = %+v, want %+v", got, want)
	}
	if c := parseConfig([]byte("AccountingStorageType   = accounting_storage/slurmdbd\nJobCompType = jobcomp/none\n")); !c.accounting || c.jobCompLog != "" {
		t.Errorf("parseConfig with slurmdbd = %+v, want accounting and no jobcomp log", c)
	}
}

func TestParseJobID(t *testing.T) {
	for in, want := range map[string]string{"17\n": "17", "17;cluster\n": "17"} {
		if got, err := parseJobID([]byte(in)); err != nil || got != want {
			t.Errorf("parseJobID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseJobID([]byte("sbatch: error: oops\n")); err == nil {
		t.Error("parseJobID of an error message succeeded")
	}
}

func TestLinesBounds(t *testing.T) {
	long := strings.Repeat("x", lineBytesMax+1)
	in := []byte("a\r\n\n  \n" + long + "\nb\nc\nd")
	var got []string
	lines(in, 3, func(l string) { got = append(got, l) })
	if want := []string{"a", "b", "c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines = %q, want %q (blank and overlong lines skipped, at most 3)", got, want)
	}
}

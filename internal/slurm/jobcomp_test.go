package slurm

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func jobCompLine(id int, name, state, exit string) string {
	return fmt.Sprintf("JobId=%d UserId=root(0) GroupId=root(0) Name=%s JobState=%s Partition=debug TimeLimit=10 "+
		"StartTime=2026-11-23T17:14:23 EndTime=2026-11-23T17:14:24 NodeList=vm NodeCnt=1 ProcCnt=1 "+
		"WorkDir=/tmp/runs/%s ReservationName= Tres=cpu=1,mem=256M,node=1,billing=1 Account= QOS= WcKey= "+
		"Cluster=unknown SubmitTime=2026-11-23T17:14:22 EligibleTime=2026-11-23T17:14:22 DerivedExitCode=0:0 ExitCode=%s\n",
		id, name, state, name, exit)
}

func keysOf(j *jobComp) map[string]string {
	out := map[string]string{}
	for _, r := range j.records() {
		out[r.key.String()] = r.jobID + " " + r.state
	}
	return out
}

// TestJobCompFollows: the reader takes appended lines only, leaves a line
// still being written for later, starts over when the file was rotated,
// and starts a first read JobCompTailBytesMax from the end.
func TestJobCompFollows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jobcomp.txt")
	j := newJobComp(path)
	if err := j.refresh(time.UTC); err != nil || len(j.records()) != 0 {
		t.Fatalf("refresh of a missing file = %v, %v; want no records", j.records(), err)
	}
	appendTo := func(s string) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	second := jobCompLine(2, "suanli.b.0", "FAILED", "3:0")
	appendTo(jobCompLine(1, "suanli.a.0", "COMPLETED", "0:0") + jobCompLine(9, "not-a-key", "COMPLETED", "0:0") + second[:40])
	if err := j.refresh(time.UTC); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(j); len(got) != 1 || got["suanli.a.0"] != "1 COMPLETED" {
		t.Fatalf("after a line and a half: %v, want only suanli.a.0", got)
	}
	appendTo(second[40:])
	if err := j.refresh(time.UTC); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(j); len(got) != 2 || got["suanli.b.0"] != "2 FAILED" {
		t.Fatalf("after the rest: %v, want suanli.a.0 and suanli.b.0", got)
	}
	if r, ok := j.lookup("suanli.b.0"); !ok || r.exit.code != 3 {
		t.Errorf("lookup(suanli.b.0) = %+v, %v; want exit 3", r, ok)
	}
	// Rotated: a shorter file is read from its start.
	if err := os.WriteFile(path, []byte(jobCompLine(3, "suanli.c.0", "TIMEOUT", "0:0")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := j.refresh(time.UTC); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(j); got["suanli.c.0"] != "3 TIMEOUT" || len(got) != 3 {
		t.Errorf("after rotation: %v, want suanli.c.0 added to the remembered ones", got)
	}

	// A big file: only its tail is read.
	big := filepath.Join(t.TempDir(), "big.txt")
	var buf bytes.Buffer
	n := 0
	for buf.Len() < JobCompTailBytesMax+100_000 {
		buf.WriteString(jobCompLine(n, fmt.Sprintf("suanli.j%d.0", n), "COMPLETED", "0:0"))
		n++
	}
	if err := os.WriteFile(big, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	jb := newJobComp(big)
	if err := jb.refresh(time.UTC); err != nil {
		t.Fatal(err)
	}
	recs := jb.records()
	if len(recs) == 0 || len(recs) >= n {
		t.Fatalf("%d records from a file of %d lines, want only its tail", len(recs), n)
	}
	if last := recs[len(recs)-1]; last.key.JobID != fmt.Sprintf("j%d", n-1) {
		t.Errorf("last record %s, want the file's last line j%d", last.key, n-1)
	}
	if first := recs[0]; first.start.IsZero() {
		t.Errorf("first record %+v is a cut line", first)
	}
}

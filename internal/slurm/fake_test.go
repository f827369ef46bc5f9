package slurm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeSlurm is a tiny Slurm for unit tests: sbatch adds a running job,
// squeue lists jobs in squeueFormat (optionally by --name), scancel marks
// them cancelled, and scontrol answers with recorded output. It records
// every call. Safe for concurrent use.
type fakeSlurm struct {
	mu        sync.Mutex
	jobs      []fakeJob
	calls     []string
	scontrol  map[string][]byte // by the joined arguments
	sbatchErr error             // returned by sbatch after it queued the job (a lost reply)
	failNext  map[string]error  // one failure for the next call of a command
}

type fakeJob struct {
	id, name, state string
	tasks           int
}

func newFake(t *testing.T) *fakeSlurm {
	t.Helper()
	return &fakeSlurm{
		scontrol: map[string][]byte{"show config": readTestdata(t, "scontrol-show-config.txt")},
		failNext: map[string]error{},
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func flagValue(args []string, flag string) (string, bool) {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v, true
		}
	}
	return "", false
}

func (f *fakeSlurm) Run(_ context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	if err, ok := f.failNext[name]; ok {
		delete(f.failNext, name)
		return nil, err
	}
	switch name {
	case "scontrol":
		out, ok := f.scontrol[strings.Join(args, " ")]
		if !ok {
			return nil, &CommandError{Command: commandLine(name, args), Stderr: "unexpected", Err: fmt.Errorf("exit status 1")}
		}
		return out, nil
	case "sbatch":
		if !strings.HasPrefix(string(stdin), "#!/bin/bash\n") {
			return nil, fmt.Errorf("sbatch got no script")
		}
		jobName, _ := flagValue(args, "--job-name")
		tasks := 1
		if n, ok := flagValue(args, "--ntasks"); ok {
			fmt.Sscan(n, &tasks)
		}
		id := fmt.Sprint(100 + len(f.jobs))
		f.jobs = append(f.jobs, fakeJob{id: id, name: jobName, state: "RUNNING", tasks: tasks})
		if f.sbatchErr != nil {
			return nil, f.sbatchErr
		}
		return []byte(id + "\n"), nil
	case "squeue":
		want, byName := flagValue(args, "--name")
		var b strings.Builder
		for _, j := range f.jobs {
			if byName && j.name != want {
				continue
			}
			fmt.Fprintf(&b, "%s|%s|None|2026-11-23T17:14:32|N/A|0:05|%d|0|%s|%s\n", j.id, j.state, j.tasks, j.name, j.name)
		}
		return []byte(b.String()), nil
	case "scancel":
		want, _ := flagValue(args, "--name")
		for i := range f.jobs {
			if f.jobs[i].name == want && f.jobs[i].state == "RUNNING" {
				f.jobs[i].state = "CANCELLED"
			}
		}
		return nil, nil
	}
	return nil, fmt.Errorf("fake slurm: no %s", name)
}

func (f *fakeSlurm) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

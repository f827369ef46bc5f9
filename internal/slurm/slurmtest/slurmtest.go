// Package slurmtest starts a real single-node Slurm cluster (munged,
// slurmctld, slurmd) for tests, with scripts/slurm-up.sh, and stops it when
// the test ends. Any package's tests may use it; test binaries that run at
// the same time (go test ./... runs packages in parallel) each get their
// own cluster on their own ports.
//
// The node has 8 CPUs, 16 GiB and 4 GPUs of GRES type a100 whatever the
// host has (they are declared, not detected), so gangs and concurrent jobs
// fit on a small machine. Jobs run as the test's user, which must be root.
package slurmtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The cluster's node, as slurm-up.sh declares it by default.
const (
	CPUs    = 8
	MemMiB  = 16384
	GPUs    = 4
	GPUType = "a100"
)

const (
	// slots is how many clusters may run on one host at once; slot n
	// uses ports PortBase+10n and +1.
	slots = 4
	// PortBase is slot 0's slurmctld port.
	PortBase = 16817
	// slotWaitMax bounds how long Start waits for a free slot.
	slotWaitMax = 5 * time.Minute
	// upTimeout bounds slurm-up.sh and slurm-down.sh.
	upTimeout = 2 * time.Minute
)

// Cluster is a running cluster.
type Cluster struct {
	Dir        string // the cluster's temp dir; removed when the test ends
	Conf       string // its slurm.conf: SLURM_CONF for the CLI
	JobCompLog string // its jobcomp/filetxt log
	Node       string // its one node's name
	Port       int    // slurmctld's port (slurmd's is Port+1)
}

// Env is the environment entries the Slurm CLI needs to reach the
// cluster, to append to os.Environ().
func (c *Cluster) Env() []string {
	return []string{"SLURM_CONF=" + c.Conf, "SLURM_TIME_FORMAT=standard"}
}

// Command returns a command that runs a Slurm CLI tool against the
// cluster.
func (c *Cluster) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), c.Env()...)
	return cmd
}

// Start starts a cluster and registers its shutdown with t.Cleanup. It
// skips the test when Slurm or munge is not installed or the test does
// not run as root, unless SUANLI_REQUIRE_REAL=1, which makes that a
// failure (CI sets it, so a broken install cannot pass as a skip).
func Start(t testing.TB) *Cluster {
	t.Helper()
	if why := missing(); why != "" {
		if os.Getenv("SUANLI_REQUIRE_REAL") == "1" {
			t.Fatalf("slurmtest: %s (SUANLI_REQUIRE_REAL=1)", why)
		}
		t.Skipf("slurmtest: %s", why)
	}
	scripts, err := scriptsDir()
	if err != nil {
		t.Fatalf("slurmtest: %v", err)
	}
	s, err := acquireSlot(scripts)
	if err != nil {
		t.Fatalf("slurmtest: %v", err)
	}
	port := PortBase + 10*s.n
	ctx, cancel := context.WithTimeout(context.Background(), upTimeout)
	defer cancel()
	up := exec.CommandContext(ctx, filepath.Join(scripts, "slurm-up.sh"))
	up.Env = append(os.Environ(), "SLURM_PORT_BASE="+strconv.Itoa(port))
	var stdout, stderr bytes.Buffer
	up.Stdout, up.Stderr = &stdout, &stderr
	t0 := time.Now()
	err = up.Run()
	dir := strings.TrimSpace(stdout.String())
	if dir != "" {
		// Recorded before anything can fail, so a crashed test's
		// daemons are stopped by the next user of the slot.
		s.record(dir)
	}
	if err != nil {
		if dir != "" {
			down(scripts, dir)
		}
		s.release()
		t.Fatalf("slurmtest: slurm-up.sh: %v\n%s", err, stderr.String())
	}
	t.Logf("slurmtest: cluster %s up on port %d in %s", dir, port, time.Since(t0).Round(time.Millisecond))
	host, _ := os.Hostname()
	host, _, _ = strings.Cut(host, ".")
	c := &Cluster{
		Dir:        dir,
		Conf:       filepath.Join(dir, "slurm.conf"),
		JobCompLog: filepath.Join(dir, "log", "jobcomp.txt"),
		Node:       host,
		Port:       port,
	}
	t.Cleanup(func() {
		if err := down(scripts, dir); err != nil {
			t.Errorf("slurmtest: slurm-down.sh: %v", err)
		}
		s.release()
	})
	return c
}

// missing says why no cluster can start here, "" when one can.
func missing() string {
	if os.Geteuid() != 0 {
		return "not root (slurmd must start jobs as any user)"
	}
	for _, p := range []string{"/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged"} {
		if _, err := os.Stat(p); err != nil {
			return p + " is not installed (apt-get install slurmctld slurmd slurm-client munge)"
		}
	}
	for _, p := range []string{"sbatch", "squeue", "scontrol", "scancel", "sinfo"} {
		if _, err := exec.LookPath(p); err != nil {
			return p + " is not installed (apt-get install slurm-client)"
		}
	}
	return ""
}

// scriptsDir finds the repository's scripts dir: next to this source file,
// or else above the working directory (a test runs in its package dir).
func scriptsDir() (string, error) {
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, d := range starts {
		for i := 0; i < 16 && d != filepath.Dir(d); i, d = i+1, filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "scripts", "slurm-up.sh")); err == nil {
				return filepath.Join(d, "scripts"), nil
			}
		}
	}
	return "", errors.New("scripts/slurm-up.sh not found above the test's directory")
}

func down(scripts, dir string) error {
	ctx, cancel := context.WithTimeout(context.Background(), upTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(scripts, "slurm-down.sh"), dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// slot is one of the host's cluster slots, held through an exclusive
// flock on /tmp/suanli-slurm-N.lock for the cluster's lifetime. The lock
// dies with the process, so a killed test frees its slot; the slot's
// .dir file names the dir of the cluster last started in it, whose
// daemons the next holder stops (by their PID files) before starting its
// own on the same ports.
type slot struct {
	n    int
	lock *os.File
}

func slotPath(n int, ext string) string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("suanli-slurm-%d.%s", n, ext))
}

func acquireSlot(scripts string) (*slot, error) {
	deadline := time.Now().Add(slotWaitMax)
	for {
		for n := 0; n < slots; n++ {
			f, err := os.OpenFile(slotPath(n, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
			if err != nil {
				return nil, err
			}
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				f.Close()
				continue
			}
			s := &slot{n: n, lock: f}
			if old, err := os.ReadFile(slotPath(n, "dir")); err == nil {
				if d := strings.TrimSpace(string(old)); d != "" {
					if _, err := os.Stat(filepath.Join(d, "slurm.conf")); err == nil {
						_ = down(scripts, d) // best effort: a failure shows up as a port in use
					}
				}
			}
			return s, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no free cluster slot after %s (%d clusters running)", slotWaitMax, slots)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (s *slot) record(dir string) {
	_ = os.WriteFile(slotPath(s.n, "dir"), []byte(dir+"\n"), 0o644) // best effort: only cleanup after a crash uses it
}

func (s *slot) release() {
	_ = os.Remove(slotPath(s.n, "dir")) // the cluster is down; nothing to clean up after
	s.lock.Close()                      // closing the file drops the flock
}

package slurm

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/slurm/slurmtest"
)

// TestTwoClusters starts two slurmtest clusters at once, as two test
// packages would, and runs a job on each: they get their own ports and do
// not see each other's jobs. It runs alongside TestReal's cluster.
func TestTwoClusters(t *testing.T) {
	t.Parallel()
	a, b := slurmtest.Start(t), slurmtest.Start(t)
	if a.Port == b.Port || a.Dir == b.Dir {
		t.Fatalf("clusters share port %d or dir %s", a.Port, a.Dir)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []*slurmtest.Cluster{a, b} {
		out, err := c.Command(ctx, "sbatch", "--parsable", "--job-name=only-on-"+c.Dir, "--output=/dev/null", "--wrap=true").CombinedOutput()
		if err != nil {
			t.Fatalf("sbatch on %s: %v: %s", c.Dir, err, out)
		}
	}
	for _, c := range []*slurmtest.Cluster{a, b} {
		out, err := c.Command(ctx, "squeue", "-h", "-t", "all", "-o", "%j").CombinedOutput()
		if err != nil {
			t.Fatalf("squeue on %s: %v: %s", c.Dir, err, out)
		}
		if names := strings.Fields(string(out)); len(names) != 1 || names[0] != "only-on-"+c.Dir {
			t.Errorf("cluster %s lists jobs %v, want only its own", c.Dir, names)
		}
		nodes, err := c.Command(ctx, "sinfo", "-h", "-N", "-o", "%N %c %G").CombinedOutput()
		if err != nil {
			t.Fatalf("sinfo: %v: %s", err, nodes)
		}
		if want := fmt.Sprintf("%s %d gpu:%s:%d", c.Node, slurmtest.CPUs, slurmtest.GPUType, slurmtest.GPUs); strings.TrimSpace(string(nodes)) != want {
			t.Errorf("sinfo = %q, want %q", nodes, want)
		}
	}
}

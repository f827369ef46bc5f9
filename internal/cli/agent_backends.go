package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/slurm"
)

type slurmFlags struct {
	conf, partition, ssh, defaultGPU, jobcomp string
	gresModels                                []string
}

// addBackendFlags adds the slurm and kubernetes backends' flags.
func addBackendFlags(cmd *cobra.Command, bf *backendFlags) {
	f := cmd.Flags()
	f.StringVar(&bf.slurm.conf, "slurm-conf", "", "slurm: SLURM_CONF for the CLI (default: the environment's)")
	f.StringVar(&bf.slurm.partition, "slurm-partition", "", "slurm: partition to submit to and list nodes of (default: the cluster's default)")
	f.StringVar(&bf.slurm.ssh, "slurm-ssh", "", "slurm: run the Slurm CLI on this login node over ssh (user@host; keys, no prompts)")
	f.StringSliceVar(&bf.slurm.gresModels, "slurm-gres-model", nil, "slurm: GRES type to catalog model, TYPE=MODEL, repeatable (default: case-insensitive catalog match)")
	f.StringVar(&bf.slurm.defaultGPU, "slurm-default-gpu-model", "", "slurm: catalog model of untyped gpu:N GRES")
	f.StringVar(&bf.slurm.jobcomp, "slurm-jobcomp", "", "slurm: jobcomp/filetxt file as this host sees it (default: from scontrol show config)")
	addKubeFlags(cmd, bf)
}

func newSlurmBackend(_ context.Context, bf *backendFlags) (backend.Backend, error) {
	work, err := filepath.Abs(filepath.Join(bf.workDir, "slurm"))
	if err != nil {
		return nil, err
	}
	models := map[string]string{}
	for _, kv := range bf.slurm.gresModels {
		t, m, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("--slurm-gres-model %q: want TYPE=MODEL", kv)
		}
		models[t] = m
	}
	return slurm.New(slurm.Options{Runner: slurm.Exec{Conf: bf.slurm.conf, SSHHost: bf.slurm.ssh}, Partition: bf.slurm.partition,
		WorkDir: work, GresModels: models, DefaultGPUModel: bf.slurm.defaultGPU, JobCompLog: bf.slurm.jobcomp})
}

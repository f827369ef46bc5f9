package slurm

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestSubmissionGolden compares the sbatch arguments and batch script of a
// CPU job and of a 2-replica GPU gang with reviewed golden files (go test
// -update rewrites them), and checks that each script is valid bash.
func TestSubmissionGolden(t *testing.T) {
	b := newTestBackend(t, newFake(t), Options{WorkDir: "/work/runs", Partition: "gpu"})
	cpu := backend.Run{Key: backend.Key{JobID: "cpu-1", Attempt: 0}, Spec: core.JobSpec{
		Command:     `python3 train.py --name 'it''s' "$HOME"`,
		Replicas:    []core.Replica{{CPUMilli: 1500, MemMiB: 3000}},
		MaxDuration: 90 * time.Minute,
	}}
	gang := backend.Run{Key: backend.Key{JobID: "gang-1", Attempt: 2}, Spec: core.JobSpec{
		Command: "torchrun train.py",
		Replicas: []core.Replica{
			{AccelModels: []string{"A100", "H100"}, AccelCount: 1, CPUMilli: 4000, MemMiB: 16384},
			{AccelModels: []string{"A100", "H100"}, AccelCount: 1, CPUMilli: 4000, MemMiB: 16384},
		},
		MaxDuration: 30 * time.Second,
	}}
	for _, tt := range []struct {
		name string
		run  backend.Run
	}{{"sbatch-cpu.golden", cpu}, {"sbatch-gpu-gang.golden", gang}} {
		sub := buildSubmission(tt.run, b.runDir(tt.run.Key), b.partition, b.gpuType)
		got := "sbatch " + strings.Join(sub.args, " \\\n  ") + "\n\n" + sub.script
		path := filepath.Join("testdata", tt.name)
		if *update {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s differs (go test -update rewrites it):\n%s", tt.name, got)
		}
		if out, err := exec.Command("bash", "-n", "-c", sub.script).CombinedOutput(); err != nil {
			t.Errorf("%s: bash -n: %v: %s", tt.name, err, out)
		}
	}
}

func TestGangShape(t *testing.T) {
	gpuType := func(m string) string { return strings.ToLower(m) }
	tests := []struct {
		name       string
		replicas   []core.Replica
		placements []core.Placement
		want       shape
	}{
		{"fractional CPU rounds up", []core.Replica{{CPUMilli: 500, MemMiB: 100}}, nil, shape{cpus: 1, memPerCPU: 100}},
		{"memory per CPU rounds up", []core.Replica{{CPUMilli: 3000, MemMiB: 1000}}, nil, shape{cpus: 3, memPerCPU: 334}},
		{"heterogeneous gang asks the max of each", []core.Replica{
			{CPUMilli: 8000, MemMiB: 1024},
			{CPUMilli: 1000, MemMiB: 65536, AccelCount: 2, AccelModels: []string{"H100"}},
		}, nil, shape{cpus: 8, memPerCPU: 8192, gpus: 2, gpuType: "h100"}},
		{"placement names the model", []core.Replica{{CPUMilli: 1000, MemMiB: 10, AccelCount: 1, AccelModels: []string{"A100", "H100"}}},
			[]core.Placement{{Index: 0, AccelModel: "H100"}}, shape{cpus: 1, memPerCPU: 10, gpus: 1, gpuType: "h100"}},
		{"any model", []core.Replica{{CPUMilli: 1000, MemMiB: 10, AccelCount: 4}}, nil, shape{cpus: 1, memPerCPU: 10, gpus: 4}},
	}
	for _, tt := range tests {
		r := backend.Run{Spec: core.JobSpec{Replicas: tt.replicas}, Placements: tt.placements}
		if got := gangShape(r, gpuType); got != tt.want {
			t.Errorf("%s: gangShape = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestTimeLimit(t *testing.T) {
	tests := map[time.Duration]int64{time.Second: 1, time.Minute: 1, time.Minute + time.Nanosecond: 2, 90 * time.Minute: 90, 30 * 24 * time.Hour: 43200}
	for in, want := range tests {
		if got := timeLimitMinutes(in); got != want {
			t.Errorf("timeLimitMinutes(%s) = %d, want %d", in, got, want)
		}
	}
}

func TestGPUTypeMapping(t *testing.T) {
	b := newTestBackend(t, newFake(t), Options{GresModels: map[string]string{"nvidia_a100_80gb": "A100", "H100": "H100"}, DefaultGPUModel: "V100"})
	types := map[string]string{"A100": "nvidia_a100_80gb", "H100": "H100", "V100": "", "Ascend910B": "ascend910b"}
	for model, want := range types {
		if got := b.gpuType(model); got != want {
			t.Errorf("gpuType(%q) = %q, want %q", model, got, want)
		}
	}
	models := map[string]string{"nvidia_a100_80gb": "A100", "NVIDIA_A100_80GB": "A100", "h100": "H100", "": "V100", "ascend910b": "Ascend910B", "t4": ""}
	for typ, want := range models {
		if got := b.modelOf(typ); got != want {
			t.Errorf("modelOf(%q) = %q, want %q", typ, got, want)
		}
	}
}

func TestDeclaredCommand(t *testing.T) {
	s := core.JobSpec{Duration: 1500 * time.Millisecond, ExitCode: 4}
	if got, want := command(s), "sleep 1.5; exit 4"; got != want {
		t.Errorf("command = %q, want %q", got, want)
	}
}

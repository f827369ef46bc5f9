package slurm

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
)

// Files in a run's directory (<WorkDir>/<key>). The directory must be the
// same path on the agent's host and on the compute nodes (a shared file
// system, as login and compute nodes of a Slurm cluster usually have).
const (
	scriptFile   = "job.sh"          // the batch script, as submitted
	batchLog     = "batch.log"       // the batch step's own output (srun's messages)
	replicasFile = "replicas"        // the gang size, for runs Slurm reports without it
	failedFile   = "failed-replicas" // indexes of failed replicas, in the order they failed
)

func replicaLog(i int) string  { return fmt.Sprintf("replica-%d.log", i) }
func replicaExit(i int) string { return fmt.Sprintf("replica-%d.exit", i) }

// shape is what one Slurm task asks for. A gang is one allocation of
// identical tasks, so a heterogeneous gang asks for the largest of each
// resource on every task (Slurm's heterogeneous jobs would fit exactly,
// but their steps and states are per component, which suanli's gang does
// not need).
type shape struct {
	cpus      int64  // --cpus-per-task
	memPerCPU int64  // --mem-per-cpu in MiB
	gpus      int64  // GPUs per task, 0 for none
	gpuType   string // GRES type, "" for any
}

// submission is one sbatch call: its arguments and the script on stdin.
type submission struct {
	args   []string
	script string
}

// gangShape computes the per-task request of a run. Memory is asked per
// CPU, not per node (--mem), because Slurm may put several tasks on one
// node: tasks × cpus × mem-per-cpu then sums right on every node. Rounding
// mem-per-cpu up may ask for up to cpus-1 MiB more than the replica
// declared.
func gangShape(r backend.Run, gpuType func(model string) string) shape {
	var s shape
	var cpuMilli, mem int64
	for _, rep := range r.Spec.Replicas {
		cpuMilli = max(cpuMilli, rep.CPUMilli)
		mem = max(mem, rep.MemMiB)
		s.gpus = max(s.gpus, rep.AccelCount)
	}
	s.cpus = max(ceilDiv(cpuMilli, 1000), 1)
	s.memPerCPU = max(ceilDiv(mem, s.cpus), 1)
	if s.gpus > 0 {
		if m := gangModel(r); m != "" {
			s.gpuType = gpuType(m)
		}
	}
	return s
}

// gangModel picks the accelerator model a gang asks Slurm for: the model
// suanli's scheduler placed it on when the placements say, else the first
// acceptable model of the first replica that names any, else "" (any
// GPU). Slurm cannot ask for "A100 or H100" in one GRES request, so a
// list of acceptable models narrows to one.
func gangModel(r backend.Run) string {
	for _, p := range r.Placements {
		if p.AccelModel != "" {
			return p.AccelModel
		}
	}
	for _, rep := range r.Spec.Replicas {
		if len(rep.AccelModels) > 0 {
			return rep.AccelModels[0]
		}
	}
	return ""
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// timeLimitMinutes is MaxDuration in Slurm's --time unit, rounded up:
// Slurm keeps time limits in whole minutes.
func timeLimitMinutes(d time.Duration) int64 {
	return max(ceilDiv(int64(d), int64(time.Minute)), 1)
}

// command is what every replica runs: the spec's command, or for a spec
// written for simulated centers (a declared duration and exit code) a
// sleep that stands in for it, so such jobs still go through Slurm.
func command(spec core.JobSpec) string {
	if spec.Command != "" {
		return spec.Command
	}
	secs := strconv.FormatFloat(spec.Duration.Seconds(), 'f', -1, 64)
	return fmt.Sprintf("sleep %s; exit %d", secs, spec.ExitCode)
}

// buildSubmission writes the sbatch arguments and batch script for r.
//
// The whole gang is one allocation of R tasks and one srun step, so Slurm
// starts all replicas together or none. Each task runs the command under
// bash with SUANLI_REPLICA set to its rank, writes its output to its own
// log, and records its exit code in a file; --kill-on-bad-exit stops the
// gang when one replica fails. srun itself reports the highest status of
// all tasks (the peers it killed, 143 or 137), so the script exits with
// the code of the replica that failed first instead.
func buildSubmission(r backend.Run, runDir, partition string, gpuType func(string) string) submission {
	key := r.Key.String()
	replicas := len(r.Spec.Replicas)
	s := gangShape(r, gpuType)
	args := []string{
		"--parsable",
		"--job-name=" + key,
		"--comment=" + key,
	}
	if partition != "" {
		args = append(args, "--partition="+partition)
	}
	args = append(args,
		"--ntasks="+strconv.Itoa(replicas),
		"--cpus-per-task="+strconv.FormatInt(s.cpus, 10),
		"--mem-per-cpu="+strconv.FormatInt(s.memPerCPU, 10),
	)
	if s.gpus > 0 {
		g := strconv.FormatInt(s.gpus, 10)
		if s.gpuType != "" {
			g = s.gpuType + ":" + g
		}
		args = append(args, "--gpus-per-task="+g)
	}
	args = append(args,
		"--time="+strconv.FormatInt(timeLimitMinutes(r.Spec.MaxDuration), 10),
		// suanli retries a run as a new attempt with a new key; Slurm
		// requeueing it under the same key would run it twice.
		"--no-requeue",
		"--chdir="+runDir,
		"--output="+filepath.Join(runDir, batchLog),
		// NONE: the agent's own environment (its credentials) must not
		// reach tenant code; Slurm gives the job the user's login
		// environment instead.
		fmt.Sprintf("--export=NONE,SUANLI_JOB_ID=%s,SUANLI_ATTEMPT=%d", r.Key.JobID, r.Key.Attempt),
	)
	return submission{args: args, script: batchScript(key, runDir, replicas, s, command(r.Spec))}
}

// loginEnv builds the user's login environment when Slurm did not. With
// sbatch --export=NONE (which keeps the agent's own environment, and its
// credentials, out of tenant code) Slurm loads the login environment only
// for jobs root submits; a job an unprivileged agent submits starts with
// no HOME and no exported PATH, so the script does what a login would.
const loginEnv = `if [ -z "${HOME:-}" ]; then
  USER=$(id -un)
  LOGNAME=$USER
  HOME=$(getent passwd "$USER" | cut -d: -f6)
  PATH=/usr/local/bin:/usr/bin:/bin
  export USER LOGNAME HOME PATH
  if [ -r /etc/profile ]; then . /etc/profile >/dev/null 2>&1; fi
  for f in "$HOME/.bash_profile" "$HOME/.bash_login" "$HOME/.profile"; do
    if [ -r "$f" ]; then . "$f" >/dev/null 2>&1; break; fi
  done
fi
`

// replicaWrapper runs in every task: $1 is the run dir, $2 the command.
const replicaWrapper = `export SUANLI_REPLICA=$SLURM_PROCID
/bin/bash -c "$2"
rc=$?
echo "$rc" > "$1/replica-$SUANLI_REPLICA.exit"
if [ "$rc" -ne 0 ]; then echo "$SUANLI_REPLICA" >> "$1/` + failedFile + `"; fi
exit "$rc"`

func batchScript(key, runDir string, replicas int, s shape, cmd string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#!/bin/bash\n")
	fmt.Fprintf(&b, "# suanli run %s: %d replica(s), each %d CPU, %d MiB per CPU", key, replicas, s.cpus, s.memPerCPU)
	if s.gpus > 0 {
		fmt.Fprintf(&b, ", %d GPU", s.gpus)
		if s.gpuType != "" {
			fmt.Fprintf(&b, " (%s)", s.gpuType)
		}
	}
	b.WriteString(".\n# Written by the suanli agent; the options are on the sbatch command line.\n")
	b.WriteString(loginEnv)
	// sbatch --export=NONE makes srun export nothing either; the replicas
	// get this script's environment.
	b.WriteString("export SLURM_EXPORT_ENV=ALL\n")
	fmt.Fprintf(&b, "export SUANLI_REPLICAS=%d\n", replicas)
	fmt.Fprintf(&b, "run_dir=%s\n", shellQuote(runDir))
	fmt.Fprintf(&b, "command=%s\n", shellQuote(cmd))
	fmt.Fprintf(&b, "srun --kill-on-bad-exit=1 --ntasks=%d --cpus-per-task=%d --output=\"$run_dir/replica-%%t.log\" \\\n", replicas, s.cpus)
	fmt.Fprintf(&b, "  /bin/bash -c %s suanli-replica \"$run_dir\" \"$command\"\n", shellQuote(replicaWrapper))
	b.WriteString("rc=$?\n")
	fmt.Fprintf(&b, "if [ -s \"$run_dir/%s\" ]; then\n", failedFile)
	fmt.Fprintf(&b, "  read -r first < \"$run_dir/%s\"\n", failedFile)
	b.WriteString("  read -r rc < \"$run_dir/replica-$first.exit\"\n")
	b.WriteString("fi\n")
	b.WriteString("exit \"$rc\"\n")
	return b.String()
}

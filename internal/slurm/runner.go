package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Runner runs one Slurm CLI command and returns its standard output. A
// failed command returns a *CommandError. stdin, when not nil, is the
// command's standard input (sbatch reads the batch script from it, so the
// script need not exist on the host that runs sbatch).
//
// Exec is the real one; tests replay recorded output through their own.
type Runner interface {
	Run(ctx context.Context, stdin []byte, name string, args ...string) (stdout []byte, err error)
}

// CommandTimeout bounds one CLI call when the caller's context has no
// earlier deadline: a hung slurmctld must not hang the agent's poll loop.
const CommandTimeout = 30 * time.Second

// stderrBytesMax bounds how much of a failed command's stderr goes into its
// error; Slurm's messages are one or two lines.
const stderrBytesMax = 1024

// Exec runs the Slurm CLI as child processes, on this host or, when SSHHost
// is set, on a login node through `ssh -o BatchMode=yes HOST`.
type Exec struct {
	// Conf is the SLURM_CONF the commands use; empty keeps the
	// environment's (or the remote host's) default.
	Conf string
	// SSHHost, when set, runs every command on this host (user@host
	// works). Keys must be set up: BatchMode never prompts.
	SSHHost string
}

// Run implements Runner.
func (e Exec) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, CommandTimeout)
		defer cancel()
	}
	argv := e.argv(name, args)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// A standard time format whatever the caller's environment says:
	// the parsers read ISO times only.
	cmd.Env = append(os.Environ(), "SLURM_TIME_FORMAT=standard")
	if e.Conf != "" && e.SSHHost == "" {
		cmd.Env = append(cmd.Env, "SLURM_CONF="+e.Conf)
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = time.Second // ssh may leave the pipes open after a kill
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &CommandError{Command: commandLine(name, args), Stderr: oneLine(stderr.Bytes()), Err: err}
	}
	return stdout.Bytes(), nil
}

// argv is the process to start: the command itself or ssh with a remote
// command line (ssh joins its arguments into one shell line, so each part
// is quoted here).
func (e Exec) argv(name string, args []string) []string {
	if e.SSHHost == "" {
		return append([]string{name}, args...)
	}
	remote := []string{"env", "SLURM_TIME_FORMAT=standard"}
	if e.Conf != "" {
		remote = append(remote, "SLURM_CONF="+e.Conf)
	}
	remote = append(remote, name)
	remote = append(remote, args...)
	for i, a := range remote {
		remote[i] = shellQuote(a)
	}
	return []string{"ssh", "-o", "BatchMode=yes", e.SSHHost, "--", strings.Join(remote, " ")}
}

// CommandError is a failed CLI call: the command line, its stderr on one
// line, and the exit status (or context error) underneath.
type CommandError struct {
	Command string
	Stderr  string
	Err     error
}

func (e *CommandError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("slurm: %s: %v", e.Command, e.Err)
	}
	return fmt.Sprintf("slurm: %s: %s: %v", e.Command, e.Stderr, e.Err)
}

func (e *CommandError) Unwrap() error { return e.Err }

// ExitCode is the command's exit status, or -1 when it did not exit on its
// own (not started, killed, timed out).
func (e *CommandError) ExitCode() int {
	var x *exec.ExitError
	if errors.As(e.Err, &x) {
		return x.ExitCode()
	}
	return -1
}

// commandLine is how a command appears in errors: quoted only where needed.
func commandLine(name string, args []string) string {
	parts := make([]string, 0, len(args)+1)
	parts = append(parts, name)
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\|&;<>()$`*?[]{}~#") {
			a = shellQuote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// oneLine joins a command's stderr into one line and bounds it.
func oneLine(b []byte) string {
	if len(b) > stderrBytesMax {
		b = b[:stderrBytesMax]
	}
	return strings.Join(strings.Fields(string(b)), " ")
}

// shellQuote quotes s for a POSIX shell: single quotes, with each single
// quote closed, escaped and reopened.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

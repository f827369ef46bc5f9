// Package executor runs placed jobs: Local runs real child processes on this
// machine; Simulated models a run on a simulated center for its declared
// duration. Both report each run's end once on an Outcome channel.
package executor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// Run is one attempt of a job on its placements.
type Run struct {
	JobID      string
	Attempt    int
	Spec       core.JobSpec
	Placements []core.Placement
	// StartedAt is when the run started; set when resuming a run that began
	// before a restart (simulated runs only), zero for a new run.
	StartedAt time.Time
}

// Outcome is how a run ended. Replicas carry per-replica exit codes and wall
// time in milliseconds.
type Outcome struct {
	JobID  string
	Result store.Result
}

// OutcomeQueueMax bounds the outcome channel; executors block when the
// control loop falls this far behind rather than dropping an outcome.
const OutcomeQueueMax = 1024

// LogBytesMax bounds what JobLogs returns per replica (the tail is kept).
const LogBytesMax = 1 << 20

// LogDir is where a job's replica logs are kept under the data dir.
func LogDir(dataDir, jobID string) string { return filepath.Join(dataDir, "logs", jobID) }

func logPath(dataDir, jobID string, replica int) string {
	return filepath.Join(LogDir(dataDir, jobID), fmt.Sprintf("replica-%d.log", replica))
}

// ReadLogs returns a job's logs: one replica's output as is, several
// replicas' outputs each under a header. Each replica's log is cut to its
// last LogBytesMax bytes.
func ReadLogs(dataDir, jobID string, replicas int) (string, error) {
	var b strings.Builder
	for i := 0; i < replicas; i++ {
		data, err := readTail(logPath(dataDir, jobID, i), LogBytesMax)
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return "", err
		}
		if replicas > 1 {
			fmt.Fprintf(&b, "==> replica %d <==\n", i)
		}
		b.Write(data)
	}
	return b.String(), nil
}

func readTail(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(st.Size()-n, 0)
	buf := make([]byte, st.Size()-off)
	_, err = f.ReadAt(buf, off)
	return buf, err
}

func intp(v int) *int { return &v }

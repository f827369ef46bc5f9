package slurm

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/suanli/suanli/internal/backend"
)

// lineBytesMax bounds one line of CLI output or of the jobcomp file; a
// longer line is skipped (scontrol lines are a few KiB).
const lineBytesMax = 256 << 10

// record is one Slurm job as any source reports it (squeue, jobcomp,
// sacct), before it becomes a backend.Status.
type record struct {
	jobID  string
	key    backend.Key
	state  string // Slurm's word: RUNNING, COMPLETED, CANCELLED, ...
	reason string // Slurm's reason, "" for None
	start  time.Time
	end    time.Time
	wall   time.Duration // elapsed as Slurm counts it; -1 when unknown
	tasks  int           // 0 when the source does not say
	exit   exitStatus
}

// exitStatus is a job's exit: a code, or the signal that killed the batch
// script. known is false while the job runs or when the source lacks it.
type exitStatus struct {
	code, signal int
	known        bool
}

// lines calls fn for each non-empty line of out, at most limit of them.
// Lines longer than lineBytesMax are skipped.
func lines(out []byte, limit int, fn func(string)) {
	for n := 0; n < limit && len(out) > 0; {
		l := out
		if i := bytes.IndexByte(out, '\n'); i >= 0 {
			l, out = out[:i], out[i+1:]
		} else {
			out = nil
		}
		l = bytes.TrimRight(l, "\r")
		if len(l) > lineBytesMax || len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		fn(string(l))
		n++
	}
}

// parseKV splits one `scontrol show ... -o` or jobcomp line into its
// Key=Value pairs. Values may contain spaces (Reason=, OS=, a WorkDir):
// a word that does not start a new Key= pair belongs to the value before.
func parseKV(line string) map[string]string {
	kv := make(map[string]string, 64)
	last := ""
	for _, w := range strings.Fields(line) {
		k, v, ok := strings.Cut(w, "=")
		if ok && isKVKey(k) {
			kv[k], last = v, k
			continue
		}
		if last != "" {
			kv[last] += " " + w
		}
	}
	return kv
}

// isKVKey reports whether s looks like a scontrol key: letters, digits and
// the separators Slurm uses in keys (AllocNode:Sid, CPUs/Task, Socks/Node).
func isKVKey(s string) bool {
	if s == "" || !isLetter(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '_' && c != ':' && c != '/' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// nullable turns Slurm's placeholders for "no value" into "".
func nullable(s string) string {
	switch s {
	case "(null)", "None", "N/A", "n/a", "Unknown":
		return ""
	}
	return s
}

// parseTime reads Slurm's standard time format (2006-01-02T15:04:05, in
// the controller's time zone); placeholders give the zero time.
func parseTime(s string, loc *time.Location) time.Time {
	if nullable(s) == "" {
		return time.Time{}
	}
	t, err := time.ParseInLocation("2006-01-02T15:04:05", s, loc)
	if err != nil {
		return time.Time{}
	}
	return t
}

// parseElapsed reads Slurm's elapsed format [days-][hours:]minutes:seconds
// (squeue TimeUsed). It returns -1 when s is not one.
func parseElapsed(s string) time.Duration {
	days := 0
	if d, rest, ok := strings.Cut(s, "-"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return -1
		}
		days, s = n, rest
	}
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return -1
	}
	var secs int64
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return -1
		}
		secs = secs*60 + int64(n)
	}
	return time.Duration(int64(days)*86400+secs) * time.Second
}

// parseExitPair reads scontrol's, jobcomp's and sacct's "code:signal".
func parseExitPair(s string) exitStatus {
	c, sig, ok := strings.Cut(s, ":")
	if !ok {
		return exitStatus{}
	}
	code, err1 := strconv.Atoi(c)
	signal, err2 := strconv.Atoi(sig)
	if err1 != nil || err2 != nil || code < 0 || signal < 0 {
		return exitStatus{}
	}
	return exitStatus{code: code, signal: signal, known: true}
}

// parseWaitStatus reads squeue's exit_code, which is the raw wait(2)
// status of the batch script: the low 7 bits are a killing signal, the
// next byte the exit code.
func parseWaitStatus(s string) exitStatus {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return exitStatus{}
	}
	if sig := n & 0x7f; sig != 0 {
		return exitStatus{signal: sig, known: true}
	}
	return exitStatus{code: (n >> 8) & 0xff, known: true}
}

// squeueFormat is the squeue -O field list parseSqueue reads. Fields are
// separated by '|', which no field of a suanli job can contain; Comment
// and Name come last because other users' may contain anything, and a
// suanli job is only recognized when both equal its key.
const squeueFormat = "JobID:|,State:|,Reason:|,StartTime:|,EndTime:|,TimeUsed:|,NumTasks:|,exit_code:|,Comment:|,Name:"

// squeueFields is the number of '|'-separated fields before Comment.
const squeueFields = 8

// parseSqueue reads `squeue -h -t all -O squeueFormat` output, keeping
// only suanli jobs. exit is only set for jobs that ended.
func parseSqueue(out []byte, loc *time.Location, limit int) []record {
	var recs []record
	lines(out, limit, func(l string) {
		f := strings.SplitN(l, "|", squeueFields+1)
		if len(f) != squeueFields+1 {
			return
		}
		key, ok := suanliKey(strings.TrimSpace(f[squeueFields]))
		if !ok {
			return
		}
		r := record{
			jobID:  strings.TrimSpace(f[0]),
			key:    key,
			state:  strings.TrimSpace(f[1]),
			reason: nullable(strings.TrimSpace(f[2])),
			start:  parseTime(strings.TrimSpace(f[3]), loc),
			end:    parseTime(strings.TrimSpace(f[4]), loc),
			wall:   parseElapsed(strings.TrimSpace(f[5])),
		}
		r.tasks, _ = strconv.Atoi(strings.TrimSpace(f[6]))
		switch st := stateOf(r.state); {
		case st.Terminal():
			r.exit = parseWaitStatus(strings.TrimSpace(f[7]))
		case st == backend.Pending:
			r.start, r.end = time.Time{}, time.Time{} // the backfill scheduler's estimates
		default:
			r.end = time.Time{} // the time limit's end, not an end
		}
		recs = append(recs, r)
	})
	return recs
}

// suanliKey reads squeue's "comment|name" tail: a suanli job carries its
// key as both, and nothing else is a suanli job.
func suanliKey(commentName string) (backend.Key, bool) {
	comment, name, ok := strings.Cut(commentName, "|")
	if !ok || comment != name {
		return backend.Key{}, false
	}
	return backend.ParseKey(name)
}

// parseJobComp reads jobcomp/filetxt lines (one Key=Value line per ended
// job), keeping only suanli jobs. The file has no comment, so the job
// name alone identifies a suanli job.
func parseJobComp(data []byte, loc *time.Location, limit int) []record {
	var recs []record
	lines(data, limit, func(l string) {
		kv := parseKV(l)
		key, ok := backend.ParseKey(kv["Name"])
		if !ok || kv["JobId"] == "" {
			return
		}
		r := record{
			jobID: kv["JobId"],
			key:   key,
			state: firstWord(kv["JobState"]),
			start: parseTime(kv["StartTime"], loc),
			end:   parseTime(kv["EndTime"], loc),
			wall:  -1,
			exit:  parseExitPair(kv["ExitCode"]),
		}
		if !r.start.IsZero() && !r.end.IsZero() && !r.end.Before(r.start) {
			r.wall = r.end.Sub(r.start)
		}
		recs = append(recs, r)
	})
	return recs
}

// sacctFormat is the sacct --format list parseSacct reads; JobName comes
// last as the only field that may contain the separator.
const sacctFormat = "JobIDRaw,State,Reason,ExitCode,Start,End,ElapsedRaw,JobName"

// sacctFields is the number of '|'-separated fields before JobName.
const sacctFields = 7

// parseSacct reads `sacct -n -P -X --format=sacctFormat` output, keeping
// only suanli jobs (sacct has no comment unless the site stores it, so the
// name alone identifies them, as in the jobcomp file).
func parseSacct(out []byte, loc *time.Location, limit int) []record {
	var recs []record
	lines(out, limit, func(l string) {
		f := strings.SplitN(l, "|", sacctFields+1)
		if len(f) != sacctFields+1 {
			return
		}
		key, ok := backend.ParseKey(f[sacctFields])
		if !ok {
			return
		}
		r := record{
			jobID:  f[0],
			key:    key,
			state:  firstWord(f[1]), // "CANCELLED by 0"
			reason: nullable(f[2]),
			start:  parseTime(f[4], loc),
			end:    parseTime(f[5], loc),
			wall:   -1,
		}
		if secs, err := strconv.ParseInt(f[6], 10, 64); err == nil && secs >= 0 {
			r.wall = time.Duration(secs) * time.Second
		}
		if stateOf(r.state).Terminal() {
			r.exit = parseExitPair(f[3])
		} else {
			r.end = time.Time{}
		}
		recs = append(recs, r)
	})
	return recs
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	return w
}

// stateOf maps a Slurm job state to a backend state. States suanli has no
// word for map to the nearest one; an unknown state counts as pending so
// that the agent never settles a job Slurm may still run.
func stateOf(s string) backend.State {
	switch s {
	case "COMPLETED":
		return backend.Succeeded
	case "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "PREEMPTED", "SPECIAL_EXIT":
		return backend.Failed
	case "CANCELLED", "REVOKED":
		return backend.Cancelled
	case "TIMEOUT", "DEADLINE":
		return backend.TimedOut
	case "RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "RESIZING", "SIGNALING", "STAGE_OUT":
		return backend.Running
	}
	// PENDING, CONFIGURING, REQUEUED, REQUEUE_HOLD, REQUEUE_FED, RESV_DEL_HOLD.
	return backend.Pending
}

// slurmConfig is what the backend reads from `scontrol show config`.
type slurmConfig struct {
	accounting bool          // AccountingStorageType is not accounting_storage/none
	jobCompLog string        // JobCompLoc when JobCompType is jobcomp/filetxt
	minJobAge  time.Duration // how long squeue lists an ended job; -1 when not said
}

// parseConfig reads `scontrol show config` ("Key = Value" lines).
func parseConfig(out []byte) slurmConfig {
	c := slurmConfig{minJobAge: -1}
	var compType, compLoc string
	lines(out, 4096, func(l string) {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			return
		}
		switch strings.TrimSpace(k) {
		case "AccountingStorageType":
			t := strings.TrimSpace(v)
			c.accounting = t != "" && t != "accounting_storage/none"
		case "JobCompType":
			compType = strings.TrimSpace(v)
		case "JobCompLoc":
			compLoc = strings.TrimSpace(v)
		case "MinJobAge": // "300 sec"
			if n, err := strconv.Atoi(firstWord(v)); err == nil && n >= 0 {
				c.minJobAge = time.Duration(n) * time.Second
			}
		}
	})
	if compType == "jobcomp/filetxt" && strings.HasPrefix(compLoc, "/") {
		c.jobCompLog = compLoc
	}
	return c
}

// nodeRecord is one `scontrol show node -o` line.
type nodeRecord struct {
	name       string
	cpus       int64
	memMiB     int64
	gres       []gres
	state      string
	reason     string
	partitions []string
}

// gres is one generic resource of a node: gpu:a100:4 is {gpu, a100, 4}.
type gres struct {
	name, typ string
	count     int64
}

// parseNodes reads `scontrol show node -o` output.
func parseNodes(out []byte, limit int) []nodeRecord {
	var nodes []nodeRecord
	lines(out, limit, func(l string) {
		kv := parseKV(l)
		if kv["NodeName"] == "" {
			return
		}
		n := nodeRecord{name: kv["NodeName"], state: kv["State"], reason: nullable(kv["Reason"])}
		n.cpus, _ = strconv.ParseInt(kv["CPUTot"], 10, 64)
		n.memMiB, _ = strconv.ParseInt(kv["RealMemory"], 10, 64)
		n.gres = parseGres(kv["Gres"])
		if p := nullable(kv["Partitions"]); p != "" {
			n.partitions = strings.Split(p, ",")
		}
		nodes = append(nodes, n)
	})
	return nodes
}

// parseGres reads a node's Gres= list: "gpu:a100:4", "gpu:2",
// "gpu:a100:2(S:0),gpu:h100:2(S:1)", "mps:100", "(null)".
func parseGres(s string) []gres {
	if nullable(s) == "" {
		return nil
	}
	var out []gres
	for _, item := range splitGres(s) {
		if i := strings.IndexByte(item, '('); i >= 0 {
			item = item[:i] // socket or index detail
		}
		parts := strings.Split(item, ":")
		if len(parts) < 2 || len(parts) > 3 {
			continue
		}
		count, err := strconv.ParseInt(parts[len(parts)-1], 10, 64)
		if err != nil || count <= 0 {
			continue
		}
		g := gres{name: parts[0], count: count}
		if len(parts) == 3 {
			g.typ = parts[1]
		}
		out = append(out, g)
	}
	return out
}

// splitGres splits a Gres list at the commas outside parentheses (the
// socket detail "(S:0,1)" has commas of its own).
func splitGres(s string) []string {
	var out []string
	depth, startIdx := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[startIdx:i])
				startIdx = i + 1
			}
		}
	}
	return append(out, s[startIdx:])
}

// nodeNotReady lists the node state words (base state or +FLAG) that make
// a node unschedulable. Powered-down cloud nodes are not among them: Slurm
// powers them up for work.
var nodeNotReady = []string{"DOWN", "DRAIN", "DRAINED", "DRAINING", "FAIL", "FAILING", "NOT_RESPONDING", "UNKNOWN", "FUTURE", "INVAL", "MAINTENANCE", "REBOOT_ISSUED"}

// nodeReady reports whether a node in Slurm state s (IDLE, MIXED+DRAIN,
// DOWN+NOT_RESPONDING, IDLE*, ...) takes new work.
func nodeReady(s string) bool {
	for _, w := range strings.Split(strings.TrimRight(s, "*~#!%$@^-"), "+") {
		for _, bad := range nodeNotReady {
			if w == bad {
				return false
			}
		}
	}
	return strings.TrimSpace(s) != "" && !strings.HasSuffix(s, "*")
}

// parseJobID reads sbatch --parsable output: "ID" or "ID;cluster".
func parseJobID(out []byte) (string, error) {
	s := strings.TrimSpace(string(out))
	id, _, _ := strings.Cut(s, ";")
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return "", fmt.Errorf("slurm: sbatch printed %q, not a job id", oneLine(out))
	}
	return id, nil
}

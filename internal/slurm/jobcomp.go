package slurm

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// JobCompTailBytesMax bounds how much of the jobcomp file one refresh
// reads: the file only grows (a line per ended job, forever), so the first
// read starts this far from its end, and later reads take only what was
// appended since, at most this much.
const JobCompTailBytesMax = 4 << 20

// jobComp follows a jobcomp/filetxt file and remembers the suanli jobs it
// records, at most RunsMax of them (the oldest are dropped first). Safe
// for concurrent use.
type jobComp struct {
	path string

	mu     sync.Mutex
	offset int64             // the file is parsed up to here (a line start)
	byKey  map[string]record // by key string; the latest job of a key wins
	order  []string          // keys in the order first seen, for eviction
}

func newJobComp(path string) *jobComp {
	return &jobComp{path: path, byKey: map[string]record{}}
}

// refresh reads what was appended to the file since the last call. A file
// that does not exist yet has no ended jobs; one that shrank was rotated
// and is read from the start of its tail again.
func (j *jobComp) refresh(loc *time.Location) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	f, err := os.Open(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("slurm: jobcomp log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("slurm: jobcomp log: %w", err)
	}
	size := st.Size()
	if size < j.offset {
		j.offset = 0
	}
	from := max(j.offset, size-JobCompTailBytesMax)
	if from >= size {
		return nil
	}
	buf := make([]byte, size-from)
	if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("slurm: jobcomp log: %w", err)
	}
	start := 0
	if from > j.offset { // skipped ahead into the middle of a line
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return nil
		}
		start = i + 1
	}
	end := bytes.LastIndexByte(buf, '\n') + 1 // a line still being written waits
	if end <= start {
		return nil
	}
	for _, r := range parseJobComp(buf[start:end], loc, RunsMax*4) {
		j.add(r)
	}
	j.offset = from + int64(end)
	return nil
}

func (j *jobComp) add(r record) {
	k := r.key.String()
	if _, ok := j.byKey[k]; !ok {
		j.order = append(j.order, k)
	}
	j.byKey[k] = r
	for len(j.order) > RunsMax {
		delete(j.byKey, j.order[0])
		j.order = j.order[1:]
	}
}

// records returns the remembered jobs.
func (j *jobComp) records() []record {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]record, 0, len(j.order))
	for _, k := range j.order {
		out = append(out, j.byKey[k])
	}
	return out
}

// lookup returns the latest job recorded for key.
func (j *jobComp) lookup(key string) (record, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	r, ok := j.byKey[key]
	return r, ok
}

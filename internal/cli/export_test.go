package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/seed"
	"github.com/suanli/suanli/internal/store/pgtest"
	"github.com/suanli/suanli/internal/store/sqlstore"
)

// TestMain stops the PostgreSQL cluster the export tests start.
func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.Stop()
	os.Exit(code)
}

// seededDataDir is a SQLite data dir with the demo network, as `suanli
// up` makes it on first start.
func seededDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if _, err := seed.Run(ctx, st); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded the demo network in %s", time.Since(t0).Round(time.Millisecond))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestExportImportCLI moves the seeded demo data dir to PostgreSQL with
// the two commands, as an operator would: export to a file, import into a
// new database, then checks the exit codes, the summaries (equal on both
// sides) and that a second import into the same database is refused with
// one readable line and changes nothing.
func TestExportImportCLI(t *testing.T) {
	data := seededDataDir(t)
	dump := filepath.Join(t.TempDir(), "suanli.dump")
	t0 := time.Now()
	out, errOut, code := runCLI(t, "export", "--data", data, "--out", dump)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	st, err := os.Stat(dump)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("export: %d bytes in %s", st.Size(), time.Since(t0).Round(time.Millisecond))
	for _, want := range []string{"nodes", "transfers", "ledger verified: ", "wrote " + dump} {
		if !strings.Contains(out, want) {
			t.Errorf("export output lacks %q:\n%s", want, out)
		}
	}
	dsn := pgtest.Database(t)
	t0 = time.Now()
	in, errOut, code := runCLI(t, "import", "--db", dsn, "--in", dump)
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	t.Logf("import into PostgreSQL: %s", time.Since(t0).Round(time.Millisecond))
	if summary(out) != summary(in) || !strings.Contains(in, "ledger verified: ") {
		t.Errorf("import summary differs from the export's:\nexport:\n%s\nimport:\n%s", out, in)
	}
	if n := tableRows(in, "nodes"); n < 10_000 {
		t.Errorf("imported %d nodes, want the demo network's ~19k", n)
	}

	_, errOut, code = runCLI(t, "import", "--db", dsn, "--in", dump)
	if code == 0 || !strings.Contains(errOut, "not empty") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("second import: exit %d, stderr %q; want a failure in one line saying the target is not empty", code, errOut)
	}
	// The PostgreSQL store exports the same summary it imported: unchanged.
	again, errOut, code := runCLI(t, "export", "--db", dsn, "--out", filepath.Join(t.TempDir(), "again.dump"))
	if code != 0 || summary(again) != summary(out) {
		t.Errorf("re-export of the target: exit %d %s\n%s\nwant the summary\n%s", code, errOut, again, out)
	}
}

// TestExportImportCLIErrors: bad input fails with exit 1 and one line on
// stderr, and leaves the target as it was.
func TestExportImportCLIErrors(t *testing.T) {
	data := seededDataDir(t)
	dump := filepath.Join(t.TempDir(), "suanli.dump")
	if _, errOut, code := runCLI(t, "export", "--data", data, "--out", dump); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	raw, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.dump")
	if err := os.WriteFile(cut, raw[:len(raw)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "target")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"export without --out", []string{"export", "--data", data}, "--out is required"},
		{"export with --data and --db", []string{"export", "--data", data, "--db", "sqlite://" + data, "--out", "-"}, "not both"},
		{"export of a dir with no database", []string{"export", "--data", t.TempDir(), "--out", "-"}, "no suanli database"},
		{"import without --db", []string{"import", "--in", dump}, "--db is required"},
		{"import of a missing file", []string{"import", "--db", target, "--in", filepath.Join(t.TempDir(), "nope")}, "no such file"},
		{"import of a cut dump", []string{"import", "--db", "sqlite://" + target, "--in", cut}, "dump"},
		{"import of a non-dump", []string{"import", "--db", target, "--in", filepath.Join(data, "suanli.db")}, "not a suanli-export header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, tc.args...)
			if code != 1 || !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("exit %d, stderr %q, stdout %q; want exit 1 and one line with %q", code, errOut, out, tc.want)
			}
			if _, err := os.Stat(filepath.Join(target, "suanli.db")); !os.IsNotExist(err) {
				t.Errorf("a failed import left a database in the target dir: %v", err)
			}
		})
	}
	// The dump on stdout and back in on stdin, into a SQLite data dir.
	var dumpOut, summaryErr bytes.Buffer
	if code := Main(context.Background(), []string{"export", "--data", data, "--out", "-"}, &dumpOut, &summaryErr); code != 0 {
		t.Fatalf("export to stdout: exit %d %s", code, summaryErr.String())
	}
	if !bytes.Equal(dropHeader(dumpOut.Bytes()), dropHeader(raw)) || !strings.Contains(summaryErr.String(), "ledger verified") {
		t.Errorf("export to stdout: the dump differs from the file's, or the summary is not on stderr: %s", summaryErr.String())
	}
	var in bytes.Buffer
	root := newRoot(&in, &bytes.Buffer{})
	root.SetArgs([]string{"import", "--db", "sqlite://" + target})
	root.SetIn(&dumpOut)
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("import from stdin: %v", err)
	}
	if summary(in.String()) != summary(summaryErr.String()) {
		t.Errorf("import from stdin printed\n%s\nwant the export's summary\n%s", in.String(), summaryErr.String())
	}
}

// TestExportToPipe: an --out that exists and is not a regular file (a
// named pipe here, /dev/null in practice) is written in place, never
// replaced by a file.
func TestExportToPipe(t *testing.T) {
	data := seededDataDir(t)
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	read := make(chan int, 1)
	go func() {
		b, _ := os.ReadFile(fifo) // until the export closes its end
		read <- len(b)
	}()
	_, errOut, code := runCLI(t, "export", "--data", data, "--out", fifo)
	if code != 0 {
		t.Fatalf("export to a pipe: exit %d: %s", code, errOut)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("the pipe is now %v (%v): the export replaced it", fi.Mode(), err)
	}
	select {
	case n := <-read:
		if n < 1<<20 {
			t.Errorf("read %d bytes from the pipe, want the whole dump", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing was written to the pipe")
	}
}

// summary is the part of a command's output both commands print alike:
// the table of rows and the ledger line.
func summary(out string) string {
	var keep []string
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "wrote ") && !strings.HasPrefix(l, "imported ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func tableRows(out, table string) int {
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == table {
			n, err := strconv.Atoi(f[1])
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

func dropHeader(dump []byte) []byte {
	_, rest, _ := bytes.Cut(dump, []byte("\n"))
	return rest
}

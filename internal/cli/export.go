package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/store/sqlstore"
)

func exportCmd(g *globals) *cobra.Command {
	var db, out string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write every record of a store (SQLite data dir or PostgreSQL) to a portable dump, from one snapshot",
		Long: "Export writes every table as JSON lines, rows in key order, then a trailer with row counts, every account's\n" +
			"balances, the journal's length and last hash, and a checksum; `suanli import` loads it and proves it equal.\n" +
			"It works on the database directly: stop the server first, or what it writes after the snapshot is not in the dump.",
		Example: "  suanli export --data ./suanli-data --out suanli.dump\n" +
			"  suanli export --db postgres://suanli@db/suanli --out - | gzip > suanli.dump.gz",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out is required: a file, or - for standard output")
			}
			if err := g.checkOutput(); err != nil {
				return err
			}
			if db != "" && cmd.Flags().Changed("data") {
				return errors.New("give --data or --db, not both")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			st, err := openExisting(ctx, db, g.data)
			if err != nil {
				return err
			}
			defer st.Close()
			// With the dump on standard output, the summary goes to stderr.
			report := g.stdout
			if out == "-" {
				report = g.stderr
			}
			t0 := time.Now()
			sum, n, err := exportTo(ctx, st, out, g.stdout)
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := printSummary(report, g.output, sum); err != nil {
				return err
			}
			fmt.Fprintf(report, "wrote %s: %d bytes in %s\n", out, n, time.Since(t0).Round(time.Millisecond))
			if !sum.LedgerBalanced {
				return errors.New("export: the source ledger fails its audit (run the server's ledger check); the dump was written but will not import")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "the store to export: postgres://… or sqlite://DIR (default: the SQLite database in --data)")
	cmd.Flags().StringVar(&out, "out", "", "where to write the dump: a file, or - for standard output")
	return cmd
}

func importCmd(g *globals) *cobra.Command {
	var db, in string
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Load a dump from `suanli export` into a new, empty store and verify the ledger equal",
		Long: "Import loads every record in one transaction: all of it or nothing. Before it commits, it checks the row\n" +
			"counts and the checksum, and that every account's balances, the transfer count and the last hash equal the\n" +
			"dump's; after, it runs the ledger check and the full verification. The target must be empty.",
		Example: "  suanli import --db postgres://suanli@db/suanli --in suanli.dump\n" +
			"  gunzip -c suanli.dump.gz | suanli import --db sqlite:///var/lib/suanli",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if db == "" {
				return errors.New("--db is required: postgres://…, or sqlite://DIR (or a plain DIR) for a new SQLite data dir")
			}
			if err := g.checkOutput(); err != nil {
				return err
			}
			// The input first: a dump that cannot be read leaves the target
			// untouched, not even created.
			r := cmd.InOrStdin()
			name := "standard input"
			if in != "-" {
				f, err := os.Open(in)
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				r, name = f, in
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			t0 := time.Now()
			sum, err := importInto(ctx, db, r)
			if err != nil {
				return fmt.Errorf("import: %w", err)
			}
			if err := printSummary(g.stdout, g.output, sum); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "imported %s in %s\n", name, time.Since(t0).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "the new store: postgres://…, or sqlite://DIR (or a plain DIR) for SQLite")
	cmd.Flags().StringVar(&in, "in", "-", "the dump to load: a file, or - for standard input")
	return cmd
}

// storeSpec is where a --db value points: a PostgreSQL DSN, or a SQLite
// data dir.
type storeSpec struct {
	dsn string // postgres://…, or ""
	dir string
}

func parseStoreSpec(db string) storeSpec {
	dsn, dir, _ := sqlstore.Locate(db) // a plain path is a SQLite dir here
	return storeSpec{dsn: dsn, dir: dir}
}

// openExisting opens the store to export: db when given, else the data
// dir's SQLite database, which must exist (Open would create an empty
// one, and an empty dump helps no one).
func openExisting(ctx context.Context, db, dataDir string) (*sqlstore.Store, error) {
	spec := storeSpec{dir: dataDir}
	if db != "" {
		spec = parseStoreSpec(db)
	}
	if spec.dsn != "" {
		return sqlstore.OpenPostgres(ctx, spec.dsn)
	}
	if spec.dir == "" {
		return nil, errors.New("an empty SQLite data dir")
	}
	if _, err := os.Stat(filepath.Join(spec.dir, sqlstore.FileName)); err != nil {
		return nil, fmt.Errorf("no suanli database in %s (%s): %w", spec.dir, sqlstore.FileName, err)
	}
	return sqlstore.Open(ctx, spec.dir)
}

// exportTo writes the dump to out ("-": stdout). A regular file is written
// under a temporary name and renamed when complete, so a failed export
// leaves no partial dump that could pass for a whole one. Anything else
// that exists (a pipe, a device such as /dev/null) is written in place:
// renaming over it would replace it with a file.
func exportTo(ctx context.Context, st *sqlstore.Store, out string, stdout io.Writer) (sqlstore.ExportSummary, int64, error) {
	if out == "-" {
		w := &countingWriter{w: stdout}
		sum, err := st.Export(ctx, w)
		return sum, w.n, err
	}
	if fi, err := os.Stat(out); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(out, os.O_WRONLY, 0)
		if err != nil {
			return sqlstore.ExportSummary{}, 0, err
		}
		w := &countingWriter{w: f}
		sum, err := st.Export(ctx, w)
		return sum, w.n, errors.Join(err, f.Close())
	}
	f, err := os.CreateTemp(filepath.Dir(out), ".suanli-export-*")
	if err != nil {
		return sqlstore.ExportSummary{}, 0, err
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	w := &countingWriter{w: f}
	sum, err := st.Export(ctx, w)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), out)
	}
	return sum, w.n, err
}

// importInto opens the target and imports r. A SQLite database that the
// import created is removed again when the import fails, so a failure
// leaves the target as it was.
func importInto(ctx context.Context, db string, r io.Reader) (sqlstore.ExportSummary, error) {
	spec := parseStoreSpec(db)
	if spec.dsn != "" {
		st, err := sqlstore.OpenPostgres(ctx, spec.dsn)
		if err != nil {
			return sqlstore.ExportSummary{}, err
		}
		defer st.Close()
		return st.Import(ctx, r)
	}
	if spec.dir == "" {
		return sqlstore.ExportSummary{}, errors.New("an empty SQLite data dir")
	}
	path := filepath.Join(spec.dir, sqlstore.FileName)
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(spec.dir, 0o750); err != nil {
		return sqlstore.ExportSummary{}, err
	}
	sum, err := importSQLite(ctx, spec.dir, r)
	if err != nil && created {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(path + suffix) // best effort: the import error is the one to report
		}
	}
	return sum, err
}

func importSQLite(ctx context.Context, dir string, r io.Reader) (sqlstore.ExportSummary, error) {
	st, err := sqlstore.Open(ctx, dir)
	if err != nil {
		return sqlstore.ExportSummary{}, err
	}
	sum, err := st.Import(ctx, r)
	return sum, errors.Join(err, st.Close())
}

func printSummary(w io.Writer, format string, sum sqlstore.ExportSummary) error {
	if format == "json" {
		return (&globals{stdout: w}).json(sum)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tROWS")
	for _, t := range sum.Tables {
		fmt.Fprintf(tw, "%s\t%d\n", t.Table, t.Rows)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "ledger verified"
	if !sum.LedgerBalanced {
		verdict = "ledger NOT verified"
	}
	_, err := fmt.Fprintf(w, "%s: %d accounts, %d transfers, last hash %s\n", verdict, sum.Accounts, sum.Transfers, sum.LastHash)
	return err
}

// checkOutput refuses an --output the summary cannot be printed in.
func (g *globals) checkOutput() error {
	if g.output != "table" && g.output != "json" {
		return fmt.Errorf("--output must be table or json, not %q", g.output)
	}
	return nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

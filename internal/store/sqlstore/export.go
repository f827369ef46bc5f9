package sqlstore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
)

// A dump is JSON lines: a header object; per table an object naming the
// table and its columns, then one array per row; a trailer object with
// the row counts, the ledger's summary and a checksum. It is the same on
// both engines, so a dump of one loads into the other.
const (
	// ExportFormat names the dump format in its header.
	ExportFormat = "suanli-export"
	// ExportVersion is the version of the dump format this code writes and
	// reads.
	ExportVersion = 1
	// ExportLineBytesMax bounds one line of a dump. The longest rows are
	// job_logs (a tail of at most 1 MiB, at most 6 bytes a byte once
	// escaped) and jobs (a JSON spec); a longer line is corruption, and
	// reading it would take memory without bound.
	ExportLineBytesMax = 16 << 20
)

// Bounds of an import.
const (
	// importParamsMax bounds the placeholders of one INSERT (SQLite allows
	// 32766, PostgreSQL 65535).
	importParamsMax = 8192
	// importRowsMax bounds the rows of one INSERT.
	importRowsMax = 500
	// importDiffsMax bounds the differences one error message lists.
	importDiffsMax = 10
	// catalogTablesMax bounds the tables a schema may have; far above the
	// migrations' twenty-odd, it bounds the ordering passes.
	catalogTablesMax = 256
)

// gooseTable is goose's own version table: the target's migrations write
// it, so a dump leaves it out and records its version in the header.
const gooseTable = "goose_db_version"

// ExportSummary is what Export wrote or Import loaded.
type ExportSummary struct {
	Tables    []TableCount `json:"tables"` // in dump order: parents before children
	Accounts  int          `json:"accounts"`
	Transfers int64        `json:"transfers"`
	LastHash  string       `json:"last_hash"`
	// LedgerBalanced: the ledger passed its audit (ledger.Audit; on import
	// also Store.Verify and the comparison with the dump's summary).
	LedgerBalanced bool `json:"ledger_balanced"`
}

// TableCount is one table's row count.
type TableCount struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

// LedgerSummary is a dump's record of the ledger, written independently
// of the accounts and transfers rows so an import can prove it loaded the
// same money: every account's balances, the journal's length and the last
// link of its hash chain.
type LedgerSummary struct {
	Accounts  []AccountBalances `json:"accounts"` // by id
	Transfers int64             `json:"transfers"`
	LastHash  string            `json:"last_hash"`
}

// AccountBalances is one account's four balance fields.
type AccountBalances struct {
	ID             string `json:"id"`
	DebitsPending  int64  `json:"debits_pending"`
	DebitsPosted   int64  `json:"debits_posted"`
	CreditsPending int64  `json:"credits_pending"`
	CreditsPosted  int64  `json:"credits_posted"`
}

type dumpHeader struct {
	Format        string    `json:"format"`
	Version       int       `json:"version"`
	Dialect       string    `json:"dialect"`
	SchemaVersion int64     `json:"schema_version"`
	ExportedAt    time.Time `json:"exported_at"`
}

type dumpTable struct {
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
}

type dumpTrailer struct {
	End    bool             `json:"end"`
	Rows   map[string]int64 `json:"rows"`
	Ledger LedgerSummary    `json:"ledger"`
	// SHA256 covers every line between the header and the trailer, so two
	// dumps of the same data have the same checksum whatever their header.
	SHA256 string `json:"sha256"`
}

// dumpObject is any object line after the header: a table or the trailer.
type dumpObject struct {
	dumpTable
	dumpTrailer
}

// dialectName is the engine's name in a dump's header.
func dialectName(d dialect) string {
	if d == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

// Export writes a dump of every table (but goose's) to w, from one
// read-only transaction, so the dump is one consistent snapshot: rows in
// primary-key order, tables parents first, then the ledger's summary.
func (s *Store) Export(ctx context.Context, w io.Writer) (ExportSummary, error) {
	t, err := s.r.BeginTx(ctx, s.snapshot())
	if err != nil {
		return ExportSummary{}, fmt.Errorf("export: begin: %w", err)
	}
	defer t.Rollback() //nolint:errcheck // read-only
	cat, err := readCatalog(ctx, t, s.dialect)
	if err != nil {
		return ExportSummary{}, fmt.Errorf("export: %w", err)
	}
	version, err := schemaVersion(ctx, t)
	if err != nil {
		return ExportSummary{}, fmt.Errorf("export: %w", err)
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	head := json.NewEncoder(bw)
	head.SetEscapeHTML(false)
	if err := head.Encode(dumpHeader{Format: ExportFormat, Version: ExportVersion, Dialect: dialectName(s.dialect),
		SchemaVersion: version, ExportedAt: s.Now().UTC()}); err != nil {
		return ExportSummary{}, fmt.Errorf("export: write header: %w", err)
	}
	sum := sha256.New()
	body := json.NewEncoder(io.MultiWriter(bw, sum))
	body.SetEscapeHTML(false)
	out := ExportSummary{Tables: make([]TableCount, 0, len(cat.tables))}
	rows := make(map[string]int64, len(cat.tables))
	for _, tb := range cat.tables {
		n, err := exportTable(ctx, t, s.dialect, tb, body)
		if err != nil {
			return ExportSummary{}, fmt.Errorf("export %s: %w", tb.name, err)
		}
		rows[tb.name] = n
		out.Tables = append(out.Tables, TableCount{Table: tb.name, Rows: n})
	}
	accts, ts, err := readLedgerIn(ctx, t)
	if err != nil {
		return ExportSummary{}, fmt.Errorf("export: read ledger: %w", err)
	}
	ls := summarizeLedger(accts, ts)
	trailer := dumpTrailer{End: true, Rows: rows, Ledger: ls, SHA256: hex.EncodeToString(sum.Sum(nil))}
	if err := head.Encode(trailer); err != nil {
		return ExportSummary{}, fmt.Errorf("export: write trailer: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return ExportSummary{}, fmt.Errorf("export: %w", err)
	}
	out.Accounts, out.Transfers, out.LastHash = len(ls.Accounts), ls.Transfers, ls.LastHash
	out.LedgerBalanced = len(ledger.Audit(accts, ts)) == 0
	return out, nil
}

// exportTable writes one table's line and its rows; it returns how many.
func exportTable(ctx context.Context, q querier, d dialect, tb *tableInfo, enc *json.Encoder) (int64, error) {
	if err := enc.Encode(dumpTable{Table: tb.name, Columns: tb.columnNames()}); err != nil {
		return 0, err
	}
	rows, err := q.QueryContext(ctx, selectAllSQL(d, tb))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	raw := make([]any, len(tb.columns))
	ptrs := make([]any, len(tb.columns))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	line := make([]any, len(tb.columns))
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, c := range tb.columns {
			if line[i], err = exportValue(raw[i], c.kind); err != nil {
				return n, fmt.Errorf("row %d (in key order), column %s: %w", n+1, c.name, err)
			}
		}
		if err := enc.Encode(line); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// exportValue is v as the dump carries a value of kind k: int64, float64,
// string or nil. Anything else (text in an integer column, which SQLite
// allows, or text that is not UTF-8, which JSON would silently mangle) is
// an error: the dump would not load back as the same data.
func exportValue(v any, k colKind) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case kindInt:
		if i, ok := v.(int64); ok {
			return i, nil
		}
	case kindFloat:
		switch f := v.(type) {
		case float64:
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("%v has no JSON form", f)
			}
			return f, nil
		case int64:
			return float64(f), nil
		}
	case kindText:
		var s string
		switch t := v.(type) {
		case string:
			s = t
		case []byte: // what a driver may return for TEXT
			s = string(t)
		default:
			return nil, fmt.Errorf("holds a %T, not %s", v, k)
		}
		if !utf8.ValidString(s) {
			return nil, errors.New("text is not valid UTF-8")
		}
		return s, nil
	}
	return nil, fmt.Errorf("holds a %T, not %s", v, k)
}

func selectAllSQL(d dialect, tb *tableInfo) string {
	key := tb.pk
	if len(key) == 0 {
		key = tb.columnNames()
	}
	order := make([]string, len(key))
	for i, name := range key {
		order[i] = quoteIdent(name)
		if tb.column(name).kind == kindText {
			// Byte order on both engines, whatever a PostgreSQL database's
			// collation: the same data gives the same dump.
			if d == dialectPostgres {
				order[i] += ` COLLATE "C"`
			} else {
				order[i] += ` COLLATE BINARY`
			}
		}
	}
	return `SELECT ` + quoteList(tb.columnNames()) + ` FROM ` + quoteIdent(tb.name) + ` ORDER BY ` + strings.Join(order, ", ")
}

// Import loads a dump into this store, which must be migrated to the
// dump's schema version and empty. Everything happens in one write
// transaction: the rows, in batched INSERTs with their original keys
// (transfers keep seq and hash); then, before commit, the checks that the
// load is the dump (row counts, checksum) and that the money is the same
// money (every account's balances, the transfer count and the last hash
// equal to the dump's summary; the ledger's audit). Any failure rolls all
// of it back. After commit the store's own CheckLedger and Verify run.
func (s *Store) Import(ctx context.Context, r io.Reader) (ExportSummary, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), ExportLineBytesMax)
	hdr, err := readHeader(sc)
	if err != nil {
		return ExportSummary{}, err
	}
	var out ExportSummary
	err = s.update(ctx, func(t *tx) error {
		var err error
		out, err = s.importIn(ctx, t, sc, hdr)
		return err
	})
	if err != nil {
		return ExportSummary{}, err
	}
	// Verify reads through the read pool, which sees committed rows only,
	// so it runs after commit. The checks before commit already proved the
	// ledger equal to the source's; what Verify adds (jobs charged exactly
	// once, live holds, voucher caps) holds here if it held there.
	if err := s.CheckLedger(ctx); err != nil {
		return out, fmt.Errorf("import committed, but the ledger check failed: %w", err)
	}
	problems, err := s.Verify(ctx)
	if err != nil {
		return out, fmt.Errorf("import committed, but verification failed: %w", err)
	}
	if len(problems) > 0 {
		return out, core.Errorf(core.EInvalid, "import committed, but verification found %d problems: %s",
			len(problems), strings.Join(problems, "; "))
	}
	out.LedgerBalanced = true
	return out, nil
}

func readHeader(sc *bufio.Scanner) (dumpHeader, error) {
	var h dumpHeader
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return h, scanError(err, 1)
		}
		return h, core.Errorf(core.EInvalid, "the dump is empty")
	}
	if err := decodeStrict(sc.Bytes(), &h); err != nil || h.Format != ExportFormat {
		return h, core.Errorf(core.EInvalid, "line 1 is not a %s header", ExportFormat)
	}
	if h.Version != ExportVersion {
		return h, core.Errorf(core.EInvalid, "the dump is format version %d; this suanli reads version %d", h.Version, ExportVersion)
	}
	return h, nil
}

// importIn loads the dump after its header in transaction t and checks
// it, all before t commits.
func (s *Store) importIn(ctx context.Context, t *tx, sc *bufio.Scanner, hdr dumpHeader) (ExportSummary, error) {
	cat, err := readCatalog(ctx, t, s.dialect)
	if err != nil {
		return ExportSummary{}, fmt.Errorf("import: %w", err)
	}
	version, err := schemaVersion(ctx, t)
	if err != nil {
		return ExportSummary{}, fmt.Errorf("import: %w", err)
	}
	if hdr.SchemaVersion != version {
		return ExportSummary{}, core.Errorf(core.EConflict, "the dump is of schema version %d but the target is at %d; "+
			"export and import with the same suanli release", hdr.SchemaVersion, version)
	}
	if err := ensureEmpty(ctx, t, cat); err != nil {
		return ExportSummary{}, err
	}
	l := &dumpLoader{t: t, cat: cat, sum: sha256.New(), line: 1, counts: map[string]int64{}}
	trailer, err := l.load(ctx, sc)
	if err != nil {
		return ExportSummary{}, err
	}
	if err := l.checkTrailer(trailer); err != nil {
		return ExportSummary{}, err
	}
	if s.dialect == dialectPostgres {
		if err := resetSequences(ctx, t, cat); err != nil {
			return ExportSummary{}, fmt.Errorf("import: %w", err)
		}
	}
	accts, ts, err := readLedgerIn(ctx, t)
	if err != nil {
		return ExportSummary{}, fmt.Errorf("import: read ledger: %w", err)
	}
	got := summarizeLedger(accts, ts)
	if err := compareLedger(trailer.Ledger, got); err != nil {
		return ExportSummary{}, err
	}
	if problems := ledger.Audit(accts, ts); len(problems) > 0 {
		return ExportSummary{}, core.Errorf(core.EInvalid, "the imported ledger fails its audit (%d problems): %s",
			len(problems), strings.Join(problems, "; "))
	}
	out := ExportSummary{Accounts: len(got.Accounts), Transfers: got.Transfers, LastHash: got.LastHash}
	for _, tb := range cat.tables {
		out.Tables = append(out.Tables, TableCount{Table: tb.name, Rows: l.counts[tb.name]})
	}
	return out, nil
}

// ensureEmpty refuses a target with rows in any table: an import adds a
// whole installation, ids and hash chain included, and cannot merge two.
func ensureEmpty(ctx context.Context, q querier, cat *catalog) error {
	var full []string
	for _, tb := range cat.tables {
		rows, err := q.QueryContext(ctx, `SELECT 1 FROM `+quoteIdent(tb.name)+` LIMIT 1`)
		if err != nil {
			return fmt.Errorf("import: %s: %w", tb.name, err)
		}
		has := rows.Next()
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("import: %s: %w", tb.name, err)
		}
		if has {
			full = append(full, tb.name)
		}
	}
	if len(full) > 0 {
		return core.Errorf(core.EConflict, "the target is not empty (rows in %s); import only into a new database",
			strings.Join(full, ", "))
	}
	return nil
}

// dumpLoader inserts a dump's rows, a batch at a time, and hashes the lines.
type dumpLoader struct {
	t      *tx
	cat    *catalog
	sum    hash.Hash
	line   int64 // of the dump, for messages
	counts map[string]int64
	cur    *tableLoad
}

// tableLoad is the table being loaded.
type tableLoad struct {
	tb       *tableInfo
	cols     []catalogColumn // in the dump's order
	perBatch int
	full     *sql.Stmt // the INSERT of perBatch rows, prepared once
	args     []any
	buffered int
}

var dumpNewline = []byte{'\n'}

// load reads lines up to and including the trailer, which it returns.
// The loop is bounded by the input, one line an iteration, each at most
// ExportLineBytesMax.
func (l *dumpLoader) load(ctx context.Context, sc *bufio.Scanner) (dumpTrailer, error) {
	for sc.Scan() {
		l.line++
		b := sc.Bytes()
		if len(b) > 0 && b[0] == '[' {
			l.sum.Write(b)
			l.sum.Write(dumpNewline)
			if err := l.row(ctx, b); err != nil {
				return dumpTrailer{}, err
			}
			continue
		}
		var o dumpObject
		if err := decodeStrict(b, &o); err != nil {
			return dumpTrailer{}, core.Errorf(core.EInvalid, "dump line %d is neither a row, a table nor the trailer: %v", l.line, err)
		}
		switch {
		case o.Table != "" && !o.End:
			l.sum.Write(b)
			l.sum.Write(dumpNewline)
			if err := l.table(ctx, o.dumpTable); err != nil {
				return dumpTrailer{}, err
			}
		case o.End && o.Table == "":
			if err := l.flush(ctx); err != nil {
				return dumpTrailer{}, err
			}
			if sc.Scan() {
				return dumpTrailer{}, core.Errorf(core.EInvalid, "dump line %d follows the trailer", l.line+1)
			}
			if err := sc.Err(); err != nil {
				return dumpTrailer{}, scanError(err, l.line+1)
			}
			return o.dumpTrailer, nil
		default:
			return dumpTrailer{}, core.Errorf(core.EInvalid, "dump line %d is neither a table nor the trailer", l.line)
		}
	}
	if err := sc.Err(); err != nil {
		return dumpTrailer{}, scanError(err, l.line+1)
	}
	return dumpTrailer{}, core.Errorf(core.EInvalid, "the dump ends at line %d without its trailer: it is truncated", l.line)
}

func scanError(err error, line int64) error {
	if errors.Is(err, bufio.ErrTooLong) {
		return core.Errorf(core.EInvalid, "dump line %d is longer than %d bytes", line, ExportLineBytesMax)
	}
	return fmt.Errorf("read dump line %d: %w", line, err)
}

// table starts loading a table: it must be one of the target's, once,
// with exactly the target's columns.
func (l *dumpLoader) table(ctx context.Context, d dumpTable) error {
	if err := l.flush(ctx); err != nil {
		return err
	}
	tb := l.cat.byName[d.Table]
	if tb == nil {
		return core.Errorf(core.EInvalid, "dump line %d: unknown table %q: the target has no such table", l.line, d.Table)
	}
	if _, seen := l.counts[d.Table]; seen {
		return core.Errorf(core.EInvalid, "dump line %d: table %s appears twice", l.line, d.Table)
	}
	cols := make([]catalogColumn, 0, len(d.Columns))
	have := make(map[string]bool, len(d.Columns))
	for _, name := range d.Columns {
		c := tb.column(name)
		if c == nil {
			return core.Errorf(core.EInvalid, "dump line %d: unknown column %s.%s: the target has no such column", l.line, d.Table, name)
		}
		if have[name] {
			return core.Errorf(core.EInvalid, "dump line %d: column %s.%s appears twice", l.line, d.Table, name)
		}
		have[name] = true
		cols = append(cols, *c)
	}
	for _, c := range tb.columns {
		if !have[c.name] {
			return core.Errorf(core.EInvalid, "dump line %d: table %s lacks column %s", l.line, d.Table, c.name)
		}
	}
	per := min(importRowsMax, importParamsMax/len(cols))
	l.counts[d.Table] = 0
	l.cur = &tableLoad{tb: tb, cols: cols, perBatch: per, args: make([]any, 0, per*len(cols))}
	return nil
}

// row buffers one row, flushing a full batch.
func (l *dumpLoader) row(ctx context.Context, b []byte) error {
	c := l.cur
	if c == nil {
		return core.Errorf(core.EInvalid, "dump line %d: a row before any table", l.line)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // integers stay exact: no detour through float64
	var vals []any
	if err := dec.Decode(&vals); err != nil || dec.More() {
		return core.Errorf(core.EInvalid, "dump line %d: not a JSON array: %v", l.line, err)
	}
	if len(vals) != len(c.cols) {
		return core.Errorf(core.EInvalid, "dump line %d: %d values for the %d columns of %s", l.line, len(vals), len(c.cols), c.tb.name)
	}
	for i, v := range vals {
		x, err := importValue(v, c.cols[i].kind)
		if err != nil {
			return core.Errorf(core.EInvalid, "dump line %d: %s.%s: %v", l.line, c.tb.name, c.cols[i].name, err)
		}
		c.args = append(c.args, x)
	}
	c.buffered++
	l.counts[c.tb.name]++
	if c.buffered == c.perBatch {
		return l.flush(ctx)
	}
	return nil
}

// importValue is a decoded JSON value as the driver takes a column of
// kind k.
func importValue(v any, k colKind) (any, error) {
	if v == nil {
		return nil, nil // NOT NULL is the database's to enforce
	}
	switch k {
	case kindInt:
		if n, ok := v.(json.Number); ok {
			return strconv.ParseInt(string(n), 10, 64)
		}
	case kindFloat:
		if n, ok := v.(json.Number); ok {
			return strconv.ParseFloat(string(n), 64)
		}
	case kindText:
		if s, ok := v.(string); ok {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%T is not %s", v, k)
}

// flush inserts the buffered rows of the current table.
func (l *dumpLoader) flush(ctx context.Context) error {
	c := l.cur
	if c == nil || c.buffered == 0 {
		return nil
	}
	names := make([]string, len(c.cols))
	for i, col := range c.cols {
		names[i] = col.name
	}
	var err error
	if c.buffered == c.perBatch {
		if c.full == nil {
			// Closed with the transaction.
			c.full, err = l.t.PrepareContext(ctx, insertRowsSQL(c.tb.name, names, c.perBatch))
		}
		if err == nil {
			_, err = c.full.ExecContext(ctx, c.args...)
		}
	} else {
		_, err = l.t.ExecContext(ctx, insertRowsSQL(c.tb.name, names, c.buffered), c.args...)
	}
	if err != nil {
		return fmt.Errorf("import %s: the %d rows up to dump line %d: %w", c.tb.name, c.buffered, l.line, err)
	}
	c.args, c.buffered = c.args[:0], 0
	return nil
}

func insertRowsSQL(table string, cols []string, rows int) string {
	row := "(" + strings.Repeat("?,", len(cols)-1) + "?)"
	var b strings.Builder
	b.Grow(32 + len(table) + 16*len(cols) + rows*(len(row)+1))
	b.WriteString(`INSERT INTO ` + quoteIdent(table) + ` (` + quoteList(cols) + `) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	return b.String()
}

// checkTrailer compares what was loaded with the trailer's row counts and
// checksum: a dump cut short, spliced or edited does not load.
func (l *dumpLoader) checkTrailer(tr dumpTrailer) error {
	for _, tb := range l.cat.tables {
		if _, ok := l.counts[tb.name]; !ok {
			return core.Errorf(core.EInvalid, "the dump has no table %s", tb.name)
		}
	}
	names := make([]string, 0, len(tr.Rows))
	for name := range tr.Rows {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := l.counts[name]; !ok {
			return core.Errorf(core.EInvalid, "the trailer counts rows of %s, which the dump does not have", name)
		}
	}
	for _, tb := range l.cat.tables {
		if got, want := l.counts[tb.name], tr.Rows[tb.name]; got != want {
			return core.Errorf(core.EInvalid, "table %s: loaded %d rows, the trailer says %d", tb.name, got, want)
		}
	}
	if got := hex.EncodeToString(l.sum.Sum(nil)); got != tr.SHA256 {
		return core.Errorf(core.EInvalid, "the dump's checksum is %.16s…, its trailer says %.16s…: the dump was altered or damaged", got, tr.SHA256)
	}
	return nil
}

// resetSequences moves every PostgreSQL sequence past the imported keys
// (transfers.seq, job_events.id), so new rows continue after them.
func resetSequences(ctx context.Context, t *tx, cat *catalog) error {
	for _, tb := range cat.tables {
		for _, col := range tb.serial {
			_, err := t.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence(?, ?), (SELECT COALESCE(MAX(`+quoteIdent(col)+
				`), 0) + 1 FROM `+quoteIdent(tb.name)+`), false)`, quoteIdent(tb.name), col)
			if err != nil {
				return fmt.Errorf("reset the sequence of %s.%s: %w", tb.name, col, err)
			}
		}
	}
	return nil
}

// compareLedger names every difference (up to importDiffsMax) between the
// dump's ledger summary and the one read back from the target.
func compareLedger(dump, target LedgerSummary) error {
	var diffs []string
	add := func(format string, args ...any) {
		if len(diffs) < importDiffsMax {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	if dump.Transfers != target.Transfers {
		add("transfers: %d in the target, %d in the dump's summary", target.Transfers, dump.Transfers)
	}
	if dump.LastHash != target.LastHash {
		add("last hash: %.16s… in the target, %.16s… in the dump's summary", target.LastHash, dump.LastHash)
	}
	byID := make(map[string]AccountBalances, len(target.Accounts))
	for _, a := range target.Accounts {
		byID[a.ID] = a
	}
	for _, want := range dump.Accounts {
		got, ok := byID[want.ID]
		if !ok {
			add("account %s: in the dump's summary, not in the target", want.ID)
			continue
		}
		delete(byID, want.ID)
		for _, f := range []struct {
			name      string
			got, want int64
		}{{"debits_pending", got.DebitsPending, want.DebitsPending}, {"debits_posted", got.DebitsPosted, want.DebitsPosted},
			{"credits_pending", got.CreditsPending, want.CreditsPending}, {"credits_posted", got.CreditsPosted, want.CreditsPosted}} {
			if f.got != f.want {
				add("account %s: %s is %d in the target, %d in the dump's summary", want.ID, f.name, f.got, f.want)
			}
		}
	}
	extra := make([]string, 0, len(byID))
	for id := range byID {
		extra = append(extra, id)
	}
	sort.Strings(extra)
	for _, id := range extra {
		add("account %s: in the target, not in the dump's summary", id)
	}
	if len(diffs) > 0 {
		return core.Errorf(core.EInvalid, "the imported ledger differs from the dump's summary: %s", strings.Join(diffs, "; "))
	}
	return nil
}

func summarizeLedger(accts []ledger.Account, ts []ledger.Transfer) LedgerSummary {
	s := LedgerSummary{Accounts: make([]AccountBalances, len(accts)), Transfers: int64(len(ts))}
	for i, a := range accts {
		s.Accounts[i] = AccountBalances{ID: a.ID, DebitsPending: int64(a.DebitsPending), DebitsPosted: int64(a.DebitsPosted),
			CreditsPending: int64(a.CreditsPending), CreditsPosted: int64(a.CreditsPosted)}
	}
	if len(ts) > 0 {
		s.LastHash = ts[len(ts)-1].Hash
	}
	return s
}

// readLedgerIn is readLedger within a transaction the caller holds (the
// export's snapshot, the import's write).
func readLedgerIn(ctx context.Context, q querier) ([]ledger.Account, []ledger.Transfer, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY id`)
	if err != nil {
		return nil, nil, err
	}
	var accts []ledger.Account
	for rows.Next() {
		a, err := scanAccount(rows, "")
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		accts = append(accts, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows, err = q.QueryContext(ctx, `SELECT `+transferCols+` FROM transfers ORDER BY seq`)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var ts []ledger.Transfer
	for rows.Next() {
		tr, err := scanTransfer(rows)
		if err != nil {
			return nil, nil, err
		}
		ts = append(ts, tr)
	}
	return accts, ts, rows.Err()
}

// decodeStrict decodes one JSON value, refusing unknown fields and
// trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the object")
	}
	return nil
}

// schemaVersion is the highest migration goose has applied.
func schemaVersion(ctx context.Context, q querier) (int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM `+gooseTable+` WHERE is_applied`)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	defer rows.Close()
	var v int64
	if rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return 0, fmt.Errorf("schema version: %w", err)
		}
	}
	return v, rows.Err()
}

// The catalog: the tables, columns, keys and foreign keys the migrations
// made, read from the database itself so a new migration's tables are
// dumped without a change here.

type colKind int

const (
	kindInt colKind = iota
	kindFloat
	kindText
)

func (k colKind) String() string {
	switch k {
	case kindInt:
		return "an integer"
	case kindFloat:
		return "a number"
	default:
		return "text"
	}
}

type catalogColumn struct {
	name string
	kind colKind
}

type tableInfo struct {
	name    string
	columns []catalogColumn // in the table's order
	pk      []string        // primary key columns, in key order
	parents []string        // tables its foreign keys refer to
	serial  []string        // columns a sequence fills (PostgreSQL)
}

func (t *tableInfo) columnNames() []string {
	out := make([]string, len(t.columns))
	for i, c := range t.columns {
		out[i] = c.name
	}
	return out
}

func (t *tableInfo) column(name string) *catalogColumn {
	for i := range t.columns {
		if t.columns[i].name == name {
			return &t.columns[i]
		}
	}
	return nil
}

type catalog struct {
	tables []*tableInfo // parents before children
	byName map[string]*tableInfo
}

func readCatalog(ctx context.Context, q querier, d dialect) (*catalog, error) {
	var byName map[string]*tableInfo
	var err error
	if d == dialectPostgres {
		byName, err = postgresTables(ctx, q)
	} else {
		byName, err = sqliteTables(ctx, q)
	}
	if err != nil {
		return nil, fmt.Errorf("read the schema: %w", err)
	}
	ordered, err := orderTables(byName)
	if err != nil {
		return nil, err
	}
	return &catalog{tables: ordered, byName: byName}, nil
}

func sqliteTables(ctx context.Context, q querier) (map[string]*tableInfo, error) {
	names, err := queryStrings(ctx, q, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> ?`, gooseTable)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*tableInfo, len(names))
	for _, name := range names {
		tb := &tableInfo{name: name}
		if err := sqliteColumns(ctx, q, tb); err != nil {
			return nil, err
		}
		if tb.parents, err = queryStrings(ctx, q, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, name); err != nil {
			return nil, err
		}
		out[name] = tb
	}
	return out, nil
}

func sqliteColumns(ctx context.Context, q querier, tb *tableInfo) error {
	rows, err := q.QueryContext(ctx, `SELECT name, type, pk FROM pragma_table_info(?) ORDER BY cid`, tb.name)
	if err != nil {
		return err
	}
	defer rows.Close()
	type keyCol struct {
		pos  int
		name string
	}
	var keys []keyCol
	for rows.Next() {
		var name, typ string
		var pk int
		if err := rows.Scan(&name, &typ, &pk); err != nil {
			return err
		}
		k, err := kindOf(tb.name, name, typ)
		if err != nil {
			return err
		}
		tb.columns = append(tb.columns, catalogColumn{name: name, kind: k})
		if pk > 0 {
			keys = append(keys, keyCol{pk, name})
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].pos < keys[j].pos })
	for _, k := range keys {
		tb.pk = append(tb.pk, k.name)
	}
	return rows.Err()
}

func postgresTables(ctx context.Context, q querier) (map[string]*tableInfo, error) {
	rows, err := q.QueryContext(ctx, `SELECT c.table_name, c.column_name, c.data_type, COALESCE(c.column_default, '')
		FROM information_schema.columns c JOIN information_schema.tables t
		  ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> ?
		ORDER BY c.table_name, c.ordinal_position`, gooseTable)
	if err != nil {
		return nil, err
	}
	out := map[string]*tableInfo{}
	for rows.Next() {
		var table, name, typ, def string
		if err := rows.Scan(&table, &name, &typ, &def); err != nil {
			rows.Close()
			return nil, err
		}
		k, err := kindOf(table, name, typ)
		if err != nil {
			rows.Close()
			return nil, err
		}
		tb := out[table]
		if tb == nil {
			tb = &tableInfo{name: table}
			out[table] = tb
		}
		tb.columns = append(tb.columns, catalogColumn{name: name, kind: k})
		if strings.HasPrefix(def, "nextval(") {
			tb.serial = append(tb.serial, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := postgresKeys(ctx, q, out); err != nil {
		return nil, err
	}
	return out, nil
}

// postgresKeys adds the primary keys and the foreign keys' parents.
func postgresKeys(ctx context.Context, q querier, out map[string]*tableInfo) error {
	pairs, err := queryPairs(ctx, q, `SELECT k.table_name, k.column_name
		FROM information_schema.table_constraints c JOIN information_schema.key_column_usage k
		  ON k.constraint_schema = c.constraint_schema AND k.constraint_name = c.constraint_name AND k.table_name = c.table_name
		WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema()
		ORDER BY k.table_name, k.ordinal_position`)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if tb := out[p[0]]; tb != nil {
			tb.pk = append(tb.pk, p[1])
		}
	}
	pairs, err = queryPairs(ctx, q, `SELECT DISTINCT child.relname, parent.relname
		FROM pg_constraint k JOIN pg_class child ON child.oid = k.conrelid JOIN pg_class parent ON parent.oid = k.confrelid
		  JOIN pg_namespace n ON n.oid = child.relnamespace
		WHERE k.contype = 'f' AND n.nspname = current_schema()
		ORDER BY 1, 2`)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if tb := out[p[0]]; tb != nil {
			tb.parents = append(tb.parents, p[1])
		}
	}
	return nil
}

// kindOf maps a declared column type to what a dump carries.
func kindOf(table, col, declared string) (colKind, error) {
	t := strings.ToUpper(declared)
	switch {
	case strings.Contains(t, "INT"):
		return kindInt, nil
	case strings.Contains(t, "REAL"), strings.Contains(t, "FLOA"), strings.Contains(t, "DOUB"):
		return kindFloat, nil
	case strings.Contains(t, "TEXT"), strings.Contains(t, "CHAR"), strings.Contains(t, "CLOB"):
		return kindText, nil
	}
	return 0, fmt.Errorf("column %s.%s is of type %q, which a dump does not carry", table, col, declared)
}

// orderTables puts parents before children, by name where the foreign
// keys leave a choice, so both engines give the same order. Each pass
// places at least one table or finds a cycle; there are at most as many
// passes as tables.
func orderTables(byName map[string]*tableInfo) ([]*tableInfo, error) {
	if len(byName) > catalogTablesMax {
		return nil, fmt.Errorf("the schema has %d tables, more than %d", len(byName), catalogTablesMax)
	}
	names := make([]string, 0, len(byName))
	for name, tb := range byName {
		names = append(names, name)
		for _, p := range tb.parents {
			if byName[p] == nil {
				return nil, fmt.Errorf("table %s refers to %s, which is not in the schema", name, p)
			}
		}
	}
	sort.Strings(names)
	placed := make(map[string]bool, len(names))
	out := make([]*tableInfo, 0, len(names))
	for len(out) < len(names) {
		progress := false
		for _, name := range names {
			tb := byName[name]
			if placed[name] || !parentsPlaced(tb, placed) {
				continue
			}
			placed[name], progress = true, true
			out = append(out, tb)
		}
		if !progress {
			return nil, errors.New("the tables' foreign keys form a cycle")
		}
	}
	return out, nil
}

func parentsPlaced(tb *tableInfo, placed map[string]bool) bool {
	for _, p := range tb.parents {
		if p != tb.name && !placed[p] {
			return false
		}
	}
	return true
}

func queryStrings(ctx context.Context, q querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func queryPairs(ctx context.Context, q querier, query string) ([][2]string, error) {
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// quoteIdent quotes a table or column name; the names come from the
// catalog, or from a dump only after they matched the catalog.
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quoteIdent(n)
	}
	return strings.Join(q, ", ")
}

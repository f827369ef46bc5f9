package sqlstore

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
	"github.com/suanli/suanli/internal/store/pgtest"
)

// openDialect opens an empty store on the named engine, whatever the
// suite's SUANLI_TEST_STORE: the export tests move data between engines.
func openDialect(t *testing.T, name string) *Store {
	t.Helper()
	ctx := context.Background()
	var s *Store
	var err error
	switch name {
	case "sqlite":
		s, err = open(ctx, t.TempDir(), "OFF")
	case "postgres":
		s, err = OpenPostgres(ctx, pgtest.Database(t))
	default:
		t.Fatalf("unknown engine %q", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// richIDs are what fillRich made that the tests edit or check.
type richIDs struct {
	tenant, provider string
}

// fillRich puts rows in every table through the store's own methods:
// orgs and tokens, a center with prices and nodes, jobs that were charged
// (with a 算力券 share and a 资源包), one still queued, a refund, agent
// logs, a payout, tenant policies (one with a cohort and weights), a
// network link, a related party, settings and an open hold that expires
// later. Text carries CJK, quotes, a newline and HTML
// characters; the center's nominal PFLOPS is a float with no exact binary
// form.
func fillRich(t *testing.T, s *Store) richIDs {
	t.Helper()
	ctx := context.Background()
	clock := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return clock }
	s.Billing.Window = 24 * time.Hour
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.EnsureSystemAccounts(ctx))
	tenant, err := s.CreateOrg(ctx, "示例科技 \"T\" <&>", code(t, "91110000MA0000001"), core.RoleTenant)
	must(err)
	prov, err := s.CreateOrg(ctx, "P", code(t, "91110000MA0000002"), core.RoleProvider)
	must(err)
	other, err := s.CreateOrg(ctx, "R", code(t, "91110000MA0000003"), core.RoleTenant)
	must(err)
	_, err = s.CreateToken(ctx, tenant.ID, "demo")
	must(err)
	pflops := 0.1
	pflops += 0.2 // at run time: 0.30000000000000004, which must survive the trip
	c, err := s.CreateCenter(ctx, core.Center{Name: "c", DisplayName: "宜昌 AI", Kind: core.KindAI, Region: "r",
		ProviderOrgID: prov.ID, Executor: core.ExecutorSimulated, NominalPFLOPS: pflops,
		Prices: core.PriceBook{CardHour: map[string]core.Micros{"A100": 3_600_000}, CoreHour: 40_000}},
		[]core.Node{{Name: "n1", CPUMilli: 8000, MemMiB: 8192, AccelModel: "A100", AccelCount: 8},
			{Name: "n2", CPUMilli: 4000, MemMiB: 4096}})
	must(err)
	nodes, err := s.Nodes(ctx, c.ID)
	must(err)
	_, err = s.TopUp(ctx, tenant.ID, 100*core.MicrosPerYuan, "open")
	must(err)
	v, err := s.CreateVoucherScheme(ctx, store.VoucherScheme{Name: "s", Issuer: "宜昌市数据局", ShareBPS: 2000,
		DomesticShareBPS: 3000, CapPerTenantYear: 5 * core.MicrosPerYuan, Budget: 50 * core.MicrosPerYuan,
		ValidFrom: clock.Add(-time.Hour), ValidUntil: clock.Add(365 * 24 * time.Hour)}, "op")
	must(err)
	_, err = s.GrantVoucher(ctx, v.ID, tenant.ID, 2*core.MicrosPerYuan, "g1", "op")
	must(err)
	must(s.AddRelatedParty(ctx, other.ID, prov.ID, "same group", "op"))
	must(s.SetTenantPolicy(ctx, store.TenantPolicy{OrgID: tenant.ID, Weight: 3, QuotaAccel: 16, Cohort: "lab-1",
		BorrowAccel: 8, Weights: &core.ScoreWeights{Price: 50, Network: 30, Locality: 20}}, "op"))
	must(s.SetTenantPolicy(ctx, store.TenantPolicy{OrgID: other.ID, Weight: 1, Cohort: "lab-1"}, "op"))
	must(s.SetLink(ctx, core.Link{From: "内蒙古", To: "beijing", LatencyMs: 9, BandwidthMbps: 400_000}, "op"))
	must(s.SetSchedWeights(ctx, core.ScoreWeights{Price: 70, Network: 30}, "op"))
	must(s.SetPriorityClass(ctx, core.PriorityClass{Name: "best-effort", Value: -100, Description: "空闲时运行 \"spot\""}, "op"))
	must(s.SetSetting(ctx, "note", "line one\nline two\t\"quoted\""))
	_, err = s.BuyBundle(ctx, tenant.ID, "A100", 1, "po-1")
	must(err)

	sp := spec()
	sp.MaxDuration = 2 * time.Hour
	j, err := s.SubmitJob(ctx, tenant.ID, sp, perHour(3.6))
	must(err)
	rate, _ := c.Prices.RateScaled(sp.Replicas[0], "A100")
	n, err := s.ApplyPlan(ctx, []store.Assignment{{JobID: j.ID, CenterID: c.ID,
		Placements: []core.Placement{{Index: 0, NodeID: nodes[0].ID, AccelModel: "A100", RateScaled: rate}}}}, nil)
	if err != nil || n != 1 {
		t.Fatalf("ApplyPlan = %d, %v", n, err)
	}
	must(s.MarkRunning(ctx, j.ID, "run"))
	clock = clock.Add(90 * time.Minute)
	exit := 0
	_, err = s.FinishJob(ctx, j.ID, store.Result{State: core.JobSucceeded, ExitCode: &exit,
		Replicas: []store.ReplicaResult{{Index: 0, ExitCode: &exit, UsageMs: 90 * 60_000}}}, 1000)
	must(err)
	must(s.SaveLogs(ctx, j.ID, 0, "hello 世界\n<done> & \"ok\"\n"))
	if _, _, err := s.AcquireLease(ctx, "control", "replica-a", time.Minute); err != nil {
		t.Fatal(err)
	}
	must(s.Refund(ctx, j.ID, 1000, "r1", "goodwill", "op", 1000))
	_, err = s.RecordPayout(ctx, Payout{ProviderOrgID: prov.ID, PeriodStart: clock.Add(-24 * time.Hour),
		PeriodEnd: clock, Amount: 1, Reference: "bank-1"}, "op")
	must(err)
	_, err = s.SubmitJob(ctx, tenant.ID, spec(), perHour(1)) // stays queued: NULL center and times
	must(err)
	must(s.ApplyTransfers(ctx, []ledger.Transfer{{ID: "raw-hold", DebitAccountID: ledger.WalletID(tenant.ID),
		CreditAccountID: ledger.EscrowID, Amount: 5, Flags: ledger.Pending, Code: "hold", ExpiresAt: clock.Add(time.Hour)}}))
	if problems, err := s.Verify(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("the source does not verify: %v %v", problems, err)
	}
	return richIDs{tenant: tenant.ID, provider: prov.ID}
}

func export(t *testing.T, s *Store) ([]byte, ExportSummary) {
	t.Helper()
	var b bytes.Buffer
	sum, err := s.Export(context.Background(), &b)
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	return b.Bytes(), sum
}

// splitHeader returns a dump's header and the rest.
func splitHeader(t *testing.T, dump []byte) (dumpHeader, []byte) {
	t.Helper()
	line, rest, ok := bytes.Cut(dump, []byte("\n"))
	if !ok {
		t.Fatalf("a dump of one line: %q", dump)
	}
	var h dumpHeader
	if err := json.Unmarshal(line, &h); err != nil {
		t.Fatalf("header %q: %v", line, err)
	}
	return h, rest
}

// TestExportImportRoundTrip moves a store with rows in every table
// between the engines, both ways: the target's own dump must equal the
// source's but for the header, the ledger summaries must be equal, the
// target must pass CheckLedger and Verify, and the target must take new
// writes that continue the journal (seq after the imported ones, the hash
// chain unbroken) and the job event ids.
func TestExportImportRoundTrip(t *testing.T) {
	for _, tc := range []struct{ source, target string }{
		{"sqlite", "sqlite"}, {"sqlite", "postgres"}, {"postgres", "sqlite"}, {"postgres", "postgres"},
	} {
		t.Run(tc.source+"→"+tc.target, func(t *testing.T) {
			ctx := context.Background()
			src := openDialect(t, tc.source)
			ids := fillRich(t, src)
			dump, want := export(t, src)
			for _, tb := range want.Tables {
				if tb.Rows == 0 {
					t.Errorf("the fixture left table %s empty: the round trip would not cover it", tb.Table)
				}
			}
			if !want.LedgerBalanced || want.Transfers == 0 || want.LastHash == "" {
				t.Fatalf("export summary = %+v", want)
			}
			dst := openDialect(t, tc.target)
			got, err := dst.Import(ctx, bytes.NewReader(dump))
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Import summary = %+v, want the export's %+v", got, want)
			}
			again, _ := export(t, dst)
			h0, body0 := splitHeader(t, dump)
			h1, body1 := splitHeader(t, again)
			if h1.Dialect != tc.target || h0.Dialect != tc.source || h1.SchemaVersion != h0.SchemaVersion {
				t.Errorf("headers %+v and %+v", h0, h1)
			}
			if !bytes.Equal(body0, body1) {
				t.Errorf("the target's dump differs from the source's:\n%s", firstDiff(body0, body1))
			}
			if err := dst.CheckLedger(ctx); err != nil {
				t.Errorf("CheckLedger on the target: %v", err)
			}
			if problems, err := dst.Verify(ctx); err != nil || len(problems) > 0 {
				t.Errorf("Verify on the target: %v %v", problems, err)
			}
			checkNetwork(t, src, dst)
			checkNewWrites(t, dst, ids, want)
		})
	}
}

// checkNetwork reads the links, the policies (cohorts, weights), the
// platform weights and the priority classes back through the store's
// methods on both sides.
func checkNetwork(t *testing.T, src, dst *Store) {
	t.Helper()
	ctx := context.Background()
	for _, read := range []func(*Store) (any, error){
		func(s *Store) (any, error) { return s.Links(ctx) },
		func(s *Store) (any, error) { return s.TenantPolicies(ctx) },
		func(s *Store) (any, error) { return s.SchedWeights(ctx) },
		func(s *Store) (any, error) { return s.PriorityClasses(ctx) },
	} {
		a, err := read(src)
		if err != nil {
			t.Fatal(err)
		}
		b, err := read(dst)
		if err != nil {
			t.Fatal(err)
		}
		if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
			t.Errorf("after the import:\n  source %s\n  target %s", ja, jb)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkNewWrites makes a top-up and a job on an imported store: the top-up
// takes the next seq and links to the imported chain, and the job's events
// get ids after the imported ones (PostgreSQL's sequences were moved on).
func checkNewWrites(t *testing.T, s *Store, ids richIDs, imported ExportSummary) {
	t.Helper()
	ctx := context.Background()
	var seq0, event0 int64
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(seq) FROM transfers`).Scan(&seq0); err != nil {
		t.Fatal(err)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(id) FROM job_events`).Scan(&event0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TopUp(ctx, ids.tenant, core.MicrosPerYuan, "after-import"); err != nil {
		t.Fatalf("TopUp after the import: %v", err)
	}
	if _, err := s.SubmitJob(ctx, ids.tenant, spec(), perHour(1)); err != nil {
		t.Fatalf("SubmitJob after the import: %v", err)
	}
	var seq1, event1 int64
	var h string
	if err := s.r.QueryRowContext(ctx, `SELECT seq, hash FROM transfers WHERE id = ?`, "topup:"+ids.tenant+":after-import").
		Scan(&seq1, &h); err != nil {
		t.Fatal(err)
	}
	if seq1 <= seq0 || seq1 <= imported.Transfers {
		t.Errorf("new transfer seq %d, want after the imported %d", seq1, seq0)
	}
	accts, ts, err := s.readLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if problems := ledger.Audit(accts, ts); len(problems) > 0 {
		t.Errorf("the chain after new writes: %v", problems)
	}
	if ts[imported.Transfers-1].Hash != imported.LastHash || ts[imported.Transfers].Hash != h {
		t.Errorf("the first new transfer does not follow the imported last hash %.12s", imported.LastHash)
	}
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(id) FROM job_events`).Scan(&event1); err != nil {
		t.Fatal(err)
	}
	if event1 <= event0 {
		t.Errorf("job event id %d after the import, want after %d", event1, event0)
	}
}

// firstDiff shows the first line where two dumps differ.
func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d:\n  source %s\n  target %s", i+2, la[i], lb[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d lines", len(la), len(lb))
}

// rowCount is the rows of every table in s.
func rowCount(t *testing.T, s *Store) int64 {
	t.Helper()
	_, sum := export(t, s)
	var n int64
	for _, tb := range sum.Tables {
		n += tb.Rows
	}
	return n
}

// TestImportRefusesNonEmptyTarget: a second import into the same store is
// refused as a conflict and changes nothing.
func TestImportRefusesNonEmptyTarget(t *testing.T) {
	ctx := context.Background()
	src := testStore(t, "OFF")
	fillRich(t, src)
	dump, _ := export(t, src)
	dst := testStore(t, "OFF")
	if _, err := dst.Import(ctx, bytes.NewReader(dump)); err != nil {
		t.Fatal(err)
	}
	before, _ := export(t, dst)
	_, err := dst.Import(ctx, bytes.NewReader(dump))
	if core.ErrorCode(err) != core.EConflict || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second Import = %v, want a conflict: the target is not empty", err)
	}
	after, _ := export(t, dst)
	_, b0 := splitHeader(t, before)
	_, b1 := splitHeader(t, after)
	if !bytes.Equal(b0, b1) {
		t.Errorf("a refused import changed the target:\n%s", firstDiff(b0, b1))
	}
}

// TestImportRejectsBadDumps loads damaged or edited dumps into one empty
// target: each must fail with an error that says what is wrong, and the
// target must stay empty (all or nothing) — which the next case, refused
// otherwise as not empty, checks again.
func TestImportRejectsBadDumps(t *testing.T) {
	src := testStore(t, "OFF")
	ids := fillRich(t, src)
	dump, _ := export(t, src)
	wallet := ledger.WalletID(ids.tenant)
	firstTopUp := func(row map[string]any) bool { return strings.HasPrefix(row["id"].(string), "topup:") }
	isWallet := func(row map[string]any) bool { return row["id"] == wallet }
	cases := []struct {
		name     string
		dump     []byte
		wantCode string
		want     string // in the message
	}{
		{"transfer amount edited, checksum fixed", rehash(t, editRow(t, dump, "transfers", firstTopUp, "amount", 1)),
			core.EInvalid, "hash chain broken at transfer topup:"},
		{"account balance edited, checksum fixed", rehash(t, editRow(t, dump, "accounts", isWallet, "credits_posted", 1)),
			core.EInvalid, "account " + wallet + ": credits_posted is"},
		{"transfer amount edited", editRow(t, dump, "transfers", firstTopUp, "amount", 1), core.EInvalid, "checksum"},
		{"trailer cut off", dump[:bytes.LastIndex(dump[:len(dump)-1], []byte("\n"))+1], core.EInvalid, "truncated"},
		{"unknown table", addLineAfterHeader(dump, `{"table":"ghosts","columns":["id"]}`), core.EInvalid, `unknown table "ghosts"`},
		{"unknown column", bytes.Replace(dump, []byte(`"credit_code"`), []byte(`"credit_kode"`), 1), core.EInvalid,
			"unknown column orgs.credit_kode"},
		{"other schema version", bytes.Replace(dump, []byte(`"schema_version":`), []byte(`"schema_version":9`), 1),
			core.EConflict, "schema version"},
		{"not a dump", []byte("hello\n"), core.EInvalid, "not a suanli-export header"},
		{"empty", nil, core.EInvalid, "empty"},
		{"line over the bound", addLineAfterHeader(dump, `["`+strings.Repeat("x", ExportLineBytesMax)+`"]`),
			core.EInvalid, "longer than"},
	}
	dst := testStore(t, "OFF")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := dst.Import(context.Background(), bytes.NewReader(tc.dump))
			if err == nil || core.ErrorCode(err) != tc.wantCode || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Import = %v, want %s containing %q", err, tc.wantCode, tc.want)
			}
			if n := rowCount(t, dst); n != 0 {
				t.Fatalf("a failed import left %d rows in the target", n)
			}
		})
	}
	// The same target still takes the good dump.
	if _, err := dst.Import(context.Background(), bytes.NewReader(dump)); err != nil {
		t.Fatalf("Import of the good dump after the failures: %v", err)
	}
}

// editRow adds delta to column col of the first row of table that match
// accepts, as a person editing the dump would.
func editRow(t *testing.T, dump []byte, table string, match func(map[string]any) bool, col string, delta int64) []byte {
	t.Helper()
	var out bytes.Buffer
	var cols []string
	var current string
	done := false
	sc := bufio.NewScanner(bytes.NewReader(dump))
	sc.Buffer(nil, ExportLineBytesMax)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) > 0 && line[0] == '{' {
			var d dumpTable
			_ = json.Unmarshal(line, &d) // the header and trailer have no table
			current, cols = d.Table, d.Columns
		} else if current == table && !done {
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			var vals []any
			if err := dec.Decode(&vals); err != nil {
				t.Fatal(err)
			}
			row := map[string]any{}
			for i, c := range cols {
				row[c] = vals[i]
			}
			if match(row) {
				for i, c := range cols {
					if c == col {
						n, _ := vals[i].(json.Number).Int64()
						vals[i] = n + delta
					}
				}
				line, _ = json.Marshal(vals)
				done = true
			}
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	if !done {
		t.Fatalf("no row of %s matched", table)
	}
	return out.Bytes()
}

// rehash recomputes the trailer's checksum, as someone who meant to pass
// an edit off would.
func rehash(t *testing.T, dump []byte) []byte {
	t.Helper()
	lines := bytes.Split(bytes.TrimSuffix(dump, []byte("\n")), []byte("\n"))
	sum := sha256.New()
	for _, l := range lines[1 : len(lines)-1] {
		sum.Write(l)
		sum.Write([]byte("\n"))
	}
	var tr dumpTrailer
	if err := json.Unmarshal(lines[len(lines)-1], &tr); err != nil {
		t.Fatal(err)
	}
	tr.SHA256 = hex.EncodeToString(sum.Sum(nil))
	lines[len(lines)-1], _ = json.Marshal(tr)
	return append(bytes.Join(lines, []byte("\n")), '\n')
}

func addLineAfterHeader(dump []byte, line string) []byte {
	head, rest, _ := bytes.Cut(dump, []byte("\n"))
	return []byte(string(head) + "\n" + line + "\n" + string(rest))
}

// TestExportDeterministic: two exports of an idle store are the same
// but for the header's time, so a dump identifies its data.
func TestExportDeterministic(t *testing.T) {
	s := testStore(t, "OFF")
	fillRich(t, s)
	a, _ := export(t, s)
	b, _ := export(t, s)
	_, ba := splitHeader(t, a)
	_, bb := splitHeader(t, b)
	if !bytes.Equal(ba, bb) {
		t.Errorf("two exports differ:\n%s", firstDiff(ba, bb))
	}
}

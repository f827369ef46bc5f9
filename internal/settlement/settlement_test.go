package settlement

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/meter"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update and review the diff)\n--- got ---\n%s", name, got)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

var nov = func() Period { p, _ := ParseMonth("2026-11"); return p }()

// after is a time after November 2026, so reports of it are final.
var after = time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)

// charge builds a job's period money the way the ledger books it: the
// voucher's share, the rest from the wallet (beyond hold direct, or
// arrears), and the cumulative split of the gross.
func charge(gross, voucher, arrears, refund core.Micros) Money {
	m := Money{Voucher: voucher, Arrears: arrears, Capture: gross - voucher - arrears}
	m.VAT, m.Commission, m.Provider = meter.Split(gross, 600, 1000)
	if refund > 0 {
		v, c, p := meter.Split(refund, 600, 1000)
		m.Refund, m.RefundVAT, m.RefundCommission, m.RefundProvider = refund, v, c, p
	}
	return m
}

func fixture() (Book, map[string]Scheme, []JobRow) {
	book := Book{
		Centers: map[string]core.Center{
			"c-bj":    {ID: "c-bj", Name: "bj-mentougou", DisplayName: "北京门头沟昇腾公共算力中心", ProviderOrgID: "org-p1"},
			"c-sh":    {ID: "c-sh", Name: "sh-lingang", DisplayName: "上海临港智算中心", ProviderOrgID: "org-p2"},
			"c-local": {ID: "c-local", Name: "local", DisplayName: "本机", ProviderOrgID: "org-p1"},
		},
		Orgs: map[string]core.Org{
			"org-op": {ID: "org-op", Name: "算力网运营平台", CreditCode: "91420500MA4F000001"},
			"org-a":  {ID: "org-a", Name: "甲科技有限公司", CreditCode: "91110108MA01AAAA1X"},
			"org-b":  {ID: "org-b", Name: "乙智能有限公司", CreditCode: "91310115MA1BBBBB2Y"},
			"org-p1": {ID: "org-p1", Name: "北京算力提供方", CreditCode: "91110109MA0PPPP13Q"},
			"org-p2": {ID: "org-p2", Name: "上海算力提供方", CreditCode: "91310000MA0PPPP24R"},
		},
	}
	schemes := map[string]Scheme{"vs-bj": {ID: "vs-bj", Name: "北京算力券 2026", Issuer: "北京市经信局", ShareBPS: 2000, DomesticShareBPS: 3000}}
	hour := int64(3_600_000)
	jobs := []JobRow{
		// 2 × 8 Ascend 910B for 1.5 h at 6.50 CNY/card-hour, 30 % by voucher.
		{JobID: "j-001", Name: "train", TenantOrgID: "org-a", CenterID: "c-bj", CostMicros: 156_000_000, VoucherSchemeID: "vs-bj",
			Usage: []Usage{{Model: "Ascend910B", Units: 8, BilledMs: 3 * hour / 2, RateScaled: 8 * 6_500_000 * core.RateScale},
				{Model: "Ascend910B", Units: 8, BilledMs: 3 * hour / 2, RateScaled: 8 * 6_500_000 * core.RateScale}},
			Money: charge(156_000_000, 46_800_000, 0, 0)},
		// A CPU job on local: 2 cores for 1 s, refunded in part.
		{JobID: "j-002", Name: "hello", TenantOrgID: "org-a", CenterID: "c-local", CostMicros: 23,
			Usage: []Usage{{Units: 2000, BilledMs: 1000, RateScaled: 40_000*2000*1024 + 5000*256*1000}},
			Money: charge(23, 0, 0, 10)},
		// A long job: only a third of its charge fell in November.
		{JobID: "j-003", Name: "long", TenantOrgID: "org-a", CenterID: "c-sh", CostMicros: 90_000_000,
			Usage: []Usage{{Model: "H20", Units: 4, BilledMs: 5 * hour, RateScaled: 4 * 4_500_000 * core.RateScale}},
			Money: charge(30_000_001, 0, 1_234_567, 0)},
		// Mixed models across replicas (any acceptable model).
		{JobID: "j-004", Name: "mixed", TenantOrgID: "org-b", CenterID: "c-sh", CostMicros: 10_000_003,
			Usage: []Usage{{Model: "H20", Units: 1, BilledMs: hour, RateScaled: 4_500_000 * core.RateScale},
				{Model: "A100", Units: 1, BilledMs: hour, RateScaled: 5_500_003 * core.RateScale}},
			Money: charge(10_000_003, 0, 0, 0)},
		// org-b on the voucher at bj, and a refund of an October job.
		{JobID: "j-005", Name: "infer", TenantOrgID: "org-b", CenterID: "c-bj", CostMicros: 333_333, VoucherSchemeID: "vs-bj",
			Usage: []Usage{{Model: "Ascend910B", Units: 1, BilledMs: 184_616, RateScaled: 6_500_000 * core.RateScale}},
			Money: charge(333_333, 99_999, 0, 0)},
		{JobID: "j-000", Name: "october", TenantOrgID: "org-b", CenterID: "c-bj", CostMicros: 5_000_000,
			Usage: []Usage{{Model: "Ascend910B", Units: 1, BilledMs: 2_769_231, RateScaled: 6_500_000 * core.RateScale}},
			Money: charge(0, 0, 0, 1_000_000)},
	}
	return book, schemes, jobs
}

func jobsOf(jobs []JobRow, keep func(JobRow) bool) []JobRow {
	var out []JobRow
	for _, j := range jobs {
		if keep(j) {
			out = append(out, j)
		}
	}
	return out
}

func TestGolden(t *testing.T) {
	book, schemes, jobs := fixture()
	numbers := InvoiceNumbers(nov, []TenantFirst{{"org-b", nov.Start.Add(time.Hour)}, {"org-a", nov.Start.Add(2 * time.Hour)}})
	seller := book.party("org-op")
	for _, org := range []string{"org-a", "org-b"} {
		inv := BuildInvoice(InvoiceInput{Period: nov, Number: numbers[org], Seller: seller, Buyer: book.party(org),
			TaxBPS: DefaultVATBPS, Jobs: jobsOf(jobs, func(j JobRow) bool { return j.TenantOrgID == org }), Book: book,
			Schemes: schemes, Now: after})
		if err := inv.Check(); err != nil {
			t.Errorf("%s: %v", org, err)
		}
		golden(t, "invoice-"+org+".json", mustJSON(t, inv))
		var csv, html bytes.Buffer
		if err := WriteInvoiceCSV(&csv, inv); err != nil {
			t.Fatal(err)
		}
		golden(t, "invoice-"+org+".csv", csv.Bytes())
		if err := WriteInvoiceHTML(&html, inv); err != nil {
			t.Fatal(err)
		}
		golden(t, "invoice-"+org+".html", html.Bytes())
	}

	var centers []core.Center
	for _, c := range book.Centers {
		if c.ProviderOrgID == "org-p1" {
			centers = append(centers, c)
		}
	}
	st := BuildStatement(StatementInput{Period: nov, Provider: book.party("org-p1"), Centers: centers,
		Jobs: jobsOf(jobs, func(j JobRow) bool { return j.CenterID == "c-bj" || j.CenterID == "c-local" }), Now: after})
	golden(t, "statement-org-p1.json", mustJSON(t, st))
	var csv bytes.Buffer
	if err := WriteStatementCSV(&csv, st); err != nil {
		t.Fatal(err)
	}
	golden(t, "statement-org-p1.csv", csv.Bytes())
	if st.Status != StatusOpen || st.Total.Payable != st.ProviderPayable {
		t.Errorf("status %s, payable %d vs provider payable %d", st.Status, st.Total.Payable, st.ProviderPayable)
	}

	rep := BuildOperatorReport(OperatorInput{Period: nov, Jobs: jobs, Book: book, Schemes: schemes, Invoices: numbers,
		Receivables: []ReceivableMoves{
			{AccountID: "funder:vs-bj:receivable", Code: CodeFunderReceivable, Opening: 5_000_000, Accrued: 46_899_999, Received: 5_000_000},
			{AccountID: "tenant:org-a:receivable", Code: CodeTenantReceivable, OrgID: "org-a", Accrued: 1_234_567, WrittenOff: 234_567},
		}, Payouts: 7_000_000, Now: nov.Start.Add(24 * time.Hour)})
	golden(t, "operator.json", mustJSON(t, rep))
	csv.Reset()
	if err := WriteOperatorCSV(&csv, rep); err != nil {
		t.Fatal(err)
	}
	golden(t, "operator.csv", csv.Bytes())

	red := BuildRedemption(RedemptionInput{Period: nov, Scheme: schemes["vs-bj"], Jobs: jobs, Book: book, Invoices: numbers,
		LedgerVoucher: 46_899_999, LedgerUsed: 46_899_999, Now: after})
	if !red.Reconciled || red.Voucher != 46_899_999 {
		t.Errorf("redemption voucher %d reconciled %v", red.Voucher, red.Reconciled)
	}
	golden(t, "redemption.json", mustJSON(t, red))
	csv.Reset()
	if err := WriteRedemptionCSV(&csv, red); err != nil {
		t.Fatal(err)
	}
	golden(t, "redemption.csv", csv.Bytes())
}

func TestParseMonth(t *testing.T) {
	p, err := ParseMonth("2026-11")
	if err != nil || p.Start != time.Date(2026, 10, 31, 16, 0, 0, 0, time.UTC) || p.End != time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC) {
		t.Errorf("ParseMonth = %+v, %v", p, err)
	}
	if p, _ := ParseMonth("2026-12"); p.End != time.Date(2026, 12, 31, 16, 0, 0, 0, time.UTC) {
		t.Errorf("December ends %v", p.End)
	}
	if got := MonthOf(time.Date(2026, 11, 30, 16, 0, 0, 0, time.UTC)); got.Month != "2026-12" {
		t.Errorf("MonthOf(Dec 1 00:00 CST) = %s", got.Month)
	}
	for _, bad := range []string{"", "2026-13", "2026-00", "26-11", "2026-1", "1999-01", "2026-11-01"} {
		_, err := ParseMonth(bad)
		var ce *core.Error
		if err == nil || !asCore(err, &ce) || ce.Field != "month" || ce.Code != core.EInvalid {
			t.Errorf("ParseMonth(%q) = %v, want an invalid month error", bad, err)
		}
	}
}

func asCore(err error, ce **core.Error) bool {
	e, ok := err.(*core.Error)
	*ce = e
	return ok
}

func TestInvoiceNumbers(t *testing.T) {
	at := nov.Start.Add(time.Minute)
	got := InvoiceNumbers(nov, []TenantFirst{{"org-z", at}, {"org-b", at.Add(time.Second)}, {"org-a", at}})
	want := map[string]string{"org-a": "SL-202611-00001", "org-z": "SL-202611-00002", "org-b": "SL-202611-00003"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %s, want %s", k, got[k], v)
		}
	}
}

// TestInvoiceReconciles: for any set of jobs, lines plus tax equal the
// charges less refunds exactly, in micros and in fen, and every split
// keeps its whole.
func TestInvoiceReconciles(t *testing.T) {
	models := []string{"", "A100", "H20", "Ascend910B"}
	centers := []string{"c-bj", "c-sh", "c-local"}
	book, _, _ := fixture()
	rapid.Check(t, func(rt *rapid.T) {
		taxBPS := rapid.SampledFrom([]int64{0, 300, 600, 900, 1300}).Draw(rt, "tax")
		n := rapid.IntRange(0, 12).Draw(rt, "jobs")
		var jobs []JobRow
		var charges, refunds core.Micros
		for i := 0; i < n; i++ {
			gross := core.Micros(rapid.Int64Range(0, 5_000_000_000).Draw(rt, "gross"))
			voucher := core.Micros(rapid.Int64Range(0, int64(gross)).Draw(rt, "voucher"))
			refund := core.Micros(rapid.Int64Range(0, int64(gross-voucher)).Draw(rt, "refund"))
			if rapid.Bool().Draw(rt, "refund only") {
				gross, voucher = 0, 0
				refund = core.Micros(rapid.Int64Range(1, 1_000_000).Draw(rt, "old refund"))
			}
			j := JobRow{JobID: string(rune('a' + i)), CenterID: rapid.SampledFrom(centers).Draw(rt, "center"),
				CostMicros: gross + core.Micros(rapid.Int64Range(0, 1000).Draw(rt, "earlier")), Money: charge(gross, voucher, 0, refund)}
			for r := rapid.IntRange(0, 3).Draw(rt, "replicas"); r > 0; r-- {
				j.Usage = append(j.Usage, Usage{Model: rapid.SampledFrom(models).Draw(rt, "model"),
					Units: rapid.Int64Range(1, 8).Draw(rt, "units"), BilledMs: rapid.Int64Range(0, 100_000_000).Draw(rt, "ms"),
					RateScaled: rapid.Int64Range(0, 1<<40).Draw(rt, "rate")})
			}
			charges += gross
			refunds += refund
			jobs = append(jobs, j)
		}
		inv := BuildInvoice(InvoiceInput{Period: nov, TaxBPS: taxBPS, Jobs: jobs, Book: book, Now: after})
		if err := inv.Check(); err != nil {
			rt.Fatal(err)
		}
		var lines core.Micros
		for _, l := range inv.Lines {
			lines += l.Amount + l.Tax
		}
		if lines != charges-refunds || inv.Total != charges-refunds {
			rt.Fatalf("lines %d, total %d, want %d", lines, inv.Total, charges-refunds)
		}
		if inv.Tax != TaxOf(charges-refunds, taxBPS) {
			rt.Fatalf("tax %d, want tax of the total %d", inv.Tax, TaxOf(charges-refunds, taxBPS))
		}
		if d := inv.Rounding; d < -5_000 || d > 5_000 {
			rt.Fatalf("rounding %d exceeds half a fen", d)
		}
		st := BuildStatement(StatementInput{Period: nov, Centers: []core.Center{book.Centers["c-bj"], book.Centers["c-sh"],
			book.Centers["c-local"]}, Jobs: jobs, Now: after})
		for _, c := range st.Centers {
			for _, l := range c.Lines {
				if l.Net() != l.VAT+l.Commission+l.Payable {
					rt.Fatalf("%s %s: net %d != vat %d + commission %d + payable %d", c.Name, l.Model, l.Net(), l.VAT, l.Commission, l.Payable)
				}
			}
		}
		if st.Total.Net() != charges-refunds || st.Total.Payable != st.ProviderPayable {
			rt.Fatalf("statement net %d payable %d/%d, want %d", st.Total.Net(), st.Total.Payable, st.ProviderPayable, charges-refunds)
		}
	})
}

func TestAllocate(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		total := core.Micros(rapid.Int64Range(-1e12, 1e12).Draw(rt, "total"))
		ws := rapid.SliceOfN(rapid.Int64Range(0, 1<<50), 1, 8).Draw(rt, "weights")
		weights := make([]*big.Int, len(ws))
		for i, w := range ws {
			weights[i] = big.NewInt(w)
		}
		var sum core.Micros
		for _, p := range allocate(total, weights) {
			sum += p
		}
		if sum != total {
			rt.Fatalf("parts add up to %d, want %d", sum, total)
		}
	})
}

func TestFormat(t *testing.T) {
	for in, want := range map[int64]string{600: "6%", 650: "6.5%", 1300: "13%", 0: "0%", 3333: "33.33%"} {
		if got := FormatBPS(in); got != want {
			t.Errorf("FormatBPS(%d) = %q, want %q", in, got, want)
		}
	}
	if got := FormatMilli(-1234); got != "-1.234" {
		t.Errorf("FormatMilli = %q", got)
	}
	if Fen(-5_000) != -10_000 || Fen(4_999) != 0 || Fen(15_000) != 20_000 {
		t.Errorf("Fen rounds wrong")
	}
	if !strings.HasPrefix(nov.Month, "2026") {
		t.Fatal(nov)
	}
}

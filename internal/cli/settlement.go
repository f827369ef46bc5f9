package cli

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/settlement"
)

// settlementCmds are `suanli invoice`, `suanli settlement` and `suanli
// report`: monthly statements, 发票 invoice data, provider settlement and
// payouts, and the operator's and funding bodies' reports.
func settlementCmds(g *globals) []*cobra.Command {
	return []*cobra.Command{invoiceCmd(g), settlementCmd(g), reportCmd(g)}
}

// writeFile writes raw bytes to path, or to stdout when path is "" or "-".
func (g *globals) writeFile(path string, b []byte) error {
	if path == "" || path == "-" {
		_, err := g.stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func invoiceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "invoice", Short: "Monthly statements and 发票 invoice data (tenant: its own; operator: --org)"}
	var month, org, out string
	flags := func(c *cobra.Command, file bool) *cobra.Command {
		c.Flags().StringVar(&month, "month", "", "month, YYYY-MM in China time (default: the current month)")
		c.Flags().StringVar(&org, "org", "", "operator: the tenant's org id")
		if file {
			c.Flags().StringVar(&out, "out", "", "write to this file instead of stdout")
		}
		return c
	}
	show := &cobra.Command{
		Use: "show", Short: "Show a tenant's statement and invoice lines", Args: cobra.NoArgs,
		Example: "  suanli invoice show --month 2026-11\n  suanli --as operator invoice show --month 2026-11 --org ORG_ID",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			inv, err := c.Invoice(cmd.Context(), monthOrCurrent(month), org)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(inv)
			}
			return g.printInvoice(inv)
		},
	}
	csv := &cobra.Command{
		Use: "csv", Short: "Write a tenant's invoice lines as CSV (UTF-8 with BOM)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			b, err := c.InvoiceCSV(cmd.Context(), monthOrCurrent(month), org)
			if err != nil {
				return err
			}
			return g.writeFile(out, b)
		},
	}
	html := &cobra.Command{
		Use: "html", Short: "Write a tenant's invoice as a printable HTML page", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			b, err := c.InvoiceHTML(cmd.Context(), monthOrCurrent(month), org)
			if err != nil {
				return err
			}
			return g.writeFile(out, b)
		},
	}
	var listMonth string
	list := &cobra.Command{
		Use: "list", Short: "List a month's invoices (operator: every tenant)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			rows, err := c.Invoices(cmd.Context(), listMonth)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(rows)
			}
			out := make([][]string, 0, len(rows))
			for _, r := range rows {
				out = append(out, []string{r.Invoice, r.Tenant.OrgID, r.Tenant.Name, fmt.Sprint(r.Jobs), r.Charges.Yuan(),
					r.Refunds.Yuan(), r.Net.Yuan(), r.Wallet.Yuan(), r.Voucher.Yuan(), r.Arrears.Yuan()})
			}
			return g.table([]string{"INVOICE", "TENANT", "NAME", "JOBS", "CHARGES", "REFUNDS", "TOTAL", "WALLET", "VOUCHER", "ARREARS"}, out)
		},
	}
	list.Flags().StringVar(&listMonth, "month", "", "month, YYYY-MM (default: the current month)")
	cmd.AddCommand(flags(show, false), flags(csv, true), flags(html, true), list)
	return cmd
}

// monthOrCurrent passes an empty month through as "current" in the path.
func monthOrCurrent(m string) string {
	if m == "" {
		return settlement.MonthOf(nowFunc()).Month
	}
	return m
}

func (g *globals) printInvoice(inv settlement.Invoice) error {
	status := "final"
	if inv.Draft {
		status = "draft (the month has not ended)"
	}
	number := inv.Number
	if number == "" {
		number = "(none: no charges)"
	}
	fmt.Fprintf(g.stdout, "Invoice %s  %s  %s\nSeller %s (%s)\nBuyer  %s (%s)\n\n", number, inv.Period.Month, status,
		inv.Seller.Name, inv.Seller.CreditCode, inv.Buyer.Name, inv.Buyer.CreditCode)
	rows := make([][]string, 0, len(inv.Lines)+1)
	for i, l := range inv.Lines {
		price := ""
		if l.QuantityMilli != 0 {
			price = l.UnitPrice.Exact()
		}
		rows = append(rows, []string{fmt.Sprint(i + 1), l.Service, l.Unit, l.Quantity, price, l.AmountFen.Yuan(), l.TaxRate,
			l.TaxFen.Yuan(), (l.AmountFen + l.TaxFen).Yuan()})
	}
	rows = append(rows, []string{"", "total", "", "", "", inv.AmountFen.Yuan(), settlement.FormatBPS(inv.TaxBPS),
		inv.TaxFen.Yuan(), inv.TotalFen.Yuan()})
	if err := g.table([]string{"#", "SERVICE", "UNIT", "QTY", "UNIT PRICE", "AMOUNT", "RATE", "TAX", "GROSS"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\nCharges %s  refunds %s  total %s (exact %s, rounding %s)\n", inv.Charges.Yuan(), inv.Refunds.Yuan(),
		inv.TotalFen.Yuan(), inv.Total.Exact(), inv.Rounding.Exact())
	fmt.Fprintf(g.stdout, "Paid from wallet %s  by voucher %s  arrears %s  (%d jobs)\n", inv.Wallet.Yuan(), inv.Voucher.Yuan(),
		inv.Arrears.Yuan(), inv.JobsTotal)
	for _, v := range inv.Vouchers {
		fmt.Fprintf(g.stdout, "  voucher %s (%s): %s\n", v.Name, v.Issuer, v.Amount.Yuan())
	}
	return nil
}

func settlementCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "settlement", Short: "Provider settlement statements (交易结算) and payouts"}
	var month, center, provider, out string
	var csv bool
	statement := &cobra.Command{
		Use: "statement", Short: "A provider's statement for a month, per center and accelerator model", Args: cobra.NoArgs,
		Example: "  suanli --as provider settlement statement --month 2026-11\n" +
			"  suanli --as operator settlement statement --center bj-mentougou --month 2026-11 --csv",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if csv {
				b, err := c.StatementCSV(cmd.Context(), month, provider, center)
				if err != nil {
					return err
				}
				return g.writeFile(out, b)
			}
			sts, err := c.Statements(cmd.Context(), month, provider, center)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(sts)
			}
			return g.printStatements(sts)
		},
	}
	statement.Flags().StringVar(&month, "month", "", "month, YYYY-MM in China time (default: the current month)")
	statement.Flags().StringVar(&center, "center", "", "only this center")
	statement.Flags().StringVar(&provider, "provider", "", "operator: only this provider (org id)")
	statement.Flags().BoolVar(&csv, "csv", false, "write CSV instead of a table")
	statement.Flags().StringVar(&out, "out", "", "with --csv: write to this file instead of stdout")

	var payMonth, payCenter, payProvider, ref string
	pay := &cobra.Command{
		Use: "pay", Short: "Mark a provider's statement for an ended month paid (operator)", Args: cobra.NoArgs,
		Example: "  suanli --as operator settlement pay --center bj-mentougou --month 2026-11 --ref BANK-20261205-001",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if payMonth == "" {
				return fmt.Errorf("--month is required")
			}
			if ref == "" {
				return fmt.Errorf("--ref (the bank transfer reference) is required")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			p, err := c.PayStatement(cmd.Context(), payMonth, payProvider, payCenter, ref)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(p)
			}
			return g.table([]string{"PAYOUT", "PROVIDER", "AMOUNT", "REFERENCE"}, [][]string{{p.ID, p.ProviderOrgID, p.Amount.Yuan(), p.Reference}})
		},
	}
	pay.Flags().StringVar(&payMonth, "month", "", "month, YYYY-MM in China time; it must have ended")
	pay.Flags().StringVar(&payCenter, "center", "", "a center of the provider")
	pay.Flags().StringVar(&payProvider, "provider", "", "the provider's org id")
	pay.Flags().StringVar(&ref, "ref", "", "bank transfer reference")

	var poProvider string
	payouts := &cobra.Command{
		Use: "payouts", Short: "List payouts to providers", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ps, err := c.SettlementPayouts(cmd.Context(), poProvider)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(ps)
			}
			rows := make([][]string, 0, len(ps))
			for _, p := range ps {
				rows = append(rows, []string{settlement.MonthOf(p.PeriodStart).Month, p.ProviderOrgID, p.Amount.Yuan(), p.Reference,
					p.CreatedAt.In(settlement.Zone).Format("2006-01-02 15:04")})
			}
			return g.table([]string{"MONTH", "PROVIDER", "AMOUNT", "REFERENCE", "PAID AT"}, rows)
		},
	}
	payouts.Flags().StringVar(&poProvider, "provider", "", "operator: only this provider")
	cmd.AddCommand(statement, pay, payouts)
	return cmd
}

func (g *globals) printStatements(sts []settlement.Statement) error {
	rows := [][]string{}
	for _, st := range sts {
		for _, c := range st.Centers {
			for _, l := range c.Lines {
				rows = append(rows, []string{st.Period.Month, st.Provider.Name, c.Name, l.Model, l.Quantity + " " + l.Unit,
					fmt.Sprint(l.Jobs), l.Charges.Yuan(), l.Refunds.Yuan(), l.VAT.Yuan(), l.Commission.Yuan(), l.Payable.Yuan(), st.Status})
			}
		}
		paid := ""
		if st.Payout != nil {
			paid = " paid " + st.Payout.Reference
		}
		t := st.Total
		rows = append(rows, []string{st.Period.Month, st.Provider.Name, "total", "", "", fmt.Sprint(t.Jobs), t.Charges.Yuan(),
			t.Refunds.Yuan(), t.VAT.Yuan(), t.Commission.Yuan(), t.Payable.Yuan(), st.Status + paid})
	}
	return g.table([]string{"MONTH", "PROVIDER", "CENTER", "MODEL", "QUANTITY", "JOBS", "CHARGES", "REFUNDS", "VAT",
		"COMMISSION", "NET PAYABLE", "STATUS"}, rows)
}

func reportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Operator reports: revenue and receivables; 算力券 redemptions for funding bodies"}
	var month, out string
	var csv bool
	operator := &cobra.Command{
		Use: "operator", Short: "Revenue, commission, VAT, per center and tenant, and receivables for a month (operator)",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if csv {
				b, err := c.OperatorReportCSV(cmd.Context(), month)
				if err != nil {
					return err
				}
				return g.writeFile(out, b)
			}
			r, err := c.OperatorReport(cmd.Context(), month)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(r)
			}
			return g.printOperator(r)
		},
	}
	operator.Flags().StringVar(&month, "month", "", "month, YYYY-MM in China time (default: the current month)")
	operator.Flags().BoolVar(&csv, "csv", false, "write CSV instead of tables")
	operator.Flags().StringVar(&out, "out", "", "with --csv: write to this file instead of stdout")

	var rMonth, scheme, rOut string
	var rCSV bool
	redemptions := &cobra.Command{
		Use: "redemptions", Short: "A 算力券 scheme's redemption report for its funding body (operator)", Args: cobra.NoArgs,
		Example: "  suanli --as operator report redemptions --scheme 2026-yichang --month 2026-11 --csv --out redemptions.csv",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if scheme == "" {
				return fmt.Errorf("--scheme is required")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if rCSV {
				b, err := c.RedemptionsCSV(cmd.Context(), scheme, rMonth)
				if err != nil {
					return err
				}
				return g.writeFile(rOut, b)
			}
			r, err := c.Redemptions(cmd.Context(), scheme, rMonth)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(r)
			}
			return g.printRedemption(r)
		},
	}
	redemptions.Flags().StringVar(&scheme, "scheme", "", "voucher scheme name or id")
	redemptions.Flags().StringVar(&rMonth, "month", "", "month, YYYY-MM in China time (default: the current month)")
	redemptions.Flags().BoolVar(&rCSV, "csv", false, "write CSV instead of a table")
	redemptions.Flags().StringVar(&rOut, "out", "", "with --csv: write to this file instead of stdout")
	cmd.AddCommand(operator, redemptions)
	return cmd
}

func totalsRow(t settlement.Totals) []string {
	return []string{fmt.Sprint(t.Jobs), t.Charges.Yuan(), t.Refunds.Yuan(), t.Wallet.Yuan(), t.Voucher.Yuan(), t.Arrears.Yuan(),
		t.VAT.Yuan(), t.Commission.Yuan(), t.ProviderShare.Yuan()}
}

var totalsHeader = []string{"JOBS", "CHARGES", "REFUNDS", "WALLET", "VOUCHER", "ARREARS", "VAT", "COMMISSION", "PROVIDERS"}

func (g *globals) printOperator(r settlement.OperatorReport) error {
	status := "final"
	if r.Draft {
		status = "draft"
	}
	fmt.Fprintf(g.stdout, "Operator report %s (%s); paid out to providers %s\n\n", r.Period.Month, status, r.Payouts.Yuan())
	rows := [][]string{}
	for _, c := range r.Centers {
		rows = append(rows, append([]string{"center", c.Name}, totalsRow(c.Totals)...))
	}
	for _, t := range r.Tenants {
		rows = append(rows, append([]string{"tenant " + t.Invoice, t.Tenant.Name}, totalsRow(t.Totals)...))
	}
	rows = append(rows, append([]string{"total", ""}, totalsRow(r.Totals)...))
	if err := g.table(append([]string{"ROW", "NAME"}, totalsHeader...), rows); err != nil {
		return err
	}
	rows = rows[:0]
	for _, list := range [][]settlement.Receivable{r.Funders, r.Arrears} {
		for _, rv := range list {
			rows = append(rows, []string{rv.AccountID, rv.Name, rv.Opening.Yuan(), rv.Accrued.Yuan(), rv.Received.Yuan(),
				(rv.WrittenOff + rv.Other).Yuan(), rv.Closing.Yuan()})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(g.stdout)
	return g.table([]string{"RECEIVABLE", "NAME", "OPENING", "ACCRUED", "RECEIVED", "WRITTEN OFF", "CLOSING"}, rows)
}

func (g *globals) printRedemption(r settlement.Redemption) error {
	check := "reconciles with the ledger"
	if !r.Reconciled {
		check = fmt.Sprintf("DOES NOT reconcile: ledger %s (CNY) / %s (voucher ledger)", r.LedgerVoucher.Exact(), r.LedgerUsed.Exact())
	}
	fmt.Fprintf(g.stdout, "Redemptions of %s (%s), %s: %d jobs, charges %s, voucher %s; %s\n\n", r.Scheme.Name, r.Scheme.Issuer,
		r.Period.Month, r.Jobs, r.Charges.Exact(), r.Voucher.Exact(), check)
	rows := [][]string{}
	for _, t := range r.Tenants {
		for _, it := range t.Items {
			rows = append(rows, []string{t.Tenant.Name, t.Invoice, it.JobID, it.Center, it.Models, it.Charges.Exact(),
				it.Voucher.Exact(), settlement.FormatBPS(it.ShareBPS)})
		}
	}
	return g.table([]string{"TENANT", "INVOICE", "JOB", "CENTER", "MODELS", "CHARGES", "VOUCHER", "SHARE"}, rows)
}

// nowFunc is the CLI's clock (the current month is computed locally only
// to name an invoice path; the server decides what is in it).
var nowFunc = time.Now

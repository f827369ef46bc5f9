package settlement

import (
	"encoding/csv"
	"io"
	"strconv"
)

// CSV files start with a UTF-8 byte order mark so that spreadsheet
// programs on Chinese Windows read the Chinese text right; readers that do
// not expect it must strip it. Exact amounts have six decimals (the
// ledger's unit); fen amounts two. A last row "合计/total" repeats the
// totals.
const bom = "\ufeff"

// TotalLabel marks the totals row of a CSV file.
const TotalLabel = "合计/total"

func newCSV(w io.Writer) (*csv.Writer, error) {
	if _, err := io.WriteString(w, bom); err != nil {
		return nil, err
	}
	return csv.NewWriter(w), nil
}

func flush(cw *csv.Writer) error {
	cw.Flush()
	return cw.Error()
}

func itoa(v int) string { return strconv.Itoa(v) }

func unitPrice(l Line) string {
	if l.QuantityMilli == 0 {
		return ""
	}
	return l.UnitPrice.Exact()
}

// WriteInvoiceCSV writes an invoice's lines (发票 data) and a totals row.
func WriteInvoiceCSV(w io.Writer, inv Invoice) error {
	cw, err := newCSV(w)
	if err != nil {
		return err
	}
	_ = cw.Write([]string{"发票号码/invoice", "月份/month", "购买方/buyer", "纳税人识别号/buyer_credit_code", "序号/line",
		"项目名称/service", "规格型号/model", "单位/unit", "数量/quantity", "单价(不含税)/unit_price", "金额(不含税)/amount",
		"税率/tax_rate", "税额/tax", "价税合计/gross", "金额精确/amount_exact", "税额精确/tax_exact", "价税合计精确/gross_exact"})
	for i, l := range inv.Lines {
		_ = cw.Write([]string{inv.Number, inv.Period.Month, inv.Buyer.Name, inv.Buyer.CreditCode, itoa(i + 1), l.Service,
			l.Model, l.Unit, l.Quantity, unitPrice(l), l.AmountFen.Yuan(), l.TaxRate, l.TaxFen.Yuan(),
			(l.AmountFen + l.TaxFen).Yuan(), l.Amount.Exact(), l.Tax.Exact(), l.Gross.Exact()})
	}
	_ = cw.Write([]string{inv.Number, inv.Period.Month, inv.Buyer.Name, inv.Buyer.CreditCode, TotalLabel, "", "", "", "", "",
		inv.AmountFen.Yuan(), FormatBPS(inv.TaxBPS), inv.TaxFen.Yuan(), inv.TotalFen.Yuan(), inv.Amount.Exact(),
		inv.Tax.Exact(), inv.Total.Exact()})
	return flush(cw)
}

// WriteStatementCSV writes a provider statement: one row per center and
// model, a total row per center and one for the statement.
func WriteStatementCSV(w io.Writer, st Statement) error {
	cw, err := newCSV(w)
	if err != nil {
		return err
	}
	_ = cw.Write([]string{"月份/month", "提供方/provider", "纳税人识别号/credit_code", "算力中心/center", "中心名称/center_name",
		"型号/model", "单位/unit", "数量/quantity", "作业数/jobs", "交易额(含税)/charges", "退款/refunds", "增值税/vat",
		"平台佣金/commission", "应付净额/payable", "状态/status"})
	row := func(center, display string, l StatementLine) {
		_ = cw.Write([]string{st.Period.Month, st.Provider.Name, st.Provider.CreditCode, center, display, l.Model, l.Unit,
			l.Quantity, itoa(l.Jobs), l.Charges.Exact(), l.Refunds.Exact(), l.VAT.Exact(), l.Commission.Exact(),
			l.Payable.Exact(), st.Status})
	}
	for _, c := range st.Centers {
		for _, l := range c.Lines {
			row(c.Name, c.DisplayName, l)
		}
		t := c.Total
		t.Model = TotalLabel
		row(c.Name, c.DisplayName, t)
	}
	t := st.Total
	t.Model = TotalLabel
	row(TotalLabel, "", t)
	return flush(cw)
}

func totalsCols(t Totals) []string {
	return []string{itoa(t.Jobs), t.Charges.Exact(), t.Refunds.Exact(), t.Net.Exact(), t.Wallet.Exact(), t.Voucher.Exact(),
		t.Arrears.Exact(), t.VAT.Exact(), t.Commission.Exact(), t.ProviderShare.Exact()}
}

// WriteOperatorCSV writes the operator report as one table: a section
// column says whether a row is a center, a tenant, a funder's or a
// tenant's receivable, or the totals.
func WriteOperatorCSV(w io.Writer, r OperatorReport) error {
	cw, err := newCSV(w)
	if err != nil {
		return err
	}
	_ = cw.Write([]string{"月份/month", "类别/section", "编号/id", "名称/name", "发票号码/invoice", "作业数/jobs",
		"交易额(含税)/charges", "退款/refunds", "净额/net", "钱包支付/wallet", "算力券支付/voucher", "欠款/arrears",
		"增值税/vat", "平台佣金/commission", "提供方分成/provider_share", "期初应收/opening", "本期应收/accrued",
		"本期收款/received", "核销/written_off", "期末应收/closing"})
	empty := make([]string, 10)
	noRecv := make([]string, 5)
	for _, c := range r.Centers {
		_ = cw.Write(append(append([]string{r.Period.Month, "center", c.Name, c.DisplayName, ""}, totalsCols(c.Totals)...), noRecv...))
	}
	for _, t := range r.Tenants {
		_ = cw.Write(append(append([]string{r.Period.Month, "tenant", t.Tenant.OrgID, t.Tenant.Name, t.Invoice},
			totalsCols(t.Totals)...), noRecv...))
	}
	recv := func(section string, rv Receivable) {
		_ = cw.Write(append(append([]string{r.Period.Month, section, rv.AccountID, rv.Name, ""}, empty...),
			rv.Opening.Exact(), rv.Accrued.Exact(), rv.Received.Exact(), (rv.WrittenOff + rv.Other).Exact(), rv.Closing.Exact()))
	}
	for _, rv := range r.Funders {
		recv("funder", rv)
	}
	for _, rv := range r.Arrears {
		recv("arrears", rv)
	}
	_ = cw.Write(append(append([]string{r.Period.Month, "total", TotalLabel, "", ""}, totalsCols(r.Totals)...), noRecv...))
	return flush(cw)
}

// WriteRedemptionCSV writes a redemption report: one row per job, grouped
// by tenant, and a totals row.
func WriteRedemptionCSV(w io.Writer, r Redemption) error {
	cw, err := newCSV(w)
	if err != nil {
		return err
	}
	_ = cw.Write([]string{"月份/month", "算力券/scheme", "发放机构/issuer", "用户企业/tenant", "纳税人识别号/tenant_credit_code",
		"发票号码/invoice", "作业(合同)/job", "作业名称/job_name", "算力中心/center", "提供方/provider",
		"提供方识别号/provider_credit_code", "型号/models", "数量/quantity", "单位/unit", "交易额(含税)/charges",
		"算力券金额/voucher", "补贴比例/share"})
	for _, t := range r.Tenants {
		for _, it := range t.Items {
			_ = cw.Write([]string{r.Period.Month, r.Scheme.Name, r.Scheme.Issuer, t.Tenant.Name, t.Tenant.CreditCode, t.Invoice,
				it.JobID, it.Name, it.Center, it.Provider.Name, it.Provider.CreditCode, it.Models, FormatMilli(it.QuantityMilli),
				it.Unit, it.Charges.Exact(), it.Voucher.Exact(), FormatBPS(it.ShareBPS)})
		}
	}
	_ = cw.Write([]string{r.Period.Month, r.Scheme.Name, r.Scheme.Issuer, TotalLabel, "", "", itoa(r.Jobs), "", "", "", "", "",
		"", "", r.Charges.Exact(), r.Voucher.Exact(), FormatBPS(shareBPS(r.Voucher, r.Charges))})
	return flush(cw)
}

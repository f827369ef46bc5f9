package console

import (
	"net/http"
	"sort"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// Limits of the ledger page.
const (
	ledgerPageSize     = 50  // transfers per page
	ledgerAccountsMax  = 100 // accounts listed per ledger and code; the totals cover all
	accountParamLenMax = 256
)

// ledgerOrder is the display order of the ledgers; others follow by name.
var ledgerOrder = map[string]int{ledger.LedgerCNY: 0, ledger.LedgerVoucher: 1, ledger.LedgerUnits: 2}

// accountRow is an account with its net balance (credits less debits,
// posted).
type accountRow struct {
	A   ledger.Account
	Net core.Micros
}

// codeGroup is the accounts of one ledger with one code, and their totals.
type codeGroup struct {
	Code     string
	Accounts []accountRow
	Count    int
	More     int // accounts not listed
	Total    ledger.Account
	Net      core.Micros
}

// ledgerGroup is one ledger (asset).
type ledgerGroup struct {
	Ledger string
	Unit   string // catalog key of the ledger's unit; "" when unknown
	Codes  []codeGroup
}

// ledgerUnits name the unit of each known ledger.
var ledgerUnits = map[string]string{ledger.LedgerCNY: "ledger.unit_cny", ledger.LedgerVoucher: "ledger.unit_voucher",
	ledger.LedgerUnits: "ledger.unit_units"}

// ledgerTransfer is a transfer on the ledger page.
type ledgerTransfer struct {
	transferRow
	Ledger     string
	Correction bool // made by a person, with a reason
}

type ledgerData struct {
	Problems  []string
	Verified  bool
	Groups    []ledgerGroup
	Accounts  int
	Account   string // the transfers shown are of this account; "" = all
	Transfers []ledgerTransfer
	Page      pager
}

// ledgerPage shows the full verification, every account by ledger and code,
// and the journal (operator).
func (c *Console) ledgerPage(w http.ResponseWriter, rq *request) error {
	if rq.P.Role != core.RoleOperator {
		return core.Errorf(core.EForbidden, "only the operator reads the ledger")
	}
	ctx := rq.Context()
	account, err := param(rq, "account", accountParamLenMax)
	if err != nil {
		return err
	}
	d := ledgerData{Account: account}
	if d.Problems, err = c.money.Verify(ctx); err != nil {
		return err
	}
	d.Verified = len(d.Problems) == 0
	accts, err := c.money.Accounts(ctx)
	if err != nil {
		return err
	}
	d.Accounts = len(accts)
	ledgerOf := make(map[string]string, len(accts))
	for _, a := range accts {
		ledgerOf[a.ID] = a.Ledger
	}
	d.Groups = groupAccounts(accts)
	offset := parseOffset(rq.URL.Query())
	ts, total, err := c.src.Transfers(ctx, store.TransferFilter{AccountID: account, Limit: ledgerPageSize, Offset: offset})
	if err != nil {
		return err
	}
	for _, t := range ts {
		d.Transfers = append(d.Transfers, ledgerTransfer{transferRow: transferRowOf(t, account),
			Ledger: orDefault(ledgerOf[t.DebitAccountID], ledgerOf[t.CreditAccountID]), Correction: t.Actor != "" || t.Reason != ""})
	}
	d.Page = newPager(rq.Request, "/ledger", offset, ledgerPageSize, len(ts), total)
	c.render(w, http.StatusOK, "ledger", rq.base(c, "ledger", rq.L.T("ledger.title")), d)
	return nil
}

// groupAccounts groups accounts by ledger and code, with totals.
func groupAccounts(accts []ledger.Account) []ledgerGroup {
	byLedger := map[string]map[string]*codeGroup{}
	for _, a := range accts {
		codes := byLedger[a.Ledger]
		if codes == nil {
			codes = map[string]*codeGroup{}
			byLedger[a.Ledger] = codes
		}
		g := codes[a.Code]
		if g == nil {
			g = &codeGroup{Code: a.Code, Total: ledger.Account{Ledger: a.Ledger, Code: a.Code}}
			codes[a.Code] = g
		}
		g.Count++
		net := a.CreditsPosted - a.DebitsPosted
		g.Total.DebitsPending += a.DebitsPending
		g.Total.DebitsPosted += a.DebitsPosted
		g.Total.CreditsPending += a.CreditsPending
		g.Total.CreditsPosted += a.CreditsPosted
		g.Net += net
		if len(g.Accounts) < ledgerAccountsMax {
			g.Accounts = append(g.Accounts, accountRow{A: a, Net: net})
		} else {
			g.More++
		}
	}
	out := make([]ledgerGroup, 0, len(byLedger))
	for name, codes := range byLedger {
		lg := ledgerGroup{Ledger: name, Unit: ledgerUnits[name]}
		for _, g := range codes {
			lg.Codes = append(lg.Codes, *g)
		}
		sort.Slice(lg.Codes, func(i, j int) bool { return lg.Codes[i].Code < lg.Codes[j].Code })
		out = append(out, lg)
	}
	sort.Slice(out, func(i, j int) bool {
		oi, iok := ledgerOrder[out[i].Ledger]
		oj, jok := ledgerOrder[out[j].Ledger]
		if iok != jok {
			return iok
		}
		if oi != oj {
			return oi < oj
		}
		return out[i].Ledger < out[j].Ledger
	})
	return out
}

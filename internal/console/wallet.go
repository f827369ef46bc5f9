package console

import (
	"net/http"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// walletCard is one big number of the wallet page.
type walletCard struct {
	Title, Note string // catalog keys
	Amount      core.Micros
	Account     string
}

// transferRow is a transfer seen from Account (empty: no side).
type transferRow struct {
	T     ledger.Transfer
	Sign  int    // +1 money in to the account, -1 out, 0 neither
	State string // catalog key
}

type walletData struct {
	Cards     []walletCard
	Account   string // whose transfers are listed; empty = all
	Transfers []transferRow
	Page      pager
}

func (c *Console) wallet(w http.ResponseWriter, rq *request) error {
	ctx := rq.Context()
	var d walletData
	switch rq.P.Role {
	case core.RoleTenant:
		a, err := c.account(ctx, ledger.WalletID(rq.P.OrgID))
		if err != nil {
			return err
		}
		d.Account = a.ID
		d.Cards = []walletCard{
			{Title: "wallet.available", Amount: a.Available(), Account: a.ID},
			{Title: "wallet.held", Note: "wallet.held_note", Amount: a.DebitsPending},
			{Title: "wallet.spent", Amount: a.DebitsPosted},
			{Title: "wallet.credited", Amount: a.CreditsPosted},
		}
	case core.RoleProvider:
		a, err := c.account(ctx, ledger.PayableID(rq.P.OrgID))
		if err != nil {
			return err
		}
		d.Account = a.ID
		d.Cards = []walletCard{{Title: "wallet.payable", Note: "wallet.payable_note", Amount: a.Available(), Account: a.ID}}
	case core.RoleOperator:
		com, err := c.account(ctx, ledger.CommissionID)
		if err != nil {
			return err
		}
		esc, err := c.account(ctx, ledger.EscrowID)
		if err != nil {
			return err
		}
		d.Cards = []walletCard{
			{Title: "wallet.commission", Amount: com.CreditsPosted - com.DebitsPosted, Account: com.ID},
			{Title: "wallet.escrow", Note: "wallet.escrow_note", Amount: esc.CreditsPending + esc.CreditsPosted - esc.DebitsPosted, Account: esc.ID},
		}
	}
	offset := parseOffset(rq.URL.Query())
	ts, total, err := c.src.Transfers(ctx, store.TransferFilter{AccountID: d.Account, Limit: transfersPageSize, Offset: offset})
	if err != nil {
		return err
	}
	for _, t := range ts {
		d.Transfers = append(d.Transfers, transferRowOf(t, d.Account))
	}
	d.Page = newPager(rq.Request, "/wallet", offset, transfersPageSize, len(ts), total)
	c.render(w, http.StatusOK, "wallet", rq.base(c, "wallet", rq.L.T("wallet.title")), d)
	return nil
}

func transferRowOf(t ledger.Transfer, account string) transferRow {
	r := transferRow{T: t, State: "wallet.posted"}
	switch t.Flags {
	case ledger.Pending:
		r.State = "wallet.pending"
	case ledger.VoidPending:
		r.State = "wallet.voided"
	}
	switch account {
	case "":
	case t.CreditAccountID:
		r.Sign = 1
	case t.DebitAccountID:
		r.Sign = -1
	}
	return r
}

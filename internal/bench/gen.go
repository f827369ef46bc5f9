package bench

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
)

// The mix, out of 10 transfers: 2 top-ups, 4 holds, 3 posts and 1 void, so
// holds are opened and resolved at the same rate.
const (
	topUpAmount = 1000 * core.MicrosPerYuan
	holdMax     = 50 * core.MicrosPerYuan
	holdExpiry  = time.Hour
)

type hold struct {
	id     string
	amount core.Micros
}

// wallet is what the generator knows of one tenant wallet: its available
// balance and its open holds, oldest first.
type wallet struct {
	id        string
	available core.Micros
	holds     []hold
}

// gen produces a stream of transfers that are all valid if applied in order.
type gen struct {
	prefix  string
	wallets []*wallet
	rng     *rand.Rand
	mix     map[string]int
	n       int
}

func newGen(prefix string, wallets []*wallet, rng *rand.Rand, mix map[string]int) *gen {
	return &gen{prefix: prefix, wallets: wallets, rng: rng, mix: mix}
}

func (g *gen) next() ledger.Transfer {
	g.n++
	id := "bench:" + g.prefix + strconv.Itoa(g.n)
	w := g.wallets[g.rng.IntN(len(g.wallets))]
	r := g.rng.IntN(10)
	if r >= 6 && len(w.holds) == 0 {
		r = 2 // nothing to resolve: open a hold instead
	}
	amount := core.Micros(1 + g.rng.Int64N(int64(holdMax)))
	if r < 6 && r >= 2 && w.available < amount {
		r = 0 // not enough to hold: top up instead
	}
	switch {
	case r < 2:
		g.mix["topup"]++
		w.available += topUpAmount
		return ledger.Transfer{ID: id, DebitAccountID: ledger.BankClearingID, CreditAccountID: w.id,
			Amount: topUpAmount, Code: "topup"}
	case r < 6:
		g.mix["hold"]++
		w.available -= amount
		w.holds = append(w.holds, hold{id, amount})
		return ledger.Transfer{ID: id, DebitAccountID: w.id, CreditAccountID: ledger.EscrowID, Amount: amount,
			Flags: ledger.Pending, Code: "hold", ExpiresAt: time.Now().Add(holdExpiry)}
	}
	h := w.holds[0]
	w.holds = w.holds[1:]
	if r < 9 {
		g.mix["post"]++
		post := core.Micros(1 + g.rng.Int64N(int64(h.amount)))
		w.available += h.amount - post
		return ledger.Transfer{ID: id, PendingID: h.id, Flags: ledger.PostPending, Amount: post, Code: "capture"}
	}
	g.mix["void"]++
	w.available += h.amount
	return ledger.Transfer{ID: id, PendingID: h.id, Flags: ledger.VoidPending, Code: "release"}
}

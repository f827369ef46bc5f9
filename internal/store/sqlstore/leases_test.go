package sqlstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/suanli/suanli/internal/core"
)

func TestLeaseAndFence(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	now := time.Now().UTC()
	f.s.Now = func() time.Time { return now }
	const ttl = 5 * time.Second

	a, ok, err := f.s.AcquireLease(ctx, "leader", "a", ttl)
	if err != nil || !ok || a.Token != 1 {
		t.Fatalf("first acquire = %+v %v %v", a, ok, err)
	}
	now = now.Add(time.Second)
	if a2, ok, _ := f.s.AcquireLease(ctx, "leader", "a", ttl); !ok || a2.Token != a.Token {
		t.Fatalf("renew = %+v %v: the holder keeps its token", a2, ok)
	}
	if b, ok, _ := f.s.AcquireLease(ctx, "leader", "b", ttl); ok || b.Holder != "a" {
		t.Fatalf("b while a holds = %+v %v", b, ok)
	}
	leaderCtx := WithFence(ctx, "leader", a.Token)
	if _, err := f.s.TopUp(leaderCtx, f.tenant.ID, 1_000_000, "fenced-ok"); err != nil {
		t.Fatalf("a write under the current token: %v", err)
	}
	// a pauses past its lease; b takes over with a higher token.
	now = now.Add(ttl + time.Second)
	b, ok, err := f.s.AcquireLease(ctx, "leader", "b", ttl)
	if err != nil || !ok || b.Token != a.Token+1 {
		t.Fatalf("takeover = %+v %v %v", b, ok, err)
	}
	before := f.wallet(t)
	if _, err := f.s.TopUp(leaderCtx, f.tenant.ID, 1_000_000, "fenced-late"); !errors.Is(err, ErrFenced) {
		t.Fatalf("the old leader's write = %v, want ErrFenced", err)
	}
	if after := f.wallet(t); after != before {
		t.Errorf("a fenced write changed the wallet: %+v -> %+v", before, after)
	}
	// a, back, cannot renew the lease it lost: it must stop leading.
	if l, ok, _ := f.s.AcquireLease(ctx, "leader", "a", ttl); ok || l.Holder != "b" {
		t.Errorf("a after the takeover = %+v %v", l, ok)
	}
	if err := f.s.ReleaseLease(ctx, "leader", "b"); err != nil {
		t.Fatal(err)
	}
	if c, ok, _ := f.s.AcquireLease(ctx, "leader", "c", ttl); !ok || c.Token != b.Token+1 {
		t.Errorf("after release = %+v %v: the next holder takes over at once", c, ok)
	}
	if _, _, err := f.s.AcquireLease(ctx, "", "x", ttl); core.ErrorCode(err) != core.EInvalid {
		t.Errorf("empty name = %v", err)
	}
}

package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

// wantFieldError fails unless err is an EInvalid core error naming field.
func wantFieldError(t *testing.T, what string, err error, field string) {
	t.Helper()
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Code != core.EInvalid || ce.Field != field {
		t.Errorf("%s = %v, want an invalid error naming %s", what, err, field)
	}
}

// TestLinks: a link is stored once whichever way round it is set, read
// back normalized (From < To), replaced by a later set, and removed either
// way round; bad links are refused naming the field and change nothing.
func TestLinks(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "OFF")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.SetLink(ctx, core.Link{From: "shanghai", To: "beijing", LatencyMs: 12, BandwidthMbps: 100_000}, "op"))
	must(s.SetLink(ctx, core.Link{From: "guizhou", To: "guangdong", LatencyMs: 8, BandwidthMbps: 40_000}, "op"))
	// The same pair the other way round replaces the first link.
	must(s.SetLink(ctx, core.Link{From: "beijing", To: "shanghai", LatencyMs: 11, BandwidthMbps: 200_000}, "op2"))
	want := []core.Link{
		{From: "beijing", To: "shanghai", LatencyMs: 11, BandwidthMbps: 200_000},
		{From: "guangdong", To: "guizhou", LatencyMs: 8, BandwidthMbps: 40_000},
	}
	got, err := s.Links(ctx)
	must(err)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Links = %+v, want %+v", got, want)
	}
	var by string
	must(s.r.QueryRowContext(ctx, `SELECT updated_by FROM links WHERE region_a = 'beijing'`).Scan(&by))
	if by != "op2" {
		t.Errorf("updated_by = %q, want op2", by)
	}

	for _, tc := range []struct {
		link  core.Link
		field string
	}{
		{core.Link{To: "b", LatencyMs: 1, BandwidthMbps: 1}, "from"},
		{core.Link{From: "a", LatencyMs: 1, BandwidthMbps: 1}, "to"},
		{core.Link{From: "a", To: "a", LatencyMs: 1, BandwidthMbps: 1}, "to"},
		{core.Link{From: "a", To: "b", LatencyMs: -1, BandwidthMbps: 1}, "latency_ms"},
		{core.Link{From: "a", To: "b", LatencyMs: core.LinkLatencyMsMax + 1, BandwidthMbps: 1}, "latency_ms"},
		{core.Link{From: "a", To: "b", LatencyMs: 1}, "bandwidth_mbps"},
		{core.Link{From: "a", To: "b", LatencyMs: 1, BandwidthMbps: core.LinkMbpsMax + 1}, "bandwidth_mbps"},
	} {
		wantFieldError(t, fmt.Sprintf("SetLink(%+v)", tc.link), s.SetLink(ctx, tc.link, "op"), tc.field)
	}

	must(s.DeleteLink(ctx, "shanghai", "beijing", "op"))
	if err := s.DeleteLink(ctx, "beijing", "shanghai", "op"); core.ErrorCode(err) != core.ENotFound {
		t.Errorf("second DeleteLink = %v, want not found", err)
	}
	got, err = s.Links(ctx)
	must(err)
	if !reflect.DeepEqual(got, want[1:]) {
		t.Errorf("Links after delete = %+v, want %+v", got, want[1:])
	}
}

// TestLinksMax: once the network holds core.LinksMax links a new one is
// refused as a conflict, while an existing one may still be changed.
func TestLinksMax(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "OFF")
	// Fill the table in one transaction: LinksMax separate SetLinks would
	// take a minute on PostgreSQL.
	err := s.update(ctx, func(t *tx) error {
		for i := range core.LinksMax {
			if _, err := t.ExecContext(ctx, `INSERT INTO links VALUES (?, ?, 1, 1, 'test', 0)`,
				fmt.Sprintf("a%05d", i), fmt.Sprintf("b%05d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.SetLink(ctx, core.Link{From: "x", To: "y", LatencyMs: 1, BandwidthMbps: 1}, "op")
	if core.ErrorCode(err) != core.EConflict {
		t.Errorf("SetLink past the limit = %v, want a conflict", err)
	}
	if err := s.SetLink(ctx, core.Link{From: "b00007", To: "a00007", LatencyMs: 2, BandwidthMbps: 2}, "op"); err != nil {
		t.Errorf("changing an existing link at the limit: %v", err)
	}
	ls, err := s.Links(ctx)
	if err != nil || len(ls) != core.LinksMax {
		t.Fatalf("Links = %d links, %v; want %d", len(ls), err, core.LinksMax)
	}
	if ls[7] != (core.Link{From: "a00007", To: "b00007", LatencyMs: 2, BandwidthMbps: 2}) {
		t.Errorf("Links[7] = %+v", ls[7])
	}
}

// TestTenantPolicyCohort: a policy's cohort, borrowing limits and weights
// are stored and read back; bad values are refused naming the field and
// leave the stored policy as it was.
func TestTenantPolicyCohort(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "OFF")
	tenant, err := s.CreateOrg(ctx, "T", code(t, "91110000MA0000001"), core.RoleTenant)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateOrg(ctx, "U", code(t, "91110000MA0000002"), core.RoleTenant)
	if err != nil {
		t.Fatal(err)
	}
	w := core.ScoreWeights{Price: 40, Network: 30, Locality: 30}
	want := []store.TenantPolicy{
		{OrgID: tenant.ID, Weight: 2, QuotaAccel: 16, Cohort: "lab-1", BorrowCPU: 8000, BorrowMem: 4096, BorrowAccel: 8, Weights: &w},
		{OrgID: other.ID, Weight: 1, QuotaAccel: 8, Cohort: "lab-1"},
	}
	if want[0].OrgID > want[1].OrgID {
		want[0], want[1] = want[1], want[0]
	}
	for _, p := range want {
		if err := s.SetTenantPolicy(ctx, p, "op"); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string) {
		t.Helper()
		got, err := s.TenantPolicies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: TenantPolicies = %+v, want %+v", what, got, want)
		}
	}
	check("after set")

	good := store.TenantPolicy{OrgID: tenant.ID, Weight: 1}
	for _, tc := range []struct {
		edit  func(*store.TenantPolicy)
		field string
	}{
		{func(p *store.TenantPolicy) { p.Cohort = "Lab" }, "cohort"},
		{func(p *store.TenantPolicy) { p.Cohort = "a b" }, "cohort"},
		{func(p *store.TenantPolicy) { p.Cohort = "实验室" }, "cohort"},
		{func(p *store.TenantPolicy) { p.Cohort = string(make([]byte, store.CohortLenMax+1)) }, "cohort"},
		{func(p *store.TenantPolicy) { p.BorrowCPU = -1 }, "borrow_cpu_milli"},
		{func(p *store.TenantPolicy) { p.BorrowMem = -1 }, "borrow_mem_mib"},
		{func(p *store.TenantPolicy) { p.BorrowAccel = -1 }, "borrow_accelerators"},
		{func(p *store.TenantPolicy) { p.QuotaMem = -1 }, "quota_mem_mib"},
		{func(p *store.TenantPolicy) { p.Weights = &core.ScoreWeights{Price: 101} }, "weights.price"},
		{func(p *store.TenantPolicy) { p.Weights = &core.ScoreWeights{} }, "weights"},
	} {
		p := good
		tc.edit(&p)
		wantFieldError(t, fmt.Sprintf("SetTenantPolicy(%+v)", p), s.SetTenantPolicy(ctx, p, "op"), tc.field)
	}
	check("after bad input")

	// Setting a policy again replaces all of it: no cohort, no weights.
	plain := store.TenantPolicy{OrgID: tenant.ID, Weight: 1}
	if err := s.SetTenantPolicy(ctx, plain, "op"); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if want[i].OrgID == tenant.ID {
			want[i] = plain
		}
	}
	check("after replace")
}

// TestSchedWeights: the platform default until set; bad weights are
// refused naming the factor and change nothing.
func TestSchedWeights(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "OFF")
	got, err := s.SchedWeights(ctx)
	if err != nil || got != core.DefaultScoreWeights {
		t.Fatalf("SchedWeights on a new store = %+v, %v; want the default %+v", got, err, core.DefaultScoreWeights)
	}
	w := core.ScoreWeights{Price: 20, Network: 50, Green: 30}
	if err := s.SetSchedWeights(ctx, w, "op"); err != nil {
		t.Fatal(err)
	}
	wantFieldError(t, "SetSchedWeights(green=-1)", s.SetSchedWeights(ctx, core.ScoreWeights{Price: 1, Green: -1}, "op"), "weights.green")
	wantFieldError(t, "SetSchedWeights(all 0)", s.SetSchedWeights(ctx, core.ScoreWeights{}, "op"), "weights")
	if got, err := s.SchedWeights(ctx); err != nil || got != w {
		t.Errorf("SchedWeights = %+v, %v; want %+v", got, err, w)
	}
}

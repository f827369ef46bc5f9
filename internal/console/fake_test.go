package console

import (
	"context"
	"sync"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// fakeNow is the fixed clock of the tests: 2026-11-23 14:00 in Beijing.
var fakeNow = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return fakeNow }

// Tokens of the fake source.
const (
	tokOperator = "op-token"
	tokTenantA  = "tenant-a-token"
	tokTenantB  = "tenant-b-token"
	tokProvider = "prov-1-token"
	tokProvide2 = "prov-2-token"
)

// fakeSource is a Source with canned data. It records what the console
// asked for, so tests can check the filters it applied.
type fakeSource struct {
	mu        sync.Mutex
	tokens    map[string]core.Principal
	orgs      map[string]core.Org
	centers   []core.Center
	stats     map[string]*core.CenterStats
	jobs      []core.Job // newest first
	events    map[string][]core.Event
	logs      map[string]string
	accounts  map[string]ledger.Account
	transfers []ledger.Transfer
	revenue   store.Revenue
	fail      error // when set, every read but Authenticate and Org fails with it

	jobFilters      []store.JobFilter
	transferFilters []store.TransferFilter
	cancelled       []string
}

func ptr[T any](v T) *T { return &v }

func newFake() *fakeSource {
	f := &fakeSource{
		tokens: map[string]core.Principal{
			tokOperator: {OrgID: "org-op", Role: core.RoleOperator},
			tokTenantA:  {OrgID: "org-a", Role: core.RoleTenant},
			tokTenantB:  {OrgID: "org-b", Role: core.RoleTenant},
			tokProvider: {OrgID: "org-p1", Role: core.RoleProvider},
			tokProvide2: {OrgID: "org-p2", Role: core.RoleProvider},
		},
		orgs: map[string]core.Org{
			"org-op": {ID: "org-op", Name: "平台运营", Role: core.RoleOperator},
			"org-a":  {ID: "org-a", Name: "Alpha 科技", Role: core.RoleTenant},
			"org-b":  {ID: "org-b", Name: "Beta 智能", Role: core.RoleTenant},
			"org-p1": {ID: "org-p1", Name: "宜昌算力", Role: core.RoleProvider},
			"org-p2": {ID: "org-p2", Name: "本机提供方", Role: core.RoleProvider},
		},
		events:   map[string][]core.Event{},
		logs:     map[string]string{},
		accounts: map[string]ledger.Account{},
	}
	f.centers = []core.Center{
		{ID: "c-ai", Name: "yc-baidu", DisplayName: "宜昌百度智算中心", Kind: core.KindAI, Region: "hubei-yichang",
			PUEMilli: 1250, GreenPercent: 40, ProviderOrgID: "org-p1", Executor: core.ExecutorSimulated,
			Status: core.CenterAvailable, Prices: core.PriceBook{CardHour: map[string]core.Micros{"A100": 12_000_000, "910B": 9_500_000}, CoreHour: 100_000}},
		{ID: "c-hpc", Name: "yc-hpc", DisplayName: "宜昌超算中心", Kind: core.KindHPC, Region: "hubei-yichang",
			PUEMilli: 1300, GreenPercent: 20, Domestic: true, ProviderOrgID: "org-p1", Executor: core.ExecutorSimulated,
			Status: core.CenterAvailable, Prices: core.PriceBook{CoreHour: 80_000, MemGiBHour: 5_000}},
		{ID: "c-local", Name: "local", DisplayName: "本机 (this machine)", Kind: core.KindGeneral, Region: "local",
			PUEMilli: 1000, ProviderOrgID: "org-p2", Executor: core.ExecutorLocal,
			Status: core.CenterAvailable, Prices: core.PriceBook{CoreHour: 50_000}},
		{ID: "c-down", Name: "sh-down", DisplayName: "上海维护中心", Kind: core.KindAI, Region: "shanghai",
			PUEMilli: 1200, ProviderOrgID: "org-p1", Executor: core.ExecutorSimulated, Status: core.CenterUnavailable},
		{ID: "c-slurm", Name: "yc-slurm", DisplayName: "宜昌超算 Slurm", Kind: core.KindHPC, Region: "hubei-yichang",
			PUEMilli: 1200, ProviderOrgID: "org-p1", Executor: core.ExecutorAgent, Status: core.CenterUnavailable,
			StatusReason: "agent missed its heartbeats", Prices: core.PriceBook{CoreHour: 40_000}},
	}
	f.stats = map[string]*core.CenterStats{
		"c-ai": {Nodes: 10, ReadyNodes: 9, Accelerators: map[string]int64{"A100": 64, "910B": 8}, CPUMilli: 900_000,
			CapacityPFLOPS: 22.5, SchedulablePFLOPS: 20, AllocatedPFLOPS: 5, RunningJobs: 1},
		"c-hpc": {Nodes: 100, ReadyNodes: 100, Accelerators: map[string]int64{}, CPUMilli: 6_400_000,
			CapacityPFLOPS: 10, SchedulablePFLOPS: 10, AllocatedPFLOPS: 1},
		"c-local": {Nodes: 1, ReadyNodes: 1, Accelerators: map[string]int64{}, CPUMilli: 2000, UsedCPUMilli: 1000},
		// c-down has no stats: the console must cope.
	}
	f.jobs = []core.Job{
		f.job("j-b1", "org-b", "beta-train", core.JobRunning, "c-ai", 0),
		f.job("j-a3", "org-a", "alpha-queued", core.JobQueued, "", 0),
		f.job("j-a2", "org-a", "alpha-run", core.JobRunning, "c-local", 0),
		f.job("j-a1", "org-a", "alpha-done", core.JobSucceeded, "c-hpc", 3_250_000),
	}
	f.events["j-a2"] = []core.Event{{JobID: "j-a2", At: fakeNow.Add(-time.Hour), Type: "submitted", Message: "submitted <b>bold</b>"}}
	f.logs["j-a2"] = "hello from replica 0\n<script>alert(1)</script>\n"
	f.accounts[ledger.WalletID("org-a")] = ledger.Account{ID: ledger.WalletID("org-a"), Code: ledger.CodeTenantWallet,
		CreditsPosted: 1000_000_000, DebitsPosted: 3_250_000, DebitsPending: 20_000_000}
	f.accounts[ledger.CommissionID] = ledger.Account{ID: ledger.CommissionID, CreditsPosted: 325_000}
	f.accounts[ledger.EscrowID] = ledger.Account{ID: ledger.EscrowID, CreditsPending: 20_000_000, CreditsPosted: 3_250_000, DebitsPosted: 3_250_000}
	f.transfers = []ledger.Transfer{
		{ID: "t1", DebitAccountID: ledger.BankClearingID, CreditAccountID: ledger.WalletID("org-a"), Amount: 1000_000_000, Code: "topup", CreatedAt: fakeNow.Add(-48 * time.Hour)},
		{ID: "t2", DebitAccountID: ledger.WalletID("org-a"), CreditAccountID: ledger.EscrowID, Amount: 3_250_000, Flags: ledger.PostPending, PendingID: "h1", Code: "capture", JobID: "j-a1", CreatedAt: fakeNow.Add(-time.Hour)},
		{ID: "t3", DebitAccountID: ledger.EscrowID, CreditAccountID: ledger.CommissionID, Amount: 325_000, Code: "commission", JobID: "j-a1", CreatedAt: fakeNow.Add(-time.Hour)},
	}
	f.revenue = store.Revenue{Gross: 3_250_000, Provider: 2_925_000, Commission: 325_000}
	return f
}

func (f *fakeSource) job(id, tenant, name string, st core.JobState, center string, cost core.Micros) core.Job {
	j := core.Job{ID: id, TenantOrgID: tenant, State: st, CenterID: center, HoldMicros: 20_000_000, CostMicros: cost,
		SubmittedAt: fakeNow.Add(-2 * time.Hour),
		Spec: core.JobSpec{Name: name, MaxDuration: time.Hour, Command: "echo hi",
			Replicas: []core.Replica{{AccelModels: []string{"A100"}, AccelCount: 2, CPUMilli: 4000, MemMiB: 8192}}}}
	if center != "" {
		j.Placements = []core.Placement{{Index: 0, NodeID: "n1", NodeName: center + "-00001", AccelModel: "A100", RateScaled: 24_000_000 * core.RateScale}}
		j.StartedAt = ptr(fakeNow.Add(-90 * time.Minute))
	}
	if st.Terminal() {
		j.FinishedAt = ptr(fakeNow.Add(-time.Hour))
		j.ExitCode = ptr(0)
	}
	return j
}

func (f *fakeSource) Authenticate(_ context.Context, token string) (core.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.tokens[token]
	if !ok {
		return core.Principal{}, core.Errorf(core.EUnauthorized, "unknown token")
	}
	return p, nil
}

func (f *fakeSource) Org(_ context.Context, id string) (core.Org, error) {
	o, ok := f.orgs[id]
	if !ok {
		return core.Org{}, core.Errorf(core.ENotFound, "org %s not found", id)
	}
	return o, nil
}

func (f *fakeSource) Centers(context.Context) ([]core.Center, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	return append([]core.Center(nil), f.centers...), nil
}

func (f *fakeSource) CenterStats(context.Context) (map[string]*core.CenterStats, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	return f.stats, nil
}

func (f *fakeSource) providerOf(centerID string) string {
	for _, c := range f.centers {
		if c.ID == centerID {
			return c.ProviderOrgID
		}
	}
	return ""
}

func (f *fakeSource) Jobs(_ context.Context, flt store.JobFilter) ([]core.Job, int, error) {
	if f.fail != nil {
		return nil, 0, f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobFilters = append(f.jobFilters, flt)
	var match []core.Job
	for _, j := range f.jobs {
		switch {
		case flt.TenantOrgID != "" && j.TenantOrgID != flt.TenantOrgID,
			flt.ProviderOrgID != "" && f.providerOf(j.CenterID) != flt.ProviderOrgID,
			flt.State != "" && j.State != flt.State,
			flt.CenterID != "" && j.CenterID != flt.CenterID:
			continue
		}
		match = append(match, j)
	}
	if flt.Limit <= 0 || flt.Limit > store.JobsPageMax {
		flt.Limit = store.JobsPageMax
	}
	lo := min(max(flt.Offset, 0), len(match))
	hi := min(lo+flt.Limit, len(match))
	return match[lo:hi], len(match), nil
}

func (f *fakeSource) Job(_ context.Context, id string) (core.Job, error) {
	if f.fail != nil {
		return core.Job{}, f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, j := range f.jobs {
		if j.ID == id {
			return j, nil
		}
	}
	return core.Job{}, core.Errorf(core.ENotFound, "job %s not found", id)
}

func (f *fakeSource) Events(_ context.Context, id string) ([]core.Event, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	return f.events[id], nil
}

func (f *fakeSource) JobLogs(_ context.Context, id string) (string, error) {
	if f.fail != nil {
		return "", f.fail
	}
	return f.logs[id], nil
}

func (f *fakeSource) CancelJob(_ context.Context, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, j := range f.jobs {
		if j.ID != id {
			continue
		}
		if j.State.Terminal() {
			return false, core.Errorf(core.EConflict, "job %s already %s", id, j.State)
		}
		f.cancelled = append(f.cancelled, id)
		if j.State == core.JobQueued {
			f.jobs[i].State = core.JobCancelled
			f.jobs[i].FinishedAt = ptr(fakeNow)
			return true, nil
		}
		return false, nil
	}
	return false, core.Errorf(core.ENotFound, "job %s not found", id)
}

func (f *fakeSource) JobCounts(_ context.Context, tenant string) (map[core.JobState]int, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	out := map[core.JobState]int{}
	for _, j := range f.jobs {
		if tenant == "" || j.TenantOrgID == tenant {
			out[j.State]++
		}
	}
	return out, nil
}

func (f *fakeSource) RevenueSince(context.Context, time.Time) (store.Revenue, error) {
	if f.fail != nil {
		return store.Revenue{}, f.fail
	}
	return f.revenue, nil
}

func (f *fakeSource) Hourly(_ context.Context, now time.Time, hours int) ([]store.HourlyPoint, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	out := make([]store.HourlyPoint, hours)
	start := now.Truncate(time.Hour).Add(time.Hour - time.Duration(hours)*time.Hour)
	for i := range out {
		out[i] = store.HourlyPoint{Hour: start.Add(time.Duration(i) * time.Hour), Revenue: core.Micros(i) * 100_000, Finished: i % 3}
	}
	return out, nil
}

func (f *fakeSource) Account(_ context.Context, id string) (ledger.Account, error) {
	if f.fail != nil {
		return ledger.Account{}, f.fail
	}
	a, ok := f.accounts[id]
	if !ok {
		return ledger.Account{}, core.Errorf(core.ENotFound, "account %s not found", id)
	}
	return a, nil
}

func (f *fakeSource) Transfers(_ context.Context, flt store.TransferFilter) ([]ledger.Transfer, int, error) {
	if f.fail != nil {
		return nil, 0, f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.transferFilters = append(f.transferFilters, flt)
	var out []ledger.Transfer
	for _, t := range f.transfers {
		if flt.AccountID == "" || t.DebitAccountID == flt.AccountID || t.CreditAccountID == flt.AccountID {
			out = append(out, t)
		}
	}
	lo := min(max(flt.Offset, 0), len(out))
	return out[lo:], len(out), nil
}

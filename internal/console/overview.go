package console

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// kinds lists the center kinds in display order.
var kinds = []core.CenterKind{core.KindAI, core.KindHPC, core.KindGeneral}

// kindColors are the chart and badge colors of the kinds.
var kindColors = map[core.CenterKind]string{core.KindAI: "#7c3aed", core.KindHPC: "#2563eb", core.KindGeneral: "#0d9488"}

// kindCard is schedulable capacity of one kind.
type kindCard struct {
	Kind        core.CenterKind
	Schedulable float64
	Allocated   float64
	Centers     int
}

// Util is the allocated share of the kind's schedulable capacity.
func (k kindCard) Util() float64 {
	if k.Schedulable <= 0 {
		return 0
	}
	return k.Allocated / k.Schedulable
}

// regionRow is schedulable capacity of one region, by kind.
type regionRow struct {
	Region string
	ByKind map[core.CenterKind]float64
}

// stateCount is the number of jobs in one state.
type stateCount struct {
	State core.JobState
	N     int
}

// moneyCard is the role-dependent money figure of the overview.
type moneyCard struct {
	Title, Note string // catalog keys
	Amount      core.Micros
	Revenue     *store.Revenue // operator only
}

// centerRow is one center with its stats.
type centerRow struct {
	C      core.Center
	S      core.CenterStats
	Accels []modelCount
	Prices []modelPrice
}

type overviewData struct {
	Kinds        []kindCard
	Regions      []regionRow
	Utilization  float64
	Queue        int
	Running      int
	States       []stateCount
	Money        moneyCard
	Centers      []centerRow
	CapacityJSON string
	HourlyJSON   string // operator: revenue and finished jobs per hour
	JobsJSON     string // others: their jobs by state
}

func (c *Console) overview(w http.ResponseWriter, rq *request) error {
	ctx := rq.Context()
	rows, err := c.centerRows(ctx)
	if err != nil {
		return err
	}
	d := overviewData{Centers: rows}
	d.Kinds, d.Regions, d.Utilization = capacity(rows)
	counts, err := c.jobCounts(ctx, rq.P)
	if err != nil {
		return err
	}
	for _, s := range core.JobStates {
		d.States = append(d.States, stateCount{s, counts[s]})
	}
	d.Queue, d.Running = counts[core.JobQueued], counts[core.JobRunning]
	if d.Money, err = c.moneyCard(ctx, rq.P); err != nil {
		return err
	}
	d.CapacityJSON = capacityChart(rq.L, d.Kinds, d.Regions)
	if rq.P.Role == core.RoleOperator {
		hours, err := c.src.Hourly(ctx, c.now(), hourlyChartHours)
		if err != nil {
			return err
		}
		d.HourlyJSON = hourlyChart(rq.L, hours)
	} else {
		d.JobsJSON = jobsChart(rq.L, d.States)
	}
	pd := rq.base(c, "overview", rq.L.T("overview.title"))
	pd.Charts = true
	c.render(w, http.StatusOK, "overview", pd, d)
	return nil
}

// centerRows joins centers with their stats, sorted by kind, region, name.
func (c *Console) centerRows(ctx context.Context) ([]centerRow, error) {
	centers, err := c.src.Centers(ctx)
	if err != nil {
		return nil, err
	}
	stats, err := c.src.CenterStats(ctx)
	if err != nil {
		return nil, err
	}
	rows := make([]centerRow, 0, len(centers))
	for _, ct := range centers {
		r := centerRow{C: ct}
		if s := stats[ct.ID]; s != nil {
			r.S = *s
		}
		r.Accels = sortedModels(r.S.Accelerators)
		r.Prices = sortedPrices(ct.Prices.CardHour)
		rows = append(rows, r)
	}
	order := map[core.CenterKind]int{core.KindAI: 0, core.KindHPC: 1, core.KindGeneral: 2}
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i].C, rows[j].C
		if order[a.Kind] != order[b.Kind] {
			return order[a.Kind] < order[b.Kind]
		}
		if a.Region != b.Region {
			return a.Region < b.Region
		}
		return centerName(a) < centerName(b)
	})
	return rows, nil
}

// capacity sums schedulable and allocated P by kind and by region.
func capacity(rows []centerRow) ([]kindCard, []regionRow, float64) {
	cards := make([]kindCard, len(kinds))
	idx := map[core.CenterKind]int{}
	for i, k := range kinds {
		cards[i].Kind, idx[k] = k, i
	}
	regions := map[string]*regionRow{}
	var sched, alloc float64
	for _, r := range rows {
		i, ok := idx[r.C.Kind]
		if !ok {
			continue
		}
		cards[i].Centers++
		cards[i].Schedulable += r.S.SchedulablePFLOPS
		cards[i].Allocated += r.S.AllocatedPFLOPS
		sched += r.S.SchedulablePFLOPS
		alloc += r.S.AllocatedPFLOPS
		rr := regions[r.C.Region]
		if rr == nil {
			rr = &regionRow{Region: r.C.Region, ByKind: map[core.CenterKind]float64{}}
			regions[r.C.Region] = rr
		}
		rr.ByKind[r.C.Kind] += r.S.SchedulablePFLOPS
	}
	out := make([]regionRow, 0, len(regions))
	for _, rr := range regions {
		out = append(out, *rr)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	util := 0.0
	if sched > 0 {
		util = alloc / sched
	}
	return cards, out, util
}

// Total is the region's schedulable P over all kinds.
func (r regionRow) Total() float64 {
	var t float64
	for _, v := range r.ByKind {
		t += v
	}
	return t
}

// Get is the region's schedulable P of kind k.
func (r regionRow) Get(k core.CenterKind) float64 { return r.ByKind[k] }

// jobCounts counts the jobs the principal may see, by state.
func (c *Console) jobCounts(ctx context.Context, p core.Principal) (map[core.JobState]int, error) {
	switch p.Role {
	case core.RoleOperator:
		return c.src.JobCounts(ctx, "")
	case core.RoleTenant:
		return c.src.JobCounts(ctx, p.OrgID)
	}
	out := map[core.JobState]int{}
	for _, s := range core.JobStates {
		_, n, err := c.src.Jobs(ctx, store.JobFilter{ProviderOrgID: p.OrgID, State: s, Limit: 1})
		if err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, nil
}

// moneyCard is revenue today for the operator, spend today for a tenant and
// the payable balance for a provider.
func (c *Console) moneyCard(ctx context.Context, p core.Principal) (moneyCard, error) {
	today := startOfDay(c.now())
	switch p.Role {
	case core.RoleOperator:
		rev, err := c.src.RevenueSince(ctx, today)
		return moneyCard{Title: "overview.revenue", Amount: rev.Gross, Revenue: &rev}, err
	case core.RoleTenant:
		spend, err := c.spendSince(ctx, p.OrgID, today)
		return moneyCard{Title: "overview.spend", Note: "overview.spend_note", Amount: spend}, err
	}
	a, err := c.account(ctx, ledger.PayableID(p.OrgID))
	return moneyCard{Title: "overview.payable", Note: "overview.payable_note", Amount: a.Available()}, err
}

// spendSince sums the cost of the tenant's jobs that finished since t. It
// reads newest jobs first and stops after spendScanPagesMax pages.
func (c *Console) spendSince(ctx context.Context, orgID string, since time.Time) (core.Micros, error) {
	var sum core.Micros
	for page := 0; page < spendScanPagesMax; page++ {
		jobs, total, err := c.src.Jobs(ctx, store.JobFilter{TenantOrgID: orgID, Limit: store.JobsPageMax, Offset: page * store.JobsPageMax})
		if err != nil {
			return 0, err
		}
		for _, j := range jobs {
			if j.FinishedAt != nil && !j.FinishedAt.Before(since) {
				sum += j.CostMicros
			}
		}
		if len(jobs) == 0 || (page+1)*store.JobsPageMax >= total {
			break
		}
	}
	return sum, nil
}

// account reads a ledger account; a missing one reads as empty.
func (c *Console) account(ctx context.Context, id string) (ledger.Account, error) {
	a, err := c.src.Account(ctx, id)
	if core.ErrorCode(err) == core.ENotFound {
		return ledger.Account{ID: id}, nil
	}
	return a, err
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("console: chart option does not marshal: " + err.Error()) // built from plain values
	}
	return string(b)
}

// capacityChart is an ECharts option: schedulable P by region, stacked by kind.
func capacityChart(L *catalog, cards []kindCard, regions []regionRow) string {
	names := make([]string, len(regions))
	for i, r := range regions {
		names[i] = r.Region
	}
	var series, colors []any
	for _, k := range kinds {
		data := make([]float64, len(regions))
		for i, r := range regions {
			data[i] = round2(r.ByKind[k])
		}
		series = append(series, map[string]any{"name": L.Kind(k), "type": "bar", "stack": "p", "data": data, "barMaxWidth": 48})
		colors = append(colors, kindColors[k])
	}
	return mustJSON(map[string]any{
		"animation": false,
		"color":     colors,
		"tooltip":   map[string]any{"trigger": "axis"},
		"legend":    map[string]any{"top": 0},
		"grid":      map[string]any{"left": 48, "right": 16, "top": 36, "bottom": 28},
		"xAxis":     map[string]any{"type": "category", "data": names},
		"yAxis":     map[string]any{"type": "value", "name": "P"},
		"series":    series,
	})
}

// hourlyChart is an ECharts option: revenue (line) and finished jobs (bars)
// per hour.
func hourlyChart(L *catalog, hours []store.HourlyPoint) string {
	labels := make([]string, len(hours))
	rev := make([]float64, len(hours))
	done := make([]int, len(hours))
	for i, h := range hours {
		labels[i] = h.Hour.In(displayZone).Format("15:04")
		rev[i] = round2(float64(h.Revenue) / float64(core.MicrosPerYuan)) // display only
		done[i] = h.Finished
	}
	return mustJSON(map[string]any{
		"animation": false,
		"color":     []string{"#2563eb", "#f59e0b"},
		"tooltip":   map[string]any{"trigger": "axis"},
		"legend":    map[string]any{"top": 0},
		"grid":      map[string]any{"left": 56, "right": 48, "top": 36, "bottom": 28},
		"xAxis":     map[string]any{"type": "category", "data": labels},
		"yAxis": []any{
			map[string]any{"type": "value", "name": L.T("common.yuan")},
			map[string]any{"type": "value", "minInterval": 1, "splitLine": map[string]any{"show": false}},
		},
		"series": []any{
			map[string]any{"name": L.T("overview.hourly_rev"), "type": "line", "smooth": true, "data": rev, "areaStyle": map[string]any{"opacity": 0.12}},
			map[string]any{"name": L.T("overview.hourly_jobs"), "type": "bar", "yAxisIndex": 1, "data": done, "barMaxWidth": 16},
		},
	})
}

// jobsChart is an ECharts option: the caller's jobs by state.
func jobsChart(L *catalog, states []stateCount) string {
	labels := make([]string, len(states))
	data := make([]int, len(states))
	for i, s := range states {
		labels[i], data[i] = L.State(s.State), s.N
	}
	return mustJSON(map[string]any{
		"animation": false,
		"color":     []string{"#2563eb"},
		"tooltip":   map[string]any{"trigger": "axis"},
		"grid":      map[string]any{"left": 40, "right": 16, "top": 16, "bottom": 28},
		"xAxis":     map[string]any{"type": "category", "data": labels},
		"yAxis":     map[string]any{"type": "value", "minInterval": 1},
		"series":    []any{map[string]any{"name": L.T("overview.jobs_chart"), "type": "bar", "data": data, "barMaxWidth": 40}},
	})
}

func round2(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return math.Round(f*100) / 100
}

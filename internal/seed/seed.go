// Package seed builds the demo network that `suanli up` starts with: real
// public compute centers (their published "P" figures turned into node
// counts through the accelerator catalog), one provider per center, an
// operator, a demo tenant with a funded wallet, and the real `local` center
// whose one node is this machine.
package seed

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// Spec describes one demo center. PFLOPS is the published figure; the
// number of nodes is derived from it through the catalog.
type Spec struct {
	Name, Display, Region string
	Kind                  core.CenterKind
	PFLOPS                float64
	Accel                 string // accelerator model; empty for CPU centers
	CardsPerNode          int64
	CPU                   string // CPU node type for CPU centers
	PUEMilli, Green       int
	Domestic              bool
	CardHour              core.Micros // per card-hour of Accel
	CoreHour, MemGiBHour  core.Micros
	Source                string
}

const yuan = core.MicrosPerYuan

// Demo is the demo network. Sources are kept beside each figure; figures
// marked illustrative had no public number the authors could find.
var Demo = []Spec{
	{Name: "bj-mentougou", Display: "北京门头沟昇腾公共算力中心", Region: "beijing", Kind: core.KindAI, PFLOPS: 100,
		Accel: "Ascend910B", CardsPerNode: 8, PUEMilli: 1250, Green: 30, Domestic: true,
		CardHour: 6_500_000, CoreHour: 40_000, MemGiBHour: 5_000,
		Source: "issue brief: Beijing Mentougou Ascend public compute center, 100P of Ascend 910B"},
	{Name: "yc-baidu", Display: "宜昌百度智算中心", Region: "hubei-yichang", Kind: core.KindAI, PFLOPS: 50,
		Accel: "A800", CardsPerNode: 8, PUEMilli: 1200, Green: 70,
		CardHour: 9 * yuan, CoreHour: 40_000, MemGiBHour: 5_000,
		Source: "issue brief: Yichang Baidu 50P 智算 (accelerator model illustrative); Yichang hydro power, news.hbtv.com.cn/p/4510683.html"},
	{Name: "yc-zksz", Display: "宜昌中科升哲智算中心", Region: "hubei-yichang", Kind: core.KindAI, PFLOPS: 50,
		Accel: "Ascend910B", CardsPerNode: 8, PUEMilli: 1200, Green: 70, Domestic: true,
		CardHour: 6_200_000, CoreHour: 40_000, MemGiBHour: 5_000,
		Source: "issue brief: 中科升哲 50P (accelerator model illustrative)"},
	{Name: "yc-ruixin", Display: "宜昌睿芯高通量算力中心", Region: "hubei-yichang", Kind: core.KindAI, PFLOPS: 80,
		Accel: "H20", CardsPerNode: 8, PUEMilli: 1200, Green: 70,
		CardHour: 4_500_000, CoreHour: 40_000, MemGiBHour: 5_000,
		Source: "issue brief: 睿芯 80P high-throughput (H20 as the inference card is illustrative)"},
	{Name: "yc-advanced", Display: "宜昌先进计算中心", Region: "hubei-yichang", Kind: core.KindGeneral, PFLOPS: 125,
		CPU: "2xEPYC9654", PUEMilli: 1300, Green: 70,
		CoreHour: 30_000, MemGiBHour: 4_000,
		Source: "issue brief: 宜昌先进计算中心 125P 通算 (CPU type illustrative; FP64 peak per node from the CPU catalog)"},
	{Name: "yc-hpc", Display: "宜昌超算中心", Region: "hubei-yichang", Kind: core.KindHPC, PFLOPS: 10,
		CPU: "2xXeon8358", PUEMilli: 1300, Green: 70,
		CoreHour: 50_000, MemGiBHour: 5_000,
		Source: "illustrative: the issue names a Yichang 超算 center without a figure; 10P FP64"},
	{Name: "gz-haizhu", Display: "广州海珠琶洲算谷·沙溪智算中心", Region: "guangdong-guangzhou", Kind: core.KindAI, PFLOPS: 200,
		Accel: "Ascend910B", CardsPerNode: 8, PUEMilli: 1250, Green: 40, Domestic: true,
		CardHour: 7 * yuan, CoreHour: 45_000, MemGiBHour: 5_000,
		Source: "center: smartmfg.org/sa_zx/shownews.php?id=965 (Haizhu district + China Telecom, serves large models); 200P illustrative"},
	{Name: "sh-jinshan", Display: "上海金山智能算力中心", Region: "shanghai", Kind: core.KindAI, PFLOPS: 150,
		Accel: "A800", CardsPerNode: 8, PUEMilli: 1300, Green: 25,
		CardHour: 10 * yuan, CoreHour: 45_000, MemGiBHour: 6_000,
		Source: "center: sh.sina.com.cn 2020-10-16 (华东智能算力中心 in Jinshan); 150P illustrative"},
	{Name: "zs-xiqu", Display: "中山西区智算中心", Region: "guangdong-zhongshan", Kind: core.KindAI, PFLOPS: 30,
		Accel: "Ascend910", CardsPerNode: 8, PUEMilli: 1300, Green: 35, Domestic: true,
		CardHour: 4 * yuan, CoreHour: 40_000, MemGiBHour: 5_000,
		Source: "illustrative: no public figure found for the Zhongshan Xiqu center; 30P of Ascend 910"},
}

// Nodes derives a center's nodes from its published figure: the number of
// nodes is PFLOPS / per-node TFLOPS, rounded to the nearest whole node
// (at least one).
func (s Spec) Nodes() ([]core.Node, error) {
	var perNodeTFLOPS float64
	var node core.Node
	switch {
	case s.Accel != "":
		a, ok := core.LookupAccelerator(s.Accel)
		if !ok {
			return nil, fmt.Errorf("center %s: unknown accelerator %q", s.Name, s.Accel)
		}
		tf := a.FP16TFLOPS
		if s.Kind != core.KindAI {
			tf = a.FP64TFLOPS
		}
		perNodeTFLOPS = tf * float64(s.CardsPerNode)
		node = core.Node{CPUMilli: 192_000, MemMiB: 1536 * 1024, AccelModel: s.Accel, AccelCount: s.CardsPerNode}
	default:
		c, ok := core.LookupCPU(s.CPU)
		if !ok {
			return nil, fmt.Errorf("center %s: unknown CPU %q", s.Name, s.CPU)
		}
		perNodeTFLOPS = c.FP64TFLOPS
		node = core.Node{CPUMilli: int64(c.CoresPerNode) * 1000, MemMiB: int64(c.MemoryGiBNode) * 1024, CPUModel: s.CPU}
	}
	count := int(math.Max(1, math.Round(s.PFLOPS*1000/perNodeTFLOPS)))
	nodes := make([]core.Node, count)
	for i := range nodes {
		nodes[i] = node
		nodes[i].Name = fmt.Sprintf("%s-%05d", s.Name, i+1)
	}
	return nodes, nil
}

// Store is what seeding needs.
type Store interface {
	CreateOrg(ctx context.Context, name, creditCode string, role core.Role) (core.Org, error)
	Orgs(ctx context.Context, role core.Role) ([]core.Org, error)
	CreateToken(ctx context.Context, orgID, name string) (string, error)
	CreateCenter(ctx context.Context, c core.Center, nodes []core.Node) (core.Center, error)
	Center(ctx context.Context, idOrName string) (core.Center, error)
	EnsureSystemAccounts(ctx context.Context) error
	TopUp(ctx context.Context, orgID string, amount core.Micros, ref string) (ledger.Account, error)
	SetTenantPolicy(ctx context.Context, p store.TenantPolicy, actor string) error
	SetLink(ctx context.Context, l core.Link, actor string) error
	SetPriorityClass(ctx context.Context, c core.PriorityClass, actor string) error
}

// Credentials are the demo tokens written to demo-credentials.json.
type Credentials struct {
	Server   string `json:"server"`
	Operator Cred   `json:"operator"`
	Tenant   Cred   `json:"tenant"`
	Provider Cred   `json:"provider"` // the provider of the `local` center
}

// Cred is one token and the org it belongs to.
type Cred struct {
	Token string `json:"token"`
	OrgID string `json:"org_id"`
}

// DemoWallet is the demo tenant's opening balance.
const DemoWallet = 100_000 * core.MicrosPerYuan

// creditCode makes a valid unified social credit code for demo org n:
// "91" (enterprise, company), division 420500 (Yichang), "MA" and a serial.
// OperatorCreditCode is the operator's 统一社会信用代码 in a bootstrapped
// (non-demo) installation, until the operator edits it.
var OperatorCreditCode = creditCode("420500", 1)

func creditCode(division string, n int) string {
	first := fmt.Sprintf("91%sMA%07d", division, n)
	ch, ok := core.CreditCodeCheckChar(first)
	if !ok {
		panic("creditCode: bad prefix " + first)
	}
	return first + string(ch)
}

// Run seeds the demo network. It is idempotent per part, so a run cut off
// part way finishes on the next start; it returns fresh tokens each time.
func Run(ctx context.Context, st Store) (Credentials, error) {
	var cr Credentials
	if err := st.EnsureSystemAccounts(ctx); err != nil {
		return cr, err
	}
	org := func(name, code string, role core.Role) (core.Org, error) {
		orgs, err := st.Orgs(ctx, role)
		if err != nil {
			return core.Org{}, err
		}
		for _, o := range orgs {
			if o.CreditCode == code {
				return o, nil
			}
		}
		return st.CreateOrg(ctx, name, code, role)
	}
	op, err := org("算力网运营平台 (operator)", creditCode("420500", 1), core.RoleOperator)
	if err != nil {
		return cr, fmt.Errorf("operator: %w", err)
	}
	tenant, err := org("示例科技有限公司 (demo tenant)", creditCode("110108", 2), core.RoleTenant)
	if err != nil {
		return cr, fmt.Errorf("tenant: %w", err)
	}
	if _, err := st.TopUp(ctx, tenant.ID, DemoWallet, "demo-opening-balance"); err != nil {
		return cr, fmt.Errorf("fund tenant: %w", err)
	}
	for i, s := range Demo {
		if _, err := st.Center(ctx, s.Name); err == nil {
			continue
		}
		p, err := org(s.Display+" 运营公司", creditCode("420500", 100+i), core.RoleProvider)
		if err != nil {
			return cr, fmt.Errorf("provider of %s: %w", s.Name, err)
		}
		nodes, err := s.Nodes()
		if err != nil {
			return cr, err
		}
		c := core.Center{Name: s.Name, DisplayName: s.Display, Kind: s.Kind, Region: s.Region, PUEMilli: s.PUEMilli,
			GreenPercent: s.Green, Domestic: s.Domestic, ProviderOrgID: p.ID, Executor: core.ExecutorSimulated,
			NominalPFLOPS: s.PFLOPS, Source: s.Source,
			Prices: core.PriceBook{CardHour: map[string]core.Micros{}, CoreHour: s.CoreHour, MemGiBHour: s.MemGiBHour,
				StorageGiBHour: demoStorageGiBHour, EgressGiB: demoEgressGiB}}
		if s.Accel != "" {
			c.Prices.CardHour[s.Accel] = s.CardHour
		}
		if _, err := st.CreateCenter(ctx, c, nodes); err != nil {
			return cr, fmt.Errorf("center %s: %w", s.Name, err)
		}
	}
	localProvider, err := org("本机算力 (local provider)", creditCode("420500", 99), core.RoleProvider)
	if err != nil {
		return cr, err
	}
	if _, err := st.Center(ctx, "local"); err != nil {
		if core.ErrorCode(err) != core.ENotFound {
			return cr, err
		}
		if _, err := st.CreateCenter(ctx, LocalCenter(localProvider.ID), []core.Node{LocalNode()}); err != nil {
			return cr, fmt.Errorf("local center: %w", err)
		}
	}
	if err := seedNetwork(ctx, st, op.ID, tenant.ID, org); err != nil {
		return cr, err
	}
	for _, c := range DemoPriorityClasses {
		if err := st.SetPriorityClass(ctx, c, op.ID); err != nil {
			return cr, fmt.Errorf("priority class %s: %w", c.Name, err)
		}
	}
	for _, t := range []struct {
		c   *Cred
		org core.Org
	}{{&cr.Operator, op}, {&cr.Tenant, tenant}, {&cr.Provider, localProvider}} {
		tok, err := st.CreateToken(ctx, t.org.ID, "demo")
		if err != nil {
			return cr, err
		}
		*t.c = Cred{Token: tok, OrgID: t.org.ID}
	}
	return cr, nil
}

// LocalCenter is the real center whose node is this machine.
func LocalCenter(providerOrgID string) core.Center {
	return core.Center{Name: "local", DisplayName: "本机 (this machine)", Kind: core.KindGeneral, Region: "local",
		PUEMilli: 1000, GreenPercent: 0, ProviderOrgID: providerOrgID, Executor: core.ExecutorLocal,
		Source: "this machine: runtime.NumCPU and /proc/meminfo",
		Prices: core.PriceBook{CardHour: map[string]core.Micros{}, CoreHour: 40_000, MemGiBHour: 5_000,
			StorageGiBHour: demoStorageGiBHour, EgressGiB: demoEgressGiB}}
}

// Demo storage and egress prices: 0.0005 CNY per GiB-hour (≈0.36 CNY per
// GiB-month, as for cloud block storage) and 0.80 CNY per GiB of egress (a
// common public-cloud list price in China); illustrative.
const (
	demoStorageGiBHour core.Micros = 500
	demoEgressGiB      core.Micros = 800_000
)

// LocalNode describes this machine: its CPUs and memory.
func LocalNode() core.Node {
	host, _ := os.Hostname() // a name for display only
	if host == "" {
		host = "localhost"
	}
	return core.Node{Name: host, CPUMilli: int64(runtime.NumCPU()) * 1000, MemMiB: memTotalMiB()}
}

func memTotalMiB() int64 {
	const fallbackMiB = 1024
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return fallbackMiB
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return fallbackMiB
}

// DemoPriorityClasses are the demo's named priorities, spaced so an
// operator can slot a class between two (as Kubernetes leaves room
// between its system classes). default is 0, the priority of a job that
// names neither a class nor a priority.
var DemoPriorityClasses = []core.PriorityClass{
	{Name: "production", Value: 100, Description: "user-facing work; runs first and may preempt lower classes"},
	{Name: "default", Value: 0, Description: "what a job that names neither a class nor a priority gets"},
	{Name: "batch", Value: -50, Description: "throughput work that can wait behind production and default"},
	{Name: "best-effort", Value: -100, Description: "runs when capacity is idle; submit with tier spot to be preempted first"},
}

// DemoCohort is the cohort of the demo tenant and its sister lab, which
// borrow each other's idle quota.
const DemoCohort = "demo-lab"

// seedNetwork sets the links between the demo regions and puts the demo
// tenant and a second demo tenant, a research lab with a quota, in one
// cohort. The demo tenant keeps no quota (0 = no limit), so the demo and
// its tests run jobs of any size; the lab's quota of 64 cards may grow by
// borrowing up to 32 idle cards of the cohort.
func seedNetwork(ctx context.Context, st Store, operatorID, tenantID string,
	org func(name, code string, role core.Role) (core.Org, error)) error {
	for _, l := range DemoLinks() {
		if err := st.SetLink(ctx, l, operatorID); err != nil {
			return fmt.Errorf("link %s-%s: %w", l.From, l.To, err)
		}
	}
	lab, err := org("示例人工智能研究院 (demo tenant, cohort "+DemoCohort+")", creditCode("110108", 3), core.RoleTenant)
	if err != nil {
		return fmt.Errorf("second tenant: %w", err)
	}
	for _, p := range []store.TenantPolicy{
		{OrgID: tenantID, Weight: 1, Cohort: DemoCohort},
		{OrgID: lab.ID, Weight: 1, QuotaAccel: 64, Cohort: DemoCohort, BorrowAccel: 32,
			// A research lab ranks by where its data is over price.
			Weights: &core.ScoreWeights{Price: 30, Network: 30, Locality: 30, Green: 10}},
	} {
		if err := st.SetTenantPolicy(ctx, p, operatorID); err != nil {
			return fmt.Errorf("policy of %s: %w", p.OrgID, err)
		}
	}
	return nil
}

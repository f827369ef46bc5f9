package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/ledger"
	"github.com/suanli/suanli/internal/store"
)

// MoneyStore is what the settlement endpoints (vouchers, usage reports,
// corrections, raw ledger access, verification) need from the store.
type MoneyStore interface {
	CreateVoucherScheme(ctx context.Context, v store.VoucherScheme, actor string) (store.VoucherScheme, error)
	VoucherSchemes(ctx context.Context) ([]store.VoucherScheme, error)
	GrantVoucher(ctx context.Context, scheme, tenantOrgID string, amount core.Micros, ref, actor string) (store.VoucherGrant, error)
	VoucherGrants(ctx context.Context, tenantOrgID string) ([]store.VoucherGrant, error)
	AddRelatedParty(ctx context.Context, a, b, note, actor string) error
	RecordUsageEvent(ctx context.Context, ev store.UsageEvent, providerOrgID string, commissionBPS int64) (bool, error)
	Refund(ctx context.Context, jobID string, amount core.Micros, ref, reason, actor string, commissionBPS int64) error
	Adjust(ctx context.Context, orgID string, amount core.Micros, ref, reason, actor string) error
	WriteOff(ctx context.Context, accountID string, amount core.Micros, ref, reason, actor string) error
	ReceivePayment(ctx context.Context, accountID string, amount core.Micros, ref, actor string) error
	ApplyTransfers(ctx context.Context, batch []ledger.Transfer) error
	Accounts(ctx context.Context) ([]ledger.Account, error)
	Verify(ctx context.Context) ([]string, error)
	BuyBundle(ctx context.Context, tenantOrgID, model string, cardHours int64, ref string) (store.Bundle, error)
	Bundles(ctx context.Context, tenantOrgID string) ([]store.Bundle, error)
	BundlePrice(ctx context.Context, model string, cardHours int64) (core.Micros, error)
	SetTenantPolicy(ctx context.Context, p store.TenantPolicy, actor string) error
	TenantPolicies(ctx context.Context) ([]store.TenantPolicy, error)
}

func (s *Server) operatorOnly(ctx context.Context, what string) error {
	if principal(ctx).Role != core.RoleOperator {
		return forbidden("only the operator " + what)
	}
	return nil
}

func (s *Server) moneyRoutes(a huma.API) {
	reg := func(op huma.Operation) huma.Operation {
		if op.Method == http.MethodPost {
			op.MaxBodyBytes = BodyBytesMax + 1
			if op.DefaultStatus == 0 {
				op.DefaultStatus = http.StatusCreated
			}
		}
		return op
	}
	huma.Register(a, reg(huma.Operation{OperationID: "create-voucher-scheme", Method: http.MethodPost, Path: "/api/v1/vouchers/schemes",
		Summary: "Create a 算力券 scheme (operator)", Tags: []string{"vouchers"}}), s.createScheme)
	huma.Register(a, reg(huma.Operation{OperationID: "list-voucher-schemes", Method: http.MethodGet, Path: "/api/v1/vouchers/schemes",
		Summary: "List 算力券 schemes", Tags: []string{"vouchers"}}), s.listSchemes)
	huma.Register(a, reg(huma.Operation{OperationID: "grant-voucher", Method: http.MethodPost, Path: "/api/v1/vouchers/grants",
		Summary: "Grant vouchers of a scheme to a tenant for this year (operator)", Tags: []string{"vouchers"}}), s.grantVoucher)
	huma.Register(a, reg(huma.Operation{OperationID: "list-voucher-grants", Method: http.MethodGet, Path: "/api/v1/vouchers/grants",
		Summary: "Voucher grants (tenant: its own)", Tags: []string{"vouchers"}}), s.listGrants)
	huma.Register(a, reg(huma.Operation{OperationID: "add-related-party", Method: http.MethodPost, Path: "/api/v1/related-parties",
		Summary: "Record two organizations as related parties (关联方); vouchers never pay between them (operator)",
		Tags:    []string{"vouchers"}}), s.addRelated)
	huma.Register(a, reg(huma.Operation{OperationID: "report-usage", Method: http.MethodPost, Path: "/api/v1/usage",
		Summary: "Report a usage event for a job on the caller's center (provider or operator); idempotent by id",
		Tags:    []string{"money"}, DefaultStatus: http.StatusOK}), s.reportUsage)
	huma.Register(a, reg(huma.Operation{OperationID: "refund", Method: http.MethodPost, Path: "/api/v1/ledger/refunds",
		Summary: "Refund part of what a tenant paid for an ended job (operator)", Tags: []string{"money"}}), s.refund)
	huma.Register(a, reg(huma.Operation{OperationID: "adjust", Method: http.MethodPost, Path: "/api/v1/ledger/adjustments",
		Summary: "Credit or debit a tenant wallet with a reason (operator)", Tags: []string{"money"}}), s.adjust)
	huma.Register(a, reg(huma.Operation{OperationID: "write-off", Method: http.MethodPost, Path: "/api/v1/ledger/writeoffs",
		Summary: "Write off part of a receivable (operator)", Tags: []string{"money"}}), s.writeOff)
	huma.Register(a, reg(huma.Operation{OperationID: "receive-payment", Method: http.MethodPost, Path: "/api/v1/ledger/payments",
		Summary: "Record a payment received against a receivable (operator)", Tags: []string{"money"}}), s.receivePayment)
	huma.Register(a, reg(huma.Operation{OperationID: "create-transfers", Method: http.MethodPost, Path: "/api/v1/ledger/transfers",
		Summary: "Apply a linked batch of transfers: all or none; ids make them idempotent (operator)", Tags: []string{"money"}}),
		s.createTransfers)
	huma.Register(a, reg(huma.Operation{OperationID: "list-accounts", Method: http.MethodGet, Path: "/api/v1/ledger/accounts",
		Summary: "Ledger accounts with balances (operator)", Tags: []string{"money"}}), s.listAccounts)
	huma.Register(a, reg(huma.Operation{OperationID: "buy-bundle", Method: http.MethodPost, Path: "/api/v1/bundles",
		Summary: "Buy a 资源包 (prepaid card-hours of one model) from the wallet (tenant)", Tags: []string{"money"}}), s.buyBundle)
	huma.Register(a, reg(huma.Operation{OperationID: "list-bundles", Method: http.MethodGet, Path: "/api/v1/bundles",
		Summary: "资源包 with what is used (tenant: its own; operator: all)", Tags: []string{"money"}}), s.listBundles)
	huma.Register(a, reg(huma.Operation{OperationID: "set-tenant-policy", Method: http.MethodPut, Path: "/api/v1/orgs/{id}/policy",
		Summary: "Set a tenant's fair-share weight and quotas (operator)", Tags: []string{"orgs"}, MaxBodyBytes: BodyBytesMax + 1}),
		s.setPolicy)
	huma.Register(a, reg(huma.Operation{OperationID: "list-tenant-policies", Method: http.MethodGet, Path: "/api/v1/tenant-policies",
		Summary: "Tenants' fair-share weights and quotas (operator)", Tags: []string{"orgs"}}), s.listPolicies)
	huma.Register(a, reg(huma.Operation{OperationID: "verify-ledger", Method: http.MethodGet, Path: "/api/v1/ledger/verify",
		Summary: "Check every money invariant; lists each violation (operator)", Tags: []string{"money"}}), s.verify)
}

type schemeIn struct {
	Body struct {
		Name             string            `json:"name" minLength:"1" maxLength:"200"`
		Issuer           string            `json:"issuer" minLength:"1" maxLength:"200" doc:"The funding body, e.g. a city bureau."`
		ShareBPS         int64             `json:"share_bps" minimum:"0" maximum:"10000" doc:"Share of eligible spend paid, in basis points (2000 = 20 %)."`
		DomesticShareBPS int64             `json:"domestic_share_bps" minimum:"0" maximum:"10000" doc:"Share when the job runs on domestic chips."`
		CapPerTenantYear core.Micros       `json:"cap_per_tenant_year_micros" minimum:"1"`
		Budget           core.Micros       `json:"budget_micros" minimum:"1"`
		ValidFrom        time.Time         `json:"valid_from"`
		ValidUntil       time.Time         `json:"valid_until"`
		EligibleKinds    []core.CenterKind `json:"eligible_kinds,omitempty" maxItems:"3"`
		EligibleCenters  []string          `json:"eligible_centers,omitempty" maxItems:"1000"`
	}
}

type schemeOut struct{ Body store.VoucherScheme }

func (s *Server) createScheme(ctx context.Context, in *schemeIn) (*schemeOut, error) {
	if err := s.operatorOnly(ctx, "creates voucher schemes"); err != nil {
		return nil, err
	}
	b := in.Body
	v, err := s.Money.CreateVoucherScheme(ctx, store.VoucherScheme{Name: b.Name, Issuer: b.Issuer, ShareBPS: b.ShareBPS,
		DomesticShareBPS: b.DomesticShareBPS, CapPerTenantYear: b.CapPerTenantYear, Budget: b.Budget, ValidFrom: b.ValidFrom,
		ValidUntil: b.ValidUntil, EligibleKinds: b.EligibleKinds, EligibleCenters: b.EligibleCenters}, principal(ctx).OrgID)
	if err != nil {
		return nil, s.fail(err)
	}
	return &schemeOut{Body: v}, nil
}

type schemesOut struct {
	Body struct {
		Schemes []store.VoucherScheme `json:"schemes"`
	}
}

func (s *Server) listSchemes(ctx context.Context, _ *struct{}) (*schemesOut, error) {
	vs, err := s.Money.VoucherSchemes(ctx)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &schemesOut{}
	out.Body.Schemes = append([]store.VoucherScheme{}, vs...)
	return out, nil
}

type grantIn struct {
	Body struct {
		Scheme      string      `json:"scheme" minLength:"1" maxLength:"200" doc:"Scheme id or name."`
		TenantOrgID string      `json:"tenant_org_id" minLength:"1" maxLength:"128"`
		Amount      core.Micros `json:"amount_micros" minimum:"1"`
		Reference   string      `json:"reference" minLength:"1" maxLength:"128" doc:"Makes the grant idempotent, e.g. the approval number."`
	}
}

type grantOut struct{ Body store.VoucherGrant }

func (s *Server) grantVoucher(ctx context.Context, in *grantIn) (*grantOut, error) {
	if err := s.operatorOnly(ctx, "grants vouchers"); err != nil {
		return nil, err
	}
	g, err := s.Money.GrantVoucher(ctx, in.Body.Scheme, in.Body.TenantOrgID, in.Body.Amount, in.Body.Reference, principal(ctx).OrgID)
	if err != nil {
		return nil, s.fail(err)
	}
	return &grantOut{Body: g}, nil
}

type grantsOut struct {
	Body struct {
		Grants []store.VoucherGrant `json:"grants"`
	}
}

func (s *Server) listGrants(ctx context.Context, _ *struct{}) (*grantsOut, error) {
	p := principal(ctx)
	tenant := ""
	switch p.Role {
	case core.RoleTenant:
		tenant = p.OrgID
	case core.RoleProvider:
		return nil, forbidden("providers do not see voucher grants")
	}
	gs, err := s.Money.VoucherGrants(ctx, tenant)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &grantsOut{}
	out.Body.Grants = append([]store.VoucherGrant{}, gs...)
	return out, nil
}

type relatedIn struct {
	Body struct {
		OrgA string `json:"org_a" minLength:"1" maxLength:"128"`
		OrgB string `json:"org_b" minLength:"1" maxLength:"128"`
		Note string `json:"note" minLength:"1" maxLength:"200" doc:"Why they are related, e.g. common control."`
	}
}

type okOut struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

func ok() *okOut {
	o := &okOut{}
	o.Body.OK = true
	return o
}

func (s *Server) addRelated(ctx context.Context, in *relatedIn) (*okOut, error) {
	if err := s.operatorOnly(ctx, "records related parties"); err != nil {
		return nil, err
	}
	if err := s.Money.AddRelatedParty(ctx, in.Body.OrgA, in.Body.OrgB, in.Body.Note, principal(ctx).OrgID); err != nil {
		return nil, s.fail(err)
	}
	return ok(), nil
}

type usageIn struct {
	Body store.UsageEvent
}

type usageOut struct {
	Body struct {
		Late bool `json:"late" doc:"The job was already settled; the usage was charged at once."`
	}
}

func (s *Server) reportUsage(ctx context.Context, in *usageIn) (*usageOut, error) {
	p := principal(ctx)
	provider := p.OrgID
	switch p.Role {
	case core.RoleOperator:
		provider = ""
	case core.RoleTenant:
		return nil, forbidden("tenants do not report usage")
	}
	late, err := s.Money.RecordUsageEvent(ctx, in.Body, provider, s.CommissionBPS)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &usageOut{}
	out.Body.Late = late
	return out, nil
}

type refundIn struct {
	Body struct {
		JobID     string      `json:"job_id" minLength:"1" maxLength:"128"`
		Amount    core.Micros `json:"amount_micros" minimum:"1"`
		Reference string      `json:"reference" minLength:"1" maxLength:"200"`
		Reason    string      `json:"reason" minLength:"1" maxLength:"200"`
	}
}

func (s *Server) refund(ctx context.Context, in *refundIn) (*okOut, error) {
	if err := s.operatorOnly(ctx, "refunds"); err != nil {
		return nil, err
	}
	b := in.Body
	if err := s.Money.Refund(ctx, b.JobID, b.Amount, b.Reference, b.Reason, principal(ctx).OrgID, s.CommissionBPS); err != nil {
		return nil, s.fail(err)
	}
	return ok(), nil
}

type adjustIn struct {
	Body struct {
		OrgID     string      `json:"org_id" minLength:"1" maxLength:"128"`
		Amount    core.Micros `json:"amount_micros" doc:"Positive credits the wallet, negative debits it."`
		Reference string      `json:"reference" minLength:"1" maxLength:"200"`
		Reason    string      `json:"reason" minLength:"1" maxLength:"200"`
	}
}

func (s *Server) adjust(ctx context.Context, in *adjustIn) (*okOut, error) {
	if err := s.operatorOnly(ctx, "adjusts wallets"); err != nil {
		return nil, err
	}
	b := in.Body
	if err := s.Money.Adjust(ctx, b.OrgID, b.Amount, b.Reference, b.Reason, principal(ctx).OrgID); err != nil {
		return nil, s.fail(err)
	}
	return ok(), nil
}

type receivableIn struct {
	Body struct {
		Account   string      `json:"account" minLength:"1" maxLength:"256"`
		Amount    core.Micros `json:"amount_micros" minimum:"1"`
		Reference string      `json:"reference" minLength:"1" maxLength:"200"`
		Reason    string      `json:"reason,omitempty" maxLength:"200"`
	}
}

func (s *Server) writeOff(ctx context.Context, in *receivableIn) (*okOut, error) {
	if err := s.operatorOnly(ctx, "writes off receivables"); err != nil {
		return nil, err
	}
	b := in.Body
	if err := s.Money.WriteOff(ctx, b.Account, b.Amount, b.Reference, b.Reason, principal(ctx).OrgID); err != nil {
		return nil, s.fail(err)
	}
	return ok(), nil
}

func (s *Server) receivePayment(ctx context.Context, in *receivableIn) (*okOut, error) {
	if err := s.operatorOnly(ctx, "records payments"); err != nil {
		return nil, err
	}
	b := in.Body
	if err := s.Money.ReceivePayment(ctx, b.Account, b.Amount, b.Reference, principal(ctx).OrgID); err != nil {
		return nil, s.fail(err)
	}
	return ok(), nil
}

// TransferRequest is one transfer of a linked batch.
type TransferRequest struct {
	ID              string      `json:"id" minLength:"1" maxLength:"200"`
	Kind            string      `json:"kind" enum:"post,pending,post_pending,void_pending" doc:"post: moves at once; pending: a hold; post_pending/void_pending: resolve a hold."`
	DebitAccountID  string      `json:"debit_account_id,omitempty" maxLength:"256"`
	CreditAccountID string      `json:"credit_account_id,omitempty" maxLength:"256"`
	Amount          core.Micros `json:"amount_micros,omitempty" minimum:"0"`
	PendingID       string      `json:"pending_id,omitempty" maxLength:"200"`
	ExpiresInS      int64       `json:"expires_in_s,omitempty" minimum:"0" maximum:"31536000" doc:"A hold's lifetime; it is voided if unresolved by then."`
	Code            string      `json:"code" minLength:"1" maxLength:"64"`
	Reason          string      `json:"reason" minLength:"1" maxLength:"200"`
}

type transfersIn2 struct {
	Body struct {
		Transfers []TransferRequest `json:"transfers" minItems:"1" maxItems:"64"`
	}
}

func (s *Server) createTransfers(ctx context.Context, in *transfersIn2) (*okOut, error) {
	if err := s.operatorOnly(ctx, "posts raw transfers"); err != nil {
		return nil, err
	}
	kinds := map[string]ledger.TransferFlags{"post": 0, "pending": ledger.Pending, "post_pending": ledger.PostPending,
		"void_pending": ledger.VoidPending}
	now := s.Now()
	batch := make([]ledger.Transfer, 0, len(in.Body.Transfers))
	for _, r := range in.Body.Transfers {
		t := ledger.Transfer{ID: "api:" + r.ID, DebitAccountID: r.DebitAccountID, CreditAccountID: r.CreditAccountID,
			Amount: r.Amount, Flags: kinds[r.Kind], Code: r.Code, Reason: r.Reason, Actor: principal(ctx).OrgID}
		if r.PendingID != "" {
			t.PendingID = "api:" + r.PendingID
		}
		if r.ExpiresInS > 0 {
			// Millisecond precision, as stored, so a replay compares equal.
			t.ExpiresAt = now.Add(time.Duration(r.ExpiresInS) * time.Second).Truncate(time.Millisecond)
		}
		batch = append(batch, t)
	}
	if err := s.Money.ApplyTransfers(ctx, batch); err != nil {
		return nil, s.fail(err)
	}
	return ok(), nil
}

type accountsOut struct {
	Body struct {
		Accounts []ledger.Account `json:"accounts"`
	}
}

func (s *Server) listAccounts(ctx context.Context, _ *struct{}) (*accountsOut, error) {
	if err := s.operatorOnly(ctx, "lists ledger accounts"); err != nil {
		return nil, err
	}
	as, err := s.Money.Accounts(ctx)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &accountsOut{}
	out.Body.Accounts = append([]ledger.Account{}, as...)
	return out, nil
}

type verifyOut struct {
	Body struct {
		OK       bool     `json:"ok"`
		Problems []string `json:"problems"`
	}
}

func (s *Server) verify(ctx context.Context, _ *struct{}) (*verifyOut, error) {
	if err := s.operatorOnly(ctx, "verifies the ledger"); err != nil {
		return nil, err
	}
	problems, err := s.Money.Verify(ctx)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &verifyOut{}
	out.Body.OK, out.Body.Problems = len(problems) == 0, append([]string{}, problems...)
	return out, nil
}

type bundleIn struct {
	Body struct {
		AccelModel string `json:"accel_model" minLength:"1" maxLength:"64"`
		CardHours  int64  `json:"card_hours" minimum:"1" maximum:"1000000"`
		Reference  string `json:"reference" minLength:"1" maxLength:"128" doc:"Makes the purchase idempotent."`
	}
}

type bundleOut struct{ Body store.Bundle }

func (s *Server) buyBundle(ctx context.Context, in *bundleIn) (*bundleOut, error) {
	p := principal(ctx)
	if p.Role != core.RoleTenant {
		return nil, forbidden("only tenants buy bundles")
	}
	b, err := s.Money.BuyBundle(ctx, p.OrgID, in.Body.AccelModel, in.Body.CardHours, in.Body.Reference)
	if err != nil {
		return nil, s.fail(err)
	}
	return &bundleOut{Body: b}, nil
}

type bundlesOut struct {
	Body struct {
		Bundles []store.Bundle `json:"bundles"`
	}
}

func (s *Server) listBundles(ctx context.Context, _ *struct{}) (*bundlesOut, error) {
	p := principal(ctx)
	tenant := p.OrgID
	switch p.Role {
	case core.RoleOperator:
		tenant = ""
	case core.RoleProvider:
		return nil, forbidden("providers do not see tenants' bundles")
	}
	bs, err := s.Money.Bundles(ctx, tenant)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &bundlesOut{}
	out.Body.Bundles = append([]store.Bundle{}, bs...)
	return out, nil
}

type policyIn struct {
	ID   string `path:"id" maxLength:"128"`
	Body struct {
		Weight      int64           `json:"weight" minimum:"1" maximum:"1000" doc:"Fair-share weight: a tenant with weight 2 gets twice the dominant share of one with weight 1."`
		QuotaCPU    int64           `json:"quota_cpu_milli,omitempty" minimum:"0" doc:"Most CPU milli-cores held at once across the network; 0 = no limit."`
		QuotaMem    int64           `json:"quota_mem_mib,omitempty" minimum:"0"`
		QuotaAccel  int64           `json:"quota_accelerators,omitempty" minimum:"0"`
		Cohort      string          `json:"cohort,omitempty" maxLength:"64" pattern:"^[a-z0-9-]*$" doc:"Tenants of one cohort borrow each other's idle quota; lowercase letters, digits and '-'; empty = none."`
		BorrowCPU   int64           `json:"borrow_cpu_milli,omitempty" minimum:"0" doc:"Most CPU milli-cores held beyond the quota by borrowing; 0 = what the cohort has idle."`
		BorrowMem   int64           `json:"borrow_mem_mib,omitempty" minimum:"0"`
		BorrowAccel int64           `json:"borrow_accelerators,omitempty" minimum:"0"`
		Weights     *WeightsRequest `json:"weights,omitempty" doc:"Weights that rank centers for this tenant's jobs; absent = the platform's."`
	}
}

func (s *Server) setPolicy(ctx context.Context, in *policyIn) (*okOut, error) {
	if err := s.operatorOnly(ctx, "sets tenant policies"); err != nil {
		return nil, err
	}
	b := in.Body
	if err := s.Money.SetTenantPolicy(ctx, store.TenantPolicy{OrgID: in.ID, Weight: b.Weight, QuotaCPU: b.QuotaCPU,
		QuotaMem: b.QuotaMem, QuotaAccel: b.QuotaAccel, Cohort: b.Cohort, BorrowCPU: b.BorrowCPU, BorrowMem: b.BorrowMem,
		BorrowAccel: b.BorrowAccel, Weights: weightsPtr(b.Weights)}, principal(ctx).OrgID); err != nil {
		return nil, s.fail(err)
	}
	if s.Wake != nil {
		s.Wake()
	}
	return ok(), nil
}

type policiesOut struct {
	Body struct {
		Policies []store.TenantPolicy `json:"policies"`
	}
}

func (s *Server) listPolicies(ctx context.Context, _ *struct{}) (*policiesOut, error) {
	if err := s.operatorOnly(ctx, "lists tenant policies"); err != nil {
		return nil, err
	}
	ps, err := s.Money.TenantPolicies(ctx)
	if err != nil {
		return nil, s.fail(err)
	}
	out := &policiesOut{}
	out.Body.Policies = append([]store.TenantPolicy{}, ps...)
	return out, nil
}

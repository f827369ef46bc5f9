package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/core"
)

func parseAmount(flag, s string) (core.Micros, error) {
	m, err := core.ParseYuan(s)
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", flag, err)
	}
	return m, nil
}

func defaultRef(ref string) string {
	if ref == "" {
		return fmt.Sprintf("cli-%d", time.Now().UnixNano())
	}
	return ref
}

// parseBPS reads a percentage such as "20" or "12.5" as basis points.
func parseBPS(flag, s string) (int64, error) {
	m, err := core.ParseYuan(s) // six decimals are plenty for a percentage
	if err != nil || m < 0 || m > 100*core.MicrosPerYuan || int64(m)%100 != 0 {
		return 0, fmt.Errorf("--%s: %q is not a percentage between 0 and 100 with at most two decimals", flag, s)
	}
	return int64(m) / 10_000, nil
}

func voucherCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "voucher", Short: "算力券 compute vouchers: schemes, grants, related parties"}
	var name, issuer, share, domShare, capYear, budget, from, until, kinds, centers string
	create := &cobra.Command{
		Use: "create", Short: "Create a voucher scheme (operator)", Args: cobra.NoArgs,
		Example: "  suanli --as operator voucher create --name 2026-yichang --issuer '宜昌市数据局' --share 20 --domestic-share 30 \\\n" +
			"      --cap 2000000 --budget 50000000 --from 2026-01-01 --until 2027-01-01 --kinds ai,hpc",
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := client.SchemeRequest{Name: name, Issuer: issuer}
			var err error
			if req.ShareBPS, err = parseBPS("share", share); err != nil {
				return err
			}
			if req.DomesticShareBPS, err = parseBPS("domestic-share", domShare); err != nil {
				return err
			}
			if req.CapPerTenantYear, err = parseAmount("cap", capYear); err != nil {
				return err
			}
			if req.Budget, err = parseAmount("budget", budget); err != nil {
				return err
			}
			if req.ValidFrom, err = time.ParseInLocation("2006-01-02", from, time.FixedZone("CST", 8*3600)); err != nil {
				return fmt.Errorf("--from: want YYYY-MM-DD: %w", err)
			}
			if req.ValidUntil, err = time.ParseInLocation("2006-01-02", until, time.FixedZone("CST", 8*3600)); err != nil {
				return fmt.Errorf("--until: want YYYY-MM-DD: %w", err)
			}
			for _, k := range strings.Split(kinds, ",") {
				if k != "" {
					req.EligibleKinds = append(req.EligibleKinds, core.CenterKind(k))
				}
			}
			for _, c := range strings.Split(centers, ",") {
				if c != "" {
					req.EligibleCenters = append(req.EligibleCenters, c)
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			v, err := c.CreateScheme(cmd.Context(), req)
			if err != nil {
				return err
			}
			return g.json(v)
		},
	}
	f := create.Flags()
	f.StringVar(&name, "name", "", "scheme name")
	f.StringVar(&issuer, "issuer", "", "funding body")
	f.StringVar(&share, "share", "20", "percent of eligible spend the voucher pays")
	f.StringVar(&domShare, "domestic-share", "30", "percent on domestic chips")
	f.StringVar(&capYear, "cap", "", "cap per tenant per year, CNY")
	f.StringVar(&budget, "budget", "", "total budget, CNY")
	f.StringVar(&from, "from", time.Now().Format("2006-01-02"), "valid from (YYYY-MM-DD, China time)")
	f.StringVar(&until, "until", time.Now().AddDate(1, 0, 0).Format("2006-01-02"), "valid until (exclusive)")
	f.StringVar(&kinds, "kinds", "", "eligible center kinds, comma-separated (ai,hpc,general); empty = all")
	f.StringVar(&centers, "centers", "", "eligible center names, comma-separated; empty = all")

	list := &cobra.Command{
		Use: "list", Short: "List voucher schemes and the grants visible to you", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			vs, err := c.Schemes(cmd.Context())
			if err != nil {
				return err
			}
			var grants any
			if gs, err := c.Grants(cmd.Context()); err == nil {
				grants = gs
			}
			if g.output == "json" {
				return g.json(map[string]any{"schemes": vs, "grants": grants})
			}
			rows := [][]string{}
			for _, v := range vs {
				rows = append(rows, []string{v.Name, v.Issuer, fmt.Sprintf("%d%%/%d%%", v.ShareBPS/100, v.DomesticShareBPS/100),
					v.CapPerTenantYear.Yuan(), v.Budget.Yuan(), v.ValidFrom.Format("2006-01-02") + ".." + v.ValidUntil.Format("2006-01-02")})
			}
			return g.table([]string{"SCHEME", "ISSUER", "SHARE/DOMESTIC", "CAP/TENANT/YEAR", "BUDGET", "VALID"}, rows)
		},
	}
	var scheme, tenant, amount, ref string
	grant := &cobra.Command{
		Use: "grant", Short: "Grant a scheme's vouchers to a tenant for this year (operator)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := parseAmount("amount", amount)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			gr, err := c.Grant(cmd.Context(), scheme, tenant, m, defaultRef(ref))
			if err != nil {
				return err
			}
			return g.json(gr)
		},
	}
	grant.Flags().StringVar(&scheme, "scheme", "", "scheme id or name")
	grant.Flags().StringVar(&tenant, "org", "", "tenant org ID")
	grant.Flags().StringVar(&amount, "amount", "", "amount in CNY")
	grant.Flags().StringVar(&ref, "ref", "", "approval reference; repeating it does not grant twice")
	var orgA, orgB, note string
	related := &cobra.Command{
		Use: "related", Short: "Record two organizations as related parties (关联方) (operator)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			return c.AddRelated(cmd.Context(), orgA, orgB, note)
		},
	}
	related.Flags().StringVar(&orgA, "org-a", "", "first org ID")
	related.Flags().StringVar(&orgB, "org-b", "", "second org ID")
	related.Flags().StringVar(&note, "note", "", "why they are related")
	cmd.AddCommand(create, list, grant, related)
	return cmd
}

// correction is one operator correction command: target names the flag
// that says what is corrected (job, org or account).
type correction struct {
	use, short, target, targetHelp string
	reason                         bool // the command takes --reason
	do                             func(c *client.Client, cmd *cobra.Command, target string, amount core.Micros, ref, reason string) error
}

func (k correction) command(g *globals) *cobra.Command {
	var target, amount, ref, reason string
	cmd := &cobra.Command{
		Use: k.use, Short: k.short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := parseAmount("amount", amount)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			return k.do(c, cmd, target, m, defaultRef(ref), reason)
		},
	}
	cmd.Flags().StringVar(&target, k.target, "", k.targetHelp)
	cmd.Flags().StringVar(&amount, "amount", "", "amount in CNY")
	cmd.Flags().StringVar(&ref, "ref", "", "reference; repeating it applies the correction once")
	if k.reason {
		cmd.Flags().StringVar(&reason, "reason", "", "why (recorded with your org)")
	}
	return cmd
}

// ledgerCorrections adds the operator's correction commands to `ledger`.
func ledgerCorrections(g *globals, cmd *cobra.Command) {
	for _, k := range []correction{
		{"refund", "Refund part of what a tenant paid for an ended job (operator)", "job", "job ID", true,
			func(c *client.Client, cmd *cobra.Command, job string, m core.Micros, ref, reason string) error {
				return c.Refund(cmd.Context(), job, m, ref, reason)
			}},
		{"adjust", "Credit (positive) or debit (negative) a tenant wallet (operator)", "org", "tenant org ID", true,
			func(c *client.Client, cmd *cobra.Command, org string, m core.Micros, ref, reason string) error {
				return c.Adjust(cmd.Context(), org, m, ref, reason)
			}},
		{"writeoff", "Write off part of a receivable (operator)", "account", "receivable account ID", true,
			func(c *client.Client, cmd *cobra.Command, acct string, m core.Micros, ref, reason string) error {
				return c.WriteOff(cmd.Context(), acct, m, ref, reason)
			}},
		{"payment", "Record a payment received against a receivable (operator)", "account", "receivable account ID", false,
			func(c *client.Client, cmd *cobra.Command, acct string, m core.Micros, ref, _ string) error {
				return c.ReceivePayment(cmd.Context(), acct, m, ref)
			}},
	} {
		cmd.AddCommand(k.command(g))
	}
	accounts := &cobra.Command{
		Use: "accounts", Short: "List ledger accounts with balances (operator)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			as, err := c.Accounts(cmd.Context())
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(as)
			}
			rows := [][]string{}
			for _, a := range as {
				rows = append(rows, []string{a.ID, a.Ledger, a.Code, a.DebitsPosted.Exact(), a.CreditsPosted.Exact(),
					a.DebitsPending.Exact(), a.CreditsPending.Exact()})
			}
			return g.table([]string{"ACCOUNT", "LEDGER", "CODE", "DEBITS", "CREDITS", "PENDING DR", "PENDING CR"}, rows)
		},
	}
	cmd.AddCommand(accounts)
}

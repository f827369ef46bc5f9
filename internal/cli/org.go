package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/store"
)

func orgCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Organizations and their tokens (operator)"}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List organizations", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			orgs, err := c.Orgs(cmd.Context())
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(orgs)
			}
			rows := make([][]string, 0, len(orgs))
			for _, o := range orgs {
				rows = append(rows, []string{o.ID, string(o.Role), o.CreditCode, o.Name})
			}
			return g.table([]string{"ID", "ROLE", "CREDIT CODE", "NAME"}, rows)
		},
	})
	var name, code, role string
	create := &cobra.Command{
		Use: "create", Short: "Register an organization with its unified social credit code (统一社会信用代码)", Args: cobra.NoArgs,
		Example: "  suanli --as operator org create --name '某某科技有限公司' --credit-code 914403001922038216 --role tenant",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			o, err := c.CreateOrg(cmd.Context(), name, code, core.Role(role))
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(o)
			}
			return g.table([]string{"ID", "ROLE", "CREDIT CODE", "NAME"}, [][]string{{o.ID, string(o.Role), o.CreditCode, o.Name}})
		},
	}
	create.Flags().StringVar(&name, "name", "", "organization name")
	create.Flags().StringVar(&code, "credit-code", "", "18-character unified social credit code")
	create.Flags().StringVar(&role, "role", "tenant", "tenant, provider or operator")
	var tokName string
	token := &cobra.Command{
		Use: "token ORG_ID", Short: "Mint an API token for an organization (shown once)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			tok, err := c.CreateToken(cmd.Context(), args[0], tokName)
			if err != nil {
				return err
			}
			if g.output == "json" {
				return g.json(map[string]string{"org_id": args[0], "token": tok})
			}
			_, err = g.stdout.Write([]byte(tok + "\n"))
			return err
		},
	}
	token.Flags().StringVar(&tokName, "name", "cli", "a label for the token")
	cmd.AddCommand(create, token, policyCmd(g))
	return cmd
}

// policyCmd sets a tenant's policy: it replaces the whole policy, so
// flags left out take their defaults (no cohort, the platform's weights).
func policyCmd(g *globals) *cobra.Command {
	var p store.TenantPolicy
	var weights string
	policy := &cobra.Command{
		Use:   "policy ORG_ID",
		Short: "Set a tenant's fair-share weight, quotas, cohort and center-ranking weights (operator)",
		Long: "Set a tenant's policy, replacing the one set before. Tenants of one --cohort borrow each other's idle\n" +
			"quota; --borrow-* cap what the tenant may hold beyond its quota by borrowing (0 = what the cohort has\n" +
			"idle). --weights ranks centers for the tenant's jobs (factors: " + strings.Join(core.ScoreFactors[:], ", ") +
			"; those left out are 0).",
		Example: "  suanli --as operator org policy ORG_ID --weight 2 --quota-accelerators 64\n" +
			"  suanli --as operator org policy ORG_ID --quota-accelerators 16 --cohort lab-1 --borrow-accelerators 16 \\\n" +
			"      --weights price=40,network=30,locality=20,green=10",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if weights != "" {
				w, err := core.ParseScoreWeights(weights)
				if err != nil {
					return fmt.Errorf("--weights: %w", err)
				}
				p.Weights = &w
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			p.OrgID = args[0]
			return c.SetPolicy(cmd.Context(), p)
		},
	}
	f := policy.Flags()
	f.Int64Var(&p.Weight, "weight", 1, "fair-share weight, 1..1000")
	f.Int64Var(&p.QuotaCPU, "quota-cpu", 0, "most CPU milli-cores held at once (0 = no limit)")
	f.Int64Var(&p.QuotaMem, "quota-mem", 0, "most memory MiB held at once (0 = no limit)")
	f.Int64Var(&p.QuotaAccel, "quota-accelerators", 0, "most accelerators held at once (0 = no limit)")
	f.StringVar(&p.Cohort, "cohort", "", "cohort whose idle quota the tenant may borrow: lowercase letters, digits, '-' (empty = none)")
	f.Int64Var(&p.BorrowCPU, "borrow-cpu", 0, "most CPU milli-cores held beyond the quota by borrowing (0 = what the cohort has idle)")
	f.Int64Var(&p.BorrowMem, "borrow-mem", 0, "most memory MiB held beyond the quota by borrowing (0 = what the cohort has idle)")
	f.Int64Var(&p.BorrowAccel, "borrow-accelerators", 0, "most accelerators held beyond the quota by borrowing (0 = what the cohort has idle)")
	f.StringVar(&weights, "weights", "", "weights ranking centers for the tenant's jobs, e.g. price=60,network=15,locality=10,domestic=5,green=5,load=5 (empty = the platform's)")
	return policy
}

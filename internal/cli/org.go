package cli

import (
	"net/http"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/core"
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
	var weight, qCPU, qMem, qAccel int64
	policy := &cobra.Command{
		Use: "policy ORG_ID", Short: "Set a tenant's fair-share weight and quotas (operator)", Args: cobra.ExactArgs(1),
		Example: "  suanli --as operator org policy ORG_ID --weight 2 --quota-accelerators 64",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			in := map[string]int64{"weight": weight, "quota_cpu_milli": qCPU, "quota_mem_mib": qMem, "quota_accelerators": qAccel}
			return c.Do(cmd.Context(), http.MethodPut, "/api/v1/orgs/"+url.PathEscape(args[0])+"/policy", in, nil)
		},
	}
	policy.Flags().Int64Var(&weight, "weight", 1, "fair-share weight, 1..1000")
	policy.Flags().Int64Var(&qCPU, "quota-cpu", 0, "most CPU milli-cores held at once (0 = no limit)")
	policy.Flags().Int64Var(&qMem, "quota-mem", 0, "most memory MiB held at once (0 = no limit)")
	policy.Flags().Int64Var(&qAccel, "quota-accelerators", 0, "most accelerators held at once (0 = no limit)")
	cmd.AddCommand(create, token, policy)
	return cmd
}

package cli

import (
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/store"
)

func bundleCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "资源包: prepaid card-hours of one accelerator model"}
	var model, ref string
	var hours int64
	buy := &cobra.Command{
		Use: "buy", Short: "Buy card-hours of a model from the wallet, 15 % below the lowest list price (tenant)", Args: cobra.NoArgs,
		Example: "  suanli bundle buy --model Ascend910B --card-hours 100 --ref PO-2026-001",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var b store.Bundle
			in := map[string]any{"accel_model": model, "card_hours": hours, "reference": defaultRef(ref)}
			if err := c.Do(cmd.Context(), http.MethodPost, "/api/v1/bundles", in, &b); err != nil {
				return err
			}
			return g.printBundles([]store.Bundle{b})
		},
	}
	buy.Flags().StringVar(&model, "model", "", "accelerator model, e.g. Ascend910B")
	buy.Flags().Int64Var(&hours, "card-hours", 0, "card-hours to buy")
	buy.Flags().StringVar(&ref, "ref", "", "order reference; repeating it does not buy twice")
	list := &cobra.Command{
		Use: "list", Short: "List bundles and what is used", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			var out struct{ Bundles []store.Bundle }
			if err := c.Do(cmd.Context(), http.MethodGet, "/api/v1/bundles", nil, &out); err != nil {
				return err
			}
			return g.printBundles(out.Bundles)
		},
	}
	cmd.AddCommand(buy, list)
	return cmd
}

func (g *globals) printBundles(bs []store.Bundle) error {
	if g.output == "json" {
		return g.json(bs)
	}
	rows := [][]string{}
	for _, b := range bs {
		state := "valid until " + b.ValidUntil.Format("2006-01-02")
		if b.Expired {
			state = "expired"
		}
		rows = append(rows, []string{b.ID, b.AccelModel, fmt.Sprintf("%d", b.CardHours),
			fmt.Sprintf("%.3f", float64(b.UsedCardMs)/3_600_000), b.Price.Yuan(), state})
	}
	return g.table([]string{"BUNDLE", "MODEL", "CARD-HOURS", "USED", "PRICE (CNY)", "STATE"}, rows)
}

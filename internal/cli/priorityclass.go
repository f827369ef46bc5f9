package cli

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/core"
)

// priorityClassCmd lists and edits the operator's named priority classes;
// `job submit --priority-class NAME` gives a job a class's value.
func priorityClassCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "priority-class", Short: "Named priority values jobs submit with (--priority-class)"}
	cmd.AddCommand(priorityClassListCmd(g), priorityClassSetCmd(g), priorityClassRmCmd(g))
	return cmd
}

func priorityClassListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "list", Short: "List the priority classes, highest value first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			cs, err := c.PriorityClasses(cmd.Context())
			if err != nil {
				return err
			}
			return g.printPriorityClasses(cs)
		},
	}
}

func priorityClassSetCmd(g *globals) *cobra.Command {
	var pc core.PriorityClass
	cmd := &cobra.Command{
		Use: "set NAME", Short: "Create or replace a priority class (operator); queued jobs keep their priority",
		Example: `  suanli --as operator priority-class set production --value 100 --description "user-facing; preempts batch"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pc.Name = args[0]
			if err := priorityClassInputError(pc.Validate()); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.SetPriorityClass(cmd.Context(), pc); err != nil {
				return err
			}
			return g.printPriorityClasses([]core.PriorityClass{pc})
		},
	}
	f := cmd.Flags()
	f.IntVar(&pc.Value, "value", 0, fmt.Sprintf("the priority jobs of this class get, %d..%d; higher runs first and may preempt lower",
		core.PriorityMin, core.PriorityMax))
	f.StringVar(&pc.Description, "description", "", fmt.Sprintf("one line saying when to use the class, at most %d bytes",
		core.PriorityClassDescriptionLenMax))
	_ = cmd.MarkFlagRequired("value") // fails only for an unknown flag name, which is a bug the tests catch
	return cmd
}

// priorityClassInputError names a bad class by the input that set it: the
// NAME argument or a flag (value → --value), not by its JSON field.
func priorityClassInputError(err error) error {
	var ce *core.Error
	if errors.As(err, &ce) && ce.Field == "name" {
		return fmt.Errorf("NAME: %s", ce.Message)
	}
	return flagError(err)
}

func priorityClassRmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use: "rm NAME", Short: "Remove a priority class (operator); jobs that named it keep their priority",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			return c.DeletePriorityClass(cmd.Context(), args[0])
		},
	}
}

func (g *globals) printPriorityClasses(cs []core.PriorityClass) error {
	if g.output == "json" {
		return g.json(cs)
	}
	rows := make([][]string, 0, len(cs))
	for _, c := range cs {
		d := c.Description
		if d == "" {
			d = "-"
		}
		rows = append(rows, []string{c.Name, strconv.Itoa(c.Value), d})
	}
	return g.table([]string{"NAME", "VALUE", "DESCRIPTION"}, rows)
}

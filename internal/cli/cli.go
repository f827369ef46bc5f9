// Package cli is the `suanli` command line: `up` runs the whole platform in
// one process; the other commands talk to a server through the REST API.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/suanli/suanli/internal/client"
	"github.com/suanli/suanli/internal/seed"
	"github.com/suanli/suanli/internal/server"
)

// Main runs the CLI with args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		var ec exitCode
		if errors.As(err, &ec) {
			return int(ec)
		}
		fmt.Fprintln(stderr, "error: "+oneLine(err.Error()))
		return 1
	}
	return 0
}

// exitCode ends the command with a code and no further message.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit %d", int(e)) }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// globals are the flags every client command shares.
type globals struct {
	server, token, as, data, output string
	stdout, stderr                  io.Writer
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "suanli",
		Short:         "suanli (算力) compute-power network: pool compute centers, schedule, meter and settle",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", "", "server URL, or several replicas' URLs separated by commas (env SUANLI_SERVER; default from the demo credentials, then http://127.0.0.1:8080)")
	pf.StringVar(&g.token, "token", "", "bearer token (env SUANLI_TOKEN; default from the demo credentials)")
	pf.StringVar(&g.as, "as", "tenant", "which demo credential to use when no token is given: tenant, operator or provider")
	pf.StringVar(&g.data, "data", server.DefaultDataDir, "data dir: where up keeps its database, and where demo-credentials.json is looked up")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	root.AddCommand(upCmd(g), serveCmd(g), migrateCmd(g), centerCmd(g), jobCmd(g), walletCmd(g), ledgerCmd(g), orgCmd(g), voucherCmd(g), bundleCmd(g), benchCmd(g))
	root.AddCommand(settlementCmds(g)...)
	root.AddCommand(simCmd(g), agentCmd(g), exportCmd(g), importCmd(g), networkCmd(g), schedulerCmd(g), priorityClassCmd(g))
	return root
}

// client resolves the server and token: flags, then environment, then the
// demo credentials file in the data dir.
func (g *globals) client() (*client.Client, error) {
	if g.output != "table" && g.output != "json" {
		return nil, fmt.Errorf("--output must be table or json, not %q", g.output)
	}
	srv, tok := g.server, g.token
	if srv == "" {
		srv = os.Getenv("SUANLI_SERVER")
	}
	if tok == "" {
		tok = os.Getenv("SUANLI_TOKEN")
	}
	if srv == "" || tok == "" {
		var cr seed.Credentials
		raw, err := os.ReadFile(filepath.Join(g.data, server.CredentialsFile))
		if err == nil {
			err = json.Unmarshal(raw, &cr)
		}
		if err == nil {
			if srv == "" {
				srv = cr.Server
			}
			if tok == "" {
				switch g.as {
				case "tenant":
					tok = cr.Tenant.Token
				case "operator":
					tok = cr.Operator.Token
				case "provider":
					tok = cr.Provider.Token
				default:
					return nil, fmt.Errorf("--as must be tenant, operator or provider, not %q", g.as)
				}
			}
		}
	}
	if srv == "" {
		srv = "http://" + server.DefaultAddr
	}
	if tok == "" {
		return nil, fmt.Errorf("no token: pass --token, set SUANLI_TOKEN, or run `suanli up` to create %s",
			filepath.Join(g.data, server.CredentialsFile))
	}
	return client.New(srv, tok), nil
}

func (g *globals) json(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table prints rows under a header, aligned.
func (g *globals) table(header []string, rows [][]string) error {
	w := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}

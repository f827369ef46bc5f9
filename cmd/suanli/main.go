// Command suanli is the suanli (算力) compute-power network: `suanli up` runs
// the platform; the other commands are its CLI.
package main

import (
	"context"
	"os"

	"github.com/suanli/suanli/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

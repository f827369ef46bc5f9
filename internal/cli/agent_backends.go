package cli

import "github.com/spf13/cobra"

// addBackendFlags adds the slurm and kubernetes backends' flags.
func addBackendFlags(cmd *cobra.Command, bf *backendFlags) {}

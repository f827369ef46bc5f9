package cli

import "github.com/spf13/cobra"

type kubeFlags struct{}

func addKubeFlags(cmd *cobra.Command, bf *backendFlags) {}

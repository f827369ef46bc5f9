package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/kube"
)

type kubeFlags struct {
	kubeconfig, prefix, image, defaultModel, scheduler string
	tolerations                                        []string
	quotaCPU, quotaMemMiB, quotaAccel, quotaPods       int64
}

func addKubeFlags(cmd *cobra.Command, bf *backendFlags) {
	f := cmd.Flags()
	f.StringVar(&bf.kube.kubeconfig, "kubeconfig", "", "kubernetes: kubeconfig file (default: in-cluster config, then $KUBECONFIG / ~/.kube/config)")
	f.StringVar(&bf.kube.prefix, "kube-namespace-prefix", "suanli-", "kubernetes: tenants' namespaces are this prefix + the tenant")
	f.StringVar(&bf.kube.image, "kube-image", "busybox", "kubernetes: container image jobs run their command in")
	f.StringVar(&bf.kube.defaultModel, "kube-default-model", "", "kubernetes: catalog model of nodes whose labels name none")
	f.StringVar(&bf.kube.scheduler, "kube-scheduler-name", "", "kubernetes: schedulerName for pods (e.g. a gang scheduler); default: the cluster's")
	f.StringSliceVar(&bf.kube.tolerations, "kube-toleration", nil, "kubernetes: toleration KEY=VALUE:EFFECT added to pods, repeatable")
	f.Int64Var(&bf.kube.quotaCPU, "kube-quota-cpu-milli", 0, "kubernetes: per-tenant ResourceQuota on CPU requests (0 = none)")
	f.Int64Var(&bf.kube.quotaMemMiB, "kube-quota-mem-mib", 0, "kubernetes: per-tenant ResourceQuota on memory requests in MiB (0 = none)")
	f.Int64Var(&bf.kube.quotaAccel, "kube-quota-accelerators", 0, "kubernetes: per-tenant ResourceQuota on each accelerator resource (0 = none)")
	f.Int64Var(&bf.kube.quotaPods, "kube-quota-pods", 0, "kubernetes: per-tenant ResourceQuota on pods (0 = none)")
}

func newKubeBackend(ctx context.Context, bf *backendFlags) (backend.Backend, error) {
	f := bf.kube
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if f.kubeconfig != "" {
		rules.ExplicitPath = f.kubeconfig
	}
	rest, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	cfg := kube.Config{Client: client, NamespacePrefix: f.prefix, Image: f.image, DefaultModel: f.defaultModel,
		SchedulerName: f.scheduler, Quota: kube.Quota{CPUMilli: f.quotaCPU, MemMiB: f.quotaMemMiB, Pods: f.quotaPods}}
	if f.quotaAccel > 0 {
		cfg.Quota.Accel = map[corev1.ResourceName]int64{}
		for _, r := range kube.DefaultResources() {
			cfg.Quota.Accel[r] = f.quotaAccel
		}
	}
	for _, t := range f.tolerations {
		kv, effect, ok := strings.Cut(t, ":")
		k, v, ok2 := strings.Cut(kv, "=")
		if !ok || !ok2 || k == "" {
			return nil, fmt.Errorf("--kube-toleration %q: want KEY=VALUE:EFFECT", t)
		}
		cfg.Tolerations = append(cfg.Tolerations, corev1.Toleration{Key: k, Operator: corev1.TolerationOpEqual, Value: v,
			Effect: corev1.TaintEffect(effect)})
	}
	b, err := kube.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := b.Start(ctx); err != nil {
		return nil, fmt.Errorf("kubernetes informers: %w", err)
	}
	return b, nil
}

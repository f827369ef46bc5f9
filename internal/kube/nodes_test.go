package kube

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suanli/suanli/internal/backend"
)

type nodeOpt func(*corev1.Node)

func nodeOf(name string, opts ...nodeOpt) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("31500m"), corev1.ResourceMemory: resource.MustParse("256Gi")},
			Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}},
		},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func label(k, v string) nodeOpt { return func(n *corev1.Node) { n.Labels[k] = v } }

func devices(r corev1.ResourceName, count string) nodeOpt {
	return func(n *corev1.Node) { n.Status.Allocatable[r] = resource.MustParse(count) }
}

func cordoned(n *corev1.Node) { n.Spec.Unschedulable = true }

func notReady(n *corev1.Node) {
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown,
		Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status."}}
}

// TestNodeFor maps nodes: the model from the suanli label, from a vendor
// product label (longest catalog name wins), from the default model; and
// the ready state of cordoned and NotReady nodes.
func TestNodeFor(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Fatal("New without a client succeeded")
	}
	b, _ := newFake(t, Config{DefaultModel: "H100"})
	cases := []struct {
		node   *corev1.Node
		model  string
		count  int64
		ready  bool
		reason string
	}{
		{nodeOf("cpu"), "", 0, true, ""},
		{nodeOf("labelled", label(DefaultModelLabel, "A800"), devices(ResourceNVIDIAGPU, "8")), "A800", 8, true, ""},
		{nodeOf("product", label("nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB"), devices(ResourceNVIDIAGPU, "4")), "A100", 4, true, ""},
		{nodeOf("ascend", label("accelerator", "huawei-Ascend910B"), devices(ResourceAscend, "8")), "Ascend910B", 8, true, ""},
		{nodeOf("ascend-old", label("accelerator", "huawei-Ascend910"), devices(ResourceAscend, "8")), "Ascend910", 8, true, ""},
		{nodeOf("unnamed-gpu", devices(ResourceNVIDIAGPU, "2")), "H100", 2, true, ""},
		{nodeOf("label-no-devices", label(DefaultModelLabel, "A100")), "", 0, true, ""},
		{nodeOf("bad-label", label(DefaultModelLabel, "TPU"), devices(ResourceNVIDIAGPU, "1")), "H100", 1, true, ""},
		{nodeOf("cordoned", cordoned, label(DefaultModelLabel, "A100"), devices(ResourceNVIDIAGPU, "8")), "A100", 8, false, "cordoned"},
		{nodeOf("down", notReady), "", 0, false, "NotReady: NodeStatusUnknown: Kubelet stopped posting"},
		{nodeOf("no-conditions", func(n *corev1.Node) { n.Status.Conditions = nil }), "", 0, false, "no Ready condition"},
	}
	for _, tc := range cases {
		got := b.nodeFor(tc.node)
		want := backend.Node{Name: tc.node.Name, CPUMilli: 31500, MemMiB: 256 << 10, AccelModel: tc.model, AccelCount: tc.count, Ready: tc.ready}
		reason := got.Reason
		got.Reason = ""
		if got != want || !strings.Contains(reason, tc.reason) || (tc.reason == "") != (reason == "") {
			t.Errorf("nodeFor(%s) = %+v (reason %q), want %+v (reason %q)", tc.node.Name, got, reason, want, tc.reason)
		}
	}
}

// TestNodesFromCache lists nodes through the informer, honouring the
// node selector.
func TestNodesFromCache(t *testing.T) {
	ctx := context.Background()
	b, client := newFake(t, Config{NodeSelector: map[string]string{"pool": "suanli"}})
	for _, n := range []*corev1.Node{nodeOf("b", label("pool", "suanli")), nodeOf("a", label("pool", "suanli"), cordoned), nodeOf("other")} {
		if _, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var nodes []backend.Node
	for range 500 {
		var err error
		if nodes, err = b.Nodes(ctx); err != nil {
			t.Fatal(err)
		}
		if len(nodes) == 2 {
			break
		}
		sleepTick()
	}
	if len(nodes) != 2 || nodes[0].Name != "a" || nodes[0].Ready || nodes[1].Name != "b" || !nodes[1].Ready {
		t.Errorf("Nodes = %+v, want a (cordoned) and b", nodes)
	}
}

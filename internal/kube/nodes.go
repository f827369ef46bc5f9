package kube

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
)

func selectorOf(set map[string]string) labels.Selector {
	if len(set) == 0 {
		return labels.Everything()
	}
	return labels.SelectorFromSet(set)
}

// nodeFor maps a node's allocatable resources and state. A node is ready
// when its NodeReady condition is True and it is not cordoned.
func (b *Backend) nodeFor(n *corev1.Node) backend.Node {
	out := backend.Node{
		Name:     n.Name,
		CPUMilli: n.Status.Allocatable.Cpu().MilliValue(),
		MemMiB:   n.Status.Allocatable.Memory().Value() >> 20,
	}
	if model := b.modelOf(n); model != "" {
		if q, ok := n.Status.Allocatable[b.cfg.Resources[model]]; ok && q.Value() > 0 {
			out.AccelModel, out.AccelCount = model, q.Value()
		}
	}
	out.Ready, out.Reason = nodeReady(n)
	return out
}

// modelOf names the node's accelerator by its catalog name: ModelLabel
// when it holds a catalog name, else the longest catalog name contained
// in a product label (so "Ascend910B" wins over "Ascend910"), else
// DefaultModel when the node has DefaultModel's resource.
func (b *Backend) modelOf(n *corev1.Node) string {
	if m := n.Labels[b.cfg.ModelLabel]; m != "" {
		if _, ok := b.cfg.Resources[m]; ok {
			return m
		}
	}
	for _, l := range b.cfg.ProductLabels {
		v := strings.ToLower(n.Labels[l])
		if v == "" {
			continue
		}
		best := ""
		for _, a := range core.Catalog() {
			if _, ok := b.cfg.Resources[a.Name]; ok && len(a.Name) > len(best) && strings.Contains(v, strings.ToLower(a.Name)) {
				best = a.Name
			}
		}
		if best != "" {
			return best
		}
	}
	if b.cfg.DefaultModel != "" {
		if q, ok := n.Status.Allocatable[b.cfg.Resources[b.cfg.DefaultModel]]; ok && q.Value() > 0 {
			return b.cfg.DefaultModel
		}
	}
	return ""
}

func nodeReady(n *corev1.Node) (bool, string) {
	if n.Spec.Unschedulable {
		return false, "cordoned (spec.unschedulable)"
	}
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			return true, ""
		}
		why := "NotReady"
		if c.Reason != "" {
			why += ": " + c.Reason
		}
		if c.Message != "" {
			why += ": " + c.Message
		}
		return false, clip(why)
	}
	return false, "no Ready condition"
}

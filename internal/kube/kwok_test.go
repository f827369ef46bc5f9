package kube

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// TestKwokStagesParse decodes KwokStages: six Stage documents, and the
// pod-finish stage reads the annotations Submit writes.
func TestKwokStagesParse(t *testing.T) {
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(KwokStages), 4096)
	var names []string
	for {
		var obj unstructured.Unstructured
		err := dec.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if obj.GetKind() != "Stage" || obj.GetAPIVersion() != "kwok.x-k8s.io/v1alpha1" {
			t.Errorf("document %s is %s %s", obj.GetName(), obj.GetAPIVersion(), obj.GetKind())
		}
		names = append(names, obj.GetName())
	}
	if got := strings.Join(names, ","); got != "node-up,node-keepalive,pod-start,pod-finish,pod-kill,pod-remove" {
		t.Errorf("stages = %s", got)
	}
	for _, a := range []string{AnnotationSimDuration, AnnotationSimExitCode} {
		if !strings.Contains(KwokStages, `"`+a+`"`) {
			t.Errorf("KwokStages does not read %s", a)
		}
	}
}

// TestKwokScriptStages keeps scripts/kwok-up.sh on the stages KwokStages
// embeds (the script cannot import Go, so it copies the same file).
func TestKwokScriptStages(t *testing.T) {
	data, err := os.ReadFile("../../scripts/kwok-up.sh")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`internal/kube/kwok-stages.yaml" "$W/stages.yaml"`)) {
		t.Error("scripts/kwok-up.sh does not copy internal/kube/kwok-stages.yaml, the stages KwokStages embeds")
	}
	stages, err := os.ReadFile("kwok-stages.yaml")
	if err != nil || string(stages) != KwokStages {
		t.Errorf("kwok-stages.yaml and KwokStages differ (%v)", err)
	}
}

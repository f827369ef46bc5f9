package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
)

var kwokToleration = corev1.Toleration{Key: "kwok.x-k8s.io/node", Operator: corev1.TolerationOpEqual, Value: "fake", Effect: corev1.TaintEffectNoSchedule}

func newFake(t *testing.T, cfg Config) (*Backend, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset()
	cfg.Client = client
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return b, client
}

func gpuGang() backend.Run {
	return backend.Run{
		Key:      backend.Key{JobID: "0193abc-def", Attempt: 2},
		TenantID: "org-42",
		Spec: core.JobSpec{
			Replicas: []core.Replica{
				{AccelModels: []string{"A100", "A800", "Ascend910B"}, AccelCount: 2, CPUMilli: 4000, MemMiB: 16384},
				{AccelModels: []string{"A100", "A800", "Ascend910B"}, AccelCount: 2, CPUMilli: 8000, MemMiB: 8192},
			},
			Duration:    90 * time.Second,
			ExitCode:    3,
			MaxDuration: 150500 * time.Millisecond,
		},
		Placements: []core.Placement{{Index: 0, NodeName: "a100-0", AccelModel: "A100"}, {Index: 1, NodeName: "a100-1", AccelModel: "A100"}},
	}
}

// TestBuildJobGang checks the Job of a 2-replica GPU gang field by field:
// one Indexed Job, no retries, the deadline from MaxDuration, requests =
// limits at the largest replica, the simulation annotations, the labels
// and the environment.
func TestBuildJobGang(t *testing.T) {
	b, _ := newFake(t, Config{Tolerations: []corev1.Toleration{kwokToleration}})
	r := gpuGang()
	j, err := b.buildJob(r, b.Namespace(r.TenantID))
	if err != nil {
		t.Fatal(err)
	}
	s := j.Spec
	if j.Name != JobName(r.Key) || !strings.HasPrefix(j.Name, "sl-") || len(j.Name) != 19 {
		t.Errorf("name = %q, want sl- + 16 hex", j.Name)
	}
	if j.Namespace != "suanli-org-42" {
		t.Errorf("namespace = %q, want suanli-org-42", j.Namespace)
	}
	if *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 2 || *s.Parallelism != 2 || *s.BackoffLimit != 0 {
		t.Errorf("mode, completions, parallelism, backoff = %v %d %d %d, want Indexed 2 2 0",
			*s.CompletionMode, *s.Completions, *s.Parallelism, *s.BackoffLimit)
	}
	if *s.ActiveDeadlineSeconds != 151 {
		t.Errorf("activeDeadlineSeconds = %d, want 151 (150.5 s rounded up)", *s.ActiveDeadlineSeconds)
	}
	if *s.TTLSecondsAfterFinished != int32(DefaultFinishedTTL/time.Second) {
		t.Errorf("ttl = %d", *s.TTLSecondsAfterFinished)
	}
	wantLabels := map[string]string{LabelKey: "suanli.0193abc-def.2", LabelJob: "0193abc-def", LabelAttempt: "2", LabelTenant: "org-42"}
	for k, v := range wantLabels {
		if j.Labels[k] != v || s.Template.Labels[k] != v {
			t.Errorf("label %s = %q (job), %q (pod), want %q", k, j.Labels[k], s.Template.Labels[k], v)
		}
	}
	if a := s.Template.Annotations; a[AnnotationSimDuration] != "1m30s" || a[AnnotationSimExitCode] != "3" {
		t.Errorf("pod annotations = %v", a)
	}
	pod := s.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyNever || len(pod.Containers) != 1 {
		t.Fatalf("restart policy %v, %d containers", pod.RestartPolicy, len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != DefaultImage || strings.Join(c.Command, " ") != "/bin/sh -c sleep 90; exit 3" {
		t.Errorf("image %q command %q", c.Image, c.Command)
	}
	want := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("8"),
		corev1.ResourceMemory: resource.MustParse("16Gi"),
		ResourceNVIDIAGPU:     resource.MustParse("2"),
	}
	for _, got := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
		if !sameResources(got, want) {
			t.Errorf("resources = %v, want %v", got, want)
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.Name == "SUANLI_REPLICA" && e.ValueFrom.FieldRef.FieldPath != "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
			t.Errorf("SUANLI_REPLICA from %q", e.ValueFrom.FieldRef.FieldPath)
		}
	}
	if env["SUANLI_JOB_ID"] != "0193abc-def" || env["SUANLI_REPLICAS"] != "2" {
		t.Errorf("env = %v", env)
	}
	if len(pod.Tolerations) != 1 || pod.Tolerations[0] != kwokToleration {
		t.Errorf("tolerations = %v", pod.Tolerations)
	}
	na := pod.Affinity.NodeAffinity
	terms := na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 2 || strings.Join(terms[0].MatchExpressions[0].Values, ",") != "A100,A800" ||
		terms[1].MatchExpressions[0].Operator != corev1.NodeSelectorOpDoesNotExist {
		t.Errorf("required affinity = %+v, want A100,A800 (same resource) or no model label", terms)
	}
	pref := na.PreferredDuringSchedulingIgnoredDuringExecution
	// One term per hinted node: the API server refuses several values in a
	// metadata.name field match (found against the real apiserver).
	if len(pref) != 2 || strings.Join(pref[0].Preference.MatchFields[0].Values, ",") != "a100-0" ||
		strings.Join(pref[1].Preference.MatchFields[0].Values, ",") != "a100-1" {
		t.Errorf("preferred affinity = %+v", pref)
	}
}

// TestBuildJobAccel covers the model → resource choice.
func TestBuildJobAccel(t *testing.T) {
	b, _ := newFake(t, Config{})
	cases := []struct {
		name   string
		rep    core.Replica
		place  string
		want   corev1.ResourceName
		models string
	}{
		{"cpu only", core.Replica{CPUMilli: 1000, MemMiB: 100}, "", "", ""},
		{"ascend", core.Replica{AccelModels: []string{"Ascend910B"}, AccelCount: 8, CPUMilli: 1, MemMiB: 1}, "", ResourceAscend, "Ascend910B"},
		{"placement wins", core.Replica{AccelModels: []string{"A100", "Ascend910B"}, AccelCount: 1, CPUMilli: 1, MemMiB: 1}, "Ascend910B", ResourceAscend, "Ascend910B"},
		{"any model", core.Replica{AccelCount: 1, CPUMilli: 1, MemMiB: 1}, "", ResourceNVIDIAGPU, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := backend.Run{Key: backend.Key{JobID: "j", Attempt: 0}, TenantID: "t", Spec: core.JobSpec{Replicas: []core.Replica{tc.rep}, Duration: time.Second, MaxDuration: time.Minute}}
			if tc.place != "" {
				r.Placements = []core.Placement{{AccelModel: tc.place}}
			}
			got, err := b.accelFor(r)
			if err != nil {
				t.Fatal(err)
			}
			if got.resource != tc.want || strings.Join(got.models, ",") != tc.models {
				t.Errorf("accelFor = %v %v, want %v %v", got.resource, got.models, tc.want, tc.models)
			}
		})
	}
}

// TestSubmitIdempotent submits the same key twice, before and after the
// cache has seen the Job, and through a second backend with an empty
// cache: there is one Job, and every call returns its name.
func TestSubmitIdempotent(t *testing.T) {
	ctx := context.Background()
	b, client := newFake(t, Config{})
	r := gpuGang()
	first, err := b.Submit(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.Submit(ctx, r) // the cache may not have it yet: AlreadyExists path
	if err != nil || second != first {
		t.Fatalf("second Submit = %q, %v; want %q", second, err, first)
	}
	other, err := New(Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	third, err := other.Submit(ctx, r) // not started: no cache at all
	if err != nil || third != first {
		t.Fatalf("Submit from a second backend = %q, %v; want %q", third, err, first)
	}
	list, err := client.BatchV1().Jobs("").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Fatalf("%d jobs, want 1", len(list.Items))
	}
	waitRuns(t, b, 1)
	if got, err := b.Submit(ctx, r); err != nil || got != first {
		t.Fatalf("Submit with the Job cached = %q, %v; want %q", got, err, first)
	}
}

func waitRuns(t *testing.T, b *Backend, n int) []backend.Status {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		runs, err := b.Runs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) == n || time.Now().After(deadline) {
			if len(runs) != n {
				t.Fatalf("Runs has %d runs, want %d", len(runs), n)
			}
			return runs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSubmitRejectsBadKeys(t *testing.T) {
	b, _ := newFake(t, Config{})
	r := gpuGang()
	r.Key.JobID = strings.Repeat("x", 70)
	if _, err := b.Submit(context.Background(), r); err == nil {
		t.Error("Submit with a 70-character job id succeeded, want an error (not a label value)")
	}
	r = gpuGang()
	r.Spec.Replicas[0].AccelModels = []string{"TPUv9"}
	r.Placements = nil
	if _, err := b.Submit(context.Background(), r); err == nil {
		t.Error("Submit with an unknown model succeeded, want an error")
	}
}

// TestNamespaceAndQuota: the first Submit for a tenant creates its
// namespace and ResourceQuota; a backend with a changed quota updates it.
func TestNamespaceAndQuota(t *testing.T) {
	ctx := context.Background()
	q := Quota{CPUMilli: 64000, MemMiB: 512 << 10, Accel: map[corev1.ResourceName]int64{ResourceNVIDIAGPU: 16}, Pods: 20}
	b, client := newFake(t, Config{Quota: q})
	r := gpuGang()
	r.TenantID = "Org_With.Odd/Chars"
	if _, err := b.Submit(ctx, r); err != nil {
		t.Fatal(err)
	}
	ns := b.Namespace(r.TenantID)
	if len(validation.IsDNS1123Label(ns)) > 0 || !strings.HasPrefix(ns, "suanli-org-with-odd-chars-") {
		t.Fatalf("namespace %q is not a sanitized DNS label", ns)
	}
	got, err := client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Annotations[AnnotationTenant] != r.TenantID || got.Labels[LabelTenant] == "" {
		t.Errorf("namespace labels %v annotations %v", got.Labels, got.Annotations)
	}
	quota, err := client.CoreV1().ResourceQuotas(ns).Get(ctx, quotaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := corev1.ResourceList{
		"requests.cpu":            resource.MustParse("64"),
		"requests.memory":         resource.MustParse("512Gi"),
		"requests.nvidia.com/gpu": resource.MustParse("16"),
		"pods":                    resource.MustParse("20"),
	}
	if !sameResources(quota.Spec.Hard, want) {
		t.Errorf("quota = %v, want %v", quota.Spec.Hard, want)
	}

	q.Accel = map[corev1.ResourceName]int64{ResourceNVIDIAGPU: 8, ResourceAscend: 8}
	b2, err := New(Config{Client: client, Quota: q})
	if err != nil {
		t.Fatal(err)
	}
	r.Key.Attempt++
	if _, err := b2.Submit(ctx, r); err != nil {
		t.Fatal(err)
	}
	quota, err = client.CoreV1().ResourceQuotas(ns).Get(ctx, quotaName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g := quota.Spec.Hard["requests.nvidia.com/gpu"]; g.Value() != 8 || len(quota.Spec.Hard) != 5 {
		t.Errorf("updated quota = %v, want 8 GPUs and 8 Ascend", quota.Spec.Hard)
	}
}

func TestDNSLabel(t *testing.T) {
	for _, in := range []string{"org-1", "ORG", "a_b", "0193b5c2-aaaa-7bbb-8ccc-123456789012", "", "---", strings.Repeat("z", 80), "租户"} {
		out := dnsLabel(in, 56)
		if len(validation.IsDNS1123Label(out)) > 0 || len(out) > 56 {
			t.Errorf("dnsLabel(%q) = %q, not a DNS label of at most 56", in, out)
		}
		if in == "org-1" && out != in {
			t.Errorf("dnsLabel(%q) = %q, want it unchanged", in, out)
		}
	}
	if dnsLabel("a_b", 56) == dnsLabel("a.b", 56) {
		t.Error("two tenants share a namespace")
	}
}

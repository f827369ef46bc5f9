package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
)

// Simulation annotations on the pod template. On a KWOK cluster the
// stages in KwokStages read them: a pod runs for SimDuration and then
// ends with SimExitCode. A real kubelet ignores them; there the container
// itself sleeps and exits the same way (see command).
const (
	AnnotationSimDuration = "suanli.io/sim-duration"  // Go duration, e.g. "1m30s"
	AnnotationSimExitCode = "suanli.io/sim-exit-code" // "0".."255"
)

// jobNamePrefix starts every Job name; a hash of the key follows, so the
// name is deterministic (Create is idempotent) and short enough for the
// pod names the Job controller derives from it.
const (
	jobNamePrefix  = "sl-"
	jobNameHashLen = 16 // hex digits: 64 bits, collisions are checked anyway
	// tenantHashLen is the hash suffix of a tenant name that had to be
	// changed to fit Kubernetes naming rules, so two tenants never share.
	tenantHashLen = 8
	// placementWeight is the scheduler preference for suanli's placements,
	// which are hints: the center's scheduler places within the center.
	placementWeight = 50
)

// JobName is the Job's name for a key: "sl-" + 16 hex digits of its
// SHA-256, a valid DNS-1123 label of 19 characters.
func JobName(k backend.Key) string {
	sum := sha256.Sum256([]byte(k.String()))
	return jobNamePrefix + hex.EncodeToString(sum[:])[:jobNameHashLen]
}

// Namespace is the tenant's namespace: the prefix and the tenant id,
// lower-cased; an id that is not a valid name as it is gets a hash
// suffix so that distinct tenants never share a namespace.
func (b *Backend) Namespace(tenantID string) string {
	return b.cfg.NamespacePrefix + dnsLabel(tenantID, validation.DNS1123LabelMaxLength-len(b.cfg.NamespacePrefix))
}

// dnsLabel makes s a DNS-1123 label of at most max characters. It keeps s
// when s is already one; otherwise it keeps the valid characters and
// appends a hash of the original.
func dnsLabel(s string, max int) string {
	if s != "" && len(s) <= max && len(validation.IsDNS1123Label(s)) == 0 {
		return s
	}
	var clean strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			clean.WriteRune(r)
		case clean.Len() > 0:
			clean.WriteByte('-')
		}
	}
	sum := sha256.Sum256([]byte(s))
	suffix := hex.EncodeToString(sum[:])[:tenantHashLen]
	base := strings.Trim(clean.String(), "-")
	if keep := max - len(suffix) - 1; len(base) > keep {
		base = strings.Trim(base[:keep], "-")
	}
	if base == "" {
		return "t-" + suffix
	}
	return base + "-" + suffix
}

// Submit creates the run's Job in the tenant's namespace. It is
// idempotent by key: a Job that already carries the key is returned as it
// is, whatever its state.
func (b *Backend) Submit(ctx context.Context, r backend.Run) (string, error) {
	if err := checkRun(r); err != nil {
		return "", err
	}
	if b.ready() == nil {
		if js := b.jobsByKey(r.Key); len(js) > 0 {
			return js[0].Name, nil
		}
	}
	ns := b.Namespace(r.TenantID)
	job, err := b.buildJob(r, ns)
	if err != nil {
		return "", err
	}
	if err := b.ensureNamespace(ctx, ns, r.TenantID); err != nil {
		return "", err
	}
	_, err = b.client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		// A retry after a lost reply, or a second agent: the name is a
		// hash of the key, so the Job is this run unless the hash
		// collided, which the label check catches.
		got, gerr := b.client.BatchV1().Jobs(ns).Get(ctx, job.Name, metav1.GetOptions{})
		if gerr != nil {
			return "", fmt.Errorf("kube: reading existing job %s/%s: %w", ns, job.Name, gerr)
		}
		if got.Labels[LabelKey] != r.Key.String() {
			return "", fmt.Errorf("kube: job %s/%s belongs to %q, not %q", ns, job.Name, got.Labels[LabelKey], r.Key)
		}
		return got.Name, nil
	}
	if err != nil {
		return "", fmt.Errorf("kube: creating job for %s: %w", r.Key, err)
	}
	return job.Name, nil
}

// checkRun rejects runs that cannot be labelled or have no replicas.
func checkRun(r backend.Run) error {
	if msgs := validation.IsValidLabelValue(r.Key.String()); len(msgs) > 0 {
		return fmt.Errorf("kube: key %q is not a label value: %s", r.Key, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsValidLabelValue(r.Key.JobID); len(msgs) > 0 {
		return fmt.Errorf("kube: job id %q is not a label value: %s", r.Key.JobID, strings.Join(msgs, "; "))
	}
	if len(r.Spec.Replicas) == 0 || len(r.Spec.Replicas) > core.ReplicasMax {
		return fmt.Errorf("kube: run %s has %d replicas, want 1 to %d", r.Key, len(r.Spec.Replicas), core.ReplicasMax)
	}
	return nil
}

// buildJob is the Job for run r in namespace ns. Heterogeneous replicas
// share one pod template, so every replica gets the largest CPU, memory
// and accelerator count of any replica, on replica 0's model.
func (b *Backend) buildJob(r backend.Run, ns string) (*batchv1.Job, error) {
	accel, err := b.accelFor(r)
	if err != nil {
		return nil, err
	}
	n := int32(len(r.Spec.Replicas))
	labels := map[string]string{
		LabelKey:     r.Key.String(),
		LabelJob:     r.Key.JobID,
		LabelAttempt: strconv.Itoa(r.Key.Attempt),
		LabelTenant:  dnsLabel(r.TenantID, validation.LabelValueMaxLength),
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:        JobName(r.Key),
			Namespace:   ns,
			Labels:      labels,
			Annotations: map[string]string{AnnotationTenant: r.TenantID},
		},
		Spec: batchv1.JobSpec{
			CompletionMode: ptr.To(batchv1.IndexedCompletion),
			Completions:    ptr.To(n),
			Parallelism:    ptr.To(n),
			// No retries: one failed pod fails the gang, and suanli
			// requeues the job as a new attempt if it wants to.
			BackoffLimit:          ptr.To(int32(0)),
			ActiveDeadlineSeconds: deadlineSeconds(r.Spec.MaxDuration),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: simAnnotations(r.Spec)},
				Spec:       b.podSpec(r, accel),
			},
		},
	}
	if b.cfg.FinishedTTL > 0 {
		job.Spec.TTLSecondsAfterFinished = ptr.To(int32(min(b.cfg.FinishedTTL/time.Second, math.MaxInt32)))
	}
	return job, nil
}

// deadlineSeconds is MaxDuration rounded up to whole seconds; nil (no
// deadline) when MaxDuration is not positive.
func deadlineSeconds(d time.Duration) *int64 {
	if d <= 0 {
		return nil
	}
	return ptr.To(int64((d + time.Second - 1) / time.Second))
}

func simAnnotations(s core.JobSpec) map[string]string {
	if s.Duration <= 0 && s.ExitCode == 0 {
		return nil
	}
	return map[string]string{
		AnnotationSimDuration: s.Duration.String(),
		AnnotationSimExitCode: strconv.Itoa(s.ExitCode),
	}
}

// command runs the spec's command; a simulated spec (no command) sleeps
// for its duration and exits with its code, so it behaves the same on a
// real cluster as under KWOK.
func command(s core.JobSpec) []string {
	if s.Command != "" {
		return []string{"/bin/sh", "-c", s.Command}
	}
	secs := int64((s.Duration + time.Second - 1) / time.Second)
	return []string{"/bin/sh", "-c", fmt.Sprintf("sleep %d; exit %d", secs, s.ExitCode)}
}

func (b *Backend) podSpec(r backend.Run, accel accelChoice) corev1.PodSpec {
	res := corev1.ResourceList{}
	for _, rep := range r.Spec.Replicas {
		maxQuantity(res, corev1.ResourceCPU, *resource.NewMilliQuantity(rep.CPUMilli, resource.DecimalSI))
		maxQuantity(res, corev1.ResourceMemory, *resource.NewQuantity(rep.MemMiB<<20, resource.BinarySI))
	}
	if accel.count > 0 {
		res[accel.resource] = *resource.NewQuantity(accel.count, resource.DecimalSI)
	}
	env := []corev1.EnvVar{
		{Name: "SUANLI_JOB_ID", Value: r.Key.JobID},
		{Name: "SUANLI_ATTEMPT", Value: strconv.Itoa(r.Key.Attempt)},
		{Name: "SUANLI_REPLICAS", Value: strconv.Itoa(len(r.Spec.Replicas))},
		{Name: "SUANLI_REPLICA", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
			FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']",
		}}},
	}
	return corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{{
			Name:    containerName,
			Image:   b.cfg.Image,
			Command: command(r.Spec),
			Env:     env,
			// Requests = limits: the Guaranteed QoS class, and quotas
			// count exactly what the replica may use.
			Resources: corev1.ResourceRequirements{Requests: res, Limits: res.DeepCopy()},
		}},
		Tolerations:                  slices.Clone(b.cfg.Tolerations),
		NodeSelector:                 b.cfg.NodeSelector,
		SchedulerName:                b.cfg.SchedulerName,
		Affinity:                     b.affinity(r, accel),
		EnableServiceLinks:           ptr.To(false),
		AutomountServiceAccountToken: ptr.To(false),
	}
}

func maxQuantity(l corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
	if cur, ok := l[name]; !ok || q.Cmp(cur) > 0 {
		l[name] = q
	}
}

// accelChoice is the accelerator a run's pods request.
type accelChoice struct {
	count    int64
	resource corev1.ResourceName
	models   []string // acceptable catalog models on that resource; empty: any
}

// accelFor picks the resource for the largest accelerator count of any
// replica. The model is the one suanli's scheduler placed replica 0 on,
// else replica 0's first acceptable model, else DefaultModel; a run that
// accepts any model with no DefaultModel asks for nvidia.com/gpu.
func (b *Backend) accelFor(r backend.Run) (accelChoice, error) {
	var c accelChoice
	for _, rep := range r.Spec.Replicas {
		c.count = max(c.count, rep.AccelCount)
	}
	if c.count == 0 {
		return c, nil
	}
	acceptable := r.Spec.Replicas[0].AccelModels
	model := ""
	for _, p := range r.Placements {
		if p.AccelModel != "" {
			model = p.AccelModel
			break
		}
	}
	if model == "" && len(acceptable) > 0 {
		model = acceptable[0]
	}
	if model == "" {
		model = b.cfg.DefaultModel
	}
	if model == "" {
		c.resource = ResourceNVIDIAGPU
		return c, nil
	}
	res, ok := b.cfg.Resources[model]
	if !ok {
		return c, fmt.Errorf("kube: run %s: no resource name for accelerator model %q", r.Key, model)
	}
	c.resource = res
	c.models = []string{model}
	for _, m := range acceptable {
		if m != model && b.cfg.Resources[m] == res {
			c.models = append(c.models, m)
		}
	}
	if len(acceptable) == 0 && len(r.Placements) == 0 {
		c.models = nil // any model on the default resource
	}
	return c, nil
}

// affinity pins the pods to nodes whose model label is an acceptable
// model, or that have no model label (those are not told apart), and
// prefers the nodes suanli's scheduler chose.
func (b *Backend) affinity(r backend.Run, accel accelChoice) *corev1.Affinity {
	var a corev1.NodeAffinity
	if len(accel.models) > 0 {
		a.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: b.cfg.ModelLabel, Operator: corev1.NodeSelectorOpIn, Values: accel.models}}},
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: b.cfg.ModelLabel, Operator: corev1.NodeSelectorOpDoesNotExist}}},
		}}
	}
	var hinted []string
	for _, p := range r.Placements {
		name := p.NodeName
		if name == "" {
			name = p.NodeID
		}
		if name != "" && !slices.Contains(hinted, name) {
			hinted = append(hinted, name)
		}
	}
	// One term per node: the API server allows a single value in a
	// metadata.name field match.
	for _, name := range hinted {
		a.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.PreferredSchedulingTerm{Weight: placementWeight, Preference: corev1.NodeSelectorTerm{
				MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{name}}},
			}})
	}
	if a.RequiredDuringSchedulingIgnoredDuringExecution == nil && a.PreferredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	return &corev1.Affinity{NodeAffinity: &a}
}

// ensureNamespace creates the tenant's namespace and writes its quota the
// first time this process uses it. Both steps are idempotent, so a second
// agent or a restart does no harm.
func (b *Backend) ensureNamespace(ctx context.Context, ns, tenantID string) error {
	b.seenMu.Lock()
	done := b.seen[ns]
	b.seenMu.Unlock()
	if done {
		return nil
	}
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns,
		Labels: map[string]string{
			LabelTenant:                    dnsLabel(tenantID, validation.LabelValueMaxLength),
			"app.kubernetes.io/managed-by": "suanli",
		},
		Annotations: map[string]string{AnnotationTenant: tenantID},
	}}
	_, err := b.client.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsForbidden(err) {
		// A center may create tenant namespaces itself and not let the
		// agent do it; then the namespace must already be there.
		if _, gerr := b.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); gerr == nil {
			err = nil
		}
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kube: creating namespace %s: %w", ns, err)
	}
	if err := b.ensureQuota(ctx, ns); err != nil {
		return err
	}
	b.seenMu.Lock()
	if len(b.seen) >= namespacesSeenMax {
		clear(b.seen)
	}
	b.seen[ns] = true
	b.seenMu.Unlock()
	return nil
}

// quotaHard is the ResourceQuota's hard limits for q. Extended resources
// can only be limited on requests, so every limit is on requests.
func quotaHard(q Quota) corev1.ResourceList {
	hard := corev1.ResourceList{}
	if q.CPUMilli > 0 {
		hard[corev1.ResourceRequestsCPU] = *resource.NewMilliQuantity(q.CPUMilli, resource.DecimalSI)
	}
	if q.MemMiB > 0 {
		hard[corev1.ResourceRequestsMemory] = *resource.NewQuantity(q.MemMiB<<20, resource.BinarySI)
	}
	for name, n := range q.Accel {
		hard[corev1.ResourceName(corev1.DefaultResourceRequestsPrefix+string(name))] = *resource.NewQuantity(n, resource.DecimalSI)
	}
	if q.Pods > 0 {
		hard[corev1.ResourcePods] = *resource.NewQuantity(q.Pods, resource.DecimalSI)
	}
	return hard
}

func (b *Backend) ensureQuota(ctx context.Context, ns string) error {
	if b.cfg.Quota.zero() {
		return nil
	}
	want := quotaHard(b.cfg.Quota)
	quotas := b.client.CoreV1().ResourceQuotas(ns)
	cur, err := quotas.Get(ctx, quotaName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		obj := &corev1.ResourceQuota{
			ObjectMeta: metav1.ObjectMeta{Name: quotaName, Labels: map[string]string{"app.kubernetes.io/managed-by": "suanli"}},
			Spec:       corev1.ResourceQuotaSpec{Hard: want},
		}
		_, err = quotas.Create(ctx, obj, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil // another agent created it just now; the next process start reconciles it
		}
		if err != nil {
			return fmt.Errorf("kube: creating quota in %s: %w", ns, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("kube: reading quota in %s: %w", ns, err)
	}
	if sameResources(cur.Spec.Hard, want) {
		return nil
	}
	cur.Spec.Hard = want
	if _, err := quotas.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("kube: updating quota in %s: %w", ns, err)
	}
	return nil
}

func sameResources(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, q := range a {
		p, ok := b[k]
		if !ok || q.Cmp(p) != 0 {
			return false
		}
	}
	return true
}

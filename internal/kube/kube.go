// Package kube is the Kubernetes backend of the suanli agent. Each run is
// one batch/v1 Job in Indexed completion mode in the tenant's namespace:
// one pod per replica, completions = parallelism = replicas, and
// backoffLimit 0, so one failed pod fails the whole gang.
//
// The backend keeps no state of its own. Every Job and pod it makes
// carries the run's key in the label suanli.io/key. Runs and Nodes read
// from informer caches filtered by that label, and after a restart the
// caches fill again from the cluster. Submit, Cancel and Forget write
// through the clientset.
//
// What Kubernetes does not give, and what the backend does instead:
//   - Gangs: the default kube-scheduler places a gang's pods one by one,
//     not all or none. Runs reports Running only once every replica has
//     started; until then a partly placed gang is Pending and holds what
//     it got. Set Config.SchedulerName to a gang scheduler where the
//     center has one.
//   - Heterogeneous replicas share one pod template, so each replica gets
//     the largest CPU, memory and accelerator count of any replica.
//   - MaxDuration becomes activeDeadlineSeconds, which counts from the
//     Job's start, time spent waiting for a node or for quota included.
//   - Pod and container times are whole seconds in the API, so start,
//     end and wall times are too.
//   - A cancelled Job is kept, suspended, as the record of the
//     cancellation until Forget: a deleted Job would vanish from Runs.
//
// What the agent's service account needs (RBAC):
//   - batch/jobs: get, list, watch, create, patch, delete
//   - pods: list, watch; pods/log: get
//   - nodes: list, watch
//   - events: list, watch
//   - namespaces: create, get; resourcequotas: get, create, update
package kube

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
)

// Labels and annotations the backend puts on its Jobs and pods. The key
// label is the one the informers select on; the others let an operator
// find a tenant's or a job's work with kubectl.
const (
	LabelKey     = "suanli.io/key"
	LabelJob     = "suanli.io/job"
	LabelAttempt = "suanli.io/attempt"
	LabelTenant  = "suanli.io/tenant"

	// AnnotationTenant keeps the tenant id as given; the label and the
	// namespace carry a sanitized form.
	AnnotationTenant = "suanli.io/tenant-id"
	// AnnotationCancelledAt marks a Job that Cancel stopped, with the time.
	// The Job stays (suspended, its pods deleted) as the record of the
	// cancellation until Forget deletes it.
	AnnotationCancelledAt = "suanli.io/cancelled-at"
	// AnnotationStartedAt is when the gang had started, written by Cancel:
	// suspending a Job clears its status.startTime.
	AnnotationStartedAt = "suanli.io/started-at"

	// DefaultModelLabel is the node label that names a node's accelerator
	// by its catalog name (core.Catalog), e.g. suanli.io/accel-model=A100.
	DefaultModelLabel = "suanli.io/accel-model"
	// DefaultNamespacePrefix starts every tenant namespace.
	DefaultNamespacePrefix = "suanli-"
	// DefaultImage runs the command. KWOK never pulls it.
	DefaultImage = "busybox"
	// DefaultFinishedTTL is how long a finished Job stays when the agent
	// never forgets it (ttlSecondsAfterFinished), so a lost agent does not
	// leak Jobs forever.
	DefaultFinishedTTL = 7 * 24 * time.Hour

	// containerName is the one container of every pod.
	containerName = "main"
	// quotaName is the tenant namespace's ResourceQuota.
	quotaName = "suanli-tenant"
	// keyIndex indexes Jobs and pods by their key label.
	keyIndex = "suanli-key"
	// uidIndex indexes events by the UID of the object they are about.
	uidIndex = "involved-uid"
	// namespacesSeenMax bounds the set of namespaces this process has
	// already set up; past it the set starts over (and namespaces are set
	// up again, which is idempotent).
	namespacesSeenMax = 10_000
	// cacheSyncTimeout bounds Start's wait for the informer caches.
	cacheSyncTimeout = 2 * time.Minute
)

// Vendor resource names the default Resources map uses.
const (
	ResourceNVIDIAGPU corev1.ResourceName = "nvidia.com/gpu"
	ResourceAscend    corev1.ResourceName = "huawei.com/Ascend910"
)

// Errors callers can test with errors.Is.
var (
	ErrNotStarted = errors.New("kube: backend not started")
	ErrNotFound   = errors.New("kube: no run with this key")
	ErrNotEnded   = errors.New("kube: run has not ended")
)

// Quota caps what one tenant may hold in the center at once, as a
// ResourceQuota in the tenant's namespace. A zero field is not limited; a
// zero Quota makes no ResourceQuota.
type Quota struct {
	CPUMilli int64
	MemMiB   int64
	// Accel limits accelerator resources by resource name, e.g.
	// {"nvidia.com/gpu": 16}.
	Accel map[corev1.ResourceName]int64
	// Pods limits the number of pods (replicas) at once.
	Pods int64
}

func (q Quota) zero() bool {
	return q.CPUMilli == 0 && q.MemMiB == 0 && len(q.Accel) == 0 && q.Pods == 0
}

// Config is what New needs. Only Client is required.
type Config struct {
	// Client talks to the cluster. fake.NewClientset() works in tests.
	Client kubernetes.Interface
	// NamespacePrefix starts each tenant's namespace (default "suanli-").
	NamespacePrefix string
	// Image runs the command (default "busybox").
	Image string
	// Resources maps a catalog model to the extended resource its devices
	// are requested by. Nil means DefaultResources().
	Resources map[string]corev1.ResourceName
	// ModelLabel is the node label that names a node's catalog model
	// exactly (default "suanli.io/accel-model"). Submit also pins a run to
	// nodes whose ModelLabel is one of the run's acceptable models, or
	// that have no such label.
	ModelLabel string
	// ProductLabels are vendor labels whose value contains the catalog
	// name, compared case-insensitively (default: nvidia.com/gpu.product,
	// accelerator). Nodes() reads them when ModelLabel is absent.
	ProductLabels []string
	// DefaultModel is the catalog model of accelerator nodes whose labels
	// name none, and of runs that accept any model.
	DefaultModel string
	// Quota is the per-tenant ResourceQuota, written when the backend
	// first uses the tenant's namespace.
	Quota Quota
	// Tolerations go on every pod, e.g. KWOK's
	// kwok.x-k8s.io/node=fake:NoSchedule.
	Tolerations []corev1.Toleration
	// NodeSelector restricts the nodes offered to suanli: Nodes() lists
	// only matching nodes and pods carry it as their nodeSelector.
	NodeSelector map[string]string
	// SchedulerName places the pods (empty: the default scheduler). Set it
	// to a gang-aware scheduler where the center has one.
	SchedulerName string
	// FinishedTTL deletes a finished Job this long after it ended even if
	// it was never forgotten (0: DefaultFinishedTTL; negative: never).
	FinishedTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// DefaultResources maps every catalog model to its vendor's device-plugin
// resource: NVIDIA models to nvidia.com/gpu, Huawei Ascend models to
// huawei.com/Ascend910.
func DefaultResources() map[string]corev1.ResourceName {
	out := make(map[string]corev1.ResourceName)
	for _, a := range core.Catalog() {
		switch a.Vendor {
		case "NVIDIA":
			out[a.Name] = ResourceNVIDIAGPU
		case "Huawei":
			out[a.Name] = ResourceAscend
		}
	}
	return out
}

// Backend runs suanli jobs as Kubernetes Jobs. Its methods are safe for
// concurrent use; Runs, Nodes, Logs, Cancel and Forget need Start first.
type Backend struct {
	cfg    Config
	client kubernetes.Interface

	// keyed lists Jobs and pods with the key label only; cluster lists
	// nodes; failures lists FailedCreate events of Jobs (how a quota
	// refusal shows: the Job controller cannot create the pods).
	keyed    informers.SharedInformerFactory
	cluster  informers.SharedInformerFactory
	failures informers.SharedInformerFactory

	jobs       cache.SharedIndexInformer
	pods       cache.SharedIndexInformer
	events     cache.SharedIndexInformer
	jobLister  batchlisters.JobLister
	nodeLister corelisters.NodeLister

	startMu sync.Mutex // serializes Start
	started atomic.Bool

	seenMu sync.Mutex
	seen   map[string]bool // namespaces set up by this process
}

var _ backend.Backend = (*Backend)(nil)

// New returns a backend; call Start before reading from it.
func New(cfg Config) (*Backend, error) {
	if cfg.Client == nil {
		return nil, errors.New("kube: config has no client")
	}
	cfg = withDefaults(cfg)
	if cfg.DefaultModel != "" {
		if _, ok := cfg.Resources[cfg.DefaultModel]; !ok {
			return nil, fmt.Errorf("kube: default model %q has no resource name", cfg.DefaultModel)
		}
	}
	b := &Backend{cfg: cfg, client: cfg.Client, seen: make(map[string]bool)}

	// A resync period of 0: the caches follow watch events only; nothing
	// here needs a periodic replay.
	b.keyed = informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = LabelKey }))
	b.cluster = informers.NewSharedInformerFactory(cfg.Client, 0)
	b.failures = informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = "involvedObject.kind=Job,reason=FailedCreate"
		}))

	jobs := b.keyed.Batch().V1().Jobs()
	pods := b.keyed.Core().V1().Pods()
	b.jobs, b.jobLister = jobs.Informer(), jobs.Lister()
	b.pods = pods.Informer()
	b.nodeLister = b.cluster.Core().V1().Nodes().Lister()
	b.events = b.failures.Core().V1().Events().Informer()
	byKey := cache.Indexers{keyIndex: func(obj any) ([]string, error) {
		m, err := metaOf(obj)
		if err != nil {
			return nil, err
		}
		return []string{m.GetLabels()[LabelKey]}, nil
	}}
	byUID := cache.Indexers{uidIndex: func(obj any) ([]string, error) {
		e, ok := obj.(*corev1.Event)
		if !ok {
			return nil, fmt.Errorf("kube: indexing %T as an event", obj)
		}
		return []string{string(e.InvolvedObject.UID)}, nil
	}}
	for inf, idx := range map[cache.SharedIndexInformer]cache.Indexers{b.jobs: byKey, b.pods: byKey, b.events: byUID} {
		if err := inf.AddIndexers(idx); err != nil {
			return nil, fmt.Errorf("kube: adding indexers: %w", err)
		}
	}
	return b, nil
}

func withDefaults(cfg Config) Config {
	if cfg.NamespacePrefix == "" {
		cfg.NamespacePrefix = DefaultNamespacePrefix
	}
	if cfg.Image == "" {
		cfg.Image = DefaultImage
	}
	if cfg.Resources == nil {
		cfg.Resources = DefaultResources()
	}
	if cfg.ModelLabel == "" {
		cfg.ModelLabel = DefaultModelLabel
	}
	if cfg.ProductLabels == nil {
		cfg.ProductLabels = []string{"nvidia.com/gpu.product", "accelerator"}
	}
	if cfg.FinishedTTL == 0 {
		cfg.FinishedTTL = DefaultFinishedTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg
}

// Start runs the informers until ctx is done and waits for their caches
// to fill. Calling it again is a no-op.
func (b *Backend) Start(ctx context.Context) error {
	b.startMu.Lock()
	defer b.startMu.Unlock()
	if b.started.Load() {
		return nil
	}
	for _, f := range []informers.SharedInformerFactory{b.keyed, b.cluster, b.failures} {
		f.Start(ctx.Done())
	}
	wait, cancel := context.WithTimeout(ctx, cacheSyncTimeout)
	defer cancel()
	for _, f := range []informers.SharedInformerFactory{b.keyed, b.cluster, b.failures} {
		for typ, ok := range f.WaitForCacheSync(wait.Done()) {
			if !ok {
				return fmt.Errorf("kube: informer cache for %v did not sync: %w", typ, context.Cause(wait))
			}
		}
	}
	b.started.Store(true)
	return nil
}

func (b *Backend) ready() error {
	if !b.started.Load() {
		return ErrNotStarted
	}
	return nil
}

// Nodes lists the center's nodes (those matching Config.NodeSelector)
// from the node cache, sorted by name.
func (b *Backend) Nodes(ctx context.Context) ([]backend.Node, error) {
	if err := b.ready(); err != nil {
		return nil, err
	}
	nodes, err := b.nodeLister.List(selectorOf(b.cfg.NodeSelector))
	if err != nil {
		return nil, fmt.Errorf("kube: listing nodes: %w", err)
	}
	out := make([]backend.Node, 0, len(nodes))
	for _, n := range nodes {
		out = append(out, b.nodeFor(n))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Runs lists every Job with a suanli key in the cache, sorted by key.
func (b *Backend) Runs(ctx context.Context) ([]backend.Status, error) {
	if err := b.ready(); err != nil {
		return nil, err
	}
	jobs, err := b.jobLister.List(selectorOf(nil))
	if err != nil {
		return nil, fmt.Errorf("kube: listing jobs: %w", err)
	}
	now := b.cfg.Now()
	out := make([]backend.Status, 0, len(jobs))
	for _, j := range jobs {
		st, ok := b.status(j, now)
		if ok {
			out = append(out, st)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.String() < out[j].Key.String() })
	return out, nil
}

// status maps one cached Job with its cached pods and events.
func (b *Backend) status(j *batchv1.Job, now time.Time) (backend.Status, bool) {
	return runStatus(j, b.podsOf(j), b.failedCreate(j), now)
}

// jobsByKey returns the cached Jobs with key k (normally one; two only if
// the same key was submitted under two tenants).
func (b *Backend) jobsByKey(k backend.Key) []*batchv1.Job {
	objs, err := b.jobs.GetIndexer().ByIndex(keyIndex, k.String())
	if err != nil {
		// ByIndex fails only for an unknown index name, a bug here.
		panic(fmt.Sprintf("kube: job index: %v", err))
	}
	out := make([]*batchv1.Job, 0, len(objs))
	for _, o := range objs {
		if j, ok := o.(*batchv1.Job); ok {
			out = append(out, j)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Namespace < out[j].Namespace })
	return out
}

// podsOf returns the cached pods of Job j: same key, same namespace, and
// owned by this Job (not by an earlier Job of the same name).
func (b *Backend) podsOf(j *batchv1.Job) []*corev1.Pod {
	objs, err := b.pods.GetIndexer().ByIndex(keyIndex, j.Labels[LabelKey])
	if err != nil {
		panic(fmt.Sprintf("kube: pod index: %v", err))
	}
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		p, ok := o.(*corev1.Pod)
		if !ok || p.Namespace != j.Namespace || !ownedBy(p, j) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func ownedBy(p *corev1.Pod, j *batchv1.Job) bool {
	for _, o := range p.OwnerReferences {
		if o.UID == j.UID {
			return true
		}
	}
	// The fake clientset sets no UIDs; accept a pod that names no owner.
	return j.UID == "" || len(p.OwnerReferences) == 0
}

// failedCreate returns the newest FailedCreate event of Job j, if any.
func (b *Backend) failedCreate(j *batchv1.Job) *corev1.Event {
	if j.UID == "" {
		return nil
	}
	objs, err := b.events.GetIndexer().ByIndex(uidIndex, string(j.UID))
	if err != nil {
		panic(fmt.Sprintf("kube: event index: %v", err))
	}
	var newest *corev1.Event
	for _, o := range objs {
		e, ok := o.(*corev1.Event)
		if ok && (newest == nil || eventTime(e).After(eventTime(newest))) {
			newest = e
		}
	}
	return newest
}

func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

func metaOf(obj any) (metav1.Object, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("kube: indexing %T, not an object", obj)
	}
	return m, nil
}

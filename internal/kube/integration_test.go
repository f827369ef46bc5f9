package kube_test

// Integration tests against a real kube-apiserver, kube-controller-manager
// and kube-scheduler with KWOK nodes (kubetest). They share one cluster,
// started by the first test that needs it, each in its own tenant
// namespace, and run in parallel. They skip when the binaries are absent
// (SUANLI_REQUIRE_REAL=1 makes that a failure).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/suanli/suanli/internal/backend"
	"github.com/suanli/suanli/internal/core"
	"github.com/suanli/suanli/internal/kube"
	"github.com/suanli/suanli/internal/kube/kubetest"
)

// waitMax bounds every wait on the cluster; runs here last seconds.
const waitMax = 45 * time.Second

var shared struct {
	once    sync.Once
	cluster *kubetest.Cluster
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cluster != nil {
		if err := shared.cluster.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}

// cluster returns the package's shared cluster, starting it once.
func cluster(t *testing.T) *kubetest.Cluster {
	t.Helper()
	kubetest.SkipUnlessAvailable(t)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		shared.cluster, shared.err = kubetest.New(ctx, kubetest.DefaultNodes)
		if shared.err == nil {
			fmt.Fprintf(os.Stderr, "kube: KWOK cluster %s up in %s\n", shared.cluster.Name, shared.cluster.StartTime.Round(time.Millisecond))
		}
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(shared.cluster.LogTail())
		}
	})
	return shared.cluster
}

// start returns a started backend on the shared cluster.
func start(t *testing.T, cfg kube.Config) *kube.Backend {
	t.Helper()
	c := cluster(t)
	cfg.Client = c.Clientset
	cfg.Tolerations = kubetest.Tolerations()
	b, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

// run is a run of tenant t (one namespace per test) with job id id.
func run(tenant, id string, spec core.JobSpec) backend.Run {
	if spec.MaxDuration == 0 {
		spec.MaxDuration = time.Minute
	}
	return backend.Run{Key: backend.Key{JobID: id, Attempt: 0}, TenantID: tenant, Spec: spec}
}

func cpu(n int) []core.Replica {
	out := make([]core.Replica, n)
	for i := range out {
		out[i] = core.Replica{CPUMilli: 1000, MemMiB: 1024}
	}
	return out
}

// waitFor polls Runs until run k satisfies ok, at most waitMax.
func waitFor(t *testing.T, b *kube.Backend, k backend.Key, what string, ok func(backend.Status) bool) backend.Status {
	t.Helper()
	deadline := time.Now().Add(waitMax)
	var last backend.Status
	for time.Now().Before(deadline) {
		runs, err := b.Runs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if r.Key == k {
				last = r
				if ok(r) {
					return r
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run %s not %s after %s: last %+v", k, what, waitMax, last)
	return last
}

func inState(s backend.State) func(backend.Status) bool {
	return func(st backend.Status) bool { return st.State == s }
}

func submit(t *testing.T, b *kube.Backend, r backend.Run) time.Time {
	t.Helper()
	began := time.Now()
	if _, err := b.Submit(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return began
}

// TestKubeCPUJobSucceeds: a one-replica CPU job declared to run 1 s goes
// Pending → Running → Succeeded, with a wall time near 1 s.
func TestKubeCPUJobSucceeds(t *testing.T) {
	t.Parallel()
	b := start(t, kube.Config{})
	r := run("t-cpu", "cpu-1", core.JobSpec{Replicas: cpu(1), Duration: time.Second})
	began := submit(t, b, r)
	waitFor(t, b, r.Key, "running", func(s backend.Status) bool { return s.State != backend.Pending })
	running := time.Since(began)
	st := waitFor(t, b, r.Key, "succeeded", inState(backend.Succeeded))
	done := time.Since(began)
	t.Logf("Submit→Running %s, Submit→Succeeded %s", running.Round(time.Millisecond), done.Round(time.Millisecond))
	if st.ExitCode == nil || *st.ExitCode != 0 || len(st.Replicas) != 1 {
		t.Fatalf("status = %+v, want exit 0 and one replica", st)
	}
	if w := st.Replicas[0].WallMs; w < 900 || w > 5000 {
		t.Errorf("wall = %d ms, want about 1000", w)
	}
	if st.StartedAt.IsZero() || !st.EndedAt.After(st.StartedAt) {
		t.Errorf("started %v, ended %v", st.StartedAt, st.EndedAt)
	}
	logs, err := b.Logs(context.Background(), r.Key, 1024)
	if err != nil {
		t.Fatalf("Logs = %v, want a note rather than an error", err)
	}
	t.Logf("Logs under KWOK: %q", logs)
	if err := b.Forget(context.Background(), r.Key); err != nil {
		t.Fatal(err)
	}
	waitGone(t, b, r.Key)

	// A second run in the now existing namespace, for the latency alone.
	r2 := run("t-cpu", "cpu-2", core.JobSpec{Replicas: cpu(1), Duration: time.Second})
	began = submit(t, b, r2)
	waitFor(t, b, r2.Key, "running", func(s backend.Status) bool { return s.State != backend.Pending })
	running = time.Since(began)
	waitFor(t, b, r2.Key, "succeeded", inState(backend.Succeeded))
	t.Logf("second run: Submit→Running %s, Submit→Succeeded %s", running.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// waitGone polls Runs until run k is no longer listed, at most waitMax.
func waitGone(t *testing.T, b *kube.Backend, k backend.Key) {
	t.Helper()
	deadline := time.Now().Add(waitMax)
	for time.Now().Before(deadline) {
		runs, err := b.Runs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range runs {
			found = found || r.Key == k
		}
		if !found {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run %s still listed %s after Forget", k, waitMax)
}

// TestKubeGangA100: two replicas with two A100 each run on the A100
// nodes and succeed with two replica statuses.
func TestKubeGangA100(t *testing.T) {
	t.Parallel()
	b := start(t, kube.Config{})
	c := cluster(t)
	reps := []core.Replica{
		{AccelModels: []string{"A100"}, AccelCount: 2, CPUMilli: 4000, MemMiB: 8192},
		{AccelModels: []string{"A100"}, AccelCount: 2, CPUMilli: 4000, MemMiB: 8192},
	}
	r := run("t-gang", "gang-1", core.JobSpec{Replicas: reps, Duration: time.Second})
	submit(t, b, r)
	name := kube.JobName(r.Key)
	st := waitFor(t, b, r.Key, "succeeded", inState(backend.Succeeded))
	if st.BackendID != name || len(st.Replicas) != 2 {
		t.Fatalf("status = %+v, want 2 replicas of %s", st, name)
	}
	for i, rs := range st.Replicas {
		if rs.Index != i || rs.ExitCode == nil || *rs.ExitCode != 0 || rs.WallMs < 900 {
			t.Errorf("replica %d = %+v, want exit 0 after about 1 s", i, rs)
		}
	}
	pods, err := c.Clientset.CoreV1().Pods(b.Namespace("t-gang")).List(context.Background(), metav1.ListOptions{LabelSelector: kube.LabelKey + "=" + r.Key.String()})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		gpu := p.Spec.Containers[0].Resources.Limits[kube.ResourceNVIDIAGPU]
		if !strings.HasPrefix(p.Spec.NodeName, "a100-") || gpu.Value() != 2 {
			t.Errorf("pod %s on %q with %s GPUs, want an A100 node and 2", p.Name, p.Spec.NodeName, gpu.String())
		}
	}
}

// TestKubeExitCode: a run declared to exit 3 fails with exit code 3.
func TestKubeExitCode(t *testing.T) {
	t.Parallel()
	b := start(t, kube.Config{})
	r := run("t-exit", "exit-3", core.JobSpec{Replicas: cpu(2), Duration: time.Second, ExitCode: 3})
	submit(t, b, r)
	st := waitFor(t, b, r.Key, "failed", func(s backend.Status) bool { return s.State.Terminal() })
	if st.State != backend.Failed || st.ExitCode == nil || *st.ExitCode != 3 {
		t.Fatalf("status = %+v (exit %v), want failed with exit code 3", st, st.ExitCode)
	}
	t.Logf("failed: %s", st.Reason)
}

// TestKubeCancel: cancelling a 60 s run ends it Cancelled; it stays
// listed as Cancelled, its pods go away, and Forget removes it.
func TestKubeCancel(t *testing.T) {
	t.Parallel()
	b := start(t, kube.Config{})
	c := cluster(t)
	r := run("t-cancel", "cancel-1", core.JobSpec{Replicas: cpu(2), Duration: time.Minute})
	submit(t, b, r)
	waitFor(t, b, r.Key, "running", inState(backend.Running))
	ctx := context.Background()
	if err := b.Cancel(ctx, r.Key); err != nil {
		t.Fatal(err)
	}
	st := waitFor(t, b, r.Key, "cancelled", inState(backend.Cancelled))
	if st.StartedAt.IsZero() || st.EndedAt.Before(st.StartedAt) {
		t.Errorf("cancelled run started %v ended %v", st.StartedAt, st.EndedAt)
	}
	deadline := time.Now().Add(waitMax)
	for {
		pods, err := c.Clientset.CoreV1().Pods(b.Namespace("t-cancel")).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelKey + "=" + r.Key.String()})
		if err != nil {
			t.Fatal(err)
		}
		if len(pods.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pods left %s after Cancel", len(pods.Items), waitMax)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Still Cancelled with the pods gone, and Cancel again is a no-op.
	if err := b.Cancel(ctx, r.Key); err != nil {
		t.Fatal(err)
	}
	st = waitFor(t, b, r.Key, "cancelled", inState(backend.Cancelled))
	t.Logf("cancelled: %+v", st)
	if err := b.Forget(ctx, r.Key); err != nil {
		t.Fatal(err)
	}
	waitGone(t, b, r.Key)
}

// TestKubeSubmitTwice: the same key submitted twice, and again through a
// second backend, makes one Job.
func TestKubeSubmitTwice(t *testing.T) {
	t.Parallel()
	b := start(t, kube.Config{})
	b2 := start(t, kube.Config{})
	r := run("t-twice", "twice-1", core.JobSpec{Replicas: cpu(1), Duration: 2 * time.Second})
	ctx := context.Background()
	var names []string
	for _, be := range []*kube.Backend{b, b, b2} {
		name, err := be.Submit(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	if names[0] != names[1] || names[1] != names[2] {
		t.Errorf("names = %v, want one", names)
	}
	jobs, err := cluster(t).Clientset.BatchV1().Jobs("").List(ctx, metav1.ListOptions{LabelSelector: kube.LabelKey + "=" + r.Key.String()})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 1 {
		t.Errorf("%d jobs, want 1", len(jobs.Items))
	}
	waitFor(t, b, r.Key, "ended", func(s backend.Status) bool { return s.State.Terminal() })
}

// TestKubeTimeout: a run declared to take 60 s with a 2 s limit times out
// (the Job's DeadlineExceeded).
func TestKubeTimeout(t *testing.T) {
	t.Parallel()
	b := start(t, kube.Config{})
	r := run("t-timeout", "timeout-1", core.JobSpec{Replicas: cpu(1), Duration: time.Minute, MaxDuration: 2 * time.Second})
	began := submit(t, b, r)
	st := waitFor(t, b, r.Key, "ended", func(s backend.Status) bool { return s.State.Terminal() })
	if st.State != backend.TimedOut {
		t.Fatalf("status = %+v, want timed out", st)
	}
	t.Logf("timed out after %s: %s; replicas %+v", time.Since(began).Round(time.Millisecond), st.Reason, st.Replicas)
}

// TestKubeQuota: a run that asks for more GPUs than the tenant's quota
// stays Pending, with the quota refusal as its reason: the Job controller
// cannot create the pod and says so in a FailedCreate event.
func TestKubeQuota(t *testing.T) {
	t.Parallel()
	b := start(t, kube.Config{Quota: kube.Quota{CPUMilli: 16000, MemMiB: 64 << 10, Accel: map[corev1.ResourceName]int64{kube.ResourceNVIDIAGPU: 4}}})
	ctx := context.Background()
	small := run("t-quota", "quota-ok", core.JobSpec{Replicas: []core.Replica{{AccelModels: []string{"A100"}, AccelCount: 4, CPUMilli: 1000, MemMiB: 1024}}, Duration: time.Second})
	big := run("t-quota", "quota-big", core.JobSpec{Replicas: []core.Replica{{AccelModels: []string{"A100"}, AccelCount: 8, CPUMilli: 1000, MemMiB: 1024}}, Duration: time.Second})
	submit(t, b, small)
	waitFor(t, b, small.Key, "succeeded", inState(backend.Succeeded))
	submit(t, b, big)
	st := waitFor(t, b, big.Key, "refused by the quota", func(s backend.Status) bool { return strings.Contains(s.Reason, "exceeded quota") })
	if st.State != backend.Pending {
		t.Errorf("state = %s, want pending", st.State)
	}
	t.Logf("quota refusal: %s", st.Reason)
	if err := b.Cancel(ctx, big.Key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, b, big.Key, "cancelled", inState(backend.Cancelled))
}

// TestKubeNodes: Nodes lists the fake nodes with their catalog models and
// devices; a cordoned node is not ready.
func TestKubeNodes(t *testing.T) {
	t.Parallel()
	b := start(t, kube.Config{})
	c := cluster(t)
	ctx := context.Background()
	want := map[string]backend.Node{
		"a100-0":   {Name: "a100-0", CPUMilli: 32000, MemMiB: 256 << 10, AccelModel: "A100", AccelCount: 8, Ready: true},
		"a100-1":   {Name: "a100-1", CPUMilli: 32000, MemMiB: 256 << 10, AccelModel: "A100", AccelCount: 8, Ready: true},
		"ascend-0": {Name: "ascend-0", CPUMilli: 32000, MemMiB: 256 << 10, AccelModel: "Ascend910B", AccelCount: 8, Ready: true},
	}
	nodes, err := b.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if w, ok := want[n.Name]; ok && n != w {
			t.Errorf("node %+v, want %+v", n, w)
		}
		delete(want, n.Name)
	}
	if len(want) != 0 {
		t.Errorf("nodes missing: %v", want)
	}
	// Cordon the Ascend node: the other tests use CPUs and A100s.
	if err := c.Cordon(ctx, "ascend-0", true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Cordon(context.Background(), "ascend-0", false); err != nil {
			t.Error(err)
		}
	})
	deadline := time.Now().Add(waitMax)
	for {
		nodes, err := b.Nodes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if n.Name == "ascend-0" && !n.Ready {
				t.Logf("cordoned: %+v", n)
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal(errors.New("cordoned node still ready"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

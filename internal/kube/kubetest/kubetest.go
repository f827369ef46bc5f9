// Package kubetest starts a real Kubernetes control plane for tests: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler built from
// the Go module proxy (scripts/build-k8s.sh), with KWOK simulating the
// nodes and pods. Jobs are created, scheduled and completed by the real
// controllers; KWOK plays the kubelets, following kube.KwokStages, so a
// pod runs for its run's declared duration and exits with its declared
// code.
//
// Clusters are isolated: each has its own name, work directory and
// random ports, so several test binaries (go test ./... runs packages in
// parallel) may each start one. At most SUANLI_KWOK_SLOTS (default 2)
// run at once on a machine; the others wait for a slot (a file lock, so a
// crashed test frees its slot). A cluster left behind by a killed test is
// deleted by the next Start.
package kubetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/suanli/suanli/internal/kube"
)

// Environment variables.
const (
	// EnvBin names the directory with the binaries (default
	// $HOME/.cache/suanli/k8s-1.37.2, where scripts/build-k8s.sh puts them).
	EnvBin = "SUANLI_K8S_BIN"
	// EnvRequire=1 makes a missing binary fail the test instead of
	// skipping it (set it in CI once the binaries are built).
	EnvRequire = "SUANLI_REQUIRE_REAL"
	// EnvSlots is how many clusters may run at once on this machine.
	EnvSlots = "SUANLI_KWOK_SLOTS"
	// EnvKeep=1 keeps the work directory after the cluster is deleted,
	// with the components' logs copied to WORKDIR/logs.
	EnvKeep = "SUANLI_KWOK_KEEP"
)

// Limits. Every wait is bounded.
const (
	slotsDefault  = 2
	slotWaitMax   = 10 * time.Minute
	createTimeout = 3 * time.Minute
	deleteTimeout = time.Minute
	nodeReadyMax  = time.Minute
	pollEvery     = 100 * time.Millisecond
	namePrefix    = "sl-"
	logTailLines  = 30
)

// binaries are what a cluster needs in the bin directory.
var binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kwokctl"}

// NodeSpec is one fake node.
type NodeSpec struct {
	Name       string
	Labels     map[string]string
	CPU        string // allocatable CPU quantity, e.g. "32"
	Memory     string // allocatable memory quantity, e.g. "256Gi"
	Accel      corev1.ResourceName
	AccelCount int64
}

// DefaultNodes are two NVIDIA A100 nodes and one Huawei Ascend 910B node,
// each with 8 devices, 32 CPUs and 256 GiB. They carry both the catalog
// label (suanli.io/accel-model) and the vendor's product label.
var DefaultNodes = []NodeSpec{
	{Name: "a100-0", CPU: "32", Memory: "256Gi", Accel: kube.ResourceNVIDIAGPU, AccelCount: 8,
		Labels: map[string]string{"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", kube.DefaultModelLabel: "A100"}},
	{Name: "a100-1", CPU: "32", Memory: "256Gi", Accel: kube.ResourceNVIDIAGPU, AccelCount: 8,
		Labels: map[string]string{"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", kube.DefaultModelLabel: "A100"}},
	{Name: "ascend-0", CPU: "32", Memory: "256Gi", Accel: kube.ResourceAscend, AccelCount: 8,
		Labels: map[string]string{"accelerator": "huawei-Ascend910", kube.DefaultModelLabel: "Ascend910B"}},
}

// Taint is on every fake node, so only pods that tolerate it land there.
var Taint = corev1.Taint{Key: "kwok.x-k8s.io/node", Value: "fake", Effect: corev1.TaintEffectNoSchedule}

// Tolerations let a pod onto the fake nodes; pass them as
// kube.Config.Tolerations.
func Tolerations() []corev1.Toleration {
	return []corev1.Toleration{{Key: Taint.Key, Operator: corev1.TolerationOpEqual, Value: Taint.Value, Effect: Taint.Effect}}
}

// Cluster is a running KWOK cluster.
type Cluster struct {
	Name       string
	Workdir    string // kwokctl's work directory: logs under clusters/NAME/logs
	Kubeconfig string // path of an admin kubeconfig
	Config     *rest.Config
	Clientset  *kubernetes.Clientset
	Nodes      []NodeSpec
	// StartTime is how long New took, nodes Ready included.
	StartTime time.Duration

	bin   string
	slot  *os.File
	close sync.Once
	err   error
}

// BinDir is the directory the binaries are taken from.
func BinDir() string {
	if d := os.Getenv(EnvBin); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "/root"
	}
	return filepath.Join(home, ".cache", "suanli", "k8s-1.37.2")
}

// Available reports why clusters cannot start here (nil when they can).
func Available() error {
	dir := BinDir()
	for _, b := range binaries {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil {
			return fmt.Errorf("kubetest: %s missing in %s (build with scripts/build-k8s.sh): %w", b, dir, err)
		}
		if fi.Mode()&0o111 == 0 {
			return fmt.Errorf("kubetest: %s in %s is not executable", b, dir)
		}
	}
	return nil
}

// Start starts a cluster with DefaultNodes and deletes it when the test
// ends. It skips the test when the binaries are missing, unless
// SUANLI_REQUIRE_REAL=1.
func Start(t testing.TB) *Cluster { return StartWith(t, DefaultNodes) }

// StartWith is Start with the given fake nodes.
func StartWith(t testing.TB, nodes []NodeSpec) *Cluster {
	t.Helper()
	SkipUnlessAvailable(t)
	ctx, cancel := context.WithTimeout(context.Background(), slotWaitMax+createTimeout+nodeReadyMax)
	defer cancel()
	c, err := New(ctx, nodes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.LogTail())
		}
		if err := c.Close(); err != nil {
			t.Errorf("deleting cluster %s: %v", c.Name, err)
		}
	})
	return c
}

// SkipUnlessAvailable skips t when clusters cannot start here, or fails
// it when SUANLI_REQUIRE_REAL=1.
func SkipUnlessAvailable(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%v (%s=1)", err, EnvRequire)
		}
		t.Skip(err)
	}
}

var seq atomic.Int64

// New starts a cluster with the given fake nodes and waits until they are
// Ready. The caller must Close it. TestMain can use New where there is no
// testing.TB.
func New(ctx context.Context, nodes []NodeSpec) (*Cluster, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	began := time.Now()
	root := filepath.Join(os.TempDir(), "suanli-kwok")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("kubetest: %w", err)
	}
	sweep(root)
	slot, err := acquireSlot(ctx, root)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		Name:  fmt.Sprintf("%s%d-%d", namePrefix, os.Getpid(), seq.Add(1)),
		Nodes: nodes,
		bin:   BinDir(),
		slot:  slot,
	}
	c.Workdir = filepath.Join(root, c.Name)
	c.Kubeconfig = filepath.Join(c.Workdir, "kubeconfig")
	if err := c.create(ctx); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.addNodes(ctx); err != nil {
		err = fmt.Errorf("%w\n%s", err, c.LogTail())
		c.Close()
		return nil, err
	}
	c.StartTime = time.Since(began)
	return c, nil
}

// create runs kwokctl; a failure (say, a port taken between kwokctl
// picking it and the component binding it) is retried once.
func (c *Cluster) create(ctx context.Context) error {
	if err := os.MkdirAll(c.Workdir, 0o755); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.Workdir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	stages := filepath.Join(c.Workdir, "stages.yaml")
	if err := os.WriteFile(stages, []byte(kube.KwokStages), 0o644); err != nil {
		return fmt.Errorf("kubetest: %w", err)
	}
	b := func(name string) string { return filepath.Join(c.bin, name) }
	args := []string{
		"--config", stages, "create", "cluster", "--name", c.Name, "--runtime", "binary",
		"--kubeconfig", c.Kubeconfig, "--wait", "2m", "--kube-admission", "--disable-qps-limits",
		// Every binary is given: kwokctl would download the missing ones.
		"--etcd-binary", b("etcd"), "--kube-apiserver-binary", b("kube-apiserver"),
		"--kube-controller-manager-binary", b("kube-controller-manager"),
		"--kube-scheduler-binary", b("kube-scheduler"), "--kwok-controller-binary", b("kwok"),
	}
	// kwokctl picks each component's port by counting down from a fixed
	// number to the first free one, so two clusters created at once get
	// the same ports. Creating one at a time (a machine-wide lock, held
	// until the components listen) keeps them apart.
	lock, err := tryLock(ctx, filepath.Join(filepath.Dir(c.Workdir), "create.lock"), createTimeout)
	if err != nil {
		return err
	}
	defer lock.Close()
	for attempt := 0; attempt < 2; attempt++ {
		var out string
		out, err = c.kwokctl(ctx, createTimeout, args...)
		if err == nil {
			break
		}
		err = fmt.Errorf("kubetest: kwokctl create cluster %s: %w\n%s", c.Name, err, lastLines(out, logTailLines))
		if _, derr := c.kwokctl(ctx, deleteTimeout, "delete", "cluster", "--name", c.Name, "--kubeconfig", c.Kubeconfig); derr != nil {
			return errors.Join(err, derr)
		}
	}
	if err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubetest: reading kubeconfig: %w", err)
	}
	// The default 5 QPS would make a test's polling throttle itself.
	cfg.QPS, cfg.Burst = 200, 400
	c.Config = cfg
	if c.Clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return fmt.Errorf("kubetest: client: %w", err)
	}
	return nil
}

func (c *Cluster) kwokctl(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "kwokctl"), args...)
	cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+c.Workdir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// addNodes creates the fake nodes and waits until KWOK has made them Ready.
func (c *Cluster) addNodes(ctx context.Context) error {
	for _, spec := range c.Nodes {
		n, err := nodeObject(spec)
		if err != nil {
			return err
		}
		if _, err := c.Clientset.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("kubetest: creating node %s: %w", spec.Name, err)
		}
	}
	deadline := time.Now().Add(nodeReadyMax)
	for {
		ready, err := c.readyNodes(ctx)
		if err != nil {
			return err
		}
		if ready == len(c.Nodes) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kubetest: %d of %d nodes Ready after %s", ready, len(c.Nodes), nodeReadyMax)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

func (c *Cluster) readyNodes(ctx context.Context) (int, error) {
	list, err := c.Clientset.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, fmt.Errorf("kubetest: listing nodes: %w", err)
	}
	ready := 0
	for _, n := range list.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	return ready, nil
}

func nodeObject(s NodeSpec) (*corev1.Node, error) {
	res := corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}
	for name, q := range map[corev1.ResourceName]string{corev1.ResourceCPU: s.CPU, corev1.ResourceMemory: s.Memory} {
		v, err := resource.ParseQuantity(q)
		if err != nil {
			return nil, fmt.Errorf("kubetest: node %s %s: %w", s.Name, name, err)
		}
		res[name] = v
	}
	if s.AccelCount > 0 {
		res[s.Accel] = *resource.NewQuantity(s.AccelCount, resource.DecimalSI)
	}
	labels := map[string]string{"kubernetes.io/hostname": s.Name, "kubernetes.io/os": "linux", "type": "kwok"}
	for k, v := range s.Labels {
		labels[k] = v
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   s.Name,
			Labels: labels,
			// kwokctl runs the kwok controller to manage nodes with this
			// annotation only.
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		},
		Spec:   corev1.NodeSpec{Taints: []corev1.Taint{Taint}},
		Status: corev1.NodeStatus{Allocatable: res, Capacity: res.DeepCopy()},
	}, nil
}

// Cordon marks a node unschedulable (or schedulable again).
func (c *Cluster) Cordon(ctx context.Context, node string, cordoned bool) error {
	patch := fmt.Appendf(nil, `{"spec":{"unschedulable":%t}}`, cordoned)
	if _, err := c.Clientset.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("kubetest: cordoning %s: %w", node, err)
	}
	return nil
}

// LogTail is the end of each component's log, for a failed test's output.
func (c *Cluster) LogTail() string {
	dir := filepath.Join(c.Workdir, "clusters", c.Name, "logs")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Sprintf("kubetest: no logs: %v", err)
	}
	var b strings.Builder
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "==> %s <==\n%s\n", e.Name(), lastLines(string(data), logTailLines))
	}
	return b.String()
}

// Close deletes the cluster and frees its slot. It is idempotent.
func (c *Cluster) Close() error {
	c.close.Do(func() {
		defer c.slot.Close() // closing the file drops the lock
		if _, err := os.Stat(c.Workdir); err != nil {
			return // create failed before making anything
		}
		keep := os.Getenv(EnvKeep) == "1"
		if keep {
			// kwokctl delete removes the cluster's directory, logs too.
			logs := filepath.Join(c.Workdir, "clusters", c.Name, "logs")
			_ = os.CopyFS(filepath.Join(c.Workdir, "logs"), os.DirFS(logs)) // best effort: debugging aid
			_ = os.WriteFile(filepath.Join(c.Workdir, "kept"), nil, 0o644)  // sweep leaves it alone
		}
		out, err := c.kwokctl(context.Background(), deleteTimeout, "delete", "cluster", "--name", c.Name, "--kubeconfig", c.Kubeconfig)
		if err != nil {
			c.err = fmt.Errorf("kubetest: kwokctl delete cluster %s: %w\n%s", c.Name, err, lastLines(out, logTailLines))
			return // keep the work directory, so the next sweep retries
		}
		if !keep {
			c.err = os.RemoveAll(c.Workdir)
		}
	})
	return c.err
}

// acquireSlot takes one of the machine's cluster slots: an exclusive lock
// on root/slot-N.lock, held until the file is closed or the process dies.
func acquireSlot(ctx context.Context, root string) (*os.File, error) {
	slots := slotsDefault
	if n, err := strconv.Atoi(os.Getenv(EnvSlots)); err == nil && n > 0 {
		slots = n
	}
	deadline := time.Now().Add(slotWaitMax)
	for {
		for i := range slots {
			f, err := lockNow(filepath.Join(root, fmt.Sprintf("slot-%d.lock", i)))
			if err != nil {
				return nil, err
			}
			if f != nil {
				return f, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("kubetest: no free cluster slot of %d after %s (%s)", slots, slotWaitMax, EnvSlots)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// tryLock takes the exclusive lock on path, waiting at most wait.
func tryLock(ctx context.Context, path string, wait time.Duration) (*os.File, error) {
	deadline := time.Now().Add(wait)
	for {
		f, err := lockNow(path)
		if err != nil || f != nil {
			return f, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("kubetest: %s still locked after %s", path, wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// lockNow takes the exclusive lock on path if it is free: nil, nil when
// another process holds it.
func lockNow(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kubetest: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("kubetest: locking %s: %w", path, err)
	}
	return f, nil
}

// sweep deletes clusters whose test process has died (killed on timeout,
// say): their kwokctl-started components would otherwise run forever.
func sweep(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), namePrefix) {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "kept")); err == nil {
			continue // kept for debugging (SUANLI_KWOK_KEEP=1); remove by hand
		}
		data, err := os.ReadFile(filepath.Join(dir, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || alive(pid) {
			continue
		}
		stale := &Cluster{Name: e.Name(), Workdir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig"), bin: BinDir()}
		if _, err := stale.kwokctl(context.Background(), deleteTimeout, "delete", "cluster", "--name", stale.Name, "--kubeconfig", stale.Kubeconfig); err == nil {
			_ = os.RemoveAll(dir) // best effort: a leftover directory is swept again next time
		}
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

package kube

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/suanli/suanli/internal/backend"
)

func sleepTick() { time.Sleep(10 * time.Millisecond) }

// waitState polls Runs until run k is in state want (5 s at most).
func waitState(t *testing.T, b *Backend, k backend.Key, want backend.State) backend.Status {
	t.Helper()
	var last backend.Status
	for range 500 {
		runs, err := b.Runs(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if r.Key == k {
				last = r
			}
		}
		if last.State == want {
			return last
		}
		sleepTick()
	}
	t.Fatalf("run %s is %q (%s), want %s", k, last.State, last.Reason, want)
	return last
}

// addPods creates the gang's pods as the Job controller would, running.
func addPods(t *testing.T, b *Backend, r backend.Run) {
	t.Helper()
	ns := b.Namespace(r.TenantID)
	for i := range r.Spec.Replicas {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: JobName(r.Key) + "-" + strconv.Itoa(i), Namespace: ns,
				Labels:      map[string]string{LabelKey: r.Key.String()},
				Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: strconv.Itoa(i)}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: containerName,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(time.Now().Add(-time.Second))}}}}},
		}
		if _, err := b.client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCancelForget: Cancel marks and suspends the Job, which then shows
// as Cancelled (with the gang's start kept) until Forget deletes it;
// Forget refuses a live run; both are idempotent.
func TestCancelForget(t *testing.T) {
	ctx := context.Background()
	b, client := newFake(t, Config{})
	r := gpuGang()
	if _, err := b.Submit(ctx, r); err != nil {
		t.Fatal(err)
	}
	addPods(t, b, r)
	waitState(t, b, r.Key, backend.Running)
	if err := b.Forget(ctx, r.Key); !errors.Is(err, ErrNotEnded) {
		t.Fatalf("Forget of a running run = %v, want ErrNotEnded", err)
	}
	for range 2 {
		if err := b.Cancel(ctx, r.Key); err != nil {
			t.Fatal(err)
		}
	}
	st := waitState(t, b, r.Key, backend.Cancelled)
	if st.EndedAt.IsZero() || st.StartedAt.IsZero() {
		t.Errorf("cancelled run started %v ended %v, want both", st.StartedAt, st.EndedAt)
	}
	j, err := client.BatchV1().Jobs(b.Namespace(r.TenantID)).Get(ctx, JobName(r.Key), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Spec.Suspend == nil || !*j.Spec.Suspend || j.Annotations[AnnotationStartedAt] == "" {
		t.Errorf("cancelled job suspend=%v annotations=%v", j.Spec.Suspend, j.Annotations)
	}
	for range 2 {
		if err := b.Forget(ctx, r.Key); err != nil {
			t.Fatal(err)
		}
	}
	waitRuns(t, b, 0)
	if err := b.Cancel(ctx, backend.Key{JobID: "unknown", Attempt: 0}); err != nil {
		t.Errorf("Cancel of an unknown run = %v, want nil", err)
	}
}

// TestLogs: one header per replica; the fake clientset answers every log
// request with "fake logs"; a replica without a pod gets a note.
func TestLogs(t *testing.T) {
	ctx := context.Background()
	b, _ := newFake(t, Config{})
	r := gpuGang()
	if _, err := b.Logs(ctx, r.Key, 100); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Logs of an unknown run = %v, want ErrNotFound", err)
	}
	if _, err := b.Submit(ctx, r); err != nil {
		t.Fatal(err)
	}
	addPods(t, b, r)
	waitState(t, b, r.Key, backend.Running)
	got, err := b.Logs(ctx, r.Key, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := "==> replica 0 <==\nfake logs\n==> replica 1 <==\nfake logs\n"; got != want {
		t.Errorf("Logs = %q, want %q", got, want)
	}
	if got, _ := b.Logs(ctx, r.Key, 4); !strings.Contains(got, "\nlogs\n") {
		t.Errorf("Logs cut to 4 bytes = %q, want the last 4 bytes of each", got)
	}
}

func TestTail(t *testing.T) {
	text := strings.Repeat("0123456789", 10_000)
	for _, n := range []int{1, 7, 100, 99_999, 100_000, 200_000} {
		got, err := tail(iotest.HalfReader(strings.NewReader(text)), n)
		if err != nil {
			t.Fatal(err)
		}
		want := text[max(0, len(text)-n):]
		if got != want {
			t.Errorf("tail(%d) = %d bytes ending %q, want %d bytes", n, len(got), got[max(0, len(got)-10):], len(want))
		}
	}
}

func TestNotStarted(t *testing.T) {
	b, err := New(Config{Client: fake.NewClientset()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Runs(context.Background()); !errors.Is(err, ErrNotStarted) {
		t.Errorf("Runs before Start = %v, want ErrNotStarted", err)
	}
}

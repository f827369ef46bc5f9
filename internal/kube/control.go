package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/suanli/suanli/internal/backend"
)

// Log limits. A replica's log is read from its last logTailLines lines and
// at most logReadBytesMax bytes, and only the last maxBytes are kept.
const (
	logBytesMax     = 1 << 20 // cap on Logs' maxBytes per replica
	logBytesDefault = 64 << 10
	logTailLines    = 10_000
	logReadBytesMax = 16 << 20
	logChunkBytes   = 32 << 10
)

// findJobs returns the Jobs with key k: from the cache, or from the API
// when the cache has none yet (a Job created moments ago).
func (b *Backend) findJobs(ctx context.Context, k backend.Key) ([]*batchv1.Job, error) {
	if js := b.jobsByKey(k); len(js) > 0 {
		return js, nil
	}
	list, err := b.client.BatchV1().Jobs(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: LabelKey + "=" + k.String()})
	if err != nil {
		return nil, fmt.Errorf("kube: listing jobs of %s: %w", k, err)
	}
	out := make([]*batchv1.Job, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out, nil
}

// Cancel stops the run: it marks the Job with AnnotationCancelledAt (and
// the gang's start, which suspension clears) and suspends it, in one
// patch. The Job controller then deletes the pods. The Job itself stays as
// the record that the run was cancelled, so Runs reports Cancelled until
// Forget deletes it. Unknown, ended and already cancelled runs are left
// alone.
func (b *Backend) Cancel(ctx context.Context, k backend.Key) error {
	if err := b.ready(); err != nil {
		return err
	}
	jobs, err := b.findJobs(ctx, k)
	if err != nil {
		return err
	}
	now := b.cfg.Now()
	for _, j := range jobs {
		st, ok := runStatus(j, b.podsOf(j), nil, now)
		if ok && (st.State.Terminal() || j.Annotations[AnnotationCancelledAt] != "") {
			continue
		}
		ann := map[string]string{AnnotationCancelledAt: now.UTC().Format(time.RFC3339Nano)}
		if ok && st.State == backend.Running && !st.StartedAt.IsZero() {
			ann[AnnotationStartedAt] = st.StartedAt.UTC().Format(time.RFC3339Nano)
		}
		patch, err := json.Marshal(map[string]any{
			"metadata": map[string]any{"annotations": ann},
			"spec":     map[string]any{"suspend": true},
		})
		if err != nil {
			return fmt.Errorf("kube: encoding cancel patch: %w", err)
		}
		_, err = b.client.BatchV1().Jobs(j.Namespace).Patch(ctx, j.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("kube: cancelling %s (%s/%s): %w", k, j.Namespace, j.Name, err)
		}
	}
	return nil
}

// Forget deletes an ended run's Job; the garbage collector deletes its
// pods. It refuses a run that has not ended (ErrNotEnded) so a stale
// caller cannot kill a live run; unknown runs are not an error.
func (b *Backend) Forget(ctx context.Context, k backend.Key) error {
	if err := b.ready(); err != nil {
		return err
	}
	jobs, err := b.findJobs(ctx, k)
	if err != nil {
		return err
	}
	now := b.cfg.Now()
	for _, j := range jobs {
		if st, ok := runStatus(j, b.podsOf(j), nil, now); ok && !st.State.Terminal() {
			return fmt.Errorf("kube: forgetting %s in state %s: %w", k, st.State, ErrNotEnded)
		}
	}
	for _, j := range jobs {
		err := b.client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{
			PropagationPolicy: ptr.To(metav1.DeletePropagationBackground),
			Preconditions:     &metav1.Preconditions{UID: uidOrNil(j)},
		})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("kube: deleting job %s/%s: %w", j.Namespace, j.Name, err)
		}
	}
	return nil
}

// uidOrNil makes Forget delete exactly the Job it looked at (not a new Job
// of the same name); the fake clientset sets no UIDs.
func uidOrNil(j *batchv1.Job) *types.UID {
	if j.UID == "" {
		return nil
	}
	return ptr.To(j.UID)
}

// Logs returns the last maxBytes of each replica's log (maxBytes <= 0
// means 64 KiB; at most 1 MiB), under "==> replica N <==" headers when the
// gang has several replicas. A replica whose log the cluster cannot give
// (no pod yet, pod deleted, no kubelet log as under KWOK) gets a one-line
// note instead, so one missing log does not hide the others.
func (b *Backend) Logs(ctx context.Context, k backend.Key, maxBytes int) (string, error) {
	if err := b.ready(); err != nil {
		return "", err
	}
	if maxBytes <= 0 {
		maxBytes = logBytesDefault
	}
	maxBytes = min(maxBytes, logBytesMax)
	jobs, err := b.findJobs(ctx, k)
	if err != nil {
		return "", err
	}
	if len(jobs) == 0 {
		return "", fmt.Errorf("kube: logs of %s: %w", k, ErrNotFound)
	}
	j := jobs[0]
	n := 1
	if j.Spec.Completions != nil {
		n = int(*j.Spec.Completions)
	}
	var out strings.Builder
	for i, p := range podsByIndex(b.podsOf(j), n) {
		if n > 1 {
			fmt.Fprintf(&out, "==> replica %d <==\n", i)
		}
		text, err := b.podLog(ctx, p, maxBytes)
		if err != nil {
			return "", err
		}
		out.WriteString(text)
		if text != "" && !strings.HasSuffix(text, "\n") {
			out.WriteByte('\n')
		}
	}
	return out.String(), nil
}

// podLog reads one pod's log tail. Errors the API server returns (the pod
// or its log is missing) become a note; a failing connection or a done
// context is an error.
func (b *Backend) podLog(ctx context.Context, p *corev1.Pod, maxBytes int) (string, error) {
	if p == nil {
		return "(no pod: the replica has not been created, or its pod was deleted)\n", nil
	}
	req := b.client.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{
		Container:  containerName,
		TailLines:  ptr.To(int64(logTailLines)),
		LimitBytes: ptr.To(int64(logReadBytesMax)),
	})
	stream, err := req.Stream(ctx)
	if err != nil {
		var status apierrors.APIStatus
		if errors.As(err, &status) && ctx.Err() == nil {
			return fmt.Sprintf("(no log from pod %s: %s)\n", p.Name, clip(status.Status().Message)), nil
		}
		return "", fmt.Errorf("kube: log of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	defer stream.Close()
	text, err := tail(stream, maxBytes)
	if err != nil {
		return "", fmt.Errorf("kube: reading log of pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return text, nil
}

// tail reads r to the end and keeps its last max bytes, holding at most
// 2*max + one chunk in memory.
func tail(r io.Reader, max int) (string, error) {
	buf := make([]byte, 0, min(2*max, logReadBytesMax)+logChunkBytes)
	chunk := make([]byte, logChunkBytes)
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if len(buf) > 2*max {
			buf = append(buf[:0], buf[len(buf)-max:]...)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", err
		}
	}
	if len(buf) > max {
		buf = buf[len(buf)-max:]
	}
	return string(buf), nil
}

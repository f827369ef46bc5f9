package kube

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/suanli/suanli/internal/backend"
)

// reasonLenMax bounds Status.Reason; scheduler and quota messages can list
// every node or resource.
const reasonLenMax = 512

// runStatus maps a Job, its pods and its newest FailedCreate event (nil
// when none) to the run's status. It is pure: the caller passes the clock.
// The second result is false for a Job without a parsable key.
//
// The states, first match wins:
//   - Succeeded: the Complete condition.
//   - TimedOut: the Failed condition with reason DeadlineExceeded
//     (activeDeadlineSeconds, from MaxDuration).
//   - Failed: any other Failed condition; the exit code is the first
//     failing replica's.
//   - Cancelled: the Job carries AnnotationCancelledAt (Cancel suspends it
//     and its pods are deleted), or someone else is deleting it.
//   - Running: every replica's pod has started (Running, or already ended).
//   - Pending: otherwise, with a reason from the pods' scheduling
//     condition or the Job controller's FailedCreate event (e.g. a
//     ResourceQuota refused the pods).
func runStatus(j *batchv1.Job, pods []*corev1.Pod, failedCreate *corev1.Event, now time.Time) (backend.Status, bool) {
	k, ok := backend.ParseKey(j.Labels[LabelKey])
	if !ok {
		return backend.Status{}, false
	}
	n := 1
	if j.Spec.Completions != nil {
		n = int(*j.Spec.Completions)
	}
	byIndex := podsByIndex(pods, n)
	st := backend.Status{Key: k, BackendID: j.Name}
	started, startedAt := gangStarted(byIndex)
	st.StartedAt = startedAt
	if st.StartedAt.IsZero() {
		st.StartedAt = annotationTime(j, AnnotationStartedAt)
	}
	if st.StartedAt.IsZero() && j.Status.StartTime != nil {
		st.StartedAt = j.Status.StartTime.Time
	}

	switch complete, failed := condition(j, batchv1.JobComplete), condition(j, batchv1.JobFailed); {
	case complete != nil:
		st.State = backend.Succeeded
		st.EndedAt = complete.LastTransitionTime.Time
		if j.Status.CompletionTime != nil {
			st.EndedAt = j.Status.CompletionTime.Time
		}
		st.ExitCode = new(int)
	case failed != nil && failed.Reason == batchv1.JobReasonDeadlineExceeded:
		st.State = backend.TimedOut
		st.Reason = clip(failed.Reason + ": " + failed.Message)
		st.EndedAt = failed.LastTransitionTime.Time
	case failed != nil:
		st.State = backend.Failed
		st.Reason = clip(failed.Reason + ": " + failed.Message)
		st.EndedAt = failed.LastTransitionTime.Time
		st.ExitCode = firstFailure(byIndex)
	case j.Annotations[AnnotationCancelledAt] != "" || j.DeletionTimestamp != nil:
		st.State = backend.Cancelled
		st.Reason = "cancelled"
		st.EndedAt = annotationTime(j, AnnotationCancelledAt)
		if st.EndedAt.IsZero() && j.DeletionTimestamp != nil {
			st.EndedAt = j.DeletionTimestamp.Time
			st.Reason = "job deleted"
		}
	case started:
		st.State = backend.Running
	default:
		st.State = backend.Pending
		st.Reason = clip(pendingReason(j, byIndex, n, failedCreate))
		st.StartedAt = time.Time{} // the Job controller's startTime is not the gang's start
	}
	st.Replicas = replicaStatuses(byIndex, st, now)
	return st, true
}

func condition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		c := &j.Status.Conditions[i]
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

func annotationTime(j *batchv1.Job, name string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, j.Annotations[name])
	if err != nil {
		return time.Time{}
	}
	return t
}

// podsByIndex keeps, for each completion index below n, the newest pod.
func podsByIndex(pods []*corev1.Pod, n int) []*corev1.Pod {
	out := make([]*corev1.Pod, n)
	for _, p := range pods {
		i, err := strconv.Atoi(p.Annotations[batchv1.JobCompletionIndexAnnotation])
		if err != nil || i < 0 || i >= n {
			continue
		}
		if out[i] == nil || p.CreationTimestamp.After(out[i].CreationTimestamp.Time) {
			out[i] = p
		}
	}
	return out
}

// gangStarted reports whether every replica's pod has started, and then
// when the last one did: the moment the whole gang was running.
func gangStarted(byIndex []*corev1.Pod) (bool, time.Time) {
	var last time.Time
	for _, p := range byIndex {
		if p == nil {
			return false, time.Time{}
		}
		switch p.Status.Phase {
		case corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed:
		default:
			return false, time.Time{}
		}
		start, _ := containerTimes(p)
		if start.IsZero() && p.Status.StartTime != nil {
			start = p.Status.StartTime.Time
		}
		if start.After(last) {
			last = start
		}
	}
	return len(byIndex) > 0, last
}

// containerTimes returns when the pod's main container started and, if
// it has, when it ended.
func containerTimes(p *corev1.Pod) (start, end time.Time) {
	cs := mainStatus(p)
	if cs == nil {
		return time.Time{}, time.Time{}
	}
	if r := cs.State.Running; r != nil {
		return r.StartedAt.Time, time.Time{}
	}
	if t := cs.State.Terminated; t != nil {
		return t.StartedAt.Time, t.FinishedAt.Time
	}
	return time.Time{}, time.Time{}
}

func mainStatus(p *corev1.Pod) *corev1.ContainerStatus {
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == containerName {
			return &p.Status.ContainerStatuses[i]
		}
	}
	if len(p.Status.ContainerStatuses) > 0 {
		return &p.Status.ContainerStatuses[0]
	}
	return nil
}

func exitCode(p *corev1.Pod) *int {
	if p == nil {
		return nil
	}
	if cs := mainStatus(p); cs != nil && cs.State.Terminated != nil {
		c := int(cs.State.Terminated.ExitCode)
		return &c
	}
	return nil
}

// firstFailure is the exit code of the replica that failed first.
func firstFailure(byIndex []*corev1.Pod) *int {
	var code *int
	var at time.Time
	for _, p := range byIndex {
		c := exitCode(p)
		if c == nil || *c == 0 {
			continue
		}
		_, end := containerTimes(p)
		if code == nil || end.Before(at) {
			code, at = c, end
		}
	}
	return code
}

// replicaStatuses lists every index of the gang. A replica whose pod is
// gone (deleted on timeout or cancel) is charged the run's span when the
// run had started and ended: Kubernetes keeps no other record of it.
func replicaStatuses(byIndex []*corev1.Pod, st backend.Status, now time.Time) []backend.ReplicaStatus {
	out := make([]backend.ReplicaStatus, len(byIndex))
	for i, p := range byIndex {
		out[i].Index = i
		if p != nil {
			out[i].ExitCode = exitCode(p)
			start, end := containerTimes(p)
			if !start.IsZero() {
				if end.IsZero() {
					end = now
					if !st.EndedAt.IsZero() && st.EndedAt.Before(now) {
						end = st.EndedAt
					}
				}
				out[i].WallMs = max(0, end.Sub(start).Milliseconds())
				continue
			}
		}
		if !st.StartedAt.IsZero() && !st.EndedAt.IsZero() && st.State != backend.Pending {
			out[i].WallMs = max(0, st.EndedAt.Sub(st.StartedAt).Milliseconds())
		}
	}
	return out
}

// pendingReason says why the gang has not started, in Kubernetes' words:
// the Job controller's pod-creation failure (a quota refusal shows up
// only there), else a pod's scheduling condition, else a count.
func pendingReason(j *batchv1.Job, byIndex []*corev1.Pod, n int, failedCreate *corev1.Event) string {
	if j.Spec.Suspend != nil && *j.Spec.Suspend {
		return "job suspended"
	}
	missing, waiting := 0, 0
	var unscheduled string
	for _, p := range byIndex {
		if p == nil {
			missing++
			continue
		}
		if p.Status.Phase == corev1.PodPending {
			waiting++
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && unscheduled == "" {
					unscheduled = c.Reason + ": " + c.Message
				}
			}
		}
	}
	switch {
	case missing > 0 && failedCreate != nil:
		return fmt.Sprintf("%d of %d pods not created: %s: %s", missing, n, failedCreate.Reason, failedCreate.Message)
	case unscheduled != "":
		return unscheduled
	case missing > 0:
		return fmt.Sprintf("%d of %d pods not created yet", missing, n)
	}
	return fmt.Sprintf("%d of %d pods waiting to start", waiting, n)
}

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= reasonLenMax {
		return s
	}
	return s[:reasonLenMax-3] + "..."
}

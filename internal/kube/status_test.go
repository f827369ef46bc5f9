package kube

import (
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/suanli/suanli/internal/backend"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func at(sec int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(sec) * time.Second)) }

// jobOf is a 2-replica Job with key suanli.j.1 and the given conditions.
func jobOf(conds ...batchv1.JobCondition) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "sl-x", Namespace: "suanli-t", UID: "u1",
			Labels: map[string]string{LabelKey: "suanli.j.1"}, Annotations: map[string]string{}},
		Spec:   batchv1.JobSpec{Completions: ptr.To(int32(2))},
		Status: batchv1.JobStatus{StartTime: ptr.To(at(0)), Conditions: conds},
	}
}

func cond(t batchv1.JobConditionType, reason string, sec int) batchv1.JobCondition {
	return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: "msg", LastTransitionTime: at(sec)}
}

// podOf is replica i of the Job in a phase: running from startSec, and
// terminated at endSec with code when code >= 0.
func podOf(i int, phase corev1.PodPhase, startSec, endSec, code int) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sl-x-" + strconv.Itoa(i), Namespace: "suanli-t",
			Labels:          map[string]string{LabelKey: "suanli.j.1"},
			Annotations:     map[string]string{batchv1.JobCompletionIndexAnnotation: strconv.Itoa(i)},
			OwnerReferences: []metav1.OwnerReference{{UID: "u1", Kind: "Job"}}},
		Status: corev1.PodStatus{Phase: phase},
	}
	switch {
	case code >= 0:
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName, State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: int32(code), StartedAt: at(startSec), FinishedAt: at(endSec)}}}}
	case phase == corev1.PodRunning:
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName, State: corev1.ContainerState{
			Running: &corev1.ContainerStateRunning{StartedAt: at(startSec)}}}}
	}
	return p
}

func unschedulable(p *corev1.Pod) *corev1.Pod {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
		Reason: "Unschedulable", Message: "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}}
	return p
}

// TestRunStatus maps Job and pod objects to run states, one case per
// state and per pending reason.
func TestRunStatus(t *testing.T) {
	now := t0.Add(10 * time.Second)
	quota := &corev1.Event{Reason: "FailedCreate", Message: `Error creating: pods "sl-x-0-abc" is forbidden: exceeded quota: suanli-tenant, requested: requests.nvidia.com/gpu=8`}
	cancelled := jobOf()
	cancelled.Annotations[AnnotationCancelledAt] = at(7).UTC().Format(time.RFC3339Nano)
	cancelled.Annotations[AnnotationStartedAt] = at(2).UTC().Format(time.RFC3339Nano)
	cancelled.Spec.Suspend = ptr.To(true)
	deleting := jobOf()
	deleting.DeletionTimestamp = ptr.To(at(8))

	cases := []struct {
		name     string
		job      *batchv1.Job
		pods     []*corev1.Pod
		event    *corev1.Event
		state    backend.State
		reason   string // substring
		exit     *int
		wall     []int64 // per replica, ms
		started  time.Time
		ended    time.Time
		replicas []*int // exit codes
	}{
		{name: "no pods yet", job: jobOf(), state: backend.Pending, reason: "2 of 2 pods not created yet", wall: []int64{0, 0}},
		{name: "quota refused", job: jobOf(), event: quota, state: backend.Pending, reason: "exceeded quota", wall: []int64{0, 0}},
		{name: "unschedulable", job: jobOf(),
			pods:  []*corev1.Pod{podOf(0, corev1.PodRunning, 1, 0, -1), unschedulable(podOf(1, corev1.PodPending, 0, 0, -1))},
			state: backend.Pending, reason: "Insufficient nvidia.com/gpu", wall: []int64{9000, 0}},
		{name: "half started", job: jobOf(),
			pods:  []*corev1.Pod{podOf(0, corev1.PodRunning, 1, 0, -1), podOf(1, corev1.PodPending, 0, 0, -1)},
			state: backend.Pending, reason: "1 of 2 pods waiting", wall: []int64{9000, 0}},
		{name: "running", job: jobOf(),
			pods:  []*corev1.Pod{podOf(0, corev1.PodRunning, 1, 0, -1), podOf(1, corev1.PodRunning, 3, 0, -1)},
			state: backend.Running, started: at(3).Time, wall: []int64{9000, 7000}},
		{name: "succeeded", job: jobOf(cond(batchv1.JobSuccessCriteriaMet, "CompletionsReached", 6), cond(batchv1.JobComplete, "CompletionsReached", 6)),
			pods:  []*corev1.Pod{podOf(0, corev1.PodSucceeded, 1, 5, 0), podOf(1, corev1.PodSucceeded, 2, 6, 0)},
			state: backend.Succeeded, exit: ptr.To(0), started: at(2).Time, ended: at(6).Time, wall: []int64{4000, 4000},
			replicas: []*int{ptr.To(0), ptr.To(0)}},
		{name: "failed with 3", job: jobOf(cond(batchv1.JobFailed, batchv1.JobReasonBackoffLimitExceeded, 6)),
			pods:  []*corev1.Pod{podOf(0, corev1.PodFailed, 1, 4, 3), podOf(1, corev1.PodFailed, 1, 5, 137)},
			state: backend.Failed, reason: "BackoffLimitExceeded", exit: ptr.To(3), started: at(1).Time, ended: at(6).Time,
			wall: []int64{3000, 4000}, replicas: []*int{ptr.To(3), ptr.To(137)}},
		{name: "timed out, pods gone", job: jobOf(cond(batchv1.JobFailed, batchv1.JobReasonDeadlineExceeded, 2)),
			state: backend.TimedOut, reason: "DeadlineExceeded", started: at(0).Time, ended: at(2).Time, wall: []int64{2000, 2000}},
		{name: "cancelled", job: cancelled, state: backend.Cancelled, reason: "cancelled",
			started: at(2).Time, ended: at(7).Time, wall: []int64{5000, 5000}},
		{name: "deleted by someone", job: deleting,
			pods:  []*corev1.Pod{podOf(0, corev1.PodRunning, 1, 0, -1), podOf(1, corev1.PodRunning, 1, 0, -1)},
			state: backend.Cancelled, reason: "job deleted", started: at(1).Time, ended: at(8).Time, wall: []int64{7000, 7000}},
		{name: "complete wins over a late cancel", job: func() *batchv1.Job {
			j := jobOf(cond(batchv1.JobComplete, "CompletionsReached", 6))
			j.Annotations[AnnotationCancelledAt] = at(7).UTC().Format(time.RFC3339Nano)
			return j
		}(), state: backend.Succeeded, exit: ptr.To(0), started: at(0).Time, ended: at(6).Time, wall: []int64{6000, 6000}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, ok := runStatus(tc.job, tc.pods, tc.event, now)
			if !ok {
				t.Fatal("runStatus rejected the job")
			}
			if st.Key != (backend.Key{JobID: "j", Attempt: 1}) || st.BackendID != "sl-x" {
				t.Errorf("key, id = %v, %q", st.Key, st.BackendID)
			}
			if st.State != tc.state {
				t.Errorf("state = %s, want %s (reason %q)", st.State, tc.state, st.Reason)
			}
			if !strings.Contains(st.Reason, tc.reason) {
				t.Errorf("reason = %q, want it to contain %q", st.Reason, tc.reason)
			}
			if !eqInt(st.ExitCode, tc.exit) {
				t.Errorf("exit code = %v, want %v", fmtInt(st.ExitCode), fmtInt(tc.exit))
			}
			if !st.StartedAt.Equal(tc.started) || !st.EndedAt.Equal(tc.ended) {
				t.Errorf("started, ended = %v, %v; want %v, %v", st.StartedAt, st.EndedAt, tc.started, tc.ended)
			}
			if len(st.Replicas) != 2 {
				t.Fatalf("%d replicas, want 2", len(st.Replicas))
			}
			for i, r := range st.Replicas {
				if r.Index != i || r.WallMs != tc.wall[i] {
					t.Errorf("replica %d = index %d wall %d ms, want wall %d", i, r.Index, r.WallMs, tc.wall[i])
				}
				if tc.replicas != nil && !eqInt(r.ExitCode, tc.replicas[i]) {
					t.Errorf("replica %d exit = %v, want %v", i, fmtInt(r.ExitCode), fmtInt(tc.replicas[i]))
				}
			}
		})
	}
}

func TestRunStatusSkipsForeignJobs(t *testing.T) {
	j := jobOf()
	j.Labels[LabelKey] = "not-a-key"
	if _, ok := runStatus(j, nil, nil, t0); ok {
		t.Error("runStatus accepted a Job without a suanli key")
	}
}

func eqInt(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func fmtInt(p *int) string {
	if p == nil {
		return "nil"
	}
	return strconv.Itoa(*p)
}

package kube

import _ "embed" // KwokStages

// KwokStages is the KWOK (v0.8) stage configuration that makes simulated
// pods honour a suanli run's declared duration and exit code. Pass it to
// `kwokctl create cluster --config FILE`: given any Stage, kwokctl drops
// its default stages, so this set also brings fake nodes up.
//
//   - node-up: a fake node becomes Ready, reachable at the kwok
//     controller (logs requests go there), and keeps its declared
//     allocatable resources. kwok renews the node leases itself, which
//     keeps the node Ready; node-keepalive refreshes the conditions now
//     and then for readers that look at heartbeats.
//   - pod-start: a scheduled pod starts at once (Running, Ready).
//   - pod-finish: a Job's running pod ends after the suanli.io/sim-duration
//     annotation (default 1 s, no jitter) with the exit code in
//     suanli.io/sim-exit-code: phase Succeeded for 0, Failed otherwise.
//     The container's startedAt is kept, so wall time is the duration.
//   - pod-kill: a running pod being deleted (timeout, cancel) ends like a
//     killed container: exit code 137, phase Failed.
//   - pod-remove: a pod being deleted that no longer runs is deleted for
//     good, as a kubelet would (other finalizers are honoured).
//
// The stages live in kwok-stages.yaml, which scripts/kwok-up.sh copies.
//
//go:embed kwok-stages.yaml
var KwokStages string

#!/usr/bin/env bash
# kwok-up.sh [NAME]: starts a Kubernetes cluster with simulated (KWOK)
# nodes from the binaries scripts/build-k8s.sh caches: real etcd,
# kube-apiserver, kube-controller-manager and kube-scheduler; kwok plays
# the kubelets. It uses the same stages as the Go tests (kube.KwokStages:
# a pod runs for its suanli.io/sim-duration annotation and exits with
# suanli.io/sim-exit-code) and the same fake nodes (kubetest.DefaultNodes:
# a100-0, a100-1 with 8 nvidia.com/gpu, ascend-0 with 8 huawei.com/Ascend910,
# each 32 CPUs and 256Gi, tainted kwok.x-k8s.io/node=fake:NoSchedule).
#
# Prints WORKDIR=, KUBECONFIG= and NAME= lines on stdout (eval-able);
# progress goes to stderr. Stop it with: scripts/kwok-down.sh WORKDIR
# Env: SUANLI_K8S_BIN (default $HOME/.cache/suanli/k8s-1.37.2),
#      KWOK_WORKDIR (default: a new directory under $TMPDIR),
#      KWOK_NODES=0 to start without fake nodes.
set -euo pipefail
B=${SUANLI_K8S_BIN:-$HOME/.cache/suanli/k8s-1.37.2}
NAME=${1:-suanli}
for x in etcd kube-apiserver kube-controller-manager kube-scheduler kwok kwokctl; do
  [ -x "$B/$x" ] || { echo "kwok-up: $B/$x missing; build with scripts/build-k8s.sh" >&2; exit 1; }
done
W=${KWOK_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/suanli-kwok-XXXXXX")}
mkdir -p "$W"
W=$(cd "$W" && pwd)
export KWOK_WORKDIR=$W
KC=$W/kubeconfig
echo "$NAME" >"$W/name"

# The stages kube.KwokStages embeds (internal/kube/kwok-stages.yaml).
cp "$(dirname "$0")/../internal/kube/kwok-stages.yaml" "$W/stages.yaml"

START=$(date +%s%N)
# Every binary is given: kwokctl would try to download the missing ones.
"$B/kwokctl" --config "$W/stages.yaml" create cluster --name "$NAME" --runtime binary \
  --kubeconfig "$KC" --wait 2m --kube-admission --disable-qps-limits \
  --etcd-binary "$B/etcd" --kube-apiserver-binary "$B/kube-apiserver" \
  --kube-controller-manager-binary "$B/kube-controller-manager" \
  --kube-scheduler-binary "$B/kube-scheduler" --kwok-controller-binary "$B/kwok" >&2

if [ "${KWOK_NODES:-1}" != 0 ]; then
  # No kubectl here: post the nodes with curl and the cluster's admin
  # certificate.
  PKI=$W/clusters/$NAME/pki
  SERVER=$(sed -n 's/^ *server: *//p' "$KC" | head -1)
  node() { # name accel-resource product-label product-value model
    cat <<JSON
{"apiVersion":"v1","kind":"Node","metadata":{"name":"$1",
 "annotations":{"kwok.x-k8s.io/node":"fake"},
 "labels":{"kubernetes.io/hostname":"$1","kubernetes.io/os":"linux","type":"kwok","$3":"$4","suanli.io/accel-model":"$5"}},
 "spec":{"taints":[{"key":"kwok.x-k8s.io/node","value":"fake","effect":"NoSchedule"}]},
 "status":{"allocatable":{"cpu":"32","memory":"256Gi","pods":"110","$2":"8"},
           "capacity":{"cpu":"32","memory":"256Gi","pods":"110","$2":"8"}}}
JSON
  }
  post() {
    curl -sS --fail-with-body --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
      -H 'Content-Type: application/json' -X POST --data-binary @- "$SERVER/api/v1/nodes" >/dev/null
  }
  node a100-0 nvidia.com/gpu nvidia.com/gpu.product NVIDIA-A100-SXM4-80GB A100 | post
  node a100-1 nvidia.com/gpu nvidia.com/gpu.product NVIDIA-A100-SXM4-80GB A100 | post
  node ascend-0 huawei.com/Ascend910 accelerator huawei-Ascend910 Ascend910B | post
  for _ in $(seq 1 600); do
    READY=$(curl -sS --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$SERVER/api/v1/nodes" |
      tr -d ' \n' | grep -o '"type":"Ready","status":"True"' | wc -l || true)
    [ "$READY" -ge 3 ] && break
    sleep 0.1
  done
  [ "$READY" -ge 3 ] || { echo "kwok-up: fake nodes not Ready after 60 s" >&2; exit 1; }
fi
echo "kwok-up: cluster $NAME up in $(( ($(date +%s%N) - START) / 1000000 )) ms" >&2
echo "WORKDIR=$W"
echo "KUBECONFIG=$KC"
echo "NAME=$NAME"

#!/usr/bin/env bash
# kwok-down.sh WORKDIR: stops the cluster scripts/kwok-up.sh started there
# (kwokctl stops the components it started, by their pid files) and
# removes the work directory. KWOK_KEEP=1 keeps the directory (logs).
set -euo pipefail
W=${1:?usage: kwok-down.sh WORKDIR}
B=${SUANLI_K8S_BIN:-$HOME/.cache/suanli/k8s-1.37.2}
[ -f "$W/name" ] || { echo "kwok-down: $W was not made by kwok-up.sh (no name file)" >&2; exit 1; }
NAME=$(cat "$W/name")
KWOK_WORKDIR=$W "$B/kwokctl" delete cluster --name "$NAME" --kubeconfig "$W/kubeconfig" >&2
[ "${KWOK_KEEP:-0}" = 1 ] || rm -rf "$W"
echo "kwok-down: cluster $NAME deleted" >&2

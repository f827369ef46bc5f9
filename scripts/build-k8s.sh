#!/usr/bin/env bash
# build-k8s.sh [OUTDIR]: builds etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok and kwokctl from the Go module proxy (Debian has no
# Kubernetes control plane) and caches them by version outside the repo.
# k8s.io/kubernetes has replace directives for its ./staging modules, so a
# throwaway module requires it and pins each staging module to the published
# v0.MINOR.PATCH instead. About 15 min cold on 2 cores, 0 s when cached.
# Prints the output directory.
set -euo pipefail
K8S=${K8S_VERSION:-1.37.2} ETCD=${ETCD_VERSION:-3.7.3} KWOK=${KWOK_VERSION:-0.8.0}
OUT=${1:-${SUANLI_K8S_BIN:-$HOME/.cache/suanli/k8s-$K8S}}
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
STAMP="$OUT/.done-k8s$K8S-etcd$ETCD-kwok$KWOK"
if [ -f "$STAMP" ]; then echo "$OUT"; exit 0; fi
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
cd "$W"
go mod init k8sbins >/dev/null 2>&1
MINOR=$(echo "$K8S" | cut -d. -f2); PATCH=$(echo "$K8S" | cut -d. -f3)
KMOD=$(go mod download -json "k8s.io/kubernetes@v$K8S" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
{
  echo "require ("
  echo "	k8s.io/kubernetes v$K8S"
  echo "	go.etcd.io/etcd/server/v3 v$ETCD"
  echo ")"
  echo "replace ("
  grep -E '=> ./staging' "$KMOD" | awk -v v="v0.$MINOR.$PATCH" '{print "\t"$1" => "$1" "v}'
  echo ")"
} >>go.mod
cat >tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
GO
go mod tidy >&2
LD="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$MINOR -X k8s.io/component-base/version.gitTreeState=clean"
go build -ldflags "-s -w" -o "$OUT/etcd" go.etcd.io/etcd/server/v3 >&2
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  go build -ldflags "$LD" -o "$OUT/$c" "k8s.io/kubernetes/cmd/$c" >&2
done
GOBIN="$OUT" go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK" "sigs.k8s.io/kwok/cmd/kwokctl@v$KWOK" >&2
touch "$STAMP"
echo "$OUT"

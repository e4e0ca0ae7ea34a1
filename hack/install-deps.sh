#!/usr/bin/env bash
# Installs everything the build and the tests need on a Debian machine.
# Idempotent: each step checks whether its result is already present.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=hack/versions.sh
source "$ROOT/hack/versions.sh"
TOOLS="$ROOT/_output/tools"
mkdir -p "$TOOLS" "$ROOT/bin"

step() { printf '==> %s\n' "$*"; }

# package:command-or-file that shows it is installed
apt_needs=(
	protobuf-compiler:protoc
	libprotobuf-dev:/usr/include/google/protobuf/timestamp.proto
	make:make
	curl:curl
	iproute2:ip
	iptables:iptables-restore
	nftables:nft
	containerd:containerd
	runc:runc
	docker-registry:docker-registry
	busybox-static:/bin/busybox
	systemd:systemd-analyze
	# Machines (hack/machine): the base image and booting it.
	debootstrap:debootstrap
	systemd-container:systemd-nspawn
)
need_apt=()
for entry in "${apt_needs[@]}"; do
	pkg=${entry%%:*} probe=${entry#*:}
	if [[ $probe == /* ]]; then
		[ -e "$probe" ] || need_apt+=("$pkg")
	else
		command -v "$probe" >/dev/null 2>&1 || need_apt+=("$pkg")
	fi
done
if [ ${#need_apt[@]} -gt 0 ]; then
	step "apt-get install ${need_apt[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: need root to apt-get install ${need_apt[*]}" >&2
		exit 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

gobin_install() { # name module@version
	local name=$1 mod=$2 stamp="$TOOLS/.$1.version"
	if [ -x "$TOOLS/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$mod" ]; then
		return 0
	fi
	step "go install $mod"
	GOBIN="$TOOLS" GOFLAGS= go install "$mod"
	echo "$mod" >"$stamp"
}

gobin_install protoc-gen-go "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOBUF_GO_VERSION"
gobin_install protoc-gen-go-grpc "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
# etcd, etcdctl and etcdutl (snapshot restore, hack/etcd-backup.sh) are
# built from hack/tools/etcd, a module of its own that pins the release, so
# etcd's dependencies never mix with ours.
etcd_stamp="$ROOT/bin/.etcd.version"
if [ ! -x "$ROOT/bin/etcd" ] || [ ! -x "$ROOT/bin/etcdctl" ] || [ ! -x "$ROOT/bin/etcdutl" ] || [ "$(cat "$etcd_stamp" 2>/dev/null)" != "$ETCD_VERSION" ]; then
	step "build etcd $ETCD_VERSION"
	(cd "$ROOT/hack/tools/etcd" &&
		GOFLAGS=-mod=mod go build -o "$ROOT/bin/etcd" go.etcd.io/etcd/server/v3 &&
		GOFLAGS=-mod=mod go build -o "$ROOT/bin/etcdctl" go.etcd.io/etcd/etcdctl/v3 &&
		GOFLAGS=-mod=mod go build -o "$ROOT/bin/etcdutl" go.etcd.io/etcd/etcdutl/v3)
	echo "$ETCD_VERSION" >"$etcd_stamp"
fi
# kubectl is built from hack/tools/kubectl (the upstream command behind a
# tiny main), pinned the same way. The version is stamped through ldflags as
# Kubernetes' release build does, so `kubectl version --client` reports the
# release instead of a placeholder.
kubectl_stamp="$ROOT/bin/.kubectl.version"
if [ ! -x "$ROOT/bin/kubectl" ] || [ "$(cat "$kubectl_stamp" 2>/dev/null)" != "$KUBECTL_VERSION" ]; then
	kubectl_lib="v0.${KUBECTL_VERSION#v1.}"
	if ! grep -q "^[[:space:]]*k8s.io/kubectl $kubectl_lib\$" "$ROOT/hack/tools/kubectl/go.mod"; then
		echo "install-deps: hack/tools/kubectl/go.mod does not pin k8s.io/kubectl $kubectl_lib (KUBECTL_VERSION=$KUBECTL_VERSION)" >&2
		exit 1
	fi
	step "build kubectl $KUBECTL_VERSION"
	major=${KUBECTL_VERSION#v}
	major=${major%%.*}
	minor=${KUBECTL_VERSION#v*.}
	minor=${minor%%.*}
	# component-base's copy is what `kubectl version` prints; client-go's is
	# what kubectl sends in its User-Agent. Kubernetes' release build stamps
	# both, and so do we.
	build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	ldflags=
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $pkg.gitVersion=$KUBECTL_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
		ldflags+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
	done
	(cd "$ROOT/hack/tools/kubectl" &&
		GOFLAGS=-mod=mod go build -ldflags "$ldflags" -o "$ROOT/bin/kubectl" .)
	echo "$KUBECTL_VERSION" >"$kubectl_stamp"
fi
step "dependencies ready (etcd $ETCD_VERSION, kubectl $KUBECTL_VERSION in bin/)"

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
# etcd and etcdctl are built from hack/tools/etcd, a module of its own that
# pins the release, so etcd's dependencies never mix with ours.
etcd_stamp="$ROOT/bin/.etcd.version"
if [ ! -x "$ROOT/bin/etcd" ] || [ ! -x "$ROOT/bin/etcdctl" ] || [ "$(cat "$etcd_stamp" 2>/dev/null)" != "$ETCD_VERSION" ]; then
	step "build etcd $ETCD_VERSION"
	(cd "$ROOT/hack/tools/etcd" &&
		GOFLAGS=-mod=mod go build -o "$ROOT/bin/etcd" go.etcd.io/etcd/server/v3 &&
		GOFLAGS=-mod=mod go build -o "$ROOT/bin/etcdctl" go.etcd.io/etcd/etcdctl/v3)
	echo "$ETCD_VERSION" >"$etcd_stamp"
fi
step "dependencies ready (etcd $ETCD_VERSION in bin/)"

#!/usr/bin/env bash
# Brings up a whole multi-node minik8s cluster on this one machine (root):
#
#   control plane (root network namespace)
#     3 etcd members, 2 apiservers (all active), 2 schedulers and
#     2 controller-managers (active-standby through leader election)
#   N worker nodes (NODES, default 3), each a network namespace mk8s-nodeI
#     joined by a veth to the bridge mk8s-br0 (10.250.0.0/24, node I at
#     10.250.0.(10+I)), with its own containerd, a kubelet (which stays in
#     the root namespace and does the node's networking in the node's
#     namespace) and a kube-proxy (run inside the node's namespace)
#   an "external host" namespace mk8s-ext (10.250.0.250) for egress tests
#
# KUBE_PROXY_MODE=nftables (make up KUBE_PROXY_MODE=nftables; PROXY_MODE is
# accepted too) runs every kube-proxy with --proxy-mode nftables (or
# userspace); the default is iptables.
#
# CONTROL_PLANE=static-pods (make up CONTROL_PLANE=static-pods) runs the
# control plane as the seed's kubeadm-style master does instead: node 1
# (mk8s-node1, 10.250.0.11) is the master, whose kubelet runs etcd,
# kube-apiserver, kube-scheduler and kube-controller-manager as static pods
# (deploy/staticpods) on the node's network; kube-proxy is the DaemonSet of
# deploy/addons/kube-proxy.yaml instead of processes. Nothing of the control
# plane runs in the root namespace; every client uses 10.250.0.11:6443.
#
# MK8S_ETCD_QUOTA=N starts every etcd member (processes mode)
# with --quota-backend-bytes N instead of etcd's 2 GiB: `make fault` uses
# a small quota so its disk-full case fills it in seconds. (Not ETCD_*:
# etcd reads those from its environment and exits when one repeats a flag.)
#
# INGRESS=1 (make up INGRESS=1) also installs the ingress controller add-on
# (deploy/addons/ingress.yaml: NodePorts 30080/30443, docs/ingress.md).
#
# DASHBOARD=1 (make up DASHBOARD=1) also installs the web dashboard add-on
# (deploy/addons/dashboard.yaml: http://NODE-IP:30090/, docs/dashboard.md)
# and prints its URL and how to get a token.
#
#   hack/local-up-cluster.sh up                 (make up) down first, then up
#   hack/local-up-cluster.sh down               (make down) remove everything
#   hack/local-up-cluster.sh stop-component N   stop one process by its PID
#   hack/local-up-cluster.sh start-component N  start it again, same command
#   hack/local-up-cluster.sh components         list the processes and PIDs
#
# TLS everywhere: `minictl certs` writes the cluster's PKI into
# _output/local/pki (kubeadm's layout) and the kubeconfigs beside it
# (admin.conf, scheduler.conf, controller-manager.conf, kube-proxy.conf,
# kubelet-NODE.conf); _output/local/kubeconfig is admin.conf.
# etcd serves and peers over TLS with client certificates required; the
# apiservers serve only HTTPS (REST and gRPC on one port) and authenticate
# client certificates; every daemon and add-on has its kubeconfig. The
# apiservers' --http-port (plain /healthz, /readyz, /livez, /metrics)
# stays for the harness's probes.
#
# The nodes join as Kubernetes nodes do (kubeadm join; KUBELET_TLS_BOOTSTRAP=0
# gives every kubelet a pre-signed certificate instead): a bootstrap token Secret
# (kube-system/bootstrap-token-ID, as kubeadm makes it) and
# _output/local/bootstrap-kubelet.conf carrying that token; each kubelet
# starts with only --bootstrap-kubeconfig, --rotate-certificates and
# --rotate-server-certificates, requests its client certificate
# (system:node:NAME) and its serving certificate through
# CertificateSigningRequests that the controller-managers approve and sign
# with the cluster CA (--cluster-signing-cert-file/--cluster-signing-key-file),
# and writes its kubeconfig to nodeI/kubelet.conf and its certificates to
# nodeI/kubelet/pki. With CONTROL_PLANE=static-pods the master's kubelet
# keeps its pre-made kubeconfig and serving certificate (it must start the
# apiserver it would otherwise join through, as on a kubeadm control-plane
# node); in processes mode every node joins by token.
#
# MODE=machines (make up MODE=machines) runs the cluster as an operator
# runs it on VMs instead: one control-plane machine (CONTROL_PLANES=3:
# three) and NODES worker machines booted with systemd-nspawn, every daemon a systemd unit from the
# Debian packages, configured by deploy/provision/configure.sh (the
# Vagrantfile's script); see hack/machine/cluster.sh. Its extra commands:
#
#   hack/local-up-cluster.sh ssh MACHINE [-- CMD...]   run CMD in a machine
#   hack/local-up-cluster.sh reboot MACHINE            reboot a machine
#   hack/local-up-cluster.sh poweroff|boot MACHINE     power it off, boot it
#
# Everything lives under _output/local (logs/, pids/, cmds/, per-node
# state) or is named mk8s-*; `down` removes exactly that, by the recorded
# PIDs and the fixed names, so it also cleans up after a half-failed `up`.
#
# Network safety: the control plane listens on the bridge's gateway address
# (10.250.0.1, a local address of the root namespace, so pods reach it and
# nothing binds to eth0); the root namespace keeps ip_forward as it is (0
# here: nodes talk to each other across the bridge at layer 2, so nothing
# needs routing through the root namespace); the pod and service ranges are
# routed to the bridge so they never fall through to the default route;
# and the chain MK8S-FORWARD drops forwarded traffic from cluster ranges to
# anything outside them.
set -Eeuo pipefail
# fds 8 and 9 are the user's stdout and stderr: progress and failures go
# there even from steps whose own output goes to a log file.
exec 8>&1 9>&2

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/bin"
STATE="$ROOT/_output/local"
LOGS="$STATE/logs"
PIDS="$STATE/pids"
CMDS="$STATE/cmds"
export PATH="/usr/local/go/bin:$PATH"

NODES=${NODES:-3}
# processes (the default: the process or static-pods cluster above) or
# machines (systemd-nspawn machines, hack/machine/cluster.sh).
MODE=${MODE:-processes}
# processes (the default: daemons in the root namespace) or static-pods.
CONTROL_PLANE=${CONTROL_PLANE:-processes}
# iptables (the default), nftables or userspace: every kube-proxy's mode.
KUBE_PROXY_MODE=${KUBE_PROXY_MODE:-${PROXY_MODE:-iptables}}
# 1: nodes join with a bootstrap token (TLS bootstrap); 0: pre-made kubeconfigs.
KUBELET_TLS_BOOTSTRAP=${KUBELET_TLS_BOOTSTRAP:-1}
REGISTRY=127.0.0.1:5000
BRIDGE=mk8s-br0
NET_PREFIX=10.250.0           # the harness subnet, a /24 on the bridge
GATEWAY=$NET_PREFIX.1          # the bridge's address in the root namespace
HARNESS_CIDR=$NET_PREFIX.0/24
EXT_NS=mk8s-ext
EXT_IP=$NET_PREFIX.250
CLUSTER_CIDR=10.244.0.0/16
SERVICE_CIDR=10.96.0.0/16
CLUSTER_DNS=10.96.0.10
FWD_CHAIN=MK8S-FORWARD
FWD_COMMENT="mk8s-harness: drop forwarded cluster traffic leaving the cluster"
API_PORTS=(6443 6444)
API_HTTP_PORTS=(8080 8081)
SCHED_PORTS=(10259 10269)
CM_PORTS=(10257 10267)
KUBELET_PORT_BASE=10350        # kubelet of node I serves on its node IP:(base+I), in the node's namespace
ETCD_MEMBERS=3
MK8S_ETCD_QUOTA=${MK8S_ETCD_QUOTA:-}
# test/fault's partition case drops a member's traffic in this chain
# (jumped from OUTPUT, matching only that member's ports and its
# cgroup); down removes both if a case could not.
FAULT_CHAIN=MK8S-FAULT
FAULT_CGROUP=/sys/fs/cgroup/unified/mk8s-fault
DNS_MANIFEST="$ROOT/deploy/addons/dns.yaml"
KUBE_PROXY_MANIFEST="$ROOT/deploy/addons/kube-proxy.yaml"
# The address the kube-proxy manifest names, replaced in static-pods mode.
KUBE_PROXY_MANIFEST_SERVER="10.250.0.11:6443"
# static-pods mode: the master is node 1; its static pods listen on its IP.
MASTER=1
MASTER_IP=$NET_PREFIX.$((10 + MASTER))
MANIFESTS="$STATE/node$MASTER/manifests"
BOOTSTRAP_KUBECONFIG="$STATE/bootstrap-kubelet.conf"
# shellcheck source=hack/machine/cluster.sh
source "$ROOT/hack/machine/cluster.sh"

# SERVERS is every apiserver (minictl --server, MINIK8S_SERVER: failover);
# KUBECONFIG_SERVER the one the kubeconfig names (a kubeconfig cluster has
# a single server URL).
KUBECONFIG_FILE="$STATE/kubeconfig"
PKI="$STATE/pki"
if [ "$MODE" = machines ]; then
	# The control plane is the units of machine mk8s-cp1; the PKI is
	# made into the stage directory the machines install it from.
	CONTROL_PLANE=machines
	PKI="$STAGE/pki/pki"
	BOOTSTRAP_KUBECONFIG="$STAGE/pki/bootstrap-kubelet.conf"
	SERVERS=$(cp_join , '{ip}:6443')
	KUBECONFIG_SERVER="https://$CP_IP:6443"
	ETCD_ENDPOINTS=$(cp_join , 'https://{ip}:2379')
elif [ "$CONTROL_PLANE" = static-pods ]; then
	SERVERS="$MASTER_IP:6443"
	KUBECONFIG_SERVER="https://$MASTER_IP:6443"
	ETCD_ENDPOINTS="https://$MASTER_IP:2379"
else
	SERVERS="$GATEWAY:${API_PORTS[0]},$GATEWAY:${API_PORTS[1]}"
	KUBECONFIG_SERVER="https://$GATEWAY:${API_PORTS[0]}"
	ETCD_ENDPOINTS=""
	for i in $(seq 0 $((ETCD_MEMBERS - 1))); do
		ETCD_ENDPOINTS+="${ETCD_ENDPOINTS:+,}https://$GATEWAY:$((2379 + 10 * i))"
	done
fi
# etcdctl as the apiserver: etcd requires a client certificate of its CA.
ETCDCTL_TLS=(--cacert "$PKI/etcd/ca.crt" --cert "$PKI/apiserver-etcd-client.crt" --key "$PKI/apiserver-etcd-client.key")

CURRENT_STEP=""
CURRENT_LOG=""

step() {
	CURRENT_STEP=$1
	CURRENT_LOG=${2:-}
	printf "==> %s\n" "$1" >&8
}
fail() {
	printf 'local-up: step "%s" failed: %s\n' "$CURRENT_STEP" "$*" >&9
	if [ -n "$CURRENT_LOG" ]; then printf 'local-up: see %s\n' "$CURRENT_LOG" >&9; fi
	trap - ERR
	exit 1
}
# on_err names the step that failed and its log, whatever command broke it.
on_err() {
	local rc=$?
	trap - ERR
	printf 'local-up: step "%s" failed (exit %d at line %d)\n' "$CURRENT_STEP" "$rc" "$1" >&9
	if [ -n "$CURRENT_LOG" ]; then printf 'local-up: see %s\n' "$CURRENT_LOG" >&9; fi
	printf 'local-up: all logs are in %s; `make down` cleans up\n' "$LOGS" >&9
	exit "$rc"
}

# node_ns I: node I's name and network namespace (its machine's name in
# machines mode).
node_ns() { if [ "$MODE" = machines ]; then echo "mk8s-worker$1"; else echo "mk8s-node$1"; fi; }
node_ip() { echo "$NET_PREFIX.$((10 + $1))"; }
node_dir() { echo "$STATE/node$1"; }
node_sock() { echo "$STATE/node$1/containerd/containerd.sock"; }

# wait_for TIMEOUT_SECONDS WHAT COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local timeout=$1 what=$2 deadline
	shift 2
	deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || fail "$what not ready within ${timeout}s"
		sleep 0.5
	done
}

minictl() { "$BIN/minictl" --kubeconfig "$KUBECONFIG_FILE" --server "$SERVERS" "$@"; }

# ---------------------------------------------------------------- processes

# pid_alive NAME: the recorded PID runs and is still one of ours (its
# command line names this checkout), so a reused PID is never signalled.
pid_alive() {
	local f="$PIDS/$1.pid" pid
	[ -f "$f" ] || return 1
	pid=$(cat "$f")
	[ -r "/proc/$pid/cmdline" ] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$ROOT/"
}

# only_std_fds COMMAND...: exec COMMAND with no descriptor of ours beyond
# 0-2. A daemon keeps what it inherits: the caller's pipes (a test running
# start-component would wait for EOF forever) or a flock(1) lock (held
# until `down`, so the next `flock ... make down` would wait for itself).
# It execs, so call it in a subshell: `( only_std_fds ... )` or with `&`
# (whose $! is then the command's PID).
only_std_fds() {
	local fd
	for fd in /proc/self/fd/*; do
		fd=${fd##*/}
		if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
	done
	exec "$@"
}

# launch NAME [NETNS] -- COMMAND...: start COMMAND in the background with
# its output in logs/NAME.log, record its PID and the command (for
# start-component). With NETNS it runs inside that network namespace.
launch() {
	local name=$1 netns=$2
	shift 3
	local -a cmd=("$@")
	mkdir -p "$LOGS" "$PIDS" "$CMDS"
	declare -p cmd netns >"$CMDS/$name"
	run_recorded "$name"
}

run_recorded() {
	local name=$1 cmd netns
	# shellcheck disable=SC1090
	source "$CMDS/$name"
	# Job control gives each daemon its own process group: a ^C to `make
	# up` or to a test that restarts a component does not reach it.
	set -m
	if [ -n "$netns" ]; then
		cmd=(ip netns exec "$netns" "${cmd[@]}") # it execs: same PID
	fi
	only_std_fds "${cmd[@]}" </dev/null >>"$LOGS/$name.log" 2>&1 &
	echo $! >"$PIDS/$name.pid"
	set +m
}

# stop_pids GRACE NAME...: SIGTERM every recorded PID at once, SIGKILL
# what still runs after GRACE seconds.
stop_pids() {
	local grace=$1 name pid alive
	shift
	local -a pids=()
	for name in "$@"; do
		if pid_alive "$name"; then
			pid=$(cat "$PIDS/$name.pid")
			kill "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	for _ in $(seq $((grace * 10))); do
		alive=0
		for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ $alive -eq 1 ] || break
		sleep 0.1
	done
	for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
	for name in "$@"; do rm -f "$PIDS/$name.pid"; done
}

# ---------------------------------------------------------------- up steps

preflight() {
	step "preflight"
	[ "$(id -u)" -eq 0 ] || fail "must run as root (network namespaces, containerd, iptables)"
	[[ $NODES =~ ^[1-9][0-9]*$ ]] && [ "$NODES" -le 20 ] || fail "NODES must be 1..20, got $NODES"
	case "$MODE" in
	processes | machines) ;;
	*) fail "MODE must be processes or machines, got $MODE" ;;
	esac
	case "$MODE/$CONTROL_PLANES" in
	*/1 | machines/3) ;;
	*) fail "CONTROL_PLANES must be 1, or 3 with MODE=machines, got $CONTROL_PLANES" ;;
	esac
	case "$CONTROL_PLANE" in
	processes | static-pods | machines) ;;
	*) fail "CONTROL_PLANE must be processes or static-pods, got $CONTROL_PLANE" ;;
	esac
	case "$KUBE_PROXY_MODE" in
	iptables | nftables | userspace) ;;
	*) fail "KUBE_PROXY_MODE must be iptables, nftables or userspace, got $KUBE_PROXY_MODE" ;;
	esac
	case "$KUBELET_TLS_BOOTSTRAP" in
	0 | 1) ;;
	*) fail "KUBELET_TLS_BOOTSTRAP must be 0 or 1, got $KUBELET_TLS_BOOTSTRAP" ;;
	esac
}

install_deps() {
	step "install dependencies (hack/install-deps.sh)" "$STATE/install-deps.log"
	"$ROOT/hack/install-deps.sh" >"$STATE/install-deps.log" 2>&1
}

build() {
	step "build binaries into bin/" "$STATE/build.log"
	(cd "$ROOT" && go build -o "$BIN/" ./apiserver ./scheduler ./controller-manager ./kubelet ./kube-proxy ./minictl) >"$STATE/build.log" 2>&1
}

# copy_tag SRC DST: give the registry's SRC manifest a second name DST
# (repo:tag), mounting its blobs across repositories, so e.g.
# library/nginx (what "nginx" resolves to through the docker.io mirror)
# serves the sample app without another image build.
copy_tag() {
	local src=$1 dst=$2 accept ct d
	local src_repo=${src%:*} src_tag=${src##*:} dst_repo=${dst%:*} dst_tag=${dst##*:}
	local tmp="$STATE/copy-tag"
	mkdir -p "$tmp"
	accept='application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json'
	curl -fsS -H "Accept: $accept" -D "$tmp/headers" -o "$tmp/manifest" "http://$REGISTRY/v2/$src_repo/manifests/$src_tag"
	ct=$(awk -F': *' 'tolower($1)=="content-type"{sub(/\r$/,"",$2); print $2}' "$tmp/headers")
	for d in $(grep -o 'sha256:[0-9a-f]\{64\}' "$tmp/manifest" | sort -u); do
		curl -fsS -o /dev/null -X POST "http://$REGISTRY/v2/$dst_repo/blobs/uploads/?mount=$d&from=$src_repo"
	done
	curl -fsS -o /dev/null -X PUT -H "Content-Type: $ct" --data-binary "@$tmp/manifest" "http://$REGISTRY/v2/$dst_repo/manifests/$dst_tag"
}

images() {
	step "registry and images on $REGISTRY (hack/build-images.sh)" "$LOGS/build-images.log"
	mkdir -p "$LOGS"
	# Stop the registry on down only if this run started it.
	if ! curl -fsS -o /dev/null "http://$REGISTRY/v2/" 2>/dev/null; then
		touch "$STATE/registry.ours"
	fi
	# It may start the registry, which keeps every descriptor it inherits:
	# run it with only 0-2 (see run_recorded).
	(only_std_fds "$ROOT/hack/build-images.sh") >"$LOGS/build-images.log" 2>&1
	copy_tag minik8s/kubia:latest library/nginx:latest >>"$LOGS/build-images.log" 2>&1
	if [ "$CONTROL_PLANE" = static-pods ]; then
		step "control-plane images (go run ./hack/build-images --control-plane)" "$LOGS/build-images.log"
		# The lock the integration tests take on the same binary directory,
		# so a concurrent build there never sees half-written binaries.
		mkdir -p "$ROOT/_output/images"
		(cd "$ROOT" && only_std_fds flock "$ROOT/_output/images/.lock" go run ./hack/build-images \
			-registry "$REGISTRY" --control-plane) >>"$LOGS/build-images.log" 2>&1
	fi
}

network() {
	step "network: bridge $BRIDGE ($GATEWAY), routes, $FWD_CHAIN, external host $EXT_NS ($EXT_IP)" "$STATE/network.log"
	network_setup 2>>"$STATE/network.log"
}

network_setup() {
	ip link add "$BRIDGE" type bridge
	# The bridge's alias names the checkout that owns the cluster, so a
	# make up or down from another checkout cannot take over its names.
	ip link set "$BRIDGE" alias "$ROOT"
	ip addr add "$GATEWAY/24" dev "$BRIDGE"
	ip link set "$BRIDGE" up
	# Pod and service ranges go to the bridge: a packet nothing claims dies
	# there instead of following the default route off the machine. Each
	# node's /24 gets a more specific route once its pod CIDR is known.
	ip route replace "$CLUSTER_CIDR" dev "$BRIDGE" proto static
	ip route replace "$SERVICE_CIDR" via "$(node_ip 1)" dev "$BRIDGE" proto static onlink
	# Drop what the root namespace would forward from cluster ranges to
	# anything outside them (with br_netfilter, bridged frames between
	# nodes pass FORWARD too, so the cluster ranges are let through).
	iptables -w -N "$FWD_CHAIN"
	iptables -w -A "$FWD_CHAIN" -d "$EXT_IP/32" -j RETURN
	for dst in "$CLUSTER_CIDR" "$SERVICE_CIDR" "$HARNESS_CIDR"; do
		iptables -w -A "$FWD_CHAIN" -d "$dst" -j RETURN
	done
	for src in "$CLUSTER_CIDR" "$SERVICE_CIDR" "$HARNESS_CIDR"; do
		iptables -w -A "$FWD_CHAIN" -s "$src" -j DROP
	done
	iptables -w -I FORWARD 1 -m comment --comment "$FWD_COMMENT" -j "$FWD_CHAIN"
	# The external host: a namespace on the bridge outside the cluster's
	# ranges as far as the nodes' masquerade rule is concerned.
	add_netns_on_bridge "$EXT_NS" mk8s-vext "$EXT_IP"
}

# add_netns_on_bridge NS HOST_VETH IP: a namespace whose "mk8s-up" link is
# plugged into the bridge, with IP/24 and a default route via the gateway.
add_netns_on_bridge() {
	local ns=$1 veth=$2 ip=$3
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip link add "$veth" type veth peer name mk8s-up netns "$ns"
	ip link set "$veth" master "$BRIDGE" up
	ip -n "$ns" addr add "$ip/24" dev mk8s-up
	ip -n "$ns" link set mk8s-up up
	ip -n "$ns" route add default via "$GATEWAY"
}

etcd() {
	local initial="" i client peer
	local -a quota=()
	[ -z "$MK8S_ETCD_QUOTA" ] || quota=(--quota-backend-bytes "$MK8S_ETCD_QUOTA")
	for i in $(seq 0 $((ETCD_MEMBERS - 1))); do
		initial+="${initial:+,}etcd-$i=https://$GATEWAY:$((2380 + 10 * i))"
	done
	for i in $(seq 0 $((ETCD_MEMBERS - 1))); do
		client="https://$GATEWAY:$((2379 + 10 * i))"
		peer="https://$GATEWAY:$((2380 + 10 * i))"
		step "etcd-$i ($client)" "$LOGS/etcd-$i.log"
		launch "etcd-$i" "" -- "$BIN/etcd" --name "etcd-$i" --data-dir "$STATE/etcd-$i" \
			--listen-client-urls "$client" --advertise-client-urls "$client" \
			--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
			--initial-cluster "$initial" --initial-cluster-token mk8s-local \
			--initial-cluster-state new --log-level warn \
			--cert-file "$PKI/etcd/server.crt" --key-file "$PKI/etcd/server.key" \
			--client-cert-auth --trusted-ca-file "$PKI/etcd/ca.crt" \
			--peer-cert-file "$PKI/etcd/peer.crt" --peer-key-file "$PKI/etcd/peer.key" \
			--peer-client-cert-auth --peer-trusted-ca-file "$PKI/etcd/ca.crt" "${quota[@]}"
	done
	step "wait for etcd quorum" "$LOGS/etcd-0.log"
	wait_for 60 "etcd" "$BIN/etcdctl" --endpoints "$ETCD_ENDPOINTS" "${ETCDCTL_TLS[@]}" endpoint health
}

apiservers() {
	local i health
	local -a bootstrap_flags=()
	[ "$KUBELET_TLS_BOOTSTRAP" = 0 ] || bootstrap_flags=(--enable-bootstrap-token-auth)
	health="scheduler=http://$GATEWAY:${SCHED_PORTS[0]}/healthz;http://$GATEWAY:${SCHED_PORTS[1]}/healthz"
	health+=",controller-manager=http://$GATEWAY:${CM_PORTS[0]}/healthz;http://$GATEWAY:${CM_PORTS[1]}/healthz"
	for i in 0 1; do
		step "apiserver-$i ($GATEWAY:${API_PORTS[$i]}, health :${API_HTTP_PORTS[$i]})" "$LOGS/apiserver-$i.log"
		launch "apiserver-$i" "" -- "$BIN/apiserver" --etcd-servers "$ETCD_ENDPOINTS" \
			--bind-address "$GATEWAY" --secure-port "${API_PORTS[$i]}" --http-port "${API_HTTP_PORTS[$i]}" \
			--service-cluster-ip-range "$SERVICE_CIDR" --component-health "$health" \
			--tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
			--client-ca-file "$PKI/ca.crt" --anonymous-auth=false \
			--etcd-cafile "$PKI/etcd/ca.crt" --etcd-certfile "$PKI/apiserver-etcd-client.crt" \
			--etcd-keyfile "$PKI/apiserver-etcd-client.key" \
			--audit-policy-file "$ROOT/deploy/audit/policy.yaml" --audit-log-path "$LOGS/audit-$i.log" \
			--audit-log-maxsize 100 --audit-log-maxbackup 3 \
			--kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
			--kubelet-client-key "$PKI/apiserver-kubelet-client.key" --kubelet-certificate-authority "$PKI/ca.crt" \
			--service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
			--authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
			--default-not-ready-toleration-seconds 20 --default-unreachable-toleration-seconds 20 \
			--encryption-provider-config "$PKI/encryption-config.yaml" "${bootstrap_flags[@]}"
	done
	for i in 0 1; do
		CURRENT_LOG="$LOGS/apiserver-$i.log"
		wait_for 60 "apiserver-$i" curl -fsS "http://$GATEWAY:${API_HTTP_PORTS[$i]}/readyz"
	done
}

schedulers() {
	local i
	for i in 0 1; do
		step "scheduler-$i (health $GATEWAY:${SCHED_PORTS[$i]})" "$LOGS/scheduler-$i.log"
		# Short leases so failover tests take seconds, not a minute.
		launch "scheduler-$i" "" -- "$BIN/scheduler" --server "$SERVERS" --kubeconfig "$STATE/scheduler.conf" \
			--bind-address "$GATEWAY" --port "${SCHED_PORTS[$i]}" \
			--leader-elect-identity "scheduler-$i" --lease-duration 10s --renew-deadline 8s --retry-period 2s
		wait_for 30 "scheduler-$i" curl -fsS "http://$GATEWAY:${SCHED_PORTS[$i]}/healthz"
	done
}

controller_managers() {
	local i
	for i in 0 1; do
		step "controller-manager-$i (health $GATEWAY:${CM_PORTS[$i]})" "$LOGS/controller-manager-$i.log"
		# Node lifecycle is shortened so a stopped kubelet's pods move
		# within a minute in the e2e tests.
		launch "controller-manager-$i" "" -- "$BIN/controller-manager" --server "$SERVERS" --kubeconfig "$STATE/controller-manager.conf" \
			--bind-address "$GATEWAY" --port "${CM_PORTS[$i]}" --cluster-cidr "$CLUSTER_CIDR" \
			--leader-elect-identity "controller-manager-$i" --leader-elect-lease-duration 10s \
			--leader-elect-renew-deadline 8s --leader-elect-retry-period 2s \
			--node-monitor-period 2s --node-monitor-grace-period 30s --pod-eviction-timeout 20s \
			--root-ca-file "$PKI/ca.crt" \
			--cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key"
		wait_for 30 "controller-manager-$i" curl -fsS "http://$GATEWAY:${CM_PORTS[$i]}/healthz"
	done
}

# containerd_config DIR: as test/nodetest does - every path under DIR and
# the CRI plugin off (the kubelet makes sandboxes itself).
containerd_config() {
	local dir=$1
	cat <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$dir/containerd.sock"

[ttrpc]
  address = "$dir/containerd.ttrpc.sock"

[debug]
  address = ""
  level = "warn"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
EOF
}

node() {
	local i=$1 ns ip dir
	local -a master_flags=() cred_flags=()
	ns=$(node_ns "$i") ip=$(node_ip "$i") dir=$(node_dir "$i")
	step "node $i: netns $ns ($ip)" "$STATE/network.log"
	add_netns_on_bridge "$ns" "mk8s-veth$i" "$ip" 2>>"$STATE/network.log"
	# Forwarding inside the node's own namespace (the kubelet sets it too).
	ip netns exec "$ns" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'

	step "node $i: containerd" "$LOGS/containerd-node$i.log"
	mkdir -p "$dir/containerd" "$dir/kubelet"
	containerd_config "$dir/containerd" >"$dir/containerd/config.toml"
	launch "containerd-node$i" "" -- containerd --config "$dir/containerd/config.toml"
	wait_for 30 "containerd of node $i" ctr -a "$(node_sock "$i")" version

	if [ "$CONTROL_PLANE" = static-pods ] && [ "$i" -eq "$MASTER" ]; then
		master_static_pods "$i"
		master_flags=(--pod-manifest-path "$MANIFESTS")
	fi
	if [ "$KUBELET_TLS_BOOTSTRAP" = 1 ] && [ ${#master_flags[@]} -eq 0 ]; then
		# TLS bootstrap: only the bootstrap token; the kubelet writes
		# $dir/kubelet.conf and its certificates under $dir/kubelet/pki.
		step "node $i: kubelet joins with the bootstrap token (server $ip:$((KUBELET_PORT_BASE + i)))" "$LOGS/kubelet-node$i.log"
		cred_flags=(--bootstrap-kubeconfig "$BOOTSTRAP_KUBECONFIG" --kubeconfig "$dir/kubelet.conf"
			--cert-dir "$dir/kubelet/pki" --rotate-certificates --rotate-server-certificates)
	else
		step "node $i: kubelet (server $ip:$((KUBELET_PORT_BASE + i)))" "$LOGS/kubelet-node$i.log"
		cred_flags=(--kubeconfig "$STATE/kubelet-$ns.conf"
			--tls-cert-file "$PKI/kubelet/$ns.crt" --tls-private-key-file "$PKI/kubelet/$ns.key")
	fi
	# HTTPS with the node's certificate; callers present a client
	# certificate of the cluster CA (the apiserver's apiserver-kubelet-client)
	# or a bearer token (a TokenReview checks it), and the apiserver must
	# allow what they ask (a SubjectAccessReview on nodes/proxy, nodes/stats,
	# ...), as kubeadm's kubelets do.
	launch "kubelet-node$i" "" -- "$BIN/kubelet" --server "$SERVERS" "${cred_flags[@]}" "${master_flags[@]}" \
		--client-ca-file "$PKI/ca.crt" --anonymous-auth=false \
		--authentication-token-webhook --authorization-mode Webhook \
		--hostname-override "$ns" --node-ip "$ip" --node-netns "/var/run/netns/$ns" \
		--containerd "$(node_sock "$i")" --root-dir "$dir/kubelet" \
		--netns-prefix "$ns-pod" --cgroup-root "/$ns" --bridge mk8s-cbr0 \
		--address "$ip" --port $((KUBELET_PORT_BASE + i)) \
		--registry-mirror "docker.io=http://$REGISTRY" --cluster-dns "$CLUSTER_DNS" \
		--cluster-cidr "$CLUSTER_CIDR"

	# In static-pods mode kube-proxy comes as a DaemonSet (kube_proxy_addon).
	[ "$CONTROL_PLANE" = processes ] || return 0
	step "node $i: kube-proxy (in $ns)" "$LOGS/kube-proxy-node$i.log"
	launch "kube-proxy-node$i" "$ns" -- "$BIN/kube-proxy" --server "$SERVERS" --kubeconfig "$STATE/kube-proxy.conf" \
		--hostname-override "$ns" --cluster-cidr "$CLUSTER_CIDR" --proxy-mode "$KUBE_PROXY_MODE"
}

# master_static_pods I: render the control plane's manifests for node I's
# kubelet, on the node's address; etcd keeps its data under the node's
# state directory, so down removes it with everything else.
master_static_pods() {
	local i=$1 dir api_extra=""
	dir=$(node_dir "$i")
	[ "$KUBELET_TLS_BOOTSTRAP" = 0 ] || api_extra=" --enable-bootstrap-token-auth"
	step "node $i: master, static pod manifests in $MANIFESTS" "$LOGS/render.log"
	# Node lifecycle shortened as for the controller-manager processes, so
	# TestNodeFailure moves pods within a minute in this mode too.
	(cd "$ROOT" && go run ./deploy/staticpods/render --node-ip "$(node_ip "$i")" --out "$MANIFESTS" \
		--etcd-name "$(node_ns "$i")" --etcd-data-dir "$dir/etcd" --pki-dir "$PKI" --kubeconfig-dir "$STATE" \
		--audit-policy-file "$ROOT/deploy/audit/policy.yaml" --audit-log-dir "$LOGS/audit" \
		--kube-apiserver-extra-args "--encryption-provider-config=/etc/kubernetes/pki/encryption-config.yaml --default-not-ready-toleration-seconds=20 --default-unreachable-toleration-seconds=20$api_extra" \
		--kube-controller-manager-extra-args "--node-monitor-period=2s --node-monitor-grace-period=30s --pod-eviction-timeout=20s") \
		>"$LOGS/render.log" 2>&1
}

# wait_static_apiserver: the master's kubelet pulls the images and starts
# etcd and the apiserver; the other kubelets retry until it answers.
wait_static_apiserver() {
	step "wait for the static kube-apiserver on $MASTER_IP (images pulled by node $MASTER's kubelet)" "$LOGS/kubelet-node$MASTER.log"
	wait_for 300 "kube-apiserver static pod" curl -fsS "http://$MASTER_IP:8080/readyz"
}

# addon_manifest SRC OLD NEW: SRC with the apiserver address OLD replaced
# by NEW, in a file under the state directory (whose name it prints);
# fails if OLD is missing, so a changed manifest is noticed.
addon_manifest() {
	local src=$1 old=$2 new=$3 out
	out="$STATE/$(basename "$src")"
	grep -qF -- "$old" "$src" || fail "$src does not name $old any more"
	sed "s|$old|$new|g" "$src" >"$out"
	echo "$out"
}

kube_proxy_addon() {
	local manifest
	step "kube-proxy DaemonSet: minictl apply -f deploy/addons/kube-proxy.yaml (server $SERVERS)" "$LOGS/kube-proxy-addon.log"
	manifest=$(addon_manifest "$KUBE_PROXY_MANIFEST" "$KUBE_PROXY_MANIFEST_SERVER" "$SERVERS")
	grep -qF -- "--proxy-mode=iptables" "$manifest" || fail "$KUBE_PROXY_MANIFEST does not name --proxy-mode=iptables any more"
	sed -i "s|--proxy-mode=iptables|--proxy-mode=$KUBE_PROXY_MODE|" "$manifest"
	kubeconfig_secret kube-proxy-kubeconfig "$STATE/kube-proxy.conf" >"$LOGS/kube-proxy-addon.log" 2>&1
	minictl apply -f "$manifest" >>"$LOGS/kube-proxy-addon.log" 2>&1
}

# static_pods_ready: the four mirror pods and a kube-proxy pod per node run.
static_pods_ready() {
	local out
	out=$(minictl -n kube-system get pods --no-headers -o 'custom-columns=NAME:metadata.name,PHASE:status.phase' 2>/dev/null)
	[ "$(grep -cE "^(etcd|kube-apiserver|kube-scheduler|kube-controller-manager)-$(node_ns "$MASTER") +Running" <<<"$out")" -eq 4 ] &&
		[ "$(grep -cE '^kube-proxy-[^ ]+ +Running' <<<"$out")" -eq "$NODES" ]
}

# node_ready NAME: the STATUS column says Ready (minictl's jsonpath has no
# [?()] filters to pick the Ready condition).
node_ready() {
	[ "$(minictl get node "$1" 2>/dev/null | awk 'NR == 2 {print $2}')" = Ready ]
}

wait_nodes() {
	local i ns cidr
	for i in $(seq 1 "$NODES"); do
		ns=$(node_ns "$i")
		step "wait for node $ns to be Ready" "$LOGS/kubelet-node$i.log"
		wait_for 120 "node $ns" node_ready "$ns"
		cidr=$(minictl get node "$ns" -o 'jsonpath={.spec.podCIDR}')
		[ -n "$cidr" ] || fail "node $ns has no pod CIDR"
		# Root namespace -> this node's pods (tests and debugging from the
		# host); nodes route among themselves through their kubelets.
		ip route replace "$cidr" via "$(node_ip "$i")" dev "$BRIDGE" proto static
	done
}

dns_addon() {
	if [ ! -f "$DNS_MANIFEST" ]; then
		step "cluster DNS: skipped ($DNS_MANIFEST does not exist yet)"
		return 0
	fi
	# In-cluster config: the service account's token, the kubernetes Service.
	step "cluster DNS: minictl apply -f deploy/addons/dns.yaml" "$LOGS/dns-addon.log"
	minictl apply -f "$DNS_MANIFEST" >"$LOGS/dns-addon.log" 2>&1
	wait_for 120 "kube-dns" dns_ready
}

# ingress_addon installs the ingress controller when INGRESS=1.
ingress_addon() {
	[ "${INGRESS:-0}" = 1 ] || return 0
	step "ingress controller: minictl apply -f deploy/addons/ingress.yaml" "$LOGS/ingress-addon.log"
	minictl apply -f "$ROOT/deploy/addons/ingress.yaml" >"$LOGS/ingress-addon.log" 2>&1
	wait_for 120 "ingress-controller" ingress_ready
}

# dashboard_addon installs the web dashboard when DASHBOARD=1.
dashboard_addon() {
	[ "${DASHBOARD:-0}" = 1 ] || return 0
	step "dashboard: minictl apply -f deploy/addons/dashboard.yaml" "$LOGS/dashboard-addon.log"
	minictl apply -f "$ROOT/deploy/addons/dashboard.yaml" >"$LOGS/dashboard-addon.log" 2>&1
	wait_for 120 "kubernetes-dashboard" dashboard_ready
}

dashboard_ready() {
	local ready
	ready=$(minictl -n kube-system get deployment kubernetes-dashboard -o 'jsonpath={.status.readyReplicas}' 2>/dev/null)
	[ -n "$ready" ] && [ "$ready" -ge 1 ]
}

# dashboard_hint prints where the dashboard is and how to log in to it.
dashboard_hint() {
	[ "${DASHBOARD:-0}" = 1 ] || return 0
	cat <<EOF
    dashboard: http://$(node_ip 1):30090/   (any node's IP; docs/dashboard.md)
      log in with a token, e.g. of a cluster-wide viewer:
        kubectl -n kube-system create serviceaccount dashboard-viewer
        kubectl create clusterrolebinding dashboard-viewer --clusterrole=view --serviceaccount=kube-system:dashboard-viewer
        kubectl -n kube-system create token dashboard-viewer
EOF
}

ingress_ready() {
	local ready
	ready=$(minictl -n kube-system get deployment ingress-controller -o 'jsonpath={.status.readyReplicas}' 2>/dev/null)
	[ -n "$ready" ] && [ "$ready" -ge 1 ]
}

dns_ready() {
	local ready
	ready=$(minictl -n kube-system get deployment kube-dns -o 'jsonpath={.status.readyReplicas}' 2>/dev/null)
	[ -n "$ready" ] && [ "$ready" -ge 1 ]
}

write_env() {
	local master=""
	[ "$CONTROL_PLANE" != static-pods ] || master=$(node_ns "$MASTER")
	# What the e2e tests (and users' scripts) need to reach the cluster.
	cat >"$STATE/cluster.env" <<EOF
MINIK8S_SERVER=$SERVERS
MK8S_ETCD_ENDPOINTS=$ETCD_ENDPOINTS
MK8S_NODES=$NODES
MK8S_NODE_IPS=$(for i in $(seq 1 "$NODES"); do printf '%s%s' "$([ "$i" -gt 1 ] && echo ,)" "$(node_ip "$i")"; done)
MK8S_EXT_NS=$EXT_NS
MK8S_EXT_IP=$EXT_IP
MK8S_HARNESS=$ROOT/hack/local-up-cluster.sh
MK8S_BIN=$BIN
MK8S_STATE=$STATE
CONTROL_PLANE=$CONTROL_PLANE
MK8S_MASTER=$master
MK8S_KUBECONFIG=$KUBECONFIG_FILE
MK8S_PKI=$PKI
MK8S_ETCD_CACERT=$PKI/etcd/ca.crt
MK8S_ETCD_CERT=$PKI/apiserver-etcd-client.crt
MK8S_ETCD_KEY=$PKI/apiserver-etcd-client.key
MK8S_ETCD_QUOTA=$MK8S_ETCD_QUOTA
MK8S_FAULT_CHAIN=$FAULT_CHAIN
MK8S_FAULT_CGROUP=$FAULT_CGROUP
KUBE_PROXY_MODE=$KUBE_PROXY_MODE
KUBELET_TLS_BOOTSTRAP=$KUBELET_TLS_BOOTSTRAP
MK8S_BOOTSTRAP_KUBECONFIG=$([ "$KUBELET_TLS_BOOTSTRAP" = 0 ] || echo "$BOOTSTRAP_KUBECONFIG")
MK8S_MODE=$MODE
MK8S_NODE_NAMES=$(for i in $(seq 1 "$NODES"); do printf '%s%s' "$([ "$i" -gt 1 ] && echo ,)" "$(node_ns "$i")"; done)
MK8S_MACHINES=$([ "$MODE" != machines ] || machines_list | paste -sd,)
EOF
	echo "$NODES" >"$STATE/nodes"
}

# certs writes the cluster's PKI with `minictl certs` (kubeadm's layout)
# into $PKI and the kubeconfigs into $STATE; $KUBECONFIG_FILE is the
# admin's (O=system:masters): https, the cluster CA, a client certificate.
certs() {
	local kc=$KUBECONFIG_FILE i nodes=""
	step "PKI: minictl certs --cert-dir $PKI (kubeconfigs in $STATE; server $KUBECONFIG_SERVER)" "$LOGS/certs.log"
	for i in $(seq 1 "$NODES"); do
		nodes+="${nodes:+,}$(node_ns "$i")=$(node_ip "$i")+$GATEWAY+127.0.0.1"
	done
	"$BIN/minictl" certs --cert-dir "$PKI" --kubeconfig-dir "$STATE" --server "$KUBECONFIG_SERVER" \
		--apiserver-advertise-address "$GATEWAY,$MASTER_IP" --nodes "$nodes" >"$LOGS/certs.log" 2>&1
	cp "$STATE/admin.conf" "$kc"
	chmod 600 "$kc"
	[ "$KUBELET_TLS_BOOTSTRAP" = 0 ] || bootstrap_kubeconfig
	# Secrets are encrypted at rest (aesgcm, a fresh key per cluster);
	# identity second, so values written before stay readable.
	(umask 077 && cat >"$PKI/encryption-config.yaml" <<EOF
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aesgcm:
      keys:
      - name: key1
        secret: $(head -c 32 /dev/urandom | base64 -w0)
  - identity: {}
EOF
	)
}

# kubeconfig_secret NAME FILE: a Secret kube-system/NAME whose key
# "kubeconfig" is FILE, for an add-on's pods to mount.
kubeconfig_secret() {
	local name=$1 file=$2 out="$STATE/secret-$1.yaml"
	cat >"$out" <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: $name
  namespace: kube-system
type: Opaque
data:
  kubeconfig: $(base64 -w0 "$file")
EOF
	minictl apply -f "$out"
}

# bootstrap_kubeconfig: a bootstrap token ID.SECRET (kubeadm's form) in
# $STATE/bootstrap-token and the kubeconfig a joining kubelet is given:
# the cluster (server, CA) and that token, nothing else.
bootstrap_kubeconfig() {
	local r id secret
	r=$(head -c 2000 /dev/urandom | tr -dc 'a-z0-9')
	id=${r:0:6} secret=${r:6:16}
	[ ${#secret} -eq 16 ] || fail "could not make a bootstrap token"
	(umask 077 && echo "$id.$secret" >"$STATE/bootstrap-token")
	(umask 077 && cat >"$BOOTSTRAP_KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kubernetes
  cluster:
    server: $KUBECONFIG_SERVER
    certificate-authority-data: $(base64 -w0 "$PKI/ca.crt")
users:
- name: tls-bootstrap-token-user
  user:
    token: $id.$secret
contexts:
- name: tls-bootstrap-token-user@kubernetes
  context:
    cluster: kubernetes
    user: tls-bootstrap-token-user
current-context: tls-bootstrap-token-user@kubernetes
EOF
	)
}

# bootstrap_token_secret: the Secret that makes $STATE/bootstrap-token
# valid, as `kubeadm token create` writes it (no expiration: the harness
# adds nodes later with it; make down removes the cluster).
bootstrap_token_secret() {
	local id secret out="$STATE/bootstrap-token-secret.yaml"
	IFS=. read -r id secret <"$STATE/bootstrap-token"
	step "bootstrap token: Secret kube-system/bootstrap-token-$id (nodes join with $BOOTSTRAP_KUBECONFIG)" "$LOGS/bootstrap-token.log"
	(umask 077 && cat >"$out" <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: bootstrap-token-$id
  namespace: kube-system
type: bootstrap.kubernetes.io/token
data:
  description: $(printf '%s' "minik8s local-up-cluster node join token" | base64 -w0)
  token-id: $(printf '%s' "$id" | base64 -w0)
  token-secret: $(printf '%s' "$secret" | base64 -w0)
  usage-bootstrap-authentication: $(printf true | base64 -w0)
  usage-bootstrap-signing: $(printf true | base64 -w0)
  auth-extra-groups: $(printf '%s' "system:bootstrappers:kubeadm:default-node-token" | base64 -w0)
EOF
	)
	# In static-pods mode the apiserver has just answered /readyz; the
	# kube-system namespace may still be on its way.
	wait_for 60 "bootstrap token Secret" minictl apply -f "$out"
	minictl apply -f "$out" >"$LOGS/bootstrap-token.log" 2>&1
}

# check_owner refuses to touch a cluster another checkout started: the
# node namespaces, the bridge and the chain have fixed names.
check_owner() {
	local owner
	owner=$(ip -o link show "$BRIDGE" 2>/dev/null | sed -n 's/.* alias \(.*\)$/\1/p' || true)
	if [ -n "$owner" ] && [ "$owner" != "$ROOT" ]; then
		echo "local-up: a cluster started from $owner is running on this machine; run 'make down' there first" >&2
		exit 1
	fi
}

up() {
	local t0=$SECONDS i
	preflight
	check_owner
	down quiet
	mkdir -p "$STATE" "$LOGS" "$PIDS" "$CMDS"
	echo "$NODES" >"$STATE/nodes"
	echo "$CONTROL_PLANE" >"$STATE/control-plane"
	echo "$KUBELET_TLS_BOOTSTRAP" >"$STATE/kubelet-tls-bootstrap"
	echo "$MODE" >"$STATE/mode"
	if [ "$MODE" = machines ]; then
		up_machines
		return
	fi
	trap 'on_err $LINENO' ERR
	install_deps
	build
	certs
	images
	network
	if [ "$CONTROL_PLANE" = static-pods ]; then
		for i in $(seq 1 "$NODES"); do node "$i"; done
		wait_static_apiserver
		# The workers' kubelets retry their requests until the token is valid.
		[ "$KUBELET_TLS_BOOTSTRAP" = 0 ] || bootstrap_token_secret
		kube_proxy_addon
		wait_nodes
		step "wait for the static pods and a kube-proxy pod per node" "$LOGS/kubelet-node$MASTER.log"
		wait_for 180 "static pods and kube-proxy" static_pods_ready
	else
		etcd
		apiservers
		schedulers
		controller_managers
		[ "$KUBELET_TLS_BOOTSTRAP" = 0 ] || bootstrap_token_secret
		for i in $(seq 1 "$NODES"); do node "$i"; done
		wait_nodes
	fi
	dns_addon
	ingress_addon
	dashboard_addon
	write_env
	trap - ERR
	cat <<EOF
==> cluster is up in $((SECONDS - t0))s: $NODES nodes Ready, control plane: $CONTROL_PLANE, kube-proxy mode: $KUBE_PROXY_MODE
    export KUBECONFIG=$KUBECONFIG_FILE
    bin/minictl get nodes                     # or MINIK8S_SERVER=$SERVERS: failover across the apiservers
    kubectl get nodes
    bin/minictl get componentstatuses
    bin/etcdctl --endpoints $ETCD_ENDPOINTS ${ETCDCTL_TLS[*]} get /registry/pods/default/NAME
    ip netns exec $(node_ns 1) sh              # a shell on node 1
    hack/local-up-cluster.sh components       # processes; stop-component/start-component NAME
    bin/minictl get po -n kube-system -o custom-columns=POD:metadata.name,NODE:spec.nodeName --sort-by spec.nodeName
    logs: $LOGS    stop: make down
EOF
	dashboard_hint
}

# ---------------------------------------------------------------- down

# purge_containerd SOCK: kill every task and delete every container, so no
# shim or container process outlives the daemon.
purge_containerd() {
	local sock=$1 ns id
	[ -S "$sock" ] || return 0
	timeout 10 ctr -a "$sock" version >/dev/null 2>&1 || return 0
	for ns in $(timeout 10 ctr -a "$sock" namespaces ls -q 2>/dev/null); do
		for id in $(timeout 10 ctr -a "$sock" -n "$ns" tasks ls -q 2>/dev/null); do
			timeout 20 ctr -a "$sock" -n "$ns" tasks rm -f "$id" >/dev/null 2>&1 || true
		done
		for id in $(timeout 10 ctr -a "$sock" -n "$ns" containers ls -q 2>/dev/null); do
			timeout 20 ctr -a "$sock" -n "$ns" containers rm "$id" >/dev/null 2>&1 || true
		done
	done
}

# kill_leftovers: processes that survived their containerd - container
# processes (found in the nodes' cgroups) and shims (whose command line
# names a socket under $STATE) - are ours; end them by PID.
kill_leftovers() {
	local pids="" d p cmd
	for d in /sys/fs/cgroup/*/mk8s-node* /sys/fs/cgroup/mk8s-node* /sys/fs/cgroup/*/mk8s-worker* /sys/fs/cgroup/mk8s-worker*; do
		[ -d "$d" ] || continue
		[[ $(basename "$d") =~ ^mk8s-(node|worker)[0-9]+$ ]] || continue
		pids+=" $(find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')"
	done
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case "$cmd" in
		containerd-shim*"$STATE/"* | */containerd-shim*"$STATE/"*) pids+=" ${p#/proc/}" ;;
		esac
	done
	for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
	# Remove the nodes' cgroups bottom-up (cgroup directories go with rmdir).
	for d in /sys/fs/cgroup/*/mk8s-node* /sys/fs/cgroup/mk8s-node* /sys/fs/cgroup/*/mk8s-worker* /sys/fs/cgroup/mk8s-worker*; do
		[ -d "$d" ] || continue
		[[ $(basename "$d") =~ ^mk8s-(node|worker)[0-9]+$ ]] || continue
		for _ in 1 2 3 4 5; do
			find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
			[ -d "$d" ] || break
			sleep 0.2
		done
	done
}

down() {
	local quiet=${1:-} n i name f
	[ "$(id -u)" -eq 0 ] || { echo "local-up: down needs root" >&2; exit 1; }
	check_owner
	[ -n "$quiet" ] || step "stopping the local cluster"
	# Machines first (whatever MODE says now: the cluster may be of the
	# other mode): their containers die with them.
	down_machines
	n=$(cat "$STATE/nodes" 2>/dev/null || echo "$NODES")
	[ "$n" -ge "$NODES" ] 2>/dev/null || n=$NODES
	local -a agents=() ctrds=() rest=()
	for i in $(seq 1 "$n"); do
		agents+=("kube-proxy-node$i" "kubelet-node$i")
		ctrds+=("containerd-node$i")
	done
	# Node agents first, so nothing restarts containers while they go;
	# then every container, then the rest together (their state goes too,
	# so a short grace is enough).
	stop_pids 5 "${agents[@]}"
	for i in $(seq 1 "$n"); do purge_containerd "$(node_sock "$i")" & done
	wait
	stop_pids 5 "${ctrds[@]}"
	for f in "$PIDS"/*.pid; do
		[ -e "$f" ] && rest+=("$(basename "$f" .pid)")
	done
	[ ${#rest[@]} -eq 0 ] || stop_pids 5 "${rest[@]}"
	kill_leftovers
	# Network namespaces: the nodes', their pods' and the external host's.
	for name in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		if [[ $name =~ ^mk8s-node[0-9]+(-pod-.*)?$ ]] || [[ $name =~ ^mk8s-(cp|worker)[0-9]+$ ]] || [ "$name" = "$EXT_NS" ]; then
			ip netns del "$name" 2>/dev/null || true
		fi
	done
	for i in $(seq 1 "$n"); do ip link del "mk8s-veth$i" 2>/dev/null || true; ip link del "mk8s-vworker$i" 2>/dev/null || true; done
	ip link del mk8s-vcp1 2>/dev/null || true
	ip link del mk8s-vext 2>/dev/null || true
	ip route del "$CLUSTER_CIDR" dev "$BRIDGE" 2>/dev/null || true
	ip route del "$SERVICE_CIDR" dev "$BRIDGE" 2>/dev/null || true
	ip link del "$BRIDGE" 2>/dev/null || true # takes the per-node routes with it
	while iptables -w -D FORWARD -m comment --comment "$FWD_COMMENT" -j "$FWD_CHAIN" 2>/dev/null; do :; done
	iptables -w -F "$FWD_CHAIN" 2>/dev/null || true
	iptables -w -X "$FWD_CHAIN" 2>/dev/null || true
	while iptables -w -D OUTPUT -j "$FAULT_CHAIN" 2>/dev/null; do :; done
	iptables -w -F "$FAULT_CHAIN" 2>/dev/null || true
	iptables -w -X "$FAULT_CHAIN" 2>/dev/null || true
	rmdir "$FAULT_CGROUP"/* "$FAULT_CGROUP" 2>/dev/null || true
	if [ -f "$STATE/registry.ours" ]; then
		"$ROOT/hack/build-images.sh" stop >/dev/null 2>&1 || true
	fi
	# Whatever is still mounted below the state directory (containerd
	# snapshots, kubelet volumes) is unmounted before removal, deepest first.
	if [ -d "$STATE" ]; then
		awk -v s="$STATE/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
		rm -rf "$STATE"
	fi
	[ -n "$quiet" ] || step "local cluster removed"
}

# ---------------------------------------------------------------- components

components() {
	local f name state
	if [ "$(cat "$STATE/control-plane" 2>/dev/null)" = static-pods ]; then
		# Not processes of the harness: see them with minictl get pods.
		echo "control plane: static pods of $(node_ns "$MASTER") (manifests in $MANIFESTS); kube-proxy: DaemonSet"
	fi
	for f in "$CMDS"/*; do
		[ -e "$f" ] || continue
		name=$(basename "$f")
		if pid_alive "$name"; then state="running pid $(cat "$PIDS/$name.pid")"; else state=stopped; fi
		printf '%-24s %s\n' "$name" "$state"
	done
}

# static_unsupported VERB NAME: in static-pods mode the control plane and
# kube-proxy are pods, not harness processes: say so instead of "no
# component".
static_unsupported() {
	local verb=$1 name=$2
	[ "$(cat "$STATE/control-plane" 2>/dev/null)" = static-pods ] || return 0
	case "$name" in
	etcd-* | apiserver-* | scheduler-* | controller-manager-* | kube-proxy-*)
		echo "local-up: $verb $name is not supported with CONTROL_PLANE=static-pods: the control plane runs as static pods of $(node_ns "$MASTER") (manifests in $MANIFESTS) and kube-proxy as a DaemonSet; only containerd-nodeI and kubelet-nodeI are processes" >&2
		exit 2
		;;
	esac
}

stop_component() {
	local name=${1:?usage: stop-component NAME}
	static_unsupported stop-component "$name"
	[ -f "$CMDS/$name" ] || { echo "local-up: no component $name (see components)" >&2; exit 2; }
	stop_pids 10 "$name"
	echo "stopped $name"
}

start_component() {
	local name=${1:?usage: start-component NAME}
	static_unsupported start-component "$name"
	[ -f "$CMDS/$name" ] || { echo "local-up: no component $name (see components)" >&2; exit 2; }
	if pid_alive "$name"; then
		echo "$name already runs (pid $(cat "$PIDS/$name.pid"))"
		return 0
	fi
	run_recorded "$name"
	echo "started $name (pid $(cat "$PIDS/$name.pid"))"
}

case "${1:-up}" in
up) up ;;
down) down ;;
components) components ;;
stop-component) stop_component "${2:-}" ;;
start-component) start_component "${2:-}" ;;
ssh) shift; machine_ssh "$@" ;;
reboot) machine_reboot "${2:-}" ;;
poweroff) machine_poweroff "${2:-}" ;;
boot) machine_start "${2:-}" ;;
*)
	echo "usage: $0 [up|down|components|stop-component NAME|start-component NAME|ssh MACHINE [-- CMD...]|reboot|poweroff|boot MACHINE]" >&2
	exit 2
	;;
esac

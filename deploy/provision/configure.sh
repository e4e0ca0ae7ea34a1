#!/usr/bin/env bash
# Configures one Debian 12 machine of a minik8s cluster from the packages of
# `make package`, step by step as docs/operations.md tells an operator:
# install the packages, put the PKI in /etc/minik8s, set the machine's names
# and addresses in the environment files, start the units. The one script
# both paths use: `make up MODE=machines` runs it inside each nspawn machine
# (hack/local-up-cluster.sh), the Vagrantfile in each VM (deploy/vagrant),
# so what the machine e2e tests is what a Vagrant user gets. Idempotent: a
# second run (`vagrant provision`) upgrades the packages and keeps local
# edits of the environment files other than the flags it sets.
#
#   configure.sh control-plane STAGE NAME IP
#   configure.sh worker        STAGE NAME IP CONTROL-PLANE-IP
#
# Several control-plane machines (MK8S_CONTROL_PLANES) form one etcd
# cluster, a member on each, with an apiserver on each; the scheduler and
# controller manager run on each and elect a leader through their Leases.
# Every client lists every apiserver, its own machine's first, and fails
# over between them: the apiservers' --etcd-servers, the scheduler's and
# controller manager's --server, the workers' kubelet and kube-proxy
# --server (kubeadm puts a load balancer in front instead; a list needs
# no extra daemon and survives the loss of any one machine).
#
# STAGE holds packages/ (minik8s-*.deb) and pki/ (what `minictl certs
# --cert-dir STAGE/pki/pki --kubeconfig-dir STAGE/pki` writes, with
# bootstrap-token and bootstrap-kubelet.conf beside it).
#
# Environment (all optional):
#   MK8S_CONTROL_PLANES "NAME=IP,..." every control-plane machine, this one
#                       included (default: the one control plane, NAME=IP
#                       on a control plane, CONTROL-PLANE-IP on a worker)
#   MK8S_HOSTS          "IP=NAME,..." written into /etc/hosts (the machines
#                       find each other by name without DNS)
#   MK8S_REGISTRY       host:port of the plain-HTTP registry the kubelets
#                       pull through (default CONTROL-PLANE-IP:5000)
#   MK8S_SERVE_REGISTRY 1: install Debian's docker-registry on the control
#                       plane (the Vagrant layout's registry)
#   MK8S_ARGS_<UNIT>    extra --flag=value words for UNIT's DAEMON_ARGS, UNIT
#                       upper-cased with _ for - (MK8S_ARGS_KUBELET,
#                       MK8S_ARGS_KUBE_APISERVER, ...); a flag already in the
#                       file gets the new value
set -euo pipefail

ROLE=${1:?role: control-plane or worker} STAGE=${2:?stage directory} NAME=${3:?machine name} IP=${4:?machine address}
# A control plane's environment files name its own address.
CP_IP=${5:-$IP}
[ "$ROLE" != control-plane ] || CP_IP=$IP
REGISTRY=${MK8S_REGISTRY:-$CP_IP:5000}
# The address the packaged example environment files name for the control
# plane (deploy/systemd/env): replaced by this cluster's.
EXAMPLE_CP_IP=192.168.56.10

die() { echo "configure: $*" >&2; exit 1; }
log() { printf '%s: %s\n' "$NAME" "$*"; }

case "$ROLE" in
control-plane)
	PACKAGE=minik8s-control-plane
	UNITS=(etcd kube-apiserver kube-scheduler kube-controller-manager)
	# docs/operations.md, Configure step 2.
	PKI_FILES=(pki/ca.crt pki/ca.key pki/apiserver.crt pki/apiserver.key
		pki/apiserver-etcd-client.crt pki/apiserver-etcd-client.key
		pki/apiserver-kubelet-client.crt pki/apiserver-kubelet-client.key
		pki/etcd/ca.crt pki/etcd/server.crt pki/etcd/server.key pki/etcd/peer.crt pki/etcd/peer.key
		pki/sa.key pki/sa.pub admin.conf scheduler.conf controller-manager.conf)
	;;
worker)
	PACKAGE=minik8s-node
	UNITS=(kubelet kube-proxy)
	# The CA, kube-proxy's kubeconfig and the bootstrap kubeconfig: the
	# kubelet joins with the token and writes /etc/minik8s/kubelet.conf.
	PKI_FILES=(pki/ca.crt kube-proxy.conf bootstrap-kubelet.conf)
	;;
*) die "role must be control-plane or worker, got $ROLE" ;;
esac

# hosts: the cluster's machines by name, in a block replaced on every run.
hosts() {
	[ -n "${MK8S_HOSTS:-}" ] || return 0
	local e entries
	sed -i '/# minik8s-begin/,/# minik8s-end/d' /etc/hosts
	IFS=, read -ra entries <<<"$MK8S_HOSTS"
	{
		echo "# minik8s-begin"
		for e in "${entries[@]}"; do printf '%s %s\n' "${e%%=*}" "${e#*=}"; done
		echo "# minik8s-end"
	} >>/etc/hosts
}

# install_packages: this role's package and the client with apt, which
# takes the dependencies (containerd, runc, iptables) from Debian. A
# machine whose dependencies are already installed (the nspawn base image)
# needs no package index, and has no network to fetch one.
install_packages() {
	local debs=() p f
	for p in "$PACKAGE" minik8s-client; do
		f=$(ls "$STAGE"/packages/"$p"_*.deb 2>/dev/null | head -1)
		[ -n "$f" ] || die "no $p_*.deb in $STAGE/packages (make package)"
		debs+=("$f")
	done
	export DEBIAN_FRONTEND=noninteractive
	local deps
	deps=$(dpkg-deb -f "${debs[0]}" Depends | tr ',' '\n' | sed -E 's/[ (].*//; s/^ +//' | grep -v '^$')
	# shellcheck disable=SC2086
	if ! dpkg -s $deps curl >/dev/null 2>&1 || [ "${MK8S_SERVE_REGISTRY:-0}" = 1 ]; then
		apt-get update -qq
		apt-get install -y -qq curl >/dev/null
	fi
	# --force-confold: a re-run keeps the operator's edits of conffiles.
	apt-get install -y -q -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-confdef "${debs[@]}" >/dev/null
}

# install_pki: the role's files under /etc/minik8s, keys and kubeconfigs
# root-only (the units hand them to their dynamic users with LoadCredential=).
install_pki() {
	local f mode
	for f in "${PKI_FILES[@]}"; do
		mode=0644
		case "$f" in *.key | *.conf) mode=0600 ;; esac
		install -D -m "$mode" "$STAGE/pki/$f" "/etc/minik8s/$f"
	done
}

# set_flag FILE FLAG VALUE: --FLAG=VALUE in FILE's DAEMON_ARGS, replacing
# the flag's value if it is there and adding it before the closing quote
# otherwise; everything else in the file stays as the operator left it.
set_flag() {
	local file=$1 flag=$2 value=$3
	# Comment lines (the files explain their flags) are left alone.
	if grep -vE '^[[:space:]]*#' "$file" | grep -qE -- "--$flag(=|[ \"\\\\]|$)"; then
		sed -i -E "/^[[:space:]]*#/!s#--$flag(=[^ \"\\\\]*)?([ \"\\\\]|$)#--$flag=$value\\2#" "$file"
	else
		# The last flag line of DAEMON_ARGS ends with the closing quote.
		sed -i -E "0,/^( +--[^\"]*)\"\$/s##\\1 \\\\\\n  --$flag=$value\"#" "$file"
		grep -qE -- "--$flag=" "$file" || die "$file: could not add --$flag"
	fi
}

# extra_flags UNIT: MK8S_ARGS_<UNIT>'s words into UNIT's environment file.
extra_flags() {
	local unit=$1 var word
	var=MK8S_ARGS_$(echo "$unit" | tr 'a-z-' 'A-Z_')
	for word in ${!var:-}; do
		[[ $word == --*=* ]] || die "$var: want --flag=value words, got $word"
		word=${word#--}
		set_flag "/etc/minik8s/$unit.env" "${word%%=*}" "${word#*=}"
	done
}

# control_planes FORMAT [local]: FORMAT for every control-plane machine,
# {name} and {ip} replaced, comma-separated; with "local", this machine's
# entry first as {local} (e.g. 127.0.0.1) and then the others.
control_planes() {
	local fmt=$1 first=${2:-} e n ip out="" entries
	IFS=, read -ra entries <<<"${MK8S_CONTROL_PLANES:-}"
	[ ${#entries[@]} -gt 0 ] || entries=("$([ "$ROLE" = control-plane ] && echo "$NAME=$IP" || echo "cp=$CP_IP")")
	if [ -n "$first" ]; then
		e=${fmt//\{name\}/$NAME}
		out=${e//\{ip\}/$first}
	fi
	for e in "${entries[@]}"; do
		n=${e%%=*} ip=${e#*=}
		[ -z "$first" ] || [ "$n" != "$NAME" ] || continue
		e=${fmt//\{name\}/$n}
		out+="${out:+,}${e//\{ip\}/$ip}"
	done
	echo "$out"
}

# configure_env: docs/operations.md, Configure step 4 - this machine's
# addresses and names in the environment files.
configure_env() {
	local u n
	n=$(control_planes x | tr , '\n' | wc -l)
	for u in "${UNITS[@]}"; do
		sed -i "/^[[:space:]]*#/!s/$EXAMPLE_CP_IP/$CP_IP/g" "/etc/minik8s/$u.env"
	done
	if [ "$ROLE" = control-plane ]; then
		set_flag /etc/minik8s/etcd.env name "$NAME"
		set_flag /etc/minik8s/etcd.env initial-cluster "$(control_planes '{name}=https://{ip}:2380')"
		if [ "$n" -gt 1 ]; then
			set_flag /etc/minik8s/kube-apiserver.env etcd-servers "$(control_planes 'https://{ip}:2379' 127.0.0.1)"
			set_flag /etc/minik8s/kube-scheduler.env server "$(control_planes '{ip}:6443' 127.0.0.1)"
			set_flag /etc/minik8s/kube-controller-manager.env server "$(control_planes '{ip}:6443' 127.0.0.1)"
		fi
	else
		if [ "$n" -gt 1 ]; then
			set_flag /etc/minik8s/kubelet.env server "$(control_planes '{ip}:6443')"
			set_flag /etc/minik8s/kube-proxy.env server "$(control_planes '{ip}:6443')"
		fi
		set_flag /etc/minik8s/kubelet.env hostname-override "$NAME"
		set_flag /etc/minik8s/kubelet.env node-ip "$IP"
		set_flag /etc/minik8s/kubelet.env registry-mirror "docker.io=http://$REGISTRY"
		set_flag /etc/minik8s/kubelet.env insecure-registry "$REGISTRY"
		set_flag /etc/minik8s/kube-proxy.env hostname-override "$NAME"
	fi
	for u in "${UNITS[@]}"; do extra_flags "$u"; done
}

# worker_host: what a worker needs besides the packages (docs/operations.md):
# containerd without its CRI plugin (the kubelet builds sandboxes itself,
# and the plugin would set up a CNI network of its own), the overlay and
# br_netfilter modules, forwarding.
worker_host() {
	install -d -m 0755 /etc/containerd /etc/minik8s/manifests
	cat >/etc/containerd/config.toml <<'TOML'
version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri"]
TOML
	printf 'overlay\nbr_netfilter\n' >/etc/modules-load.d/minik8s.conf
	cat >/etc/sysctl.d/90-minik8s.conf <<'SYSCTL'
net.bridge.bridge-nf-call-iptables = 1
net.ipv4.ip_forward = 1
SYSCTL
	# A container machine shares the host's kernel and cannot load
	# modules: the host loads them (hack/local-up-cluster.sh does), so
	# only a missing module is an error.
	modprobe overlay 2>/dev/null || grep -qw overlay /proc/filesystems || die "no overlay file system"
	modprobe br_netfilter 2>/dev/null || [ -e /proc/sys/net/bridge ] || die "no br_netfilter module"
	sysctl -q -p /etc/sysctl.d/90-minik8s.conf
}

# bootstrap_token: the Secret that makes the staged bootstrap token valid,
# as `kubeadm token create` writes it (no expiration; delete the Secret to
# stop further joins).
bootstrap_token() {
	local id secret f
	[ -f "$STAGE/pki/bootstrap-token" ] || return 0
	IFS=. read -r id secret <"$STAGE/pki/bootstrap-token"
	f=$(mktemp)
	b64() { printf '%s' "$1" | base64 -w0; }
	cat >"$f" <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: bootstrap-token-$id
  namespace: kube-system
type: bootstrap.kubernetes.io/token
data:
  description: $(b64 "minik8s node join token")
  token-id: $(b64 "$id")
  token-secret: $(b64 "$secret")
  usage-bootstrap-authentication: $(b64 true)
  usage-bootstrap-signing: $(b64 true)
  auth-extra-groups: $(b64 system:bootstrappers:kubeadm:default-node-token)
EOF
	# kube-system may still be on its way right after /readyz.
	local i
	for i in $(seq 60); do
		minictl --kubeconfig /etc/minik8s/admin.conf --server 127.0.0.1:6443 apply -f "$f" >/dev/null 2>&1 && break
		[ "$i" -lt 60 ] || { rm -f "$f"; die "could not create the bootstrap token Secret"; }
		sleep 1
	done
	rm -f "$f"
}

wait_apiserver() {
	local i
	for i in $(seq 120); do
		curl -fsS -o /dev/null http://127.0.0.1:8080/readyz && return 0
		sleep 1
	done
	die "kube-apiserver not ready after 120s (journalctl -u kube-apiserver)"
}

main() {
	local t0=$SECONDS
	hosts
	if [ "$ROLE" = control-plane ] && [ "${MK8S_SERVE_REGISTRY:-0}" = 1 ]; then
		# Debian's registry listens on :5000 and starts as its own unit.
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
	fi
	log "apt-get install $PACKAGE minik8s-client"
	install_packages
	log "PKI and environment files in /etc/minik8s"
	install_pki
	configure_env
	[ "$ROLE" = control-plane ] || worker_host
	if [ "$ROLE" = control-plane ]; then
		# root's kubectl/minictl talk to the cluster as the admin.
		install -d -m 0700 /root/.kube
		install -m 0600 /etc/minik8s/admin.conf /root/.kube/config
	fi
	log "systemctl restart ${UNITS[*]}"
	systemctl daemon-reload
	systemctl enable --quiet "${UNITS[@]}"
	if [ "$ROLE" = worker ]; then
		systemctl enable --quiet containerd
		systemctl restart containerd
	fi
	# restart, not start: a second run must pick up new flags.
	systemctl restart "${UNITS[@]}"
	if [ "$ROLE" = control-plane ]; then
		wait_apiserver
		bootstrap_token
	fi
	log "configured as $ROLE in $((SECONDS - t0))s"
}

main

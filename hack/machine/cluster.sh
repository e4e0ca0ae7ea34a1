# shellcheck shell=bash
# The machines mode of hack/local-up-cluster.sh (`make up MODE=machines`),
# sourced by it: the cluster as an operator runs it on VMs, every daemon a
# systemd unit from the Debian packages of `make package`, on machines
# booted with systemd-nspawn (hack/machine/machine.sh):
#
#   mk8s-cp1       10.250.0.10    etcd, kube-apiserver, kube-scheduler,
#                                 kube-controller-manager (minik8s-control-plane)
#   mk8s-cp2, -cp3 10.250.0.9, .8 the same, with CONTROL_PLANES=3: a 3-member
#                                 etcd cluster, an apiserver on each, the
#                                 scheduler and controller manager
#                                 active-standby through their Leases
#   mk8s-workerI   10.250.0.(10+I) containerd, kubelet, kube-proxy (minik8s-node)
#
# With several control planes every client lists every apiserver
# (the kubelets' and kube-proxies' --server, the admin's MINIK8S_SERVER)
# and fails over between them, as the process mode's two apiservers are
# reached; the kubeconfigs name mk8s-cp1's.
#
# Each machine's network is a namespace of the same name plugged into the
# harness's bridge, as the process mode's nodes are; the namespace outlives
# a reboot of its machine. Each machine is configured by
# deploy/provision/configure.sh, the script the Vagrantfile runs in its VMs,
# from a stage directory bound read-only at /mnt/minik8s: packages/, pki/
# and provision/. The workers join with the bootstrap token. Images come
# from the process mode's registry on the host's loopback, which the
# machines reach at the bridge's address ($GATEWAY:5000, a
# systemd-socket-proxyd forwarder: the registry itself stays on loopback).
#
#   hack/local-up-cluster.sh ssh MACHINE [-- CMD...]   a command (default: a
#                                                     shell) inside MACHINE
#   hack/local-up-cluster.sh reboot MACHINE            power it off and boot it
#                                                     again, its disk kept
#   hack/local-up-cluster.sh poweroff MACHINE          power it off (disk kept)
#   hack/local-up-cluster.sh boot MACHINE              boot it again
#
# Uses local-up-cluster.sh's variables and functions (step, fail, wait_for,
# minictl, network, images, bootstrap_kubeconfig, wait_nodes, dns_addon...).

MACHINE_SH="$ROOT/hack/machine/machine.sh"
# The machines' files (overlays, containerd state) live under the state
# directory, so down removes them with everything else.
export MACHINE_DIR="$STATE/machine"
STAGE="$STATE/stage"
# CONTROL_PLANES: 1, or 3 for a highly available control plane.
CONTROL_PLANES=${CONTROL_PLANES:-1}
CP_NAME=mk8s-cp1
CP_IP=$NET_PREFIX.10
# Where the stage directory appears inside every machine (not /tmp: the
# machine's systemd mounts a tmpfs there).
STAGE_MOUNT=/mnt/minik8s
REGISTRY_PROXY_PID="$STATE/registry-proxy.pid"

# The control-plane machines count down from .10, the workers up from .11.
cp_name() { echo "mk8s-cp$1"; }
cp_ip() { echo "$NET_PREFIX.$((11 - $1))"; }

cp_list() {
	local i
	for i in $(seq 1 "$CONTROL_PLANES"); do cp_name "$i"; done
}

machines_list() {
	cp_list
	local i
	for i in $(seq 1 "$NODES"); do node_ns "$i"; done
}

machine_ip() {
	case "$1" in
	mk8s-cp*) cp_ip "${1#mk8s-cp}" ;;
	mk8s-worker*) node_ip "${1#mk8s-worker}" ;;
	*) return 1 ;;
	esac
}

# cp_join SEP FORMAT: FORMAT for every control-plane machine, {name} and
# {ip} replaced by its name and address, joined by SEP.
cp_join() {
	local sep=$1 fmt=$2 i e out=""
	for i in $(seq 1 "$CONTROL_PLANES"); do
		e=${fmt//\{name\}/$(cp_name "$i")}
		out+="${out:+$sep}${e//\{ip\}/$(cp_ip "$i")}"
	done
	echo "$out"
}

machine() { "$MACHINE_SH" "$@"; }

# machines_packages: the three packages of `make package`, built into the
# stage directory uncompressed (installing is what the cluster tests;
# compressing costs a minute for nothing).
machines_packages() {
	step "packages: hack/package into $STAGE/packages" "$LOGS/package.log"
	mkdir -p "$STAGE/packages"
	(cd "$ROOT/hack/package" && go run . --root "$ROOT" --version "$("$ROOT/hack/package/version.sh")" \
		--out "$STAGE/packages" --compression none) >"$LOGS/package.log" 2>&1
}

# machines_certs: `minictl certs` into the stage as docs/operations.md
# lays it out (pki/pki/..., pki/*.conf), the bootstrap token and its
# kubeconfig beside them, the configuration script, and the admin's
# kubeconfig for the host.
machines_certs() {
	local i nodes=""
	step "PKI: minictl certs --cert-dir $PKI (server https://$CP_IP:6443; apiservers and etcd members $(cp_join , '{ip}'))" "$LOGS/certs.log"
	for i in $(seq 1 "$NODES"); do
		nodes+="${nodes:+,}$(node_ns "$i")=$(node_ip "$i")"
	done
	mkdir -p "$STAGE/pki" "$STAGE/provision"
	# Every control-plane address is a SAN of the apiservers' and etcd's
	# certificates (one set shared by the members, as kubeadm's
	# certificate-key upload shares them).
	"$BIN/minictl" certs --cert-dir "$PKI" --kubeconfig-dir "$STAGE/pki" --server "https://$CP_IP:6443" \
		--apiserver-advertise-address "$(cp_join , '{ip}')" --apiserver-cert-extra-sans "$(cp_join , '{name}')" \
		--nodes "$nodes" >"$LOGS/certs.log" 2>&1
	install -m 0600 "$STAGE/pki/admin.conf" "$KUBECONFIG_FILE"
	bootstrap_kubeconfig
	install -m 0600 "$STATE/bootstrap-token" "$STAGE/pki/bootstrap-token"
	install -m 0755 "$ROOT/deploy/provision/configure.sh" "$STAGE/provision/configure.sh"
}

# registry_proxy: the host's registry (127.0.0.1:5000) on the bridge's
# address for the machines, without moving the registry off loopback.
registry_proxy() {
	step "registry for the machines: $GATEWAY:5000 -> $REGISTRY" "$LOGS/registry-proxy.log"
	# only_std_fds: it outlives this script (see run_recorded).
	(only_std_fds setsid systemd-socket-activate -l "$GATEWAY:5000" /lib/systemd/systemd-socket-proxyd "$REGISTRY") \
		</dev/null >"$LOGS/registry-proxy.log" 2>&1 &
	echo $! >"$REGISTRY_PROXY_PID"
	wait_for 10 "registry proxy" curl -fsS "http://$GATEWAY:5000/v2/"
}

# machine_boot NAME: its network namespace on the bridge, then the machine
# in it with the stage bound read-only.
machine_boot() {
	local name=$1 ip
	ip=$(machine_ip "$name")
	add_netns_on_bridge "$name" "mk8s-v${name#mk8s-}" "$ip" 2>>"$STATE/network.log"
	machine boot "$name" --network-namespace-path="/run/netns/$name" --bind-ro="$STAGE:$STAGE_MOUNT"
}

# machine_configure NAME ROLE: deploy/provision/configure.sh inside NAME.
# The kubelet's pods get a cgroup tree of their own (the machines share the
# host's cgroup file system), and short node-lifecycle times make a
# rebooted or stopped node's state visible in seconds, as in process mode.
machine_configure() {
	local name=$1 role=$2 hosts="" m
	for m in $(machines_list); do hosts+="${hosts:+,}$(machine_ip "$m")=$m"; done
	machine run "$name" -- env MK8S_HOSTS="$hosts" MK8S_REGISTRY="$GATEWAY:5000" \
		MK8S_CONTROL_PLANES="$(cp_join , '{name}={ip}')" \
		MK8S_ARGS_KUBELET="--cgroup-root=/$name" \
		MK8S_ARGS_KUBE_PROXY="--proxy-mode=$KUBE_PROXY_MODE" \
		MK8S_ARGS_KUBE_APISERVER="--default-not-ready-toleration-seconds=20 --default-unreachable-toleration-seconds=20" \
		MK8S_ARGS_KUBE_CONTROLLER_MANAGER="--node-monitor-period=2s --node-monitor-grace-period=30s --pod-eviction-timeout=20s" \
		"$STAGE_MOUNT/provision/configure.sh" "$role" "$STAGE_MOUNT" "$name" "$(machine_ip "$name")" "$CP_IP" \
		>"$LOGS/configure-$name.log" 2>&1
}

# up_machines: called by up, whose t0 (bash's dynamic scope) is when the
# whole `make up` started.
up_machines() {
	local start=${t0:-$SECONDS} m pids=() i
	trap 'on_err $LINENO' ERR
	install_deps
	build
	machines_packages
	machines_certs
	images
	network
	# The machines cannot load modules: the workers' bridges need these.
	modprobe overlay 2>/dev/null || true
	modprobe br_netfilter 2>/dev/null || true
	registry_proxy
	step "base image (hack/machine/machine.sh base: debootstrap once, cached in ${MACHINE_CACHE:-/var/cache/minik8s})" "$LOGS/machine-base.log"
	machine base >"$LOGS/machine-base.log" 2>&1
	for m in $(machines_list); do
		step "machine $m ($(machine_ip "$m")): systemd-nspawn boot" "$LOGS/machine-$m.log"
		machine_boot "$m" >"$LOGS/machine-$m.log" 2>&1
	done
	for m in $(machines_list); do
		CURRENT_LOG="$LOGS/machine-$m.log"
		machine wait "$m" 120 >>"$LOGS/machine-$m.log" 2>&1
	done
	# The control planes first, in parallel (each etcd member waits for
	# a quorum of its peers before systemd sees it started): the workers'
	# kubelets need an apiserver and the bootstrap token Secret. The
	# workers then in parallel.
	step "$(cp_list | paste -sd,): configure.sh control-plane (apt-get install minik8s-control-plane, PKI, systemctl start)" "$LOGS/configure-$CP_NAME.log"
	for m in $(cp_list); do
		machine_configure "$m" control-plane &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		CURRENT_LOG="$LOGS/configure-$(cp_name $((i + 1))).log"
		wait "${pids[$i]}" || fail "configure.sh control-plane failed"
	done
	pids=()
	step "workers: configure.sh worker (apt-get install minik8s-node, bootstrap token, systemctl start)" "$LOGS/configure-mk8s-worker1.log"
	for i in $(seq 1 "$NODES"); do
		machine_configure "$(node_ns "$i")" worker &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		CURRENT_LOG="$LOGS/configure-$(node_ns $((i + 1))).log"
		wait "${pids[$i]}" || fail "configure.sh worker failed"
	done
	wait_nodes
	step "$NODES nodes Ready in $((SECONDS - start))s"
	dns_addon
	write_env
	trap - ERR
	cat <<EOF
==> cluster is up in $((SECONDS - start))s: $NODES worker machines Ready, control plane on $(cp_join ', ' '{name} ({ip})'), units from the packages
    export KUBECONFIG=$KUBECONFIG_FILE
    kubectl get nodes
    bin/minictl get componentstatuses
    hack/local-up-cluster.sh ssh $CP_NAME -- systemctl status kube-apiserver
    hack/local-up-cluster.sh ssh $(node_ns 1) -- journalctl -u kubelet -n 20
    hack/local-up-cluster.sh reboot $(node_ns 1)
    logs: $LOGS (and journalctl in each machine)    stop: make down
EOF
}

# down_machines: every machine of this checkout powered off and its files
# removed (the overlays, containerd's state), and the registry forwarder
# stopped. The network namespaces, veths, routes and chain go with the rest
# of down.
down_machines() {
	local d pid
	if [ -d "$MACHINE_DIR/machines" ]; then
		for d in "$MACHINE_DIR"/machines/*/; do
			[ -d "$d" ] || continue
			machine stop "$(basename "$d")" >/dev/null 2>&1 &
		done
		wait
	fi
	pid=$(cat "$REGISTRY_PROXY_PID" 2>/dev/null || true)
	# Only if the PID is still the forwarder (socket-activate execs it).
	if [ -n "$pid" ] && grep -qa systemd-socket-proxyd "/proc/$pid/cmdline" 2>/dev/null; then
		kill "$pid" 2>/dev/null || true
	fi
	rm -f "$REGISTRY_PROXY_PID"
}

# machine_known NAME: NAME is a machine of this cluster.
machine_known() {
	[ -d "$MACHINE_DIR/machines/$1" ] || {
		echo "local-up: no machine $1 (make up MODE=machines; machines: $(ls "$MACHINE_DIR/machines" 2>/dev/null | tr '\n' ' '))" >&2
		exit 2
	}
}

# ssh MACHINE [-- CMD...]: what `vagrant ssh -c` does, through nsenter.
machine_ssh() {
	local name=${1:?usage: ssh MACHINE [-- CMD...]}
	shift
	[ "${1:-}" != "--" ] || shift
	machine_known "$name"
	[ $# -gt 0 ] || set -- bash -l
	exec "$MACHINE_SH" run "$name" -- "$@"
}

# reboot MACHINE: power off, boot with the same flags and disk, wait for
# systemd; the units come back as enabled units do on a VM.
machine_reboot() {
	local name=${1:?usage: reboot MACHINE}
	machine_known "$name"
	machine reboot "$name"
	machine wait "$name" 120
	echo "rebooted $name"
}

# poweroff MACHINE: the machine down (a VM shut off), its disk and network
# namespace kept for boot.
machine_poweroff() {
	local name=${1:?usage: poweroff MACHINE}
	machine_known "$name"
	machine poweroff "$name"
	echo "powered off $name"
}

# boot MACHINE: a powered-off machine booted again with the same flags and
# disk, waited for as reboot does.
machine_start() {
	local name=${1:?usage: boot MACHINE}
	machine_known "$name"
	machine start "$name"
	machine wait "$name" 120
	echo "booted $name"
}

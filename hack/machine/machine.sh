#!/usr/bin/env bash
# Machines: Debian root file systems booted with systemd-nspawn, each a
# container running a real systemd as its PID 1 (Kind's idea of a node).
# Root only. The base root file system is built once with debootstrap through
# Debian's package registry and cached; every machine boots from an overlay on
# it, so booting costs seconds and removing a machine throws its changes away.
#
#   machine.sh base                      build the base image if missing or stale
#   machine.sh boot NAME [NSPAWN-FLAG...] boot machine NAME (default network:
#                                        --private-network; pass
#                                        --network-namespace-path=... or
#                                        --network-bridge=... to replace it)
#   machine.sh wait NAME [SECONDS]       wait for `systemctl is-system-running`
#   machine.sh run NAME -- CMD...        run CMD inside NAME (as root, in all
#                                        of its namespaces, like `docker exec`)
#   machine.sh cp NAME SRC DEST          copy a host file into NAME
#   machine.sh reboot NAME               power NAME off and boot it again with
#                                        the same flags, keeping its files
#   machine.sh poweroff NAME             power NAME off, keeping its files
#   machine.sh start NAME                boot a powered-off NAME again with
#                                        the flags it was first booted with
#   machine.sh stop NAME                 power NAME off and remove its files
#   machine.sh list                      the machines that are up
#
# Environment: MACHINE_CACHE (default /var/cache/minik8s) holds the base
# image (base-SUITE), shared by every checkout on this host so that a fresh
# clone (CI's) boots warm; MACHINE_DIR (default _output/machine) holds the
# machines (machines/NAME); MACHINE_MIRROR (default: the Debian mirror of
# this host's apt sources); MACHINE_SUITE (bookworm).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MACHINE_DIR=${MACHINE_DIR:-$ROOT/_output/machine}
MACHINE_SUITE=${MACHINE_SUITE:-bookworm}
MACHINE_CACHE=${MACHINE_CACHE:-/var/cache/minik8s}
MACHINES=$MACHINE_DIR/machines
BASE=$MACHINE_CACHE/base-$MACHINE_SUITE

# What every machine has: systemd as init, D-Bus for systemctl, the network
# tools, and the minik8s-node package's dependencies (containerd, runc,
# iptables), so that installing the packages needs no network: the package
# tests run machines with a private network. Changing this list rebuilds the
# base (its stamp records the list).
BASE_PACKAGES=systemd,systemd-sysv,dbus,iproute2,iptables,containerd,runc,init-system-helpers,procps,ca-certificates,curl

die() { echo "machine: $*" >&2; exit 1; }
log() { printf '==> %s\n' "$*" >&2; }

need_root() { [ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, mounts, systemd-nspawn)"; }

# mirror: the Debian mirror this host's apt uses (deb822 or one-line sources),
# so the machine reaches the same registry as the host.
mirror() {
	if [ -n "${MACHINE_MIRROR:-}" ]; then echo "$MACHINE_MIRROR"; return; fi
	local m
	m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -1 | tr -d ' ')
	echo "${m:-http://deb.debian.org/debian}"
}

base_stamp() { echo "$MACHINE_SUITE $BASE_PACKAGES"; }

cmd_base() {
	need_root
	mkdir -p "$MACHINE_CACHE"
	# One builder at a time; the others wait and then find it built.
	exec {lock}>"$MACHINE_CACHE/.base.lock"
	flock "$lock"
	if [ -d "$BASE" ] && [ "$(cat "$BASE.stamp" 2>/dev/null)" = "$(base_stamp)" ]; then
		exec {lock}>&-
		return 0
	fi
	command -v debootstrap >/dev/null || die "debootstrap missing: apt-get install debootstrap (hack/install-deps.sh)"
	command -v systemd-nspawn >/dev/null || die "systemd-nspawn missing: apt-get install systemd-container (hack/install-deps.sh)"
	local tmp=$BASE.tmp start=$SECONDS
	rm -rf "$tmp" "$BASE" "$BASE.stamp"
	log "debootstrap $MACHINE_SUITE into $BASE (once; cached)"
	debootstrap --variant=minbase --include="$BASE_PACKAGES" "$MACHINE_SUITE" "$tmp" "$(mirror)" >"$MACHINE_CACHE/debootstrap.log" 2>&1 ||
		{ tail -20 "$MACHINE_CACHE/debootstrap.log" >&2; die "debootstrap failed (log: $MACHINE_CACHE/debootstrap.log)"; }
	# A machine is a throwaway node: no console login to wait for, no
	# timers that wake apt, and an empty machine-id so each boot makes one.
	: >"$tmp/etc/machine-id"
	rm -f "$tmp/var/lib/dbus/machine-id"
	ln -sf /dev/null "$tmp/etc/systemd/system/console-getty.service"
	ln -sf /dev/null "$tmp/etc/systemd/system/apt-daily.timer"
	ln -sf /dev/null "$tmp/etc/systemd/system/apt-daily-upgrade.timer"
	# The host's resolv.conf means nothing on a private network.
	rm -f "$tmp/etc/resolv.conf"; : >"$tmp/etc/resolv.conf"
	# Downloaded .debs are not needed once installed.
	rm -rf "$tmp/var/cache/apt/archives/"*.deb
	mv "$tmp" "$BASE"
	base_stamp >"$BASE.stamp"
	exec {lock}>&-
	log "base image ready in $((SECONDS - start))s"
}

mdir() { echo "$MACHINES/$1"; }

# close_fds: close every descriptor of this shell above 2.
close_fds() {
	local fd
	for fd in /proc/"$BASHPID"/fd/*; do
		fd=${fd##*/}
		if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
	done
}

# pid1 NAME: the host PID of the machine's init (systemd, PID 1 inside).
pid1() {
	local d nspawn p
	d=$(mdir "$1")
	nspawn=$(cat "$d/nspawn.pid" 2>/dev/null) || die "$1: not booted"
	kill -0 "$nspawn" 2>/dev/null || die "$1: systemd-nspawn ($nspawn) is gone; log: $d/console.log"
	for p in $(cat /proc/"$nspawn"/task/*/children 2>/dev/null); do
		# The child in a new PID namespace whose NSpid ends in 1.
		if awk '/^NSpid:/ { exit !($NF == 1) }' "/proc/$p/status" 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# netns_sysctl_unit ROOT: a unit that makes /proc/sys/net writable early
# at boot. systemd-nspawn (252) mounts it read-only when the network is a
# namespace of the caller's (--network-namespace-path), though the machine
# owns that namespace as much as one of --private-network, where it is
# writable; the kubelet writes net.ipv4.ip_forward in it.
netns_sysctl_unit() {
	local root=$1
	cat >"$root/etc/systemd/system/mk8s-netns-sysctl.service" <<'UNIT'
[Unit]
Description=Writable /proc/sys/net (the machine's own network namespace)
DefaultDependencies=no
Before=sysinit.target systemd-sysctl.service
ConditionPathIsReadWrite=!/proc/sys/net

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/mount --bind /proc/sys/net /proc/sys/net
ExecStart=/bin/mount -o remount,bind,rw /proc/sys/net

[Install]
WantedBy=sysinit.target
UNIT
	mkdir -p "$root/etc/systemd/system/sysinit.target.wants"
	ln -sf ../mk8s-netns-sysctl.service "$root/etc/systemd/system/sysinit.target.wants/mk8s-netns-sysctl.service"
}

cmd_boot() {
	need_root
	local name=${1:?machine name}
	shift
	[[ $name =~ ^[a-z0-9][a-z0-9-]{0,30}$ ]] || die "bad machine name $name"
	local d
	d=$(mdir "$name")
	[ -e "$d/nspawn.pid" ] && die "$name is already up (machine.sh stop $name)"
	cmd_base
	mkdir -p "$d/upper" "$d/work" "$d/root" "$d/containerd"
	# The flags, for reboot.
	printf '%s\0' "$@" >"$d/args"
	# An overlay on the cached base: the machine writes only its own upper
	# directory, and removing the machine is removing that.
	mountpoint -q "$d/root" ||
		mount -t overlay "mk8s-$name" -o "lowerdir=$BASE,upperdir=$d/upper,workdir=$d/work" "$d/root"
	echo "$name" >"$d/root/etc/hostname"
	printf '127.0.0.1 localhost\n127.0.1.1 %s\n::1 localhost ip6-localhost ip6-loopback\n' "$name" >"$d/root/etc/hosts"
	# A machine is thrown away, never recovered after a crash: dpkg need
	# not fsync every file it unpacks (as container images configure it).
	echo force-unsafe-io >"$d/root/etc/dpkg/dpkg.cfg.d/mk8s-unsafe-io"
	# At poweroff systemd's last step signals every process left and waits
	# DefaultTimeoutStopSec (90 s) before SIGKILL. A container whose PID 1
	# has no SIGTERM handler (`sleep` in a pod) ignores the signal, so each
	# reboot of a worker waited until this script's 30 s kill; 10 s is
	# plenty for the daemons' own orderly stops.
	mkdir -p "$d/root/etc/systemd/system.conf.d"
	printf '[Manager]\nDefaultTimeoutStopSec=10s\n' >"$d/root/etc/systemd/system.conf.d/mk8s-machine.conf"
	local net=(--private-network)
	local a
	for a in "$@"; do
		case "$a" in --network-* | --private-network) net=() ;; esac
		case "$a" in --network-namespace-path=*) netns_sysctl_unit "$d/root" ;; esac
	done
	# --register=no: no host D-Bus/machined to register with;
	# --keep-unit: stay in the caller's cgroup instead of asking the host's
	# systemd for a scope; --bind of the cgroup tree read-write so that
	# runc/containerd inside can make cgroups (nspawn mounts the v1
	# controllers read-only otherwise). containerd's state is a plain host
	# directory: its overlayfs snapshotter cannot stack on the machine's
	# overlay root. --system-call-filter=@keyring: nspawn's seccomp filter
	# refuses the keyring calls (keyrings are not namespaced), and runc
	# gives every container a session keyring ("unable to join session
	# keyring: operation not permitted" without it).
	# Only fds 0-2 go to nspawn (closed in its subshell before the exec):
	# a machine lives on after this script, and an inherited pipe (the
	# caller's output, read until EOF) or flock(1) lock would live with it.
	(close_fds && exec setsid systemd-nspawn -D "$d/root" -M "$name" -b --register=no --keep-unit \
		--capability=all --bind=/sys/fs/cgroup:/sys/fs/cgroup --system-call-filter=@keyring \
		--bind="$d/containerd:/var/lib/containerd" \
		--console=read-only --link-journal=no \
		"${net[@]}" "$@") </dev/null >"$d/console.log" 2>&1 &
	echo $! >"$d/nspawn.pid"
	local i
	for i in $(seq 1 100); do
		pid1 "$name" >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$d/nspawn.pid")" 2>/dev/null || break
		sleep 0.1
	done
	tail -20 "$d/console.log" >&2
	cmd_poweroff "$name"
	die "$name did not boot (its files are kept in $d; machine.sh stop $name removes them)"
}

cmd_run() {
	local name=${1:?machine name}
	shift
	[ "${1:-}" = "--" ] && shift
	local p
	p=$(pid1 "$name") || die "$name: no init process"
	# Every namespace of the machine's init (mount, UTS, IPC, network, PID,
	# cgroup), its root and working directory; a clean environment as a
	# login would have. nsenter, not `systemd-run --machine` or `machinectl
	# shell`: those need the machine registered with the host's machined.
	nsenter -t "$p" -m -u -i -n -p -C -r -w -- \
		/usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 "$@"
}

cmd_wait() {
	local name=${1:?machine name} timeout=${2:-60} state= deadline
	deadline=$((SECONDS + timeout))
	# Right after boot systemd's socket may not exist yet, and then
	# `--wait` gives up at once: ask again until the deadline.
	while [ $SECONDS -lt $deadline ]; do
		state=$(cmd_run "$name" timeout $((deadline - SECONDS + 1)) systemctl is-system-running --wait 2>/dev/null) || true
		case "$state" in running | degraded | stopping | maintenance) break ;; esac
		sleep 0.2
	done
	case "$state" in
	running) return 0 ;;
	degraded)
		# Degraded means a unit failed; tell which, the caller decides.
		echo "machine: $name is degraded; failed units:" >&2
		cmd_run "$name" systemctl --failed --no-legend >&2 || true
		return 0
		;;
	esac
	die "$name: systemctl is-system-running said '${state:-nothing}' after ${timeout}s"
}

cmd_cp() {
	local name=${1:?machine name} src=${2:?source} dest=${3:?destination}
	cmd_run "$name" sh -c 'cat >"$1"' sh "$dest" <"$src"
}

# poweroff NAME: shut the machine down; its files stay.
cmd_poweroff() {
	need_root
	local name=${1:?machine name} d pid i
	d=$(mdir "$name")
	[ -d "$d" ] || return 0
	pid=$(cat "$d/nspawn.pid" 2>/dev/null || true)
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		# SIGTERM makes nspawn ask the machine's systemd for an orderly
		# poweroff; kill it only if that takes too long.
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "machine: $name did not power off in 30s; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
			sleep 1
		fi
	fi
	rm -f "$d/nspawn.pid"
	if mountpoint -q "$d/root"; then
		umount "$d/root" 2>/dev/null || umount -l "$d/root"
	fi
}

# reboot NAME: what `systemctl reboot` on a VM does. nspawn itself exits
# when its machine reboots (status 133), so the host boots it again, with
# the flags it was first booted with and the files it has written since.
cmd_reboot() {
	local name=${1:?machine name}
	cmd_poweroff "$name"
	cmd_start "$name"
}

# start NAME: boot a machine that was powered off, as reboot's second half.
cmd_start() {
	local name=${1:?machine name} d args=()
	d=$(mdir "$name")
	[ -f "$d/args" ] || die "$name was never booted"
	mapfile -d '' args <"$d/args"
	cmd_boot "$name" "${args[@]}"
}

cmd_stop() {
	local name=${1:?machine name}
	cmd_poweroff "$name"
	rm -rf "$(mdir "$name")"
}

cmd_list() {
	local d
	for d in "$MACHINES"/*/; do
		[ -e "$d/nspawn.pid" ] && basename "$d"
	done
	return 0
}

case "${1:-}" in
base) cmd_base ;;
boot | wait | run | cp | poweroff | start | reboot | stop) c=$1; shift; "cmd_$c" "$@" ;;
list) cmd_list ;;
*) sed -n '2,27p' "$0" >&2; exit 2 ;;
esac

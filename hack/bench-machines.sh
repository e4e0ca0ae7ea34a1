#!/usr/bin/env bash
# Times the cluster of machines (docs/benchmarks.md, "Machines"): `make up
# MODE=machines` from nothing to every node Ready, a worker machine
# rebooted to its pods Running again (test/e2e TestMachineWorkerReboot),
# and a rolling upgrade of every machine to a newer package build with the
# Service failures and failed writes during it (TestMachineRollingUpgrade);
# the tests report their figures. Root; brings the cluster down at the end.
# Warm by default (binaries built, base image cached); COLD=1 first moves
# the cached base image aside so that debootstrap builds it again (minutes;
# the old one is put back if the build fails).
#
#   hack/bench-machines.sh            NODES=2 and CONTROL_PLANES=1 by default
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH="/usr/local/go/bin:$PATH" MODE=machines NODES=${NODES:-2} CONTROL_PLANES=${CONTROL_PLANES:-1}
CACHE=${MACHINE_CACHE:-/var/cache/minik8s}
OUT="$ROOT/_output/bench-machines"
mkdir -p "$OUT"

[ "$(id -u)" -eq 0 ] || { echo "bench-machines: needs root (systemd-nspawn)" >&2; exit 1; }
# restore_base: a cold run whose base image build failed or was
# interrupted (no stamp: the build writes it last) puts the old image back.
restore_base() {
	if [ -d "$CACHE/base-bookworm.bench-old" ] && [ ! -f "$CACHE/base-bookworm.stamp" ]; then
		rm -rf "$CACHE/base-bookworm" "$CACHE/base-bookworm.tmp"
		mv "$CACHE/base-bookworm.bench-old" "$CACHE/base-bookworm"
		mv "$CACHE/base-bookworm.stamp.bench-old" "$CACHE/base-bookworm.stamp"
		echo "bench-machines: the base image was not rebuilt; the old one is back" >&2
	fi
}
trap 'restore_base; ./hack/local-up-cluster.sh down >/dev/null 2>&1 || true' EXIT

# The build is not what is measured: do it first.
./hack/local-up-cluster.sh down >/dev/null 2>&1 || true
go build -o bin/ ./apiserver ./scheduler ./controller-manager ./kubelet ./kube-proxy ./minictl

kind=warm
if [ "${COLD:-0}" = 1 ]; then
	kind=cold
	# Moved, not removed: it is shared with every checkout on this host.
	# The stamp too: the build removes it, and a base put back without
	# it would be built again by the next run.
	if [ -d "$CACHE/base-bookworm" ]; then
		rm -rf "$CACHE/base-bookworm.bench-old" "$CACHE/base-bookworm.stamp.bench-old"
		mv "$CACHE/base-bookworm.stamp" "$CACHE/base-bookworm.stamp.bench-old"
		mv "$CACHE/base-bookworm" "$CACHE/base-bookworm.bench-old"
	fi
fi
start=$(date +%s.%N)
if ! ./hack/local-up-cluster.sh up >"$OUT/up.log" 2>&1; then
	tail -20 "$OUT/up.log" >&2
	exit 1
fi
rm -rf "$CACHE/base-bookworm.bench-old" "$CACHE/base-bookworm.stamp.bench-old"
total=$(echo "$(date +%s.%N) - $start" | bc)
# The harness's own figure for the Ready nodes (before the DNS add-on).
ready=$(sed -n 's/^==> \([0-9]*\) nodes Ready in \([0-9]*\)s.*/\2/p' "$OUT/up.log")
printf 'make up MODE=machines (%s, CONTROL_PLANES=%s, NODES=%s): nodes Ready in %ss, up (DNS add-on too) in %.0fs; load average %s\n' \
	"$kind" "$CONTROL_PLANES" "$NODES" "$ready" "$total" "$(cut -d' ' -f1-3 /proc/loadavg)"

MK8S_E2E_CLUSTER="$ROOT/_output/local/cluster.env" MINIK8S_NO_SKIP=1 \
	go test -count=1 -v -run 'TestMachineWorkerReboot$|TestMachineRollingUpgrade$' ./test/e2e/ >"$OUT/reboot.log" 2>&1 ||
	{ tail -30 "$OUT/reboot.log" >&2; exit 1; }
grep -o 'worker reboot of .*' "$OUT/reboot.log"
grep -oE '(mk8s-[a-z0-9]+: minik8s-.*|rolling upgrade of .*|[0-9]+ x .*)' "$OUT/reboot.log"
# How the rebooted machine shut down (what its poweroff waited for).
./hack/local-up-cluster.sh ssh "mk8s-worker$NODES" -- journalctl -b -1 --no-pager -o short-monotonic -n 60 >"$OUT/shutdown.log" 2>&1 || true

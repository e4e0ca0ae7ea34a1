#!/usr/bin/env bash
# Brings up a local control plane: a 3-member etcd cluster and an apiserver,
# all on loopback, state and logs under _output/local. `down` stops exactly
# the processes this script started (by the PIDs it recorded) and removes
# their state. Worker nodes join in a later stage of the project.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE="$ROOT/_output/local"
BIN="$ROOT/bin"
ETCD_MEMBERS=${ETCD_MEMBERS:-3}
API_PORT=${API_PORT:-6443}
API_HTTP_PORT=${API_HTTP_PORT:-8080}

step() { printf '==> %s\n' "$*"; }
fail() { printf 'local-up: %s\n' "$*" >&2; exit 1; }

stop_all() {
	[ -d "$STATE" ] || return 0
	for pidfile in "$STATE"/*.pid; do
		[ -e "$pidfile" ] || continue
		pid=$(cat "$pidfile")
		if kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$pidfile"
	done
}

wait_for() { # what, command...
	local what=$1; shift
	for _ in $(seq 100); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	fail "$what did not come up; see the logs in $STATE"
}

case "${1:-up}" in
down)
	step "stopping the local cluster"
	stop_all
	rm -rf "$STATE"
	exit 0
	;;
up) ;;
*) fail "usage: $0 [up|down]" ;;
esac

stop_all
rm -rf "$STATE"
mkdir -p "$STATE"

initial=""
for i in $(seq 0 $((ETCD_MEMBERS - 1))); do
	initial+="${initial:+,}etcd-$i=http://127.0.0.1:$((2380 + 10 * i))"
done
endpoints=""
for i in $(seq 0 $((ETCD_MEMBERS - 1))); do
	client="http://127.0.0.1:$((2379 + 10 * i))"
	peer="http://127.0.0.1:$((2380 + 10 * i))"
	endpoints+="${endpoints:+,}$client"
	step "starting etcd-$i ($client)"
	"$BIN/etcd" --name "etcd-$i" --data-dir "$STATE/etcd-$i" \
		--listen-client-urls "$client" --advertise-client-urls "$client" \
		--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
		--initial-cluster "$initial" --initial-cluster-token minik8s-local \
		--initial-cluster-state new --log-level warn >"$STATE/etcd-$i.log" 2>&1 &
	echo $! >"$STATE/etcd-$i.pid"
done
wait_for "etcd" "$BIN/etcdctl" --endpoints "$endpoints" endpoint health

step "starting apiserver (:$API_PORT, health on :$API_HTTP_PORT)"
"$BIN/apiserver" --etcd-servers "$endpoints" --bind-address 127.0.0.1 \
	--secure-port "$API_PORT" --http-port "$API_HTTP_PORT" >"$STATE/apiserver.log" 2>&1 &
echo $! >"$STATE/apiserver.pid"
wait_for "apiserver" curl -fsS "http://127.0.0.1:$API_HTTP_PORT/readyz"

cat <<EOT
==> cluster is up
    bin/minictl --server 127.0.0.1:$API_PORT get namespaces
    bin/etcdctl --endpoints $endpoints get --prefix /registry/namespaces --keys-only
    logs: $STATE/*.log    stop: make down
EOT

#!/usr/bin/env bash
# Builds the project's OCI images (pause, kubia, busybox, dns, ingress, dashboard) and pushes them to
# a local plain-HTTP registry (Debian's docker-registry) that this script
# starts on loopback if it is not already answering. Idempotent: a second
# run finds the registry up and pushes identical digests (nothing uploads).
#
#   hack/build-images.sh          start the registry if needed, build, push
#   hack/build-images.sh stop     stop the registry this script started
#
# REGISTRY_ADDR (default 127.0.0.1:5000) picks the address; the registry's
# config, data, log and pid file live under _output/registry/.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ADDR=${REGISTRY_ADDR:-127.0.0.1:5000}
DIR="$ROOT/_output/registry"
PIDFILE="$DIR/registry.pid"

up() { curl -fsS -o /dev/null "http://$ADDR/v2/" 2>/dev/null; }

case "${1:-build}" in
stop)
	if [ -f "$PIDFILE" ]; then
		pid=$(cat "$PIDFILE")
		if kill -0 "$pid" 2>/dev/null; then kill "$pid"; fi
		rm -f "$PIDFILE"
		echo "registry stopped"
	fi
	exit 0
	;;
build) ;;
*)
	echo "usage: $0 [build|stop]" >&2
	exit 2
	;;
esac

case "$ADDR" in
127.*|localhost:*) ;;
*) echo "build-images: REGISTRY_ADDR must be a loopback address, got $ADDR" >&2; exit 2 ;;
esac

if ! up; then
	mkdir -p "$DIR/data"
	cat >"$DIR/config.yml" <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/data
  delete:
    enabled: true
http:
  addr: $ADDR
CFG
	echo "==> starting docker-registry on $ADDR (data in $DIR/data)"
	nohup docker-registry serve "$DIR/config.yml" >"$DIR/registry.log" 2>&1 &
	echo $! >"$PIDFILE"
	for _ in $(seq 1 100); do
		up && break
		sleep 0.1
	done
	up || { echo "registry did not come up; see $DIR/registry.log" >&2; exit 1; }
fi

echo "==> building and pushing images to $ADDR"
cd "$ROOT"
go run ./hack/build-images -registry "$ADDR"

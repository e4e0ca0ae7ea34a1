#!/usr/bin/env bash
# Backs up the cluster's etcd (everything the apiservers store) and
# restores a backup into a fresh etcd data directory.
#
#   hack/etcd-backup.sh save FILE            snapshot of the running etcd into FILE
#   hack/etcd-backup.sh status FILE          revision, keys and size of a snapshot
#   hack/etcd-backup.sh restore FILE DIR     a new data directory DIR holding FILE's data
#   hack/etcd-backup.sh reclaim              after a NOSPACE alarm: compact, defragment, disarm
#
# save asks the members in turn (etcdctl snapshot save takes one endpoint)
# until one answers. The endpoints and the client certificate come from the
# cluster.env that `make up` writes (CLUSTER_ENV, default
# _output/local/cluster.env), or from ETCDCTL_ENDPOINTS, ETCDCTL_CACERT,
# ETCDCTL_CERT and ETCDCTL_KEY when set.
#
# restore (etcdutl snapshot restore) makes a data directory for a new
# cluster: the restored member forgets the old members and the old
# cluster ID. For one member nothing more is needed (start etcd with
# --data-dir DIR); for several, run restore once per member with that
# member's ETCD_NAME, ETCD_INITIAL_ADVERTISE_PEER_URLS and the same
# ETCD_INITIAL_CLUSTER and ETCD_INITIAL_CLUSTER_TOKEN, as etcd's
# disaster-recovery guide says, and start each member on its directory.
# Stop every apiserver before a restore and start them after: their watch
# caches hold revisions the restored etcd may not have.
#
# reclaim gives etcd its space back once its database reached
# --quota-backend-bytes (the NOSPACE alarm: every write is refused - the
# apiservers answer "etcd is out of space" - while reads and deletes still
# work): first delete what filled it (or raise the quota and restart the
# members), then reclaim compacts the history up to the current revision,
# defragments every member in turn (which shrinks its file; each is busy
# for the while) and disarms the alarm, so writes resume. It prints the
# database sizes before and after, and fails if an alarm is still
# raised afterwards.
#
# test/fault's TestEtcdSnapshotRestore saves a running cluster's etcd under
# load, restores it into a fresh etcd and checks that every key is back.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN="$ROOT/bin"
CLUSTER_ENV=${CLUSTER_ENV:-$ROOT/_output/local/cluster.env}

usage() {
	sed -n 's/^#   //p' "$0" >&2
	exit 2
}

# cluster_flags: etcdctl's TLS flags from the environment or cluster.env,
# and the endpoints into ENDPOINTS.
cluster_flags() {
	local env_endpoints=${ETCDCTL_ENDPOINTS:-}
	if [ -z "$env_endpoints" ] && [ -f "$CLUSTER_ENV" ]; then
		# shellcheck disable=SC1090
		. <(grep -E '^MK8S_ETCD_(ENDPOINTS|CACERT|CERT|KEY)=' "$CLUSTER_ENV")
		env_endpoints=${MK8S_ETCD_ENDPOINTS:-}
		ETCDCTL_CACERT=${ETCDCTL_CACERT:-${MK8S_ETCD_CACERT:-}}
		ETCDCTL_CERT=${ETCDCTL_CERT:-${MK8S_ETCD_CERT:-}}
		ETCDCTL_KEY=${ETCDCTL_KEY:-${MK8S_ETCD_KEY:-}}
	fi
	[ -n "$env_endpoints" ] || { echo "etcd-backup: no endpoints: set ETCDCTL_ENDPOINTS or bring a cluster up (make up)" >&2; exit 1; }
	IFS=, read -r -a ENDPOINTS <<<"$env_endpoints"
	TLS=()
	[ -z "${ETCDCTL_CACERT:-}" ] || TLS+=(--cacert "$ETCDCTL_CACERT")
	[ -z "${ETCDCTL_CERT:-}" ] || TLS+=(--cert "$ETCDCTL_CERT")
	[ -z "${ETCDCTL_KEY:-}" ] || TLS+=(--key "$ETCDCTL_KEY")
	# etcdctl would read these too, with a different meaning (a list).
	unset ETCDCTL_ENDPOINTS ETCDCTL_CACERT ETCDCTL_CERT ETCDCTL_KEY
}

save() {
	local file=${1:?usage: save FILE} ep
	cluster_flags
	mkdir -p "$(dirname "$file")"
	for ep in "${ENDPOINTS[@]}"; do
		if "$BIN/etcdctl" --endpoints "$ep" "${TLS[@]}" --command-timeout 60s snapshot save "$file" >&2; then
			echo "saved $file from $ep"
			return 0
		fi
		echo "etcd-backup: $ep did not give a snapshot; trying the next member" >&2
	done
	echo "etcd-backup: no member gave a snapshot" >&2
	exit 1
}

status() {
	local file=${1:?usage: status FILE}
	"$BIN/etcdutl" snapshot status "$file" -w table
}

restore() {
	local file=${1:?usage: restore FILE DIR} dir=${2:?usage: restore FILE DIR}
	[ -f "$file" ] || { echo "etcd-backup: no snapshot $file" >&2; exit 1; }
	[ ! -e "$dir" ] || { echo "etcd-backup: $dir exists; restore makes a new data directory" >&2; exit 1; }
	local -a member=()
	[ -z "${ETCD_NAME:-}" ] || member+=(--name "$ETCD_NAME")
	[ -z "${ETCD_INITIAL_CLUSTER:-}" ] || member+=(--initial-cluster "$ETCD_INITIAL_CLUSTER")
	[ -z "${ETCD_INITIAL_CLUSTER_TOKEN:-}" ] || member+=(--initial-cluster-token "$ETCD_INITIAL_CLUSTER_TOKEN")
	[ -z "${ETCD_INITIAL_ADVERTISE_PEER_URLS:-}" ] || member+=(--initial-advertise-peer-urls "$ETCD_INITIAL_ADVERTISE_PEER_URLS")
	# etcdutl reads ETCD_* itself too; the flags above say the same.
	env -u ETCD_NAME -u ETCD_INITIAL_CLUSTER -u ETCD_INITIAL_CLUSTER_TOKEN -u ETCD_INITIAL_ADVERTISE_PEER_URLS \
		"$BIN/etcdutl" snapshot restore "$file" --data-dir "$dir" "${member[@]}" >&2
	echo "restored $file into $dir"
}

reclaim() {
	cluster_flags
	local eps rev
	eps=$(IFS=,; echo "${ENDPOINTS[*]}")
	etcdctl() { "$BIN/etcdctl" --endpoints "$eps" "${TLS[@]}" --command-timeout 60s "$@"; }
	echo "alarms: $(etcdctl alarm list | tr '\n' ' ')"
	etcdctl endpoint status -w table
	rev=$(etcdctl endpoint status -w json | grep -o '"revision":[0-9]*' | cut -d: -f2 | sort -n | tail -1)
	[ -n "$rev" ] || { echo "etcd-backup: no member told its revision" >&2; exit 1; }
	# --physical: return when every member has compacted, so the
	# defragmentation finds the space free.
	etcdctl compact "$rev" --physical
	local ep
	for ep in "${ENDPOINTS[@]}"; do
		"$BIN/etcdctl" --endpoints "$ep" "${TLS[@]}" --command-timeout 120s defrag
	done
	etcdctl alarm disarm
	etcdctl endpoint status -w table
	if [ -n "$(etcdctl alarm list)" ]; then
		echo "etcd-backup: an alarm is still raised: $(etcdctl alarm list)" >&2
		exit 1
	fi
	echo "reclaimed: compacted at revision $rev, defragmented ${#ENDPOINTS[@]} members, alarms disarmed"
}

case "${1:-}" in
save) save "${2:-}" ;;
status) status "${2:-}" ;;
restore) restore "${2:-}" "${3:-}" ;;
reclaim) reclaim ;;
*) usage ;;
esac

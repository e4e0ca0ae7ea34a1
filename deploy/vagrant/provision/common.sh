#!/usr/bin/env bash
# Steps every machine shares: name resolution between the machines, the
# packages both roles use, and the directories the units read from.
# Idempotent, so `vagrant provision` can run it again.
#   common.sh STAGE IP=NAME[,IP=NAME...]
set -euo pipefail
STAGE=$1 HOSTS=$2

# The machines find each other by name without DNS; the block is replaced,
# not appended, on every run.
sed -i '/# minik8s-begin/,/# minik8s-end/d' /etc/hosts
{
	echo "# minik8s-begin"
	IFS=, read -ra entries <<<"$HOSTS"
	for e in "${entries[@]}"; do
		printf '%s %s\n' "${e%%=*}" "${e#*=}"
	done
	echo "# minik8s-end"
} >>/etc/hosts

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# curl for health checks by hand; iproute2 and iptables for looking at what
# the kubelet and kube-proxy set up.
apt-get install -y -qq curl iproute2 iptables >/dev/null

install -d -m 0755 /etc/minik8s /usr/local/bin
# minictl on every machine: handy for poking at the cluster from anywhere.
install -m 0755 "$STAGE/bin/minictl" /usr/local/bin/minictl

#!/usr/bin/env bash
# A worker: containerd and runc from Debian, then the kubelet and kube-proxy
# as systemd units. Idempotent.
#   worker.sh STAGE NODE-NAME NODE-IP
set -euo pipefail
STAGE=$1 NODE=$2 NODE_IP=$3
# shellcheck source=deploy/vagrant/provision/lib.sh
source "$STAGE/provision/lib.sh"

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq containerd runc >/dev/null

# The kubelet builds pod sandboxes itself (pause container, netns, veth), so
# containerd's CRI plugin has nothing to do; turning it off also keeps it
# from setting up a CNI network of its own.
install -d -m 0755 /etc/containerd
cat >/etc/containerd/config.toml <<'TOML'
version = 2
disabled_plugins = ["io.containerd.grpc.v1.cri"]
TOML

# Overlay filesystems for image layers; br_netfilter so that traffic between
# two pods on the same node bridge passes through kube-proxy's iptables
# rules. Loaded now and at every boot. The kubelet turns on ip_forward
# itself; setting it at boot as well closes the window before it starts.
printf 'overlay\nbr_netfilter\n' >/etc/modules-load.d/minik8s.conf
modprobe overlay
modprobe br_netfilter
cat >/etc/sysctl.d/90-minik8s.conf <<'SYSCTL'
net.bridge.bridge-nf-call-iptables = 1
net.ipv4.ip_forward = 1
SYSCTL
sysctl -q --system

# TLS: the cluster CA, kube-proxy's kubeconfig and the bootstrap
# kubeconfig (a bootstrap token): the kubelet requests its own client
# and serving certificates (CertificateSigningRequests), keeps them in
# /var/lib/kubelet/pki and writes /etc/minik8s/kubelet.conf itself.
install_pki "$STAGE" pki/ca.crt kube-proxy.conf bootstrap-kubelet.conf

install_bin "$STAGE" kubelet kubelet
install_bin "$STAGE" kube-proxy kube-proxy
units=(kubelet kube-proxy)
for u in "${units[@]}"; do
	install_unit "$STAGE" "$u"
done
# The examples carry worker-1's name and address; give each worker its own.
# Only these two flags are rewritten, so other local edits stay.
sed -i -E \
	-e "s/--hostname-override=[^ \"]*/--hostname-override=$NODE/" \
	-e "s/--node-ip=[^ \"]*/--node-ip=$NODE_IP/" \
	/etc/minik8s/kubelet.env /etc/minik8s/kube-proxy.env
install -d -m 0755 /etc/minik8s/manifests

systemctl daemon-reload
systemctl enable containerd "${units[@]}"
systemctl restart containerd
systemctl restart "${units[@]}"

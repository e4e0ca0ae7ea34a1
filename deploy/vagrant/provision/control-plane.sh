#!/usr/bin/env bash
# The control plane: etcd and the three control-plane daemons as systemd
# units, plus a plain-HTTP image registry the workers pull from (there is no
# other registry in the example layout; the kubelets' --registry-mirror
# points here). Idempotent.
#   control-plane.sh STAGE
set -euo pipefail
STAGE=$1
# shellcheck source=deploy/vagrant/provision/lib.sh
source "$STAGE/provision/lib.sh"

export DEBIAN_FRONTEND=noninteractive
# Debian's registry listens on :5000 and starts as its own unit on install.
apt-get install -y -qq docker-registry >/dev/null

install_bin "$STAGE" etcd etcd
install_bin "$STAGE" etcdctl etcdctl
install_bin "$STAGE" apiserver kube-apiserver
install_bin "$STAGE" scheduler kube-scheduler
install_bin "$STAGE" controller-manager kube-controller-manager

# TLS: the CAs, the serving and client certificates of etcd and the
# apiserver, and the kubeconfigs of the admin, scheduler and
# controller-manager (deploy/systemd/env names these paths).
install_pki "$STAGE" pki/ca.crt pki/ca.key pki/apiserver.crt pki/apiserver.key \
	pki/apiserver-etcd-client.crt pki/apiserver-etcd-client.key \
	pki/apiserver-kubelet-client.crt pki/apiserver-kubelet-client.key \
	pki/etcd/ca.crt pki/etcd/server.crt pki/etcd/server.key pki/etcd/peer.crt pki/etcd/peer.key \
	pki/sa.key pki/sa.pub admin.conf scheduler.conf controller-manager.conf
install_bin "$STAGE" minictl minictl
# root's kubectl/minictl talk to the cluster as the admin.
install -d -m 0700 /root/.kube
install -m 0600 /etc/minik8s/admin.conf /root/.kube/config

# The apiserver's audit policy (--audit-policy-file in its env file).
install -m 0644 "$STAGE/audit-policy.yaml" /etc/minik8s/audit-policy.yaml

# The example environment files already carry this machine's values
# (192.168.56.10), so they go in unchanged.
units=(etcd kube-apiserver kube-scheduler kube-controller-manager)
for u in "${units[@]}"; do
	install_unit "$STAGE" "$u"
done

systemctl daemon-reload
systemctl enable "${units[@]}"
# restart, not start: a second provisioning run must pick up new binaries.
systemctl restart "${units[@]}"

# The workers' kubelets join with the bootstrap token staged with the PKI:
# its Secret, as `kubeadm token create` writes it (no expiration; delete
# the Secret to stop further joins).
IFS=. read -r token_id token_secret <"$STAGE/pki/bootstrap-token"
for _ in $(seq 120); do
	curl -fsS -o /dev/null http://127.0.0.1:8080/readyz && break
	sleep 1
done
secret_file=$(mktemp)
trap 'rm -f "$secret_file"' EXIT
b64() { printf '%s' "$1" | base64 -w0; }
cat >"$secret_file" <<EOF
apiVersion: v1
kind: Secret
metadata:
  name: bootstrap-token-$token_id
  namespace: kube-system
type: bootstrap.kubernetes.io/token
data:
  description: $(b64 "minik8s Vagrant workers' join token")
  token-id: $(b64 "$token_id")
  token-secret: $(b64 "$token_secret")
  usage-bootstrap-authentication: $(b64 true)
  usage-bootstrap-signing: $(b64 true)
  auth-extra-groups: $(b64 system:bootstrappers:kubeadm:default-node-token)
EOF
minictl --kubeconfig /etc/minik8s/admin.conf apply -f "$secret_file" >/dev/null

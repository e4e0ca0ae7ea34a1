# Helpers the role scripts source.

# install_unit STAGE UNIT: the unit file into /etc/systemd/system and its
# example environment file into /etc/minik8s, unless one is already there:
# the environment file is where an operator makes local changes, and
# re-provisioning must not throw them away.
install_unit() {
	local stage=$1 unit=$2
	install -m 0644 "$stage/systemd/$unit.service" "/etc/systemd/system/$unit.service"
	if [ ! -e "/etc/minik8s/$unit.env" ]; then
		install -m 0644 "$stage/systemd/env/$unit.env" "/etc/minik8s/$unit.env"
	fi
}

# install_bin STAGE BUILT INSTALLED: bin/BUILT as /usr/local/bin/INSTALLED
# (the units run the kube-* names, as upstream Kubernetes installs them).
install_bin() {
	install -m 0755 "$1/bin/$2" "/usr/local/bin/$3"
}

# install_pki STAGE FILE...: files of the staged PKI (paths relative to
# the host's deploy/vagrant/.pki, e.g. pki/ca.crt or admin.conf) into
# /etc/minik8s; keys and kubeconfigs root-only (the units hand them to
# their dynamic users with LoadCredential=).
install_pki() {
	local stage=$1 f mode
	shift
	for f in "$@"; do
		mode=0644
		case "$f" in *.key | *.conf) mode=0600 ;; esac
		install -D -m "$mode" "$stage/pki/$f" "/etc/minik8s/$f"
	done
}

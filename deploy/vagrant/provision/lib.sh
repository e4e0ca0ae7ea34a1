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

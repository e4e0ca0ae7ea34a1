
# postinst: enable the units on every configure (a first install enables
# them; an upgrade re-creates links a changed [Install] section needs; a unit
# the operator disabled stays disabled, as deb-systemd-helper records), then
# start or restart each unit whose configuration is in place. A unit without
# its PKI or kubeconfig is enabled but not started, and the installation
# succeeds: it starts at the next boot or with `systemctl start` once the
# operator has written the files.

# ready_files UNIT: the files that show UNIT is configured ("a|b": either).
ready_files() {
	for e in $READY; do
		if [ "${e%%:*}" = "$1" ]; then echo "${e#*:}"; fi
	done
}

configured() {
	alts=$(ready_files "$1")
	[ -n "$alts" ] || return 0
	for f in $(echo "$alts" | tr '|' ' '); do
		[ -e "$f" ] && return 0
	done
	return 1
}

case "$1" in
configure | abort-upgrade | abort-deconfigure | abort-remove)
	for u in $UNITS; do
		# Undo the mask postrm set on remove (see postrm).
		deb-systemd-helper unmask "$u.service" >/dev/null || true
		if deb-systemd-helper --quiet was-enabled "$u.service"; then
			deb-systemd-helper enable "$u.service" >/dev/null || true
		else
			deb-systemd-helper update-state "$u.service" >/dev/null || true
		fi
	done
	# Only on a running systemd: not in a chroot, an image build or a
	# container without systemd, where starting is not the package's job.
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		for u in $UNITS; do
			if ! configured "$u"; then
				echo "$PACKAGE: $u.service is enabled but not started: $(ready_files "$u" | sed 's/|/ or /g') missing (see /usr/share/doc or docs/operations.md); start it with 'systemctl start $u' once configured" >&2
				continue
			fi
			# $2 is the version configured before: an upgrade restarts the
			# daemon onto the new binary. deb-systemd-invoke leaves a unit
			# the operator disabled alone.
			if [ -n "$2" ]; then
				deb-systemd-invoke restart "$u.service" >/dev/null || true
			else
				deb-systemd-invoke start "$u.service" >/dev/null || true
			fi
		done
	fi
	;;
esac
exit 0

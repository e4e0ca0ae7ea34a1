
# postrm: on remove, forget the unit files and mask the units while their
# conffiles stay (so nothing starts them from a leftover link); on purge,
# drop the enablement state and the masks, then the state the daemons wrote
# ($PURGE). The operator's PKI and kubeconfigs under /etc/minik8s are never
# touched: `minictl certs` wrote them, not this package.
case "$1" in
remove)
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
	fi
	if [ -x /usr/bin/deb-systemd-helper ]; then
		for u in $UNITS; do
			deb-systemd-helper mask "$u.service" >/dev/null || true
		done
	fi
	;;
purge)
	if [ -x /usr/bin/deb-systemd-helper ]; then
		for u in $UNITS; do
			deb-systemd-helper purge "$u.service" >/dev/null || true
			deb-systemd-helper unmask "$u.service" >/dev/null || true
		done
	fi
	if [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
	fi
	for p in $PURGE; do
		# A kubelet leaves pod volumes mounted under its root directory
		# (pods outlive it); unmount them, deepest first, before deleting.
		if [ -d "$p" ] && [ ! -L "$p" ]; then
			awk -v p="$p" '$2 == p || index($2, p "/") == 1 { print $2 }' /proc/self/mounts | sort -r |
				while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
		fi
		rm -rf "$p"
	done
	if [ -d /etc/minik8s ] && [ -n "$(ls -A /etc/minik8s 2>/dev/null)" ]; then
		echo "$PACKAGE: purged; /etc/minik8s still holds files this package did not install (PKI, kubeconfigs): remove them by hand if the machine leaves the cluster" >&2
	fi
	;;
esac
exit 0


# prerm: stop the daemons when the package is removed. An upgrade does not
# stop them here: the running daemon keeps its old binary until postinst of
# the new version restarts it, so the gap is one restart.
case "$1" in
remove)
	if [ -d /run/systemd/system ]; then
		for u in $UNITS; do
			deb-systemd-invoke stop "$u.service" >/dev/null || true
		done
	fi
	;;
esac
exit 0

# %postun of the ipvsd .rpm (packaging/rpm/postun.sh), as %systemd_postun_with_restart:
# systemd re-reads its units; after an upgrade a running ipvsd restarts on the new binary
# (restarts are hitless: the IPVS rules stay in place).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -ge 1 ]; then
    systemctl try-restart ipvsd.service >/dev/null 2>&1 || :
fi
exit 0

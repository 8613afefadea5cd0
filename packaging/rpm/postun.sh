# %postun of the ipvsd .rpm (packaging/rpm/postun.sh).
# - As %systemd_postun_with_restart: systemd re-reads its units; after an upgrade a running
#   ipvsd restarts on the new binary (restarts are hitless: the IPVS rules stay in place).
# - On erase, the package's directories go if empty (a changed config stays as
#   /etc/ipvsd/ipvsd.yaml.rpmsave, and so does /etc/ipvsd).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -ge 1 ]; then
    systemctl try-restart ipvsd.service >/dev/null 2>&1 || :
fi
if [ "$1" -eq 0 ]; then
    rmdir /etc/ipvsd /usr/share/doc/ipvsd/prometheus /usr/share/doc/ipvsd/grafana \
        /usr/share/doc/ipvsd 2>/dev/null || :
fi
exit 0

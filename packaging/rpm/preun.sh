# %preun of the ipvsd .rpm (packaging/rpm/preun.sh), as %systemd_preun: on erase (not on
# upgrade) disable and stop ipvsd.service. Like any stop, this leaves the IPVS rules in the
# kernel unless the config says remove_rules_on_exit: true.
if [ "$1" -eq 0 ]; then
    systemctl --no-reload disable --now ipvsd.service >/dev/null 2>&1 || :
fi
exit 0

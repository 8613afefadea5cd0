# %post of the ipvsd .rpm (packaging/rpm/post.sh), as %systemd_post: on the first install
# the distribution's presets decide whether ipvsd.service is enabled (Fedora and RHEL
# leave services disabled); nothing is started.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
    systemctl --no-reload preset ipvsd.service >/dev/null 2>&1 || :
fi
exit 0

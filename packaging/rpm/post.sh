# %post of the ipvsd .rpm (packaging/rpm/post.sh).
# - On the first install, /etc/ipvsd becomes root:ipvsd 0750 (the config in it may hold
#   VRRP passwords; cargo-generate-rpm cannot give the directory an entry of its own).
# - As %systemd_post: on the first install the distribution's presets decide whether
#   ipvsd.service is enabled (Fedora and RHEL leave services disabled); nothing is started.
if [ "$1" -eq 1 ]; then
    chgrp ipvsd /etc/ipvsd && chmod 0750 /etc/ipvsd
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -eq 1 ]; then
    systemctl --no-reload preset ipvsd.service >/dev/null 2>&1 || :
fi
exit 0

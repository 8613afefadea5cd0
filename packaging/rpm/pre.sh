# %pre of the ipvsd .rpm (packaging/rpm/pre.sh): the system user and group `ipvsd` the unit
# runs as (User=ipvsd), created before the files so /etc/ipvsd can belong to the group.
# They stay on erase, as RPM packages keep system users.
getent group ipvsd >/dev/null || groupadd --system ipvsd
getent passwd ipvsd >/dev/null ||
    useradd --system --gid ipvsd --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin --comment "ipvsd IPVS director" ipvsd
exit 0

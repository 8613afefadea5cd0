//! The controller: turns config (and, later, health) into the desired IPVS table.
//!
//! Pure.

use std::collections::BTreeMap;

use crate::config::{Config, VirtualServer};
use crate::ipvs::model::{DestKey, Destination, Family, Service, ServiceEntry, Table, svc_flags};

/// The table the config describes with every real server healthy: each service with its
/// real servers at their configured weights, no sorry servers.
pub fn configured_table(cfg: &Config) -> Table {
    let services = cfg
        .virtual_servers
        .iter()
        .map(|vs| (vs.key, service_entry(vs)))
        .collect();
    Table { services }
}

fn service_entry(vs: &VirtualServer) -> ServiceEntry {
    ServiceEntry {
        service: service(vs),
        dests: vs
            .real_servers
            .iter()
            .map(|rs| {
                let key = DestKey {
                    addr: rs.address,
                    port: rs.port,
                };
                let dest = Destination {
                    key,
                    forwarding: rs.forwarding,
                    weight: rs.weight,
                    upper_threshold: rs.upper_threshold,
                    lower_threshold: rs.lower_threshold,
                };
                (key, dest)
            })
            .collect::<BTreeMap<_, _>>(),
    }
}

/// The service attributes as ipvsadm would set them.
pub fn service(vs: &VirtualServer) -> Service {
    let mut flags = vs.scheduler_flags;
    if vs.one_packet {
        flags |= svc_flags::ONEPACKET;
    }
    let full_mask = match vs.key.family() {
        Family::Inet => u32::MAX,
        Family::Inet6 => 128,
    };
    let (timeout, netmask, pe_name) = match &vs.persistence {
        Some(p) => {
            flags |= svc_flags::PERSISTENT;
            (p.timeout, p.netmask, p.engine.clone())
        }
        None => (0, full_mask, None),
    };
    Service {
        key: vs.key,
        scheduler: vs.scheduler,
        flags,
        timeout,
        netmask,
        pe_name,
    }
}

//! IPVS statistics read from the kernel (owned services only), exported at scrape time.
//!
//! The kernel keeps the counters; ipvsd does not count anything itself. Before each
//! scrape the admin API asks the IPVS task for a fresh dump and stores it here with
//! `set`; `encode` turns the stored dump into constant counters and gauges. Label names
//! are node_exporter's (`local_address`, `local_port`, `remote_address`, `remote_port`,
//! `proto`, `local_mark`), plus the config's `virtual_server` name.

use std::collections::BTreeMap;
use std::sync::Mutex;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::ipvs::backend::{Observed, ServiceState};
use crate::ipvs::model::{DestKey, Family, Protocol, ServiceKey};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    pub virtual_server: String,
    pub local_address: String,
    pub local_port: String,
    pub proto: &'static str,
    pub local_mark: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabels {
    pub virtual_server: String,
    pub local_address: String,
    pub local_port: String,
    pub remote_address: String,
    pub remote_port: String,
    pub proto: &'static str,
    pub local_mark: String,
}

/// The labels of a service: an fwmark service has an empty address, port 0 and its mark
/// (as node_exporter reports it).
pub fn service_labels(virtual_server: &str, key: &ServiceKey) -> ServiceLabels {
    match *key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => ServiceLabels {
            virtual_server: virtual_server.to_string(),
            local_address: addr.to_string(),
            local_port: port.to_string(),
            proto: match protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
                Protocol::Sctp => "SCTP",
            },
            local_mark: String::new(),
        },
        ServiceKey::Fwmark { family, mark } => ServiceLabels {
            virtual_server: virtual_server.to_string(),
            local_address: String::new(),
            local_port: "0".into(),
            proto: match family {
                Family::Inet | Family::Inet6 => "FWM",
            },
            local_mark: mark.to_string(),
        },
    }
}

pub fn backend_labels(service: &ServiceLabels, dest: &DestKey) -> BackendLabels {
    BackendLabels {
        virtual_server: service.virtual_server.clone(),
        local_address: service.local_address.clone(),
        local_port: service.local_port.clone(),
        remote_address: dest.addr.to_string(),
        remote_port: dest.port.to_string(),
        proto: service.proto,
        local_mark: service.local_mark.clone(),
    }
}

/// The last dump of the owned services, with their config names.
#[derive(Debug, Default)]
pub struct IpvsStats {
    snapshot: Mutex<Vec<(ServiceLabels, ServiceState)>>,
    names: Mutex<BTreeMap<ServiceKey, String>>,
}

impl IpvsStats {
    /// The config's name of each service (set at start and on reload).
    pub fn set_names(&self, names: BTreeMap<ServiceKey, String>) {
        if let Ok(mut n) = self.names.lock() {
            *n = names;
        }
    }

    /// Replaces the stored dump. Services without a config name (a reload dropped them;
    /// they are being deleted) get an empty `virtual_server`.
    pub fn set(&self, observed: Observed) {
        let Ok(names) = self.names.lock() else {
            return;
        };
        let rows = observed
            .into_iter()
            .map(|(k, st)| {
                let name = names.get(&k).map(String::as_str).unwrap_or_default();
                (service_labels(name, &k), st)
            })
            .collect();
        if let Ok(mut s) = self.snapshot.lock() {
            *s = rows;
        }
    }
}

type Counters = [(
    &'static str,
    &'static str,
    fn(&crate::ipvs::backend::Stats) -> u64,
); 5];

const SERVICE_COUNTERS: Counters = [
    (
        "ipvsd_ipvs_connections",
        "Connections scheduled to the IPVS service",
        |s| s.conns,
    ),
    (
        "ipvsd_ipvs_incoming_packets",
        "Packets into the IPVS service",
        |s| s.inpkts,
    ),
    (
        "ipvsd_ipvs_outgoing_packets",
        "Packets out of the IPVS service",
        |s| s.outpkts,
    ),
    (
        "ipvsd_ipvs_incoming_bytes",
        "Bytes into the IPVS service",
        |s| s.inbytes,
    ),
    (
        "ipvsd_ipvs_outgoing_bytes",
        "Bytes out of the IPVS service",
        |s| s.outbytes,
    ),
];

const BACKEND_COUNTERS: Counters = [
    (
        "ipvsd_ipvs_backend_connections",
        "Connections scheduled to the real server",
        |s| s.conns,
    ),
    (
        "ipvsd_ipvs_backend_incoming_packets",
        "Packets to the real server",
        |s| s.inpkts,
    ),
    (
        "ipvsd_ipvs_backend_outgoing_packets",
        "Packets from the real server",
        |s| s.outpkts,
    ),
    (
        "ipvsd_ipvs_backend_incoming_bytes",
        "Bytes to the real server",
        |s| s.inbytes,
    ),
    (
        "ipvsd_ipvs_backend_outgoing_bytes",
        "Bytes from the real server",
        |s| s.outbytes,
    ),
];

impl Collector for IpvsStats {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Ok(rows) = self.snapshot.lock() else {
            return Ok(());
        };
        // Like the registry's families, a family without series is left out (no lone
        // HELP/TYPE lines).
        if rows.is_empty() {
            return Ok(());
        }
        for (name, help, get) in SERVICE_COUNTERS {
            let c = ConstCounter::new(0u64);
            let mut family = encoder.encode_descriptor(name, help, None, c.metric_type())?;
            for (labels, st) in rows.iter() {
                ConstCounter::new(get(&st.stats)).encode(family.encode_family(labels)?)?;
            }
        }
        let backends: Vec<(BackendLabels, &crate::ipvs::backend::DestState)> = rows
            .iter()
            .flat_map(|(labels, st)| {
                st.dests
                    .iter()
                    .map(move |(k, d)| (backend_labels(labels, k), d))
            })
            .collect();
        if backends.is_empty() {
            return Ok(());
        }
        for (name, help, get) in BACKEND_COUNTERS {
            let c = ConstCounter::new(0u64);
            let mut family = encoder.encode_descriptor(name, help, None, c.metric_type())?;
            for (labels, d) in &backends {
                ConstCounter::new(get(&d.stats)).encode(family.encode_family(labels)?)?;
            }
        }
        type Gauge = (
            &'static str,
            &'static str,
            fn(&crate::ipvs::backend::DestState) -> i64,
        );
        let gauges: [Gauge; 3] = [
            (
                "ipvsd_ipvs_backend_connections_active",
                "Active connections to the real server",
                |d| i64::from(d.active_conns),
            ),
            (
                "ipvsd_ipvs_backend_connections_inactive",
                "Inactive connections to the real server",
                |d| i64::from(d.inactive_conns),
            ),
            (
                "ipvsd_ipvs_backend_weight",
                "The real server's weight in the kernel",
                |d| i64::from(d.dest.weight),
            ),
        ];
        for (name, help, get) in gauges {
            let g = ConstGauge::new(0i64);
            let mut family = encoder.encode_descriptor(name, help, None, g.metric_type())?;
            for (labels, d) in &backends {
                ConstGauge::new(get(d)).encode(family.encode_family(labels)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_owned_service_means_no_ipvs_family_at_all() {
        // Lone HELP/TYPE lines are legal OpenMetrics but trip some parsers; the registry's
        // own families leave them out too.
        let m = crate::metrics::Metrics::new();
        assert!(!m.render().contains("ipvsd_ipvs_"));
    }

    #[test]
    fn fwmark_services_are_labelled_as_node_exporter_labels_them() {
        let l = service_labels(
            "web",
            &ServiceKey::Fwmark {
                family: Family::Inet,
                mark: 3,
            },
        );
        assert_eq!(
            (l.local_address.as_str(), l.local_port.as_str(), l.proto),
            ("", "0", "FWM")
        );
        assert_eq!(l.local_mark, "3");
        let l = service_labels(
            "dns",
            &ServiceKey::Addr {
                protocol: Protocol::Udp,
                addr: "2001:db8::1".parse().unwrap(),
                port: 53,
            },
        );
        assert_eq!(
            (l.local_address.as_str(), l.local_port.as_str(), l.proto),
            ("2001:db8::1", "53", "UDP")
        );
        assert_eq!(l.local_mark, "");
    }
}

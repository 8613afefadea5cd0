//! Tracking: what the tracked interfaces, virtual servers and scripts do to an instance's
//! priority.
//!
//! Pure. A tracked item that is down either lowers (or raises) the priority by its weight,
//! or, with weight 0, puts the instance in FAULT. The address owner keeps 255 whatever
//! happens (it owns the addresses; only FAULT takes them away).

use crate::config::VrrpInstance;

/// The priority and fault state that the tracked items give an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tracked {
    pub priority: u8,
    pub fault: bool,
}

/// `down_interfaces`: for each `track.interfaces[]` entry of `cfg`, in order, whether it is
/// down (or missing); `dead_services`: for each `track.virtual_servers[]` entry, whether the
/// service has no healthy real server here; `failing_scripts`: for each `track.scripts[]`
/// entry, whether the script is failing.
pub fn tracked(
    cfg: &VrrpInstance,
    down_interfaces: &[bool],
    dead_services: &[bool],
    failing_scripts: &[bool],
) -> Tracked {
    let mut fault = false;
    let mut delta: i32 = 0;
    let weights = cfg
        .track_interfaces
        .iter()
        .map(|t| t.weight)
        .zip(down_interfaces)
        .chain(
            cfg.track_virtual_servers
                .iter()
                .map(|t| t.weight)
                .zip(dead_services),
        )
        .chain(
            cfg.track_scripts
                .iter()
                .map(|t| t.weight)
                .zip(failing_scripts),
        );
    for (weight, down) in weights {
        if !*down {
            continue;
        }
        if weight == 0 {
            fault = true;
        } else {
            delta += weight;
        }
    }
    let priority = if cfg.address_owner || cfg.priority == 255 {
        255
    } else {
        // Tracking never reaches 0 (release) nor 255 (owner) (RFC 5798 section 5.2.4).
        (i32::from(cfg.priority) + delta).clamp(1, 254) as u8
    };
    Tracked { priority, fault }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::config::{SystemEnv, TrackInterface, TrackScript, TrackVirtualServer, load_str};

    fn instance(priority: u8, owner: bool, weights: &[i32]) -> VrrpInstance {
        let yaml = format!(
            "vrrp_instances:\n  - name: v\n    interface: eth0\n    vrid: 1\n    priority: {priority}\n    address_owner: {owner}\n    virtual_addresses: [192.0.2.7/24]\n"
        );
        let yaml = if owner {
            yaml.replace(&format!("    priority: {priority}\n"), "")
        } else {
            yaml
        };
        let env = SystemEnv {
            base_dir: PathBuf::from("."),
        };
        let mut cfg = load_str(&yaml, Path::new("t.yaml"), &env)
            .expect("valid")
            .vrrp_instances
            .remove(0);
        cfg.track_interfaces = weights
            .iter()
            .enumerate()
            .map(|(i, w)| TrackInterface {
                name: format!("eth{}", i + 1),
                weight: *w,
            })
            .collect();
        cfg
    }

    fn tracked_names(track: &str) -> Result<Vec<(String, i32)>, String> {
        let yaml = format!(
            "vrrp_instances:\n  - name: v\n    interface: eth0\n    vrid: 1\n    virtual_addresses: [192.0.2.7/24]\n{track}"
        );
        let env = SystemEnv {
            base_dir: PathBuf::from("."),
        };
        load_str(&yaml, Path::new("t.yaml"), &env)
            .map(|c| {
                c.vrrp_instances[0]
                    .track_interfaces
                    .iter()
                    .map(|t| (t.name.clone(), t.weight))
                    .collect()
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_own_interface_is_tracked_unless_the_config_says_otherwise() {
        let own = ("eth0".to_string(), 0);
        // By default, as keepalived: down means FAULT.
        assert_eq!(tracked_names(""), Ok(vec![own.clone()]));
        assert_eq!(
            tracked_names("    track: {interfaces: [eth1]}\n"),
            Ok(vec![("eth1".into(), 0), own])
        );
        // An explicit entry keeps its own weight.
        assert_eq!(
            tracked_names("    track: {interfaces: [{name: eth0, weight: -50}]}\n"),
            Ok(vec![("eth0".into(), -50)])
        );
        // keepalived's dont_track_primary.
        assert_eq!(
            tracked_names("    track: {own_interface: false}\n"),
            Ok(vec![])
        );
        let err = tracked_names("    track: {own_interface: sometimes}\n").unwrap_err();
        assert!(err.contains("own_interface"), "{err}");
    }

    #[test]
    fn nothing_down_leaves_the_configured_priority() {
        let cfg = instance(100, false, &[-30, 0]);
        assert_eq!(
            tracked(&cfg, &[false, false], &[], &[]),
            Tracked {
                priority: 100,
                fault: false
            }
        );
    }

    #[test]
    fn down_interfaces_add_their_weights() {
        let cfg = instance(100, false, &[-30, -20, 10]);
        assert_eq!(
            tracked(&cfg, &[true, true, true], &[], &[]),
            Tracked {
                priority: 60,
                fault: false
            }
        );
    }

    #[test]
    fn a_down_interface_with_weight_zero_means_fault() {
        let cfg = instance(100, false, &[-30, 0]);
        assert_eq!(
            tracked(&cfg, &[false, true], &[], &[]),
            Tracked {
                priority: 100,
                fault: true
            }
        );
    }

    #[test]
    fn a_tracked_service_without_a_healthy_server_lowers_the_priority_or_faults() {
        let mut cfg = instance(150, false, &[-10]);
        cfg.track_virtual_servers = vec![
            TrackVirtualServer {
                name: "web".into(),
                weight: -60,
            },
            TrackVirtualServer {
                name: "dns".into(),
                weight: 0,
            },
        ];
        assert_eq!(
            tracked(&cfg, &[true], &[true, false], &[]),
            Tracked {
                priority: 80,
                fault: false
            }
        );
        assert_eq!(
            tracked(&cfg, &[false], &[false, true], &[]),
            Tracked {
                priority: 150,
                fault: true
            }
        );
    }

    #[test]
    fn failing_scripts_add_their_weights_to_the_others_or_fault() {
        let mut cfg = instance(150, false, &[-10]);
        cfg.track_virtual_servers = vec![TrackVirtualServer {
            name: "web".into(),
            weight: -60,
        }];
        cfg.track_scripts = vec![
            TrackScript {
                name: "chk_haproxy".into(),
                weight: -20,
            },
            TrackScript {
                name: "maintenance".into(),
                weight: 0,
            },
        ];
        // Everything at once: 150 - 10 - 60 - 20.
        assert_eq!(
            tracked(&cfg, &[true], &[true], &[true, false]),
            Tracked {
                priority: 60,
                fault: false
            }
        );
        assert_eq!(
            tracked(&cfg, &[false], &[false], &[true, false]).priority,
            130
        );
        assert_eq!(
            tracked(&cfg, &[false], &[false], &[false, true]),
            Tracked {
                priority: 150,
                fault: true
            }
        );
    }

    #[test]
    fn tracking_is_clamped_to_1_and_254() {
        let cfg = instance(100, false, &[-200, 200]);
        assert_eq!(tracked(&cfg, &[true, false], &[], &[]).priority, 1);
        assert_eq!(tracked(&cfg, &[false, true], &[], &[]).priority, 254);
    }

    #[test]
    fn the_address_owner_keeps_255_but_can_fault() {
        let cfg = instance(255, true, &[-50, 0]);
        assert_eq!(
            tracked(&cfg, &[true, true], &[], &[]),
            Tracked {
                priority: 255,
                fault: true
            }
        );
    }
}

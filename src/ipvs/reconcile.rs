//! The reconciler: `(desired, observed, owned) -> ops`, the minimal list of changes that
//! makes the kernel hold the desired table.
//!
//! Pure. Rules:
//! - A service's key (protocol/address/port or fwmark/family) identifies it; so does a
//!   destination's address/port within its service. Anything else is edited in place:
//!   a service for scheduler, flags, persistence timeout/netmask and engine; a destination
//!   for weight, forwarding and thresholds. A key never changes in place: a different key is
//!   a different service (added) and the old one is deleted if owned.
//! - Services the config does not own are never touched, and nothing is flushed. A service
//!   that was owned (e.g. desired before a reload) but is no longer desired is deleted.
//! - Inside an owned service, the desired destinations are the truth: extra ones (added by
//!   hand) are removed, changed ones put back.
//! - Kernel-only state never counts as a difference: the HASHED flag (the model strips it),
//!   and the timeout/netmask of a service that is not persistent.

use std::collections::BTreeSet;

use super::backend::{Observed, Op};
use super::model::{Family, Service, ServiceKey, Table, svc_flags};

/// The ops that turn `observed` into `desired`, touching only `desired` services and the
/// services in `owned`. Order: per service in listing order, service add/edit, then
/// destination adds, edits and deletes; deletions of services that are no longer desired
/// come last.
pub fn reconcile(desired: &Table, observed: &Observed, owned: &BTreeSet<ServiceKey>) -> Vec<Op> {
    let mut ops = Vec::new();
    for entry in desired.in_listing_order() {
        let want = &entry.service;
        let key = want.key;
        let Some(have) = observed.get(&key) else {
            ops.push(Op::AddService(want.clone()));
            for d in entry.dests.values() {
                ops.push(Op::AddDest(key, d.clone()));
            }
            continue;
        };
        if !same_service(want, &have.service) {
            ops.push(Op::EditService(want.clone()));
        }
        let mut edits = Vec::new();
        for (dk, d) in &entry.dests {
            match have.dests.get(dk) {
                None => ops.push(Op::AddDest(key, d.clone())),
                Some(h) if h.dest != *d => edits.push(Op::EditDest(key, d.clone())),
                Some(_) => {}
            }
        }
        ops.extend(edits);
        for dk in have.dests.keys() {
            if !entry.dests.contains_key(dk) {
                ops.push(Op::DelDest(key, *dk));
            }
        }
    }
    let mut gone: Vec<&ServiceKey> = owned
        .iter()
        .filter(|k| !desired.services.contains_key(k) && observed.contains_key(k))
        .collect();
    gone.sort_by_key(|k| k.listing_order());
    ops.extend(gone.into_iter().map(|k| Op::DelService(*k)));
    ops
}

/// Whether two services agree on everything the config sets.
pub fn same_service(want: &Service, have: &Service) -> bool {
    let persistent = want.flags & svc_flags::PERSISTENT != 0;
    let flags_match = (want.flags & !svc_flags::HASHED) == (have.flags & !svc_flags::HASHED);
    let persistence_match = !persistent
        || (want.timeout == have.timeout
            && normal_netmask(want) == normal_netmask(have)
            && want.pe_name == have.pe_name);
    want.scheduler == have.scheduler
        && flags_match
        && persistence_match
        && (persistent || want.pe_name == have.pe_name)
}

fn normal_netmask(s: &Service) -> u32 {
    match s.key.family() {
        Family::Inet => s.netmask,
        // The kernel keeps the prefix length; anything above 128 means "whole address".
        Family::Inet6 => s.netmask.min(128),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ipvs::backend::{DestState, ServiceState, Stats};
    use crate::ipvs::model::{DestKey, Destination, Forwarding, Protocol, Scheduler, ServiceEntry};

    fn key(port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "192.0.2.1".parse().unwrap(),
            port,
        }
    }

    fn svc(port: u16, scheduler: Scheduler) -> Service {
        Service {
            key: key(port),
            scheduler,
            flags: 0,
            timeout: 0,
            netmask: u32::MAX,
            pe_name: None,
        }
    }

    fn dest(last: u8, weight: u32) -> Destination {
        Destination {
            key: DestKey {
                addr: format!("198.51.100.{last}").parse().unwrap(),
                port: 80,
            },
            forwarding: Forwarding::Nat,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
        }
    }

    fn desired(services: Vec<(Service, Vec<Destination>)>) -> Table {
        Table {
            services: services
                .into_iter()
                .map(|(s, ds)| {
                    let entry = ServiceEntry {
                        dests: ds.into_iter().map(|d| (d.key, d)).collect(),
                        service: s,
                    };
                    (entry.service.key, entry)
                })
                .collect(),
        }
    }

    /// What the kernel would report for `t`, with the HASHED flag set as the kernel does.
    fn observed(t: &Table) -> Observed {
        t.services
            .iter()
            .map(|(k, e)| {
                let mut service = e.service.clone();
                service.flags |= svc_flags::HASHED;
                let dests = e
                    .dests
                    .iter()
                    .map(|(dk, d)| {
                        let st = DestState {
                            dest: d.clone(),
                            active_conns: 3,
                            inactive_conns: 1,
                            persistent_conns: 0,
                            stats: Stats::default(),
                        };
                        (*dk, st)
                    })
                    .collect();
                let st = ServiceState {
                    service,
                    stats: Stats::default(),
                    dests,
                };
                (*k, st)
            })
            .collect::<BTreeMap<_, _>>()
    }

    fn none() -> BTreeSet<ServiceKey> {
        BTreeSet::new()
    }

    #[test]
    fn an_empty_kernel_gets_every_service_and_destination_added() {
        let want = desired(vec![(svc(80, Scheduler::Rr), vec![dest(2, 1), dest(3, 1)])]);
        assert_eq!(
            reconcile(&want, &Observed::new(), &none()),
            vec![
                Op::AddService(svc(80, Scheduler::Rr)),
                Op::AddDest(key(80), dest(2, 1)),
                Op::AddDest(key(80), dest(3, 1)),
            ]
        );
    }

    #[test]
    fn a_kernel_that_matches_needs_no_op_despite_the_hashed_flag() {
        let want = desired(vec![(svc(80, Scheduler::Rr), vec![dest(2, 1)])]);
        assert_eq!(reconcile(&want, &observed(&want), &none()), vec![]);
    }

    #[test]
    fn one_changed_weight_is_exactly_one_edit() {
        let before = desired(vec![(
            svc(80, Scheduler::Wrr),
            vec![dest(2, 1), dest(3, 1)],
        )]);
        let after = desired(vec![(
            svc(80, Scheduler::Wrr),
            vec![dest(2, 1), dest(3, 2)],
        )]);
        assert_eq!(
            reconcile(&after, &observed(&before), &none()),
            vec![Op::EditDest(key(80), dest(3, 2))]
        );
    }

    #[test]
    fn a_scheduler_change_edits_the_service_in_place() {
        let before = desired(vec![(svc(80, Scheduler::Rr), vec![dest(2, 1)])]);
        let after = desired(vec![(svc(80, Scheduler::Wrr), vec![dest(2, 1)])]);
        assert_eq!(
            reconcile(&after, &observed(&before), &none()),
            vec![Op::EditService(svc(80, Scheduler::Wrr))]
        );
    }

    #[test]
    fn forwarding_and_thresholds_are_edited_in_place() {
        let before = desired(vec![(svc(80, Scheduler::Rr), vec![dest(2, 1)])]);
        let mut d = dest(2, 1);
        d.forwarding = Forwarding::Dr;
        d.upper_threshold = 10;
        let after = desired(vec![(svc(80, Scheduler::Rr), vec![d.clone()])]);
        assert_eq!(
            reconcile(&after, &observed(&before), &none()),
            vec![Op::EditDest(key(80), d)]
        );
    }

    #[test]
    fn a_changed_key_is_an_add_plus_a_delete_of_the_owned_old_one() {
        let before = desired(vec![(svc(80, Scheduler::Rr), vec![dest(2, 1)])]);
        let after = desired(vec![(svc(8080, Scheduler::Rr), vec![dest(2, 1)])]);
        let owned: BTreeSet<_> = [key(80), key(8080)].into();
        assert_eq!(
            reconcile(&after, &observed(&before), &owned),
            vec![
                Op::AddService(svc(8080, Scheduler::Rr)),
                Op::AddDest(key(8080), dest(2, 1)),
                Op::DelService(key(80)),
            ]
        );
    }

    #[test]
    fn services_the_config_does_not_own_are_never_touched() {
        let foreign = desired(vec![(svc(22, Scheduler::Sh), vec![dest(9, 5)])]);
        let want = desired(vec![(svc(80, Scheduler::Rr), vec![])]);
        let mut have = observed(&foreign);
        have.extend(observed(&want));
        let owned: BTreeSet<_> = [key(80)].into();
        assert_eq!(reconcile(&want, &have, &owned), vec![]);
        // Even with nothing desired at all: no flush.
        assert_eq!(reconcile(&Table::default(), &have, &none()), vec![]);
    }

    #[test]
    fn destinations_added_by_hand_to_an_owned_service_are_removed() {
        let want = desired(vec![(svc(80, Scheduler::Rr), vec![dest(2, 1)])]);
        let drifted = desired(vec![(svc(80, Scheduler::Rr), vec![dest(2, 1), dest(7, 1)])]);
        assert_eq!(
            reconcile(&want, &observed(&drifted), &none()),
            vec![Op::DelDest(key(80), dest(7, 1).key)]
        );
    }

    #[test]
    fn a_destination_deleted_by_hand_is_put_back() {
        let want = desired(vec![(svc(80, Scheduler::Rr), vec![dest(2, 1), dest(3, 1)])]);
        let drifted = desired(vec![(svc(80, Scheduler::Rr), vec![dest(2, 1)])]);
        assert_eq!(
            reconcile(&want, &observed(&drifted), &none()),
            vec![Op::AddDest(key(80), dest(3, 1))]
        );
    }

    #[test]
    fn timeout_and_netmask_of_a_non_persistent_service_are_ignored() {
        let want = desired(vec![(svc(80, Scheduler::Rr), vec![])]);
        let mut have = observed(&want);
        let s = &mut have.get_mut(&key(80)).unwrap().service;
        s.timeout = 300;
        s.netmask = 0xffff_ff00;
        assert_eq!(reconcile(&want, &have, &none()), vec![]);
    }

    #[test]
    fn persistence_changes_are_edits() {
        let mut p = svc(80, Scheduler::Rr);
        p.flags = svc_flags::PERSISTENT;
        p.timeout = 360;
        let before = desired(vec![(p.clone(), vec![])]);
        let mut q = p.clone();
        q.netmask = 0xffff_ff00;
        let after = desired(vec![(q.clone(), vec![])]);
        assert_eq!(
            reconcile(&after, &observed(&before), &none()),
            vec![Op::EditService(q)]
        );
        let mut r = p.clone();
        r.flags = 0;
        r.timeout = 0;
        let after = desired(vec![(r.clone(), vec![])]);
        assert_eq!(
            reconcile(&after, &observed(&before), &none()),
            vec![Op::EditService(r)],
            "dropping persistence is an edit too"
        );
    }
}

//! The kernel's connection-sync daemon, reconciled like the table: which daemons to stop
//! and start so the running ones match the wanted one.
//!
//! Pure. The VRRP state decides the wanted role (master on the VRRP master, backup
//! elsewhere); the IPVS task reads what runs and applies these operations, and repeats
//! that every reconcile interval, so a daemon stopped by hand is started again.

use super::backend::{SyncDaemon, SyncRole};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncOp {
    Stop(SyncRole),
    Start(SyncDaemon),
}

/// Operations that leave exactly `want` running: the other role stopped (a director is
/// master or backup, never both), the same role restarted if its interface or sync ID
/// differ.
pub fn sync_ops(want: &SyncDaemon, running: &[SyncDaemon]) -> Vec<SyncOp> {
    let mut ops = Vec::new();
    let mut present = false;
    for r in running {
        if r == want {
            present = true;
        } else {
            ops.push(SyncOp::Stop(r.role));
        }
    }
    if !present {
        ops.push(SyncOp::Start(want.clone()));
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(role: SyncRole, interface: &str, sync_id: u8) -> SyncDaemon {
        SyncDaemon {
            role,
            interface: interface.into(),
            sync_id,
        }
    }

    #[test]
    fn nothing_running_starts_the_wanted_daemon() {
        let want = d(SyncRole::Master, "eth1", 51);
        assert_eq!(sync_ops(&want, &[]), vec![SyncOp::Start(want.clone())]);
    }

    #[test]
    fn the_wanted_daemon_running_means_nothing_to_do() {
        let want = d(SyncRole::Backup, "eth1", 51);
        assert_eq!(sync_ops(&want, std::slice::from_ref(&want)), vec![]);
    }

    #[test]
    fn a_role_switch_stops_the_other_role_first() {
        let want = d(SyncRole::Master, "eth1", 51);
        let running = [d(SyncRole::Backup, "eth1", 51)];
        assert_eq!(
            sync_ops(&want, &running),
            vec![SyncOp::Stop(SyncRole::Backup), SyncOp::Start(want.clone())]
        );
    }

    #[test]
    fn the_same_role_with_another_interface_or_id_is_restarted() {
        let want = d(SyncRole::Master, "eth1", 51);
        let running = [d(SyncRole::Master, "eth2", 51)];
        assert_eq!(
            sync_ops(&want, &running),
            vec![SyncOp::Stop(SyncRole::Master), SyncOp::Start(want.clone())]
        );
        let running = [
            d(SyncRole::Master, "eth1", 7),
            d(SyncRole::Backup, "eth1", 51),
        ];
        assert_eq!(
            sync_ops(&want, &running),
            vec![
                SyncOp::Stop(SyncRole::Master),
                SyncOp::Stop(SyncRole::Backup),
                SyncOp::Start(want.clone())
            ]
        );
    }
}

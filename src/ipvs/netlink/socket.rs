//! The I/O shell: a generic netlink socket (neli's `NlRouter`) that sends the payloads
//! [`Request::encode`] builds and hands the reply payloads to the decoders.
//!
//! Not pure, but it decides nothing: the request says which netlink flags it needs
//! ([`Request::exchange`]), the decoders say what the bytes mean, and this file maps
//! errnos to [`BackendError`]. Every reply is read to its end (ACK, `NLMSG_DONE` or the
//! error) before anything is decoded, so a bad message never leaves replies behind on
//! the socket for the next request.

use std::collections::BTreeMap;
use std::io;

use neli::consts::nl::NlmF;
use neli::consts::socket::NlFamily;
use neli::err::{RouterError, SocketError};
use neli::nl::NlPayload;
use neli::router::synchronous::NlRouter;
use neli::types::Buffer;
use neli::utils::Groups;
use tracing::debug;

use super::consts::GENL_NAME;
use super::decode::{
    DecodeError, decode_daemon, decode_dest, decode_info, decode_service, decode_timeouts,
};
use super::encode::{EncodeError, Exchange, Request};
use crate::ipvs::backend::{
    Backend, BackendError, Info, Observed, Op, ServiceState, SyncDaemon, SyncRole, Timeouts,
};
use crate::ipvs::model::ServiceKey;

// errno values (asm-generic/errno-base.h); the crate is Linux-only.
const ENOENT: i32 = 2;
const ESRCH: i32 = 3;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;

/// What an errno from the kernel means for `req`: EEXIST -> `Exists`; ESRCH (no such
/// service) and ENOENT (no such destination or sync daemon) -> `NotFound`; anything else
/// -> `Kernel`. One exception: NEW_SERVICE and SET_SERVICE answer ENOENT when the
/// scheduler or persistence engine module cannot be loaded (a missing service is ESRCH
/// there); that is no race to re-read for, so it stays `Kernel`.
pub fn errno_to_error(req: &Request<'_>, errno: i32) -> BackendError {
    match (req, errno) {
        (_, EEXIST) => BackendError::Exists,
        (Request::Apply(Op::AddService(_) | Op::EditService(_)), ENOENT) => {
            BackendError::Kernel { errno }
        }
        (_, ENOENT | ESRCH) => BackendError::NotFound,
        (_, errno) => BackendError::Kernel { errno },
    }
}

fn decode_error(e: DecodeError) -> BackendError {
    BackendError::Decode(e.to_string())
}

/// A request the kernel would refuse anyway is reported as the kernel would: EINVAL.
fn encode_error(e: EncodeError) -> BackendError {
    debug!(error = %e, "ipvs request not encodable");
    BackendError::Kernel { errno: EINVAL }
}

/// A failure below the IPVS protocol (socket, framing); an error reply from the kernel is
/// `Kernel` here, callers that know the request map its errno first.
fn router_error<T: std::fmt::Debug, P: std::fmt::Debug>(e: RouterError<T, P>) -> BackendError {
    match e {
        RouterError::Nlmsgerr(err) => BackendError::Kernel {
            errno: -*err.error(),
        },
        RouterError::Io(kind) => BackendError::Io(io::Error::from(kind)),
        RouterError::Socket(SocketError::Io(err)) => {
            BackendError::Io(io::Error::new(err.kind(), err.to_string()))
        }
        RouterError::De(err) => BackendError::Decode(err.to_string()),
        RouterError::Socket(SocketError::De(err)) => BackendError::Decode(err.to_string()),
        other => BackendError::Io(io::Error::other(other.to_string())),
    }
}

/// The IPVS table in the kernel of the current network namespace.
pub struct NetlinkBackend {
    router: NlRouter,
    family: u16,
}

impl std::fmt::Debug for NetlinkBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetlinkBackend")
            .field("family", &self.family)
            .field("pid", &self.router.pid())
            .finish()
    }
}

impl NetlinkBackend {
    /// Opens a generic netlink socket and resolves the "IPVS" family through the
    /// controller. `Unavailable` when the kernel has no IPVS.
    pub fn connect() -> Result<Self, BackendError> {
        let (router, _multicast) =
            NlRouter::connect(NlFamily::Generic, None, Groups::empty()).map_err(router_error)?;
        let family = match router.resolve_genl_family(GENL_NAME) {
            Ok(id) => id,
            // The controller answers ENOENT for an unknown family; neli reports a reply
            // without a family id as a message.
            Err(RouterError::Nlmsgerr(e)) if -*e.error() == ENOENT => {
                return Err(BackendError::Unavailable);
            }
            Err(RouterError::Msg(_)) => return Err(BackendError::Unavailable),
            Err(RouterError::Nlmsgerr(e)) => {
                return Err(BackendError::Kernel { errno: -*e.error() });
            }
            Err(e) => return Err(router_error(e)),
        };
        debug!(family, "ipvs generic netlink family resolved");
        Ok(NetlinkBackend { router, family })
    }

    /// The generic netlink family id the kernel gave "IPVS".
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// Sends one request and returns the generic netlink payloads of its replies (none
    /// for a write, one for a get, any number for a dump), once the exchange is complete.
    pub fn exchange(&self, req: Request<'_>) -> Result<Vec<Vec<u8>>, BackendError> {
        let payload = req.encode().map_err(encode_error)?;
        let flags = match req.exchange() {
            Exchange::Ack | Exchange::Reply => NlmF::ACK,
            Exchange::Dump => NlmF::DUMP,
        };
        let replies = self
            .router
            .send::<u16, Buffer, u16, Buffer>(
                self.family,
                flags,
                NlPayload::Payload(Buffer::from(payload)),
            )
            .map_err(router_error)?;
        let mut out = Vec::new();
        let mut failure = None;
        // The receiver ends itself after the ACK, NLMSG_DONE or an error.
        for reply in replies {
            let msg = match reply {
                Ok(msg) => msg,
                Err(RouterError::Nlmsgerr(err)) => {
                    failure.get_or_insert(errno_to_error(&req, -*err.error()));
                    continue;
                }
                Err(e) => {
                    failure.get_or_insert(router_error(e));
                    continue;
                }
            };
            match msg.nl_payload() {
                NlPayload::Payload(p) if *msg.nl_type() == self.family => {
                    out.push(p.as_ref().to_vec());
                }
                NlPayload::DumpExtAck(done) if *done.error() != 0 => {
                    failure.get_or_insert(errno_to_error(&req, -*done.error()));
                }
                NlPayload::Err(err) => {
                    failure.get_or_insert(errno_to_error(&req, -*err.error()));
                }
                _ => {}
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    fn one_reply(&self, req: Request<'_>) -> Result<Vec<u8>, BackendError> {
        let mut replies = self.exchange(req)?;
        match (replies.pop(), replies.is_empty()) {
            (Some(reply), true) => Ok(reply),
            (None, _) => Err(BackendError::Decode("no reply".into())),
            (Some(_), false) => Err(BackendError::Decode("more than one reply".into())),
        }
    }

    fn dests(&self, state: &mut ServiceState) -> Result<(), BackendError> {
        let family = state.service.key.family();
        for msg in self.exchange(Request::DumpDests(state.service.key))? {
            let d = decode_dest(&msg, family).map_err(decode_error)?;
            state.dests.insert(d.dest.key, d);
        }
        Ok(())
    }

    /// One service with its destinations (GET_SERVICE, then a GET_DEST dump).
    /// `NotFound` when the kernel has no such service.
    pub fn service(&mut self, key: &ServiceKey) -> Result<ServiceState, BackendError> {
        let reply = self.one_reply(Request::GetService(*key))?;
        let (service, stats) = decode_service(&reply).map_err(decode_error)?;
        let mut state = ServiceState {
            service,
            stats,
            dests: BTreeMap::new(),
        };
        self.dests(&mut state)?;
        Ok(state)
    }
}

impl Backend for NetlinkBackend {
    fn dump(&mut self) -> Result<Observed, BackendError> {
        let mut observed = Observed::new();
        for msg in self.exchange(Request::DumpServices)? {
            let (service, stats) = decode_service(&msg).map_err(decode_error)?;
            let mut state = ServiceState {
                service,
                stats,
                dests: BTreeMap::new(),
            };
            self.dests(&mut state)?;
            observed.insert(state.service.key, state);
        }
        Ok(observed)
    }

    fn apply(&mut self, op: &Op) -> Result<(), BackendError> {
        self.exchange(Request::Apply(op)).map(drop)
    }

    fn info(&mut self) -> Result<Info, BackendError> {
        decode_info(&self.one_reply(Request::GetInfo)?).map_err(decode_error)
    }

    fn timeouts(&mut self) -> Result<Timeouts, BackendError> {
        decode_timeouts(&self.one_reply(Request::GetConfig)?).map_err(decode_error)
    }

    fn set_timeouts(&mut self, t: Timeouts) -> Result<(), BackendError> {
        self.exchange(Request::SetConfig(t)).map(drop)
    }

    fn sync_daemons(&mut self) -> Result<Vec<SyncDaemon>, BackendError> {
        self.exchange(Request::DumpDaemons)?
            .iter()
            .map(|msg| decode_daemon(msg).map_err(decode_error))
            .collect()
    }

    fn start_sync_daemon(&mut self, d: &SyncDaemon) -> Result<(), BackendError> {
        self.exchange(Request::NewDaemon(d)).map(drop)
    }

    fn stop_sync_daemon(&mut self, role: SyncRole) -> Result<(), BackendError> {
        self.exchange(Request::DelDaemon(role)).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::model::{Protocol, Scheduler, Service};

    fn key() -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: [192, 0, 2, 1].into(),
            port: 80,
        }
    }

    #[test]
    fn eexist_is_exists_and_esrch_or_enoent_are_not_found() {
        let del = Op::DelService(key());
        let req = Request::Apply(&del);
        assert!(matches!(errno_to_error(&req, 17), BackendError::Exists));
        assert!(matches!(errno_to_error(&req, 3), BackendError::NotFound));
        assert!(matches!(errno_to_error(&req, 2), BackendError::NotFound));
        assert!(matches!(
            errno_to_error(&Request::DelDaemon(SyncRole::Master), 3),
            BackendError::NotFound
        ));
        assert!(matches!(
            errno_to_error(&req, 1),
            BackendError::Kernel { errno: 1 }
        ));
    }

    #[test]
    fn enoent_when_adding_or_editing_a_service_is_a_missing_module_not_a_race() {
        let s = Service {
            key: key(),
            scheduler: Scheduler::Twos,
            flags: 0,
            timeout: 0,
            netmask: u32::MAX,
            pe_name: None,
        };
        for op in [Op::AddService(s.clone()), Op::EditService(s)] {
            let err = errno_to_error(&Request::Apply(&op), 2);
            assert!(matches!(err, BackendError::Kernel { errno: 2 }), "{err:?}");
            assert!(!err.is_race());
        }
        // A vanished service is ESRCH there, and still a race.
        let edit = Op::EditService(Service {
            key: key(),
            scheduler: Scheduler::Rr,
            flags: 0,
            timeout: 0,
            netmask: u32::MAX,
            pe_name: None,
        });
        assert!(errno_to_error(&Request::Apply(&edit), 3).is_race());
    }
}

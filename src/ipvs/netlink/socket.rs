//! The I/O shell: one generic netlink socket, owned by [`NetlinkBackend`] and used only
//! from the caller's thread (no background thread, no channels, no epoll).
//!
//! Not pure, but it decides nothing: the request says which netlink flags it needs
//! ([`Request::exchange`]), [`frame`](super::frame) frames the requests and matches the
//! answers to them by sequence number, the decoders say what the bytes mean, and this
//! file maps errnos to [`BackendError`]. Every answer is read to its end (ACK,
//! `NLMSG_DONE` or the error) before anything is decoded, so a bad message never leaves
//! replies behind on the socket for the next request.
//!
//! Writes are pipelined ([`Backend::apply_all`]): up to [`WINDOW`] requests go out in
//! one datagram, each with `NLM_F_ACK` and its own sequence number; the kernel handles
//! them in order and answers each, and the answers are then read back. ipvsadm (libipvs)
//! instead opens a socket and resolves the family for every single message.

use std::collections::BTreeMap;
use std::io;

use neli::consts::socket::{Msg, NlFamily};
use neli::socket::NlSocket;
use neli::utils::Groups;
use tracing::{debug, warn};

use super::consts::{GENL_NAME, ctrl};
use super::decode::{
    DecodeError, Skipped, decode_daemon, decode_dests, decode_family_id, decode_info,
    decode_service, decode_services, decode_timeouts,
};
use super::encode::{EncodeError, Exchange, Request, get_family};
use super::frame::{Answer, Pending, push_request, request_flags};
use crate::ipvs::backend::{
    Backend, BackendError, Info, Observed, Op, ServiceState, SyncDaemon, SyncRole, Timeouts,
};
use crate::ipvs::model::ServiceKey;

// errno values (asm-generic/errno-base.h); the crate is Linux-only.
const ENOENT: i32 = 2;
const ESRCH: i32 = 3;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;
const ENOBUFS: i32 = 105;

/// Most write requests sent before their answers are read. The kernel queues every
/// answer on the socket while it handles the datagram; an answer is at most ~1.3 KB of
/// receive buffer (an error echoes the request), so a window stays far below even the
/// default 208 KiB buffer. A larger window saves little: one window is one `send`.
pub const WINDOW: usize = 64;

/// Receive buffer asked for (the kernel caps it at `net.core.rmem_max`).
const SOCKET_RCVBUF: usize = 1 << 20;

/// One `recv`: dumps come in datagrams of at most 32 KiB (the kernel sizes them to the
/// reader's buffer, up to that), other answers are small.
const RECV_BUFFER: usize = 64 * 1024;

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

/// The error of a request left unanswered because the socket failed (`cause`): the same
/// error for each of them, so that the task reconnects and reads the table again.
fn lost(cause: Option<&io::Error>) -> io::Error {
    match cause {
        Some(e) => match e.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(e.kind(), e.to_string()),
        },
        None => io::Error::other("no answer from the kernel"),
    }
}

/// How a single request failed.
enum Failure {
    Errno(i32),
    Io(io::Error),
}

/// The IPVS table in the kernel of the current network namespace.
pub struct NetlinkBackend {
    socket: NlSocket,
    port: u32,
    family: u16,
    next_seq: u32,
    buf: Vec<u8>,
    skipped: Vec<Skipped>,
}

impl std::fmt::Debug for NetlinkBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetlinkBackend")
            .field("family", &self.family)
            .field("port", &self.port)
            .field("next_seq", &self.next_seq)
            .finish()
    }
}

impl NetlinkBackend {
    /// Opens a generic netlink socket and resolves the "IPVS" family through the
    /// controller, on that socket. `Unavailable` when the kernel has no IPVS.
    pub fn connect() -> Result<Self, BackendError> {
        let socket = NlSocket::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(BackendError::Io)?;
        if let Err(e) = socket.set_recv_buffer_size(SOCKET_RCVBUF) {
            debug!(error = %e, "cannot raise the netlink receive buffer");
        }
        let port = socket.pid().map_err(BackendError::Io)?;
        let mut backend = NetlinkBackend {
            socket,
            port,
            family: 0,
            next_seq: 1,
            buf: vec![0; RECV_BUFFER],
            skipped: Vec::new(),
        };
        let request = get_family(GENL_NAME).map_err(encode_error)?;
        let replies = match backend.call(ctrl::FAMILY_ID, Exchange::Reply, &request) {
            Ok(replies) => replies,
            // The controller answers ENOENT for an unknown family.
            Err(Failure::Errno(ENOENT)) => return Err(BackendError::Unavailable),
            Err(Failure::Errno(errno)) => return Err(BackendError::Kernel { errno }),
            Err(Failure::Io(e)) => return Err(BackendError::Io(e)),
        };
        backend.family = decode_family_id(&single(replies)?).map_err(decode_error)?;
        debug!(
            family = backend.family,
            port, "ipvs generic netlink family resolved"
        );
        Ok(backend)
    }

    /// Sets the socket's receive buffer (`SO_RCVBUF`; the kernel doubles the value and
    /// bounds it by a minimum and `net.core.rmem_max`). [`connect`](Self::connect) asks
    /// for 1 MiB; a smaller buffer makes the kernel drop answers to a window of writes
    /// (ENOBUFS), which is what the tests of that path do.
    pub fn set_receive_buffer_size(&self, bytes: usize) -> Result<(), BackendError> {
        self.socket
            .set_recv_buffer_size(bytes)
            .map_err(BackendError::Io)
    }

    /// The generic netlink family id the kernel gave "IPVS".
    pub fn family_id(&self) -> u16 {
        self.family
    }

    /// What the last [`Backend::dump`] left out because the model cannot represent it
    /// (a scheduler such as "none" or an out-of-tree module, a forwarding method of a
    /// newer kernel). Empty when the dump was complete.
    pub fn skipped_last_dump(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Sends one request and returns the generic netlink payloads of its replies (none
    /// for a write, one for a get, any number for a dump), once the exchange is complete.
    pub fn exchange(&mut self, req: Request<'_>) -> Result<Vec<Vec<u8>>, BackendError> {
        let payload = req.encode().map_err(encode_error)?;
        self.call(self.family, req.exchange(), &payload)
            .map_err(|f| match f {
                Failure::Errno(errno) => errno_to_error(&req, errno),
                Failure::Io(e) => BackendError::Io(e),
            })
    }

    /// One request of family `msg_type`, answered.
    fn call(
        &mut self,
        msg_type: u16,
        exchange: Exchange,
        payload: &[u8],
    ) -> Result<Vec<Vec<u8>>, Failure> {
        let (answers, cause) = self.transact(msg_type, &[(exchange, payload)]);
        match answers.into_iter().next() {
            Some(Answer::Replies(replies)) => Ok(replies),
            Some(Answer::Errno(errno)) => Err(Failure::Errno(errno)),
            Some(Answer::Unanswered) | None => Err(Failure::Io(lost(cause.as_ref()))),
        }
    }

    /// Sends `requests` (of family `msg_type`) back to back in one datagram, with
    /// consecutive sequence numbers, and reads until each has its answer. Returns the
    /// answers in order and, if the socket failed, its error (the requests it left
    /// without an answer are `Unanswered`; the kernel may have carried them out).
    fn transact(
        &mut self,
        msg_type: u16,
        requests: &[(Exchange, &[u8])],
    ) -> (Vec<Answer>, Option<io::Error>) {
        if requests.is_empty() {
            return (Vec::new(), None);
        }
        let first = self.next_seq;
        let mut pending = Pending::new(first, msg_type, requests.len());
        let mut datagram = Vec::new();
        let mut seq = first;
        for (exchange, payload) in requests {
            let framed = push_request(
                &mut datagram,
                msg_type,
                request_flags(*exchange),
                seq,
                payload,
            );
            if let Err(e) = framed {
                return (
                    pending.finish(),
                    Some(io::Error::new(io::ErrorKind::InvalidInput, e)),
                );
            }
            seq = seq.wrapping_add(1);
        }
        self.next_seq = seq;
        if let Err(e) = self.send(&datagram) {
            return (pending.finish(), Some(e));
        }
        while !pending.is_complete() {
            let len = match self.recv(Msg::empty()) {
                Ok(len) => len,
                Err(e) if e.raw_os_error() == Some(ENOBUFS) => {
                    // Reported before the answers still queued: take those, the rest
                    // were dropped and will never come.
                    self.drain(&mut pending);
                    return (pending.finish(), Some(e));
                }
                Err(e) => return (pending.finish(), Some(e)),
            };
            if let Err(e) = self.take(&mut pending, len) {
                return (pending.finish(), Some(e));
            }
        }
        if pending.strays() > 0 {
            debug!(
                strays = pending.strays(),
                "netlink answers to earlier requests dropped"
            );
        }
        (pending.finish(), None)
    }

    /// Feeds the datagram of `len` bytes in `buf` to `pending`.
    fn take(&self, pending: &mut Pending, len: usize) -> io::Result<()> {
        let datagram = self.buf.get(..len).unwrap_or_default();
        // A malformed datagram: nothing more on this socket can be trusted.
        pending
            .feed(datagram)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Reads what is queued without waiting for more.
    fn drain(&mut self, pending: &mut Pending) {
        while let Ok(len) = self.recv(Msg::DONTWAIT) {
            if self.take(pending, len).is_err() {
                return;
            }
        }
    }

    fn send(&self, datagram: &[u8]) -> io::Result<()> {
        loop {
            match self.socket.send(datagram, Msg::empty()) {
                Ok(n) if n == datagram.len() => return Ok(()),
                Ok(n) => {
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("sent {n} of {} bytes", datagram.len()),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads one datagram into `buf`; its length. With MSG_TRUNC the kernel reports the
    /// datagram's real length, so a datagram larger than the buffer is an error, never
    /// silently cut. ENOBUFS means the kernel dropped answers (the receive buffer was
    /// full): it is returned as the error it is.
    fn recv(&mut self, flags: Msg) -> io::Result<usize> {
        loop {
            match self.socket.recv(&mut self.buf[..], flags | Msg::TRUNC) {
                Ok((0, _)) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                Ok((n, _)) if n > self.buf.len() => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "netlink datagram of {n} bytes exceeds the {} byte buffer",
                            self.buf.len()
                        ),
                    ));
                }
                Ok((n, _)) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn one_reply(&mut self, req: Request<'_>) -> Result<Vec<u8>, BackendError> {
        single(self.exchange(req)?)
    }

    /// Fills in the destinations of `state`; returns those it had to leave out.
    fn dests(&mut self, state: &mut ServiceState) -> Result<Vec<Skipped>, BackendError> {
        let key = state.service.key;
        let msgs = self.exchange(Request::DumpDests(key))?;
        let dumped = decode_dests(&msgs, &key).map_err(decode_error)?;
        let dests = dumped.entries.into_iter().map(|d| (d.dest.key, d));
        state.dests.extend(dests);
        Ok(dumped.skipped)
    }

    /// One service with its destinations (GET_SERVICE, then a GET_DEST dump).
    /// `NotFound` when the kernel has no such service. Destinations the model cannot
    /// represent are left out, as in a dump.
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

    /// Keeps what a dump left out, and says so when that changes (not on every dump of a
    /// table that stays the same).
    fn note_skipped(&mut self, skipped: Vec<Skipped>) {
        if !skipped.is_empty() && skipped != self.skipped {
            let entries: Vec<String> = skipped.iter().map(ToString::to_string).collect();
            warn!(
                count = skipped.len(),
                ?entries,
                "ipvs entries the model cannot represent are left out of the dump"
            );
        }
        self.skipped = skipped;
    }
}

/// The one reply of a get.
fn single(mut replies: Vec<Vec<u8>>) -> Result<Vec<u8>, BackendError> {
    match (replies.pop(), replies.is_empty()) {
        (Some(reply), true) => Ok(reply),
        (None, _) => Err(BackendError::Decode("no reply".into())),
        (Some(_), false) => Err(BackendError::Decode("more than one reply".into())),
    }
}

impl Backend for NetlinkBackend {
    /// Services, then the destinations of each (one GET_DEST dump per service: a socket
    /// runs one dump at a time). Entries the model cannot represent are skipped
    /// ([`NetlinkBackend::skipped_last_dump`]), so a foreign service never blocks the
    /// convergence of the others.
    fn dump(&mut self) -> Result<Observed, BackendError> {
        let msgs = self.exchange(Request::DumpServices)?;
        let dumped = decode_services(&msgs).map_err(decode_error)?;
        let mut skipped = dumped.skipped;
        let mut observed = Observed::new();
        for (service, stats) in dumped.entries {
            let mut state = ServiceState {
                service,
                stats,
                dests: BTreeMap::new(),
            };
            skipped.extend(self.dests(&mut state)?);
            observed.insert(state.service.key, state);
        }
        self.note_skipped(skipped);
        Ok(observed)
    }

    fn apply(&mut self, op: &Op) -> Result<(), BackendError> {
        self.exchange(Request::Apply(op)).map(drop)
    }

    /// Pipelined: windows of up to [`WINDOW`] requests, each window one datagram, then
    /// its answers. An op that cannot be encoded is not sent (EINVAL, as the kernel would
    /// answer). Once the socket fails (ENOBUFS when the kernel dropped answers, a read
    /// error, a malformed datagram), every op still without an answer, sent or not,
    /// fails with that `Io` error (after ENOBUFS the answers still queued are read
    /// first): the caller reconnects and reads the table again.
    fn apply_all(&mut self, ops: &[Op]) -> Vec<Result<(), BackendError>> {
        let mut results = Vec::with_capacity(ops.len());
        let mut broken: Option<io::Error> = None;
        for window in ops.chunks(WINDOW) {
            let encoded: Vec<Result<Vec<u8>, BackendError>> = window
                .iter()
                .map(|op| Request::Apply(op).encode().map_err(encode_error))
                .collect();
            let requests: Vec<(Exchange, &[u8])> = encoded
                .iter()
                .flatten()
                .map(|payload| (Exchange::Ack, payload.as_slice()))
                .collect();
            let mut answers = Vec::new().into_iter();
            if broken.is_none() && !requests.is_empty() {
                let (got, cause) = self.transact(self.family, &requests);
                answers = got.into_iter();
                broken = cause;
            }
            for (op, payload) in window.iter().zip(encoded) {
                results.push(payload.and_then(|_| match answers.next() {
                    Some(Answer::Replies(_)) => Ok(()),
                    Some(Answer::Errno(errno)) => Err(errno_to_error(&Request::Apply(op), errno)),
                    Some(Answer::Unanswered) | None => Err(BackendError::Io(lost(broken.as_ref()))),
                }));
            }
        }
        if let Some(e) = &broken {
            warn!(error = %e, "netlink socket failed while applying ipvs changes");
        }
        results
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

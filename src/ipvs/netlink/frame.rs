//! Netlink framing: requests wrapped in `struct nlmsghdr`, datagrams from the kernel split
//! into messages, and [`Pending`], which matches the replies to the requests by sequence
//! number and says when every request has its answer.
//!
//! Pure and panic-free on any input. The socket sends the bytes [`push_request`] builds
//! and feeds every datagram it reads to [`Pending::feed`] until [`Pending::is_complete`].
//!
//! ```text
//!  0               1               2               3
//! +---------------------------------------------------------------+
//! |                     nlmsg_len (u32, header included)          |
//! +-------------------------------+-------------------------------+
//! |  nlmsg_type (u16)             |  nlmsg_flags (u16)            |
//! +-------------------------------+-------------------------------+
//! |                     nlmsg_seq (u32)                           |
//! +---------------------------------------------------------------+
//! |                     nlmsg_pid (u32, port id)                  |
//! +---------------------------------------------------------------+
//! |  payload, padded to a multiple of 4                           |
//! +---------------------------------------------------------------+
//! ```
//! `NLMSG_ERROR` carries `struct nlmsgerr`: an `int` (0 = ACK, else a negative errno)
//! followed by the request's header; `NLMSG_DONE` ends a dump and carries an `int` too.

use super::consts::nlmsg;
use super::decode::DecodeError;
use super::encode::{EncodeError, Exchange};

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// The `NLM_F_*` flags of a request: writes and gets ask for an ACK, so that every
/// request ends with an `NLMSG_ERROR` even when it succeeds; dumps end with `NLMSG_DONE`.
pub fn request_flags(exchange: Exchange) -> u16 {
    match exchange {
        Exchange::Ack | Exchange::Reply => nlmsg::F_REQUEST | nlmsg::F_ACK,
        Exchange::Dump => nlmsg::F_REQUEST | nlmsg::F_DUMP,
    }
}

/// Appends one request (header and `payload`, padded to 4 bytes) to `buf`. The port id
/// is 0: the kernel fills in the sender's.
pub fn push_request(
    buf: &mut Vec<u8>,
    msg_type: u16,
    flags: u16,
    seq: u32,
    payload: &[u8],
) -> Result<(), EncodeError> {
    let len = nlmsg::HDRLEN
        .checked_add(payload.len())
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(EncodeError::TooLong)?;
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&msg_type.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(align4(buf.len()), 0);
    Ok(())
}

/// One message of a datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub msg_type: u16,
    pub flags: u16,
    pub seq: u32,
    pub port: u32,
    pub payload: &'a [u8],
}

/// Splits a datagram into its messages.
pub fn split_messages(datagram: &[u8]) -> Result<Vec<Message<'_>>, DecodeError> {
    let mut out = Vec::new();
    let mut rest = datagram;
    let mut offset = 0usize;
    while !rest.is_empty() {
        let header = rest
            .first_chunk::<{ nlmsg::HDRLEN }>()
            .ok_or(DecodeError::TruncatedMessage { offset })?;
        let [
            l0,
            l1,
            l2,
            l3,
            t0,
            t1,
            f0,
            f1,
            s0,
            s1,
            s2,
            s3,
            p0,
            p1,
            p2,
            p3,
        ] = *header;
        let len = usize::try_from(u32::from_ne_bytes([l0, l1, l2, l3])).unwrap_or(usize::MAX);
        if len < nlmsg::HDRLEN || len > rest.len() {
            return Err(DecodeError::BadMessageLength { offset, len });
        }
        out.push(Message {
            msg_type: u16::from_ne_bytes([t0, t1]),
            flags: u16::from_ne_bytes([f0, f1]),
            seq: u32::from_ne_bytes([s0, s1, s2, s3]),
            port: u32::from_ne_bytes([p0, p1, p2, p3]),
            payload: rest.get(nlmsg::HDRLEN..len).unwrap_or_default(),
        });
        let step = align4(len).min(rest.len());
        rest = rest.get(step..).unwrap_or_default();
        offset += step;
    }
    Ok(out)
}

/// What a message says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body<'a> {
    /// A message of a family (a reply or a dump entry): its generic netlink payload.
    Data(&'a [u8]),
    /// `NLMSG_ERROR` with error 0.
    Ack,
    /// `NLMSG_ERROR` with an errno (positive here).
    Error { errno: i32 },
    /// `NLMSG_DONE`, with the dump's errno (0 when it completed).
    Done { errno: i32 },
    /// `NLMSG_NOOP`, `NLMSG_OVERRUN` and other control types: nothing to act on.
    Ignored,
}

/// The `int` at the start of an error or done payload as a positive errno.
fn errno_at(payload: &[u8]) -> Option<i32> {
    let code = i32::from_ne_bytes(*payload.first_chunk::<4>()?);
    Some(code.checked_neg().unwrap_or(i32::MAX))
}

impl<'a> Message<'a> {
    pub fn body(&self) -> Result<Body<'a>, DecodeError> {
        match self.msg_type {
            nlmsg::ERROR => match errno_at(self.payload) {
                Some(0) => Ok(Body::Ack),
                Some(errno) => Ok(Body::Error { errno }),
                None => Err(DecodeError::ShortControlMessage {
                    len: self.payload.len(),
                }),
            },
            // Very old kernels end a dump with an empty NLMSG_DONE.
            nlmsg::DONE => Ok(Body::Done {
                errno: errno_at(self.payload).unwrap_or(0),
            }),
            nlmsg::NOOP | nlmsg::OVERRUN => Ok(Body::Ignored),
            t if t < 0x10 => Ok(Body::Ignored),
            _ => Ok(Body::Data(self.payload)),
        }
    }
}

// === Pending ===

/// How one request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Acknowledged or completed, with the payloads of its replies (none for a write).
    Replies(Vec<Vec<u8>>),
    /// The kernel refused it with this errno (positive).
    Errno(i32),
    /// No answer was read (the exchange broke off first).
    Unanswered,
}

#[derive(Debug)]
struct Slot {
    replies: Vec<Vec<u8>>,
    end: Option<Result<(), i32>>,
}

/// Requests sent back to back with consecutive sequence numbers from `first_seq`, waiting
/// for their answers. Each ends with its `NLMSG_ERROR` (the ACK or the error) or, for a
/// dump, its `NLMSG_DONE`; replies before that are kept. Messages with other sequence
/// numbers (answers left over from an exchange that broke off) are counted and dropped.
#[derive(Debug)]
pub struct Pending {
    first_seq: u32,
    msg_type: u16,
    slots: Vec<Slot>,
    open: usize,
    strays: usize,
}

impl Pending {
    /// `count` requests of family `msg_type` (replies of another type are not theirs).
    pub fn new(first_seq: u32, msg_type: u16, count: usize) -> Self {
        Pending {
            first_seq,
            msg_type,
            slots: (0..count)
                .map(|_| Slot {
                    replies: Vec::new(),
                    end: None,
                })
                .collect(),
            open: count,
            strays: 0,
        }
    }

    /// Takes in one datagram read from the socket. A malformed datagram is an error and
    /// nothing of it is taken: the caller can no longer trust the stream.
    pub fn feed(&mut self, datagram: &[u8]) -> Result<(), DecodeError> {
        let messages = split_messages(datagram)?;
        let bodies = messages
            .iter()
            .map(|m| m.body().map(|b| (m, b)))
            .collect::<Result<Vec<_>, _>>()?;
        for (msg, body) in bodies {
            let index = usize::try_from(msg.seq.wrapping_sub(self.first_seq)).ok();
            let Some(slot) = index.and_then(|i| self.slots.get_mut(i)) else {
                self.strays += 1;
                continue;
            };
            if slot.end.is_some() {
                self.strays += 1;
                continue;
            }
            let end = match body {
                Body::Data(p) if msg.msg_type == self.msg_type => {
                    slot.replies.push(p.to_vec());
                    None
                }
                Body::Data(_) | Body::Ignored => None,
                Body::Ack | Body::Done { errno: 0 } => Some(Ok(())),
                Body::Error { errno } | Body::Done { errno } => Some(Err(errno)),
            };
            if end.is_some() {
                slot.end = end;
                self.open -= 1;
            }
        }
        Ok(())
    }

    /// Every request has its answer.
    pub fn is_complete(&self) -> bool {
        self.open == 0
    }

    /// Messages that belonged to no open request.
    pub fn strays(&self) -> usize {
        self.strays
    }

    /// One answer per request, in order.
    pub fn finish(self) -> Vec<Answer> {
        self.slots
            .into_iter()
            .map(|slot| match slot.end {
                Some(Ok(())) => Answer::Replies(slot.replies),
                Some(Err(errno)) => Answer::Errno(errno),
                None => Answer::Unanswered,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAMILY: u16 = 0x20;

    /// A message as the kernel sends it (port id 4242).
    fn msg(msg_type: u16, flags: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(16 + payload.len()).unwrap();
        let mut out = Vec::new();
        out.extend_from_slice(&len.to_ne_bytes());
        out.extend_from_slice(&msg_type.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&4242u32.to_ne_bytes());
        out.extend_from_slice(payload);
        out.resize(out.len().div_ceil(4) * 4, 0);
        out
    }

    /// `struct nlmsgerr` for request `seq`: the error, then the request's header.
    fn err(seq: u32, error: i32) -> Vec<u8> {
        let request = msg(FAMILY, 5, seq, &[]);
        msg(
            2,
            0x100,
            seq,
            &[&error.to_ne_bytes()[..], &request].concat(),
        )
    }

    fn done(seq: u32, error: i32) -> Vec<u8> {
        msg(3, 2, seq, &error.to_ne_bytes())
    }

    #[test]
    fn a_request_is_framed_with_its_length_type_flags_and_sequence_and_padded() {
        let mut buf = Vec::new();
        push_request(&mut buf, 0x20, 5, 7, &[1, 2, 3, 4, 5]).unwrap();
        assert_eq!(
            buf,
            [
                &[21, 0, 0, 0, 0x20, 0, 5, 0, 7, 0, 0, 0, 0, 0, 0, 0][..],
                &[1, 2, 3, 4, 5, 0, 0, 0],
            ]
            .concat()
        );
        push_request(&mut buf, 0x10, 1, 8, &[]).unwrap();
        assert_eq!(buf.len(), 24 + 16);
        assert_eq!(split_messages(&buf).unwrap().len(), 2);
    }

    #[test]
    fn writes_and_gets_ask_for_an_ack_and_dumps_for_a_dump() {
        assert_eq!(request_flags(Exchange::Ack), 0x5);
        assert_eq!(request_flags(Exchange::Reply), 0x5);
        assert_eq!(request_flags(Exchange::Dump), 0x301);
    }

    #[test]
    fn a_datagram_splits_into_messages_and_the_last_padding_may_be_missing() {
        let data = msg(FAMILY, 2, 9, &[4, 1, 0, 0, 7]);
        let mut dgram = [data.clone(), done(9, 0)].concat();
        let last = msg(FAMILY, 0, 10, &[1]);
        dgram.extend_from_slice(&last[..17]);
        let msgs = split_messages(&dgram).unwrap();
        assert_eq!(
            msgs[0],
            Message {
                msg_type: FAMILY,
                flags: 2,
                seq: 9,
                port: 4242,
                payload: &[4, 1, 0, 0, 7]
            }
        );
        assert_eq!(msgs[1].body(), Ok(Body::Done { errno: 0 }));
        assert_eq!(msgs[2].payload, &[1]);
    }

    #[test]
    fn a_message_length_below_the_header_or_past_the_datagram_is_an_error() {
        let mut short = msg(FAMILY, 0, 1, &[]);
        short[0] = 15;
        assert_eq!(
            split_messages(&short),
            Err(DecodeError::BadMessageLength { offset: 0, len: 15 })
        );
        let long = [
            msg(FAMILY, 0, 1, &[]),
            msg(FAMILY, 0, 2, &[0; 8])[..20].to_vec(),
        ]
        .concat();
        assert_eq!(
            split_messages(&long),
            Err(DecodeError::BadMessageLength {
                offset: 16,
                len: 24
            })
        );
        assert_eq!(
            split_messages(&[1, 2, 3]),
            Err(DecodeError::TruncatedMessage { offset: 0 })
        );
    }

    #[test]
    fn error_messages_carry_an_ack_or_a_positive_errno_and_must_hold_the_code() {
        fn check(m: Vec<u8>, want: Result<Body<'_>, DecodeError>) {
            assert_eq!(split_messages(&m).unwrap()[0].body(), want);
        }
        check(err(1, 0), Ok(Body::Ack));
        check(err(1, -17), Ok(Body::Error { errno: 17 }));
        check(done(1, -16), Ok(Body::Done { errno: 16 }));
        check(msg(3, 2, 1, &[]), Ok(Body::Done { errno: 0 }));
        check(msg(1, 0, 1, &[]), Ok(Body::Ignored));
        check(msg(FAMILY, 0, 1, &[9]), Ok(Body::Data(&[9])));
        check(
            msg(2, 0, 1, &[1, 0]),
            Err(DecodeError::ShortControlMessage { len: 2 }),
        );
        check(err(1, i32::MIN), Ok(Body::Error { errno: i32::MAX }));
    }

    #[test]
    fn pipelined_writes_get_their_own_answers_across_datagrams() {
        let mut p = Pending::new(100, FAMILY, 3);
        p.feed(&[err(100, 0), err(101, -17)].concat()).unwrap();
        assert!(!p.is_complete());
        p.feed(&err(102, 0)).unwrap();
        assert!(p.is_complete());
        assert_eq!(
            p.finish(),
            vec![
                Answer::Replies(vec![]),
                Answer::Errno(17),
                Answer::Replies(vec![])
            ]
        );
    }

    #[test]
    fn a_get_keeps_its_reply_until_the_ack_and_a_dump_its_entries_until_done() {
        let mut get = Pending::new(5, FAMILY, 1);
        get.feed(&msg(FAMILY, 0, 5, &[1, 2, 3, 4])).unwrap();
        assert!(!get.is_complete());
        get.feed(&err(5, 0)).unwrap();
        assert_eq!(get.finish(), vec![Answer::Replies(vec![vec![1, 2, 3, 4]])]);

        let mut dump = Pending::new(6, FAMILY, 1);
        dump.feed(&[msg(FAMILY, 2, 6, &[1]), msg(FAMILY, 2, 6, &[2])].concat())
            .unwrap();
        dump.feed(&[msg(FAMILY, 2, 6, &[3]), done(6, 0)].concat())
            .unwrap();
        assert_eq!(
            dump.finish(),
            vec![Answer::Replies(vec![vec![1], vec![2], vec![3]])]
        );

        let mut failed = Pending::new(7, FAMILY, 1);
        failed.feed(&done(7, -90)).unwrap();
        assert_eq!(failed.finish(), vec![Answer::Errno(90)]);
    }

    #[test]
    fn answers_to_other_sequences_and_repeated_answers_are_strays() {
        let mut p = Pending::new(u32::MAX, FAMILY, 2);
        // Left over from an earlier exchange, then a repeated answer.
        p.feed(&[err(7, 0), err(u32::MAX, -2), err(u32::MAX, 0)].concat())
            .unwrap();
        // The sequence wraps: the second request is seq 0.
        p.feed(&[msg(0x30, 0, 0, &[1]), err(0, 0)].concat())
            .unwrap();
        assert_eq!(p.strays(), 2);
        assert_eq!(
            p.finish(),
            vec![Answer::Errno(2), Answer::Replies(vec![])],
            "a reply of another family is not kept"
        );
    }

    #[test]
    fn a_malformed_datagram_is_refused_whole_and_what_is_missing_is_unanswered() {
        let mut p = Pending::new(1, FAMILY, 2);
        p.feed(&err(1, 0)).unwrap();
        let bad = [err(2, 0), vec![0, 0, 0]].concat();
        assert!(p.feed(&bad).is_err());
        assert!(!p.is_complete());
        assert_eq!(
            p.finish(),
            vec![Answer::Replies(vec![]), Answer::Unanswered]
        );
    }
}

//! Part of `tests/netlink_codec.rs`: whole datagrams (framing, the generic netlink
//! controller, ACKs, errors and dumps, captured from ipvsadm's exchanges with a real
//! kernel), and dumps holding entries the model cannot represent.

use super::support::vectors as v;
use super::support::*;

use ipvsd::ipvs::backend::{BackendError, Op};
use ipvsd::ipvs::model::{DestKey, Forwarding, Protocol, Scheduler};
use ipvsd::ipvs::netlink::consts::{ctrl, nlmsg};
use ipvsd::ipvs::netlink::frame::{
    Answer, Body, Pending, push_request, request_flags, split_messages,
};
use ipvsd::ipvs::netlink::{
    DecodeError, Exchange, Request, Skipped, decode_dests, decode_family_id, decode_services,
    errno_to_error, get_family,
};
use proptest::prelude::*;

/// The sequence number in a captured datagram's header.
fn seq_of(datagram: &[u8]) -> u32 {
    u32::from_le_bytes([datagram[8], datagram[9], datagram[10], datagram[11]])
}

// === The controller ===

#[test]
fn resolving_the_family_sends_what_libnl_sends_but_port_zero() {
    let sent = hex(v::CTRL_GETFAMILY_DATAGRAM);
    let mut ours = Vec::new();
    let flags = request_flags(Exchange::Reply);
    let payload = get_family("IPVS").expect("valid name");
    push_request(&mut ours, ctrl::FAMILY_ID, flags, seq_of(&sent), &payload).expect("fits");
    let mut want = sent.clone();
    want[12..16].fill(0);
    assert_eq!(ours, want);
}

#[test]
fn the_controllers_reply_and_ack_give_the_family_id() {
    let reply = hex(v::CTRL_NEWFAMILY_DATAGRAM);
    let mut p = Pending::new(seq_of(&reply), ctrl::FAMILY_ID, 1);
    p.feed(&reply).expect("well formed");
    assert!(!p.is_complete(), "the reply alone does not end a get");
    p.feed(&hex(v::CTRL_ACK_DATAGRAM)).expect("well formed");
    assert!(p.is_complete());
    let [Answer::Replies(replies)] = &p.finish()[..] else {
        panic!("one answer with replies");
    };
    assert_eq!(replies.len(), 1);
    assert_eq!(decode_family_id(&replies[0]), Ok(0x20));
}

#[test]
fn a_family_reply_without_an_id_or_of_another_command_is_refused() {
    assert_eq!(
        decode_family_id(&genl(1, &[nla(2, b"IPVS\0")])),
        Err(DecodeError::Missing {
            attr: "CTRL_ATTR_FAMILY_ID"
        })
    );
    assert_eq!(
        decode_family_id(&hex(v::INFO_REPLY)),
        Err(DecodeError::UnexpectedCommand {
            got: 14,
            expected: 1
        })
    );
    assert!(get_family("").is_err());
    assert!(get_family("a name far too long").is_err());
}

// === Answers ===

#[test]
fn the_kernels_ack_and_eexist_answers_read_as_the_request_expects() {
    let ack = hex(v::CTRL_ACK_DATAGRAM);
    let msgs = split_messages(&ack).expect("well formed");
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].msg_type, nlmsg::ERROR);
    assert_eq!(msgs[0].body(), Ok(Body::Ack));

    let eexist = hex(v::ADD_SERVICE_EEXIST_DATAGRAM);
    let mut p = Pending::new(seq_of(&eexist), 0x20, 1);
    p.feed(&eexist).expect("well formed");
    assert_eq!(p.finish(), vec![Answer::Errno(17)]);
    let add = Op::AddService(svc(tcp4(), Scheduler::Rr, 0, 0, u32::MAX));
    assert!(matches!(
        errno_to_error(&Request::Apply(&add), 17),
        BackendError::Exists
    ));
}

#[test]
fn a_dump_ends_at_its_done_message() {
    let sent = hex(v::DUMP_SERVICES_DATAGRAM);
    let mut ours = Vec::new();
    let flags = request_flags(Exchange::Dump);
    let payload = Request::DumpServices.encode().expect("encodable");
    push_request(&mut ours, 0x20, flags, seq_of(&sent), &payload).expect("fits");
    // ipvsadm also asks for an ACK (0x305); a dump ends with NLMSG_DONE either way.
    let mut want = sent.clone();
    want[12..16].fill(0);
    want[6] &= !(nlmsg::F_ACK as u8);
    assert_eq!(ours, want);

    let entry = hex(v::DUMPED_SERVICE_DATAGRAM);
    let mut p = Pending::new(seq_of(&entry), 0x20, 1);
    p.feed(&entry).expect("well formed");
    assert!(!p.is_complete());
    p.feed(&hex(v::DUMP_DONE_DATAGRAM)).expect("well formed");
    assert!(p.is_complete());
    let [Answer::Replies(replies)] = &p.finish()[..] else {
        panic!("one answer with replies");
    };
    let dumped = decode_services(replies).expect("decodes");
    assert_eq!(
        dumped.entries.iter().map(|(s, _)| s).collect::<Vec<_>>(),
        [&svc(tcp4(), Scheduler::Rr, 0, 0, u32::MAX)]
    );
    assert_eq!(dumped.skipped, []);
}

// === Entries the model cannot represent ===

/// An IPv4 address attribute (`union nf_inet_addr`, 16 bytes) of type `ty`.
fn addr4(ty: u16, addr: [u8; 4]) -> Vec<u8> {
    nla(ty, &[&addr[..], &[0; 12]].concat())
}

#[test]
fn a_service_dump_skips_and_names_what_the_model_cannot_hold() {
    let normal = svc_msg(&svc_attrs());
    let none = svc_msg(&with(
        with(svc_attrs(), 6, nla(6, b"none\0")),
        3,
        addr4(3, [192, 0, 2, 9]),
    ));
    let foreign_family = svc_msg(&with(svc_attrs(), 1, u16a(1, 7)));
    let dumped = decode_services(&[none, normal.clone(), foreign_family]).expect("decodes");
    assert_eq!(dumped.entries.len(), 1);
    assert_eq!(dumped.entries[0].0.key, tcp4());
    assert_eq!(
        dumped.skipped,
        [
            Skipped {
                service: Some(addr_key(Protocol::Tcp, "192.0.2.9", 80)),
                dest: None,
                reason: DecodeError::UnknownScheduler {
                    name: "none".into()
                },
            },
            Skipped {
                service: None,
                dest: None,
                reason: DecodeError::UnknownFamily { family: 7 },
            },
        ]
    );
    assert_eq!(
        dumped.skipped[0].to_string(),
        "tcp 192.0.2.9:80: unknown scheduler \"none\""
    );
    assert_eq!(
        dumped.skipped[1].to_string(),
        "a service: unknown address family 7"
    );
}

#[test]
fn a_malformed_entry_still_fails_the_dump() {
    let normal = svc_msg(&svc_attrs());
    let broken = svc_msg(&without(svc_attrs(), 7));
    assert_eq!(
        decode_services(&[normal.clone(), broken]),
        Err(DecodeError::Missing {
            attr: "IPVS_SVC_ATTR_FLAGS"
        })
    );
    let cut = dest_msg(&dest_attrs())[..20].to_vec();
    assert!(decode_dests(&[cut], &tcp4()).is_err());
}

#[test]
fn a_destination_dump_skips_and_names_what_the_model_cannot_hold() {
    let normal = dest_msg(&dest_attrs());
    let unknown_method = dest_msg(&with(
        with(dest_attrs(), 3, u32a(3, 4)),
        1,
        addr4(1, [198, 51, 100, 2]),
    ));
    let tunnel = with(dest_attrs(), 3, u32a(3, 2));
    let unknown_tunnel = dest_msg(&with(
        with(tunnel, 13, nla(13, &[3])),
        1,
        addr4(1, [198, 51, 100, 3]),
    ));
    let dumped = decode_dests(&[unknown_method, normal, unknown_tunnel], &tcp4()).expect("ok");
    assert_eq!(
        dumped.entries.iter().map(|d| &d.dest).collect::<Vec<_>>(),
        [&dest("198.51.100.1", 8080, Forwarding::Nat, 5)]
    );
    let key = |addr: &str| DestKey {
        addr: ip(addr),
        port: 8080,
    };
    assert_eq!(
        dumped.skipped,
        [
            Skipped {
                service: Some(tcp4()),
                dest: Some(key("198.51.100.2")),
                reason: DecodeError::UnknownForwarding { method: 4 },
            },
            Skipped {
                service: Some(tcp4()),
                dest: Some(key("198.51.100.3")),
                reason: DecodeError::UnknownTunnelType { kind: 3 },
            },
        ]
    );
    assert_eq!(
        dumped.skipped[0].to_string(),
        "tcp 192.0.2.1:80 -> 198.51.100.2:8080: unknown forwarding method 4"
    );
}

#[test]
fn only_values_the_model_lacks_are_unrepresentable() {
    let unrepresentable = [
        DecodeError::UnknownFamily { family: 7 },
        DecodeError::UnknownProtocol { protocol: 1 },
        DecodeError::UnknownScheduler {
            name: "none".into(),
        },
        DecodeError::UnknownForwarding { method: 4 },
        DecodeError::UnknownTunnelType { kind: 3 },
        DecodeError::UnknownTunnelFlags { flags: 3 },
    ];
    for e in unrepresentable {
        assert!(e.is_unrepresentable(), "{e:?}");
    }
    let malformed = [
        DecodeError::ShortMessage { len: 2 },
        DecodeError::Missing { attr: "x" },
        DecodeError::BadAttrLength { offset: 0, len: 3 },
        DecodeError::UnknownDaemonState { state: 0 },
        DecodeError::BadMessageLength { offset: 0, len: 3 },
    ];
    for e in malformed {
        assert!(!e.is_unrepresentable(), "{e:?}");
    }
}

// === Never panics ===

const DATAGRAMS: &[&str] = &[
    v::CTRL_NEWFAMILY_DATAGRAM,
    v::CTRL_ACK_DATAGRAM,
    v::ADD_SERVICE_EEXIST_DATAGRAM,
    v::DUMPED_SERVICE_DATAGRAM,
    v::DUMP_DONE_DATAGRAM,
];

/// Framing and matching on `datagram`; only panics matter.
fn feed_everything(datagram: &[u8]) {
    for count in [0, 1, 3] {
        let mut p = Pending::new(seq_of_or_zero(datagram), 0x20, count);
        let _ = p.feed(datagram);
        let _ = p.finish();
    }
    if let Ok(msgs) = split_messages(datagram) {
        for m in msgs {
            if let Ok(Body::Data(payload)) = m.body() {
                let _ = decode_family_id(payload);
                let _ = decode_services(&[payload.to_vec()]);
                let _ = decode_dests(&[payload.to_vec()], &tcp4());
            }
        }
    }
}

fn seq_of_or_zero(datagram: &[u8]) -> u32 {
    if datagram.len() >= 12 {
        seq_of(datagram)
    } else {
        0
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn framing_arbitrary_bytes_never_panics(body in proptest::collection::vec(any::<u8>(), 0..600)) {
        feed_everything(&body);
    }

    #[test]
    fn framing_corrupted_real_datagrams_never_panics(
        which in 0..DATAGRAMS.len(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut datagram = hex(DATAGRAMS[which]);
        for (at, byte) in edits {
            let i = at.index(datagram.len());
            datagram[i] = byte;
        }
        feed_everything(&datagram);
        datagram.truncate(cut.index(datagram.len() + 1));
        feed_everything(&datagram);
    }
}

//! Malformed IGMP and MLD put on a link on purpose, from a raw socket in namespace a: the watcher in namespace b
//! prints one line per message saying exactly what is wrong, and goes on watching: a valid report sent last is
//! still seen.
//!
//! Topology (common::traffic::Link): a (va 10.0.0.1, fe80::...) <-> b (vb).
mod common;
mod raw_support;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use common::traffic::Link;
use mcast::raw::{IgmpSocket, MldSocket};
use mcast::wire::{self, GroupRecord, IgmpPacket, IgmpRepr, MldPacket, MldRepr, RecordType};
use raw_support::{link_local, of_type, Watch, A4};
use serde_json::Value;

fn igmp_report(group: Ipv4Addr) -> Vec<u8> {
    let record = GroupRecord { record_type: RecordType::ChangeToExclude, group, sources: vec![] };
    IgmpRepr::ReportV3(vec![record]).to_bytes().expect("report")
}

fn mld_report(group: &str, src: &Ipv6Addr) -> Vec<u8> {
    let record =
        GroupRecord { record_type: RecordType::ChangeToExclude, group: group.parse().unwrap(), sources: vec![] };
    MldRepr::ReportV2(vec![record]).to_bytes(src, &wire::mld::ALL_MLDV2_ROUTERS).expect("report")
}

fn malformed(all: &[Value]) -> Vec<&Value> {
    of_type(all, "malformed")
}

/// Four broken IGMP messages, each in a correct IPv4 header with Router Alert (IgmpSocket::send_payload), to
/// 224.0.0.22, then a valid IGMPv3 report.
#[test]
fn malformed_igmp_is_named_and_the_watch_goes_on() {
    needs_root!();
    let link = Link::new("rxi");
    let mut w = Watch::start(&link.b, &["igmp", "watch", "--iface", "vb", "--json"]);

    let mut bad_checksum = igmp_report(Ipv4Addr::new(239, 7, 7, 1));
    bad_checksum[2] ^= 0xff;
    let short = vec![0x22, 0, 0, 0];
    let mut wrong_type = vec![0x99, 0, 0, 0, 239, 7, 7, 2];
    IgmpPacket::new_unchecked(&mut wrong_type[..]).fill_checksum();
    let mut too_many_records = igmp_report(Ipv4Addr::new(239, 7, 7, 3));
    {
        let mut p = IgmpPacket::new_unchecked(&mut too_many_records[..]);
        p.set_num_records(3);
        p.fill_checksum();
    }
    let expected = [
        (bad_checksum.len(), "bad checksum: expected "),
        (4, "truncated: 8 bytes needed, 4 present"),
        (8, "unknown message type 153 (0x99)"),
        (too_many_records.len(), "record count 3 larger than the packet: only 1 whole records fit"),
    ];
    let va = link.a.ifindex("va");
    let messages = [bad_checksum, short, wrong_type, too_many_records, igmp_report(Ipv4Addr::new(239, 7, 7, 7))];
    link.a.run(|| {
        let socket = IgmpSocket::open().expect("raw IGMP socket");
        for m in &messages {
            socket.send_payload(m, wire::igmp::ALL_V3_ROUTERS, va).expect("send");
            std::thread::sleep(Duration::from_millis(50));
        }
    });

    let j = w.wait_for("the valid report after the broken ones", |v| v["type"] == "join" && v["group"] == "239.7.7.7");
    assert_eq!(j["reporter"], A4.to_string(), "{j}");
    let (_, all, _) = w.stop();
    let bad = malformed(&all);
    assert_eq!(bad.len(), expected.len(), "one line per broken message: {all:#?}");
    for (line, (ip_payload, says)) in bad.iter().zip(expected) {
        let error = line["error"].as_str().unwrap_or_default();
        assert!(error.starts_with(says), "expected {says:?}, got {line}");
        // What was received: the IPv4 datagram, its 24-byte header (Router Alert included) and the payload.
        assert_eq!(line["len"], 24 + ip_payload as u64, "{line}");
        assert_eq!(line["source"], A4.to_string(), "{line}");
        assert_eq!(line["iface"], "vb", "{line}");
    }
    for g in ["239.7.7.1", "239.7.7.2", "239.7.7.3"] {
        assert!(all.iter().all(|v| v["group"] != g || v["type"] == "malformed"), "{g} was taken as valid: {all:#?}");
    }
    assert_eq!(of_type(&all, "summary")[0]["malformed"], 4);
}

/// MLD, with the sender's kernel checksum off (SOL_RAW IPV6_CHECKSUM -1) so that a bad one goes out as it is:
/// four broken messages to ff02::16 each get a line; an ICMPv6 type that is not MLD never reaches the watcher
/// (its ICMP6_FILTER); a valid report is still seen.
#[test]
fn malformed_mld_is_named_and_the_watch_goes_on() {
    needs_root!();
    let link = Link::new("rxm");
    let src = link_local(&link.a, "va");
    let dst = wire::mld::ALL_MLDV2_ROUTERS;
    let mut w = Watch::start(&link.b, &["mld", "watch", "--iface", "vb", "--json"]);

    let mut bad_checksum = mld_report("ff05::7:1", &src);
    bad_checksum[2] ^= 0xff;
    let short = vec![143, 0, 0, 0, 0, 0];
    let mut too_many_records = mld_report("ff05::7:3", &src);
    {
        let mut p = MldPacket::new_unchecked(&mut too_many_records[..]);
        p.set_num_records(3);
        p.fill_checksum(&src, &dst);
    }
    let mut bad_query_length = vec![0u8; 26];
    bad_query_length[0] = 130;
    MldPacket::new_unchecked(&mut bad_query_length[..]).fill_checksum(&src, &dst);
    let mut not_mld = vec![200, 0, 0, 0, 1, 2, 3, 4];
    MldPacket::new_unchecked(&mut not_mld[..]).fill_checksum(&src, &dst);
    let expected = [
        (bad_checksum.len(), "bad checksum: expected "),
        (6, "truncated: 8 bytes needed, 6 present"),
        (too_many_records.len(), "record count 3 larger than the packet: only 1 whole records fit"),
        (26, "bad length: 26 bytes is not a valid MLD query"),
    ];
    let va = link.a.ifindex("va");
    let messages = [bad_checksum, short, not_mld, too_many_records, bad_query_length, mld_report("ff05::7:7", &src)];
    link.a.run(|| {
        let socket = MldSocket::open().expect("raw ICMPv6 socket");
        socket.set_kernel_checksum(false).expect("checksum off");
        assert!(!socket.kernel_checksum().expect("read IPV6_CHECKSUM"));
        for m in &messages {
            socket.send_payload(m, dst, va).expect("send");
            std::thread::sleep(Duration::from_millis(50));
        }
    });

    let j = w.wait_for("the valid report after the broken ones", |v| v["type"] == "join" && v["group"] == "ff05::7:7");
    assert_eq!(j["reporter"], src.to_string(), "{j}");
    let (_, all, _) = w.stop();
    let bad = malformed(&all);
    assert_eq!(bad.len(), expected.len(), "one line per broken MLD message, none for type 200: {all:#?}");
    for (line, (len, says)) in bad.iter().zip(expected) {
        let error = line["error"].as_str().unwrap_or_default();
        assert!(error.starts_with(says), "expected {says:?}, got {line}");
        assert_eq!(line["len"], len as u64, "{line}");
        assert_eq!(line["source"], src.to_string(), "{line}");
    }
    assert_eq!(of_type(&all, "summary")[0]["malformed"], 4);
}

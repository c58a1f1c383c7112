//! The membership reports a receiver's joins, blocks and leaves put on the wire, as the router sees them.
//!
//! Topology ([`Routed`], two subnets, no multicast routes needed):
//!
//! ```text
//!   h1: v1 10.1.0.2  ---  r1 [router]  r2 (tcpdump -w)  ---  v2 10.2.0.2 fd00:2::2 :h2 (receivers)
//! ```
//!
//! tcpdump runs in the router namespace on r2 from before the first join until after the last leave; the
//! test reads its pcap file while it runs and decodes IGMPv3 (RFC 3376 §4.2) and MLDv2 (RFC 3810 §5.2)
//! reports with `mcast::wire`. With no querier on the link the host speaks IGMPv3 and MLDv2 and sends
//! each state change at once (then repeats it), one group record per change:
//!
//! | socket call                                       | record                         |
//! |---------------------------------------------------|--------------------------------|
//! | any-source join (IP_ADD_MEMBERSHIP, IPV6_JOIN_GROUP) | CHANGE_TO_EXCLUDE_MODE, no sources |
//! | block S (IP_BLOCK_SOURCE, MCAST_BLOCK_SOURCE)      | BLOCK_OLD_SOURCES {S}          |
//! | source-specific join (S, G)                        | ALLOW_NEW_SOURCES {S}          |
//! | leave the any-source join                          | CHANGE_TO_INCLUDE_MODE, no sources |
//! | leave (S, G)                                       | BLOCK_OLD_SOURCES {S}          |

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::routed::pcap::{self, Capture, Report};
use common::routed::Routed;
use common::traffic::iface;
use mcast::wire::{igmp, mld, GroupRecord, IgmpRepr, MldRepr, RecordType};
use mcast::{Group, Receiver};

const PORT: u16 = 5000;

fn group(ip: impl Into<IpAddr>) -> Group {
    Group::new(ip.into(), PORT).expect("a multicast group")
}

/// The group records of a report (IGMPv3 or MLDv2), as `IpAddr`s; empty for any other message.
fn records(r: &Report) -> Vec<(RecordType, IpAddr, Vec<IpAddr>)> {
    fn conv<A: Copy + Into<IpAddr>>(recs: &[GroupRecord<A>]) -> Vec<(RecordType, IpAddr, Vec<IpAddr>)> {
        recs.iter().map(|g| (g.record_type, g.group.into(), g.sources.iter().map(|s| (*s).into()).collect())).collect()
    }
    match r {
        Report::Igmp { msg: IgmpRepr::ReportV3(recs), .. } => conv(recs),
        Report::Mld { msg: MldRepr::ReportV2(recs), .. } => conv(recs),
        _ => Vec::new(),
    }
}

/// Checks the IP header of a report sent by h2: its address (IPv4) or its link-local address (MLD comes
/// from one, RFC 3810 §5), the all-IGMPv3/MLDv2-routers destination, TTL 1, Router Alert.
fn check_header(r: &Report, h2_v4: Ipv4Addr) {
    match r {
        Report::Igmp { src, dst, ttl, router_alert, .. } => {
            assert_eq!(*src, h2_v4, "IGMP source");
            assert_eq!(*dst, igmp::ALL_V3_ROUTERS, "IGMPv3 reports go to 224.0.0.22");
            assert_eq!(*ttl, 1, "IGMP TTL");
            assert!(router_alert, "IGMP carries Router Alert");
        }
        Report::Mld { src, dst, hop_limit, .. } => {
            assert_eq!(src.segments()[0], 0xfe80, "MLD source {src} is link-local");
            assert_eq!(*dst, mld::ALL_MLDV2_ROUTERS, "MLDv2 reports go to ff02::16");
            assert_eq!(*hop_limit, 1, "MLD hop limit");
        }
    }
}

/// Joins, blocks and leaves in h2 on v2, waiting after each for its record in the capture on r2.
fn reports_on_the_wire(tag: &str, asm: IpAddr, ssm: IpAddr) {
    let net = Routed::new(tag, 3);
    let s1 = net.subnet(1).host_ip(asm);
    let s3 = net.subnet(3).host_ip(asm);
    let h2_v4 = net.subnet(2).host4;
    let v2 = net.host(2).ifindex("v2");
    let capture = Capture::start(&net.router, &net.scratch, "r2");
    let mut seen = 0;
    let mut expect = |what: &str, ty: RecordType, g: IpAddr, sources: Vec<IpAddr>| {
        let want = (ty, g, sources);
        let (next, report) = capture.wait_for(what, seen, |r| records(r).contains(&want));
        check_header(&report, h2_v4);
        seen = next;
    };

    let (asm_g, ssm_g) = (group(asm), group(ssm));
    let any = net.host(2).run(move || Receiver::builder(asm_g).interface(iface("v2")).build()).expect("join");
    expect("any-source join", RecordType::ChangeToExclude, asm, vec![]);

    match (asm, s3) {
        (IpAddr::V4(g), IpAddr::V4(s)) => any.socket().block_source_v4(g, s, h2_v4),
        (g, s) => any.socket().block_source(g, s, v2),
    }
    .expect("block a source");
    expect("block", RecordType::BlockOldSources, asm, vec![s3]);

    let specific =
        net.host(2).run(move || Receiver::builder(ssm_g).source(s1).interface(iface("v2")).build()).expect("SSM join");
    expect("source-specific join", RecordType::AllowNewSources, ssm, vec![s1]);

    drop(any);
    expect("any-source leave", RecordType::ChangeToInclude, asm, vec![]);

    drop(specific);
    expect("source-specific leave", RecordType::BlockOldSources, ssm, vec![s1]);

    // A source-specific group never appears in exclude mode: that would be an any-source join.
    let all = capture.stop();
    for r in &all {
        for (ty, g, _) in records(r) {
            if g == ssm {
                assert!(
                    !matches!(ty, RecordType::ChangeToExclude | RecordType::ModeIsExclude),
                    "{ssm} reported in exclude mode: {r:?}"
                );
            }
        }
    }
}

#[test]
fn igmpv3_reports_follow_joins_blocks_and_leaves() {
    needs_root!();
    reports_on_the_wire("igmp3", Ipv4Addr::new(239, 3, 3, 3).into(), Ipv4Addr::new(232, 3, 3, 3).into());
}

#[test]
fn mldv2_reports_follow_joins_blocks_and_leaves() {
    needs_root!();
    reports_on_the_wire(
        "mld2",
        Ipv6Addr::new(0xff15, 0, 0, 0, 0, 0, 3, 3).into(),
        Ipv6Addr::new(0xff3e, 0, 0, 0, 0, 0, 0x8000, 3).into(),
    );
}

/// The test's pcap reader: both byte orders, and a record cut short by a writer still at work is left out.
#[test]
fn pcap_reader_reads_both_byte_orders_and_stops_at_a_cut_record() {
    for little in [true, false] {
        let w = |v: u32| if little { v.to_le_bytes() } else { v.to_be_bytes() };
        let mut file = Vec::new();
        file.extend(w(0xa1b2_c3d4));
        file.extend([0u8; 16]);
        file.extend(w(1));
        for frame in [&b"abc"[..], &b"defgh"[..]] {
            file.extend(w(0));
            file.extend(w(0));
            file.extend(w(frame.len() as u32));
            file.extend(w(frame.len() as u32));
            file.extend(frame);
        }
        file.extend(w(0));
        file.extend(w(0));
        file.extend(w(9));
        file.extend(w(9));
        file.extend(b"cut");
        assert_eq!(pcap::frames(&file).unwrap(), vec![b"abc".to_vec(), b"defgh".to_vec()]);
    }
    assert!(pcap::frames(b"short").is_err());
    let mut raw = vec![0u8; 24];
    raw[..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    raw[20] = 113; // Linux cooked capture, not Ethernet
    assert!(pcap::frames(&raw).unwrap_err().contains("link type 113"));
}

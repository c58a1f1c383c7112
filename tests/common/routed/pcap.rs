//! Captures with `tcpdump -w` ([`Capture`]), reads what it wrote, and finds the IGMP and MLD messages in it,
//! decoded by `mcast::wire`.
//!
//! The classic pcap format (not pcapng, which `tcpdump -w` does not write): a 24-byte global header whose
//! magic number gives the byte order, then per frame a 16-byte record header (seconds, fraction, captured
//! length, original length) and the captured bytes. Frames are Ethernet (link type 1), as on a veth.
//! A file still being written may end inside a record: that last record is left out.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mcast::wire::{self, IgmpRepr, MldPacket, MldRepr};

use super::peer::{Peer, Scratch, PATIENCE};
use crate::common::Netns;

/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u32 = 1;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const IPV6_HEADER_LEN: usize = 40;
const NEXT_HOP_BY_HOP: u8 = 0;
const NEXT_ICMPV6: u8 = 58;

/// The captured frames of a pcap file, in order.
pub fn frames(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let header = bytes.get(..24).ok_or_else(|| format!("pcap: {} bytes, no global header", bytes.len()))?;
    let magic = [header[0], header[1], header[2], header[3]];
    // Microsecond (a1b2c3d4) or nanosecond (a1b23c4d) timestamps, written in the capturing host's order.
    let little = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => return Err(format!("pcap: unknown magic {magic:02x?} (pcapng is not read here)")),
    };
    let u32_at = |b: &[u8], at: usize| {
        let w = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if little {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let linktype = u32_at(header, 20);
    if linktype != LINKTYPE_ETHERNET {
        return Err(format!("pcap: link type {linktype}, expected Ethernet (1)"));
    }
    let mut out = Vec::new();
    let mut at = 24;
    while let Some(record) = bytes.get(at..at + 16) {
        let captured = u32_at(record, 8) as usize;
        let Some(frame) = bytes.get(at + 16..at + 16 + captured) else { break };
        out.push(frame.to_vec());
        at += 16 + captured;
    }
    Ok(out)
}

/// A group-membership message seen on the wire, with the addresses of the IP header that carried it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// IGMP in IPv4.
    Igmp {
        /// IPv4 source.
        src: Ipv4Addr,
        /// IPv4 destination (224.0.0.22 for IGMPv3 reports).
        dst: Ipv4Addr,
        /// The IPv4 TTL (1 for IGMP).
        ttl: u8,
        /// Whether the header carried the Router Alert option.
        router_alert: bool,
        /// The message.
        msg: IgmpRepr,
    },
    /// MLD in ICMPv6, after a hop-by-hop header.
    Mld {
        /// IPv6 source (link-local).
        src: Ipv6Addr,
        /// IPv6 destination (ff02::16 for MLDv2 reports).
        dst: Ipv6Addr,
        /// The hop limit (1 for MLD).
        hop_limit: u8,
        /// The message.
        msg: MldRepr,
    },
}

/// Every IGMP or MLD message in the frames; other frames are skipped, and a malformed IGMP or MLD message
/// is an error (checksums included: the kernel computed them, so they must be right).
pub fn membership_messages(frames: &[Vec<u8>]) -> Result<Vec<Report>, String> {
    let mut out = Vec::new();
    for (n, frame) in frames.iter().enumerate() {
        let Some(ethertype) = frame.get(12..14).map(|b| u16::from_be_bytes([b[0], b[1]])) else { continue };
        let ip = frame.get(14..).unwrap_or_default();
        let found = match ethertype {
            ETHERTYPE_IPV4 => igmp(ip),
            ETHERTYPE_IPV6 => mld(ip),
            _ => Ok(None),
        };
        match found {
            Ok(Some(r)) => out.push(r),
            Ok(None) => {}
            Err(e) => return Err(format!("frame {n}: {e}")),
        }
    }
    Ok(out)
}

fn igmp(ip: &[u8]) -> Result<Option<Report>, String> {
    if ip.get(9) != Some(&wire::ipv4::PROTOCOL_IGMP) {
        return Ok(None);
    }
    let (hdr, msg) = wire::parse_igmp_datagram(ip).map_err(|e| format!("IGMP: {e}"))?;
    let packet = wire::Ipv4Packet::new_checked(ip).map_err(|e| format!("IPv4: {e}"))?;
    Ok(Some(Report::Igmp {
        src: packet.src_addr(),
        dst: packet.dst_addr(),
        ttl: packet.ttl(),
        router_alert: hdr.router_alert().is_some(),
        msg,
    }))
}

/// IPv6 header, then (as MLD requires, RFC 3810 §5) a hop-by-hop header with Router Alert, then ICMPv6.
fn mld(ip: &[u8]) -> Result<Option<Report>, String> {
    let Some(header) = ip.get(..IPV6_HEADER_LEN) else { return Ok(None) };
    let payload_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let (next, hop_limit) = (header[6], header[7]);
    let addr = |at: usize| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&header[at..at + 16]);
        Ipv6Addr::from(b)
    };
    let (src, dst) = (addr(8), addr(24));
    // Ethernet padding may follow the packet: keep what the payload length counts.
    let payload = ip.get(IPV6_HEADER_LEN..IPV6_HEADER_LEN + payload_len).ok_or("IPv6: payload cut short")?;
    if next != NEXT_HOP_BY_HOP {
        return Ok(None);
    }
    let (Some(&inner), Some(&ext_words)) = (payload.first(), payload.get(1)) else { return Ok(None) };
    if inner != NEXT_ICMPV6 {
        return Ok(None);
    }
    let icmp = payload.get((usize::from(ext_words) + 1) * 8..).ok_or("IPv6: hop-by-hop header cut short")?;
    // Only MLD types; neighbour discovery and the rest are not ours to read.
    if !matches!(icmp.first(), Some(130..=132 | 143)) {
        return Ok(None);
    }
    let packet = MldPacket::new_checked(icmp).map_err(|e| format!("MLD: {e}"))?;
    let msg = MldRepr::parse(&packet, &src, &dst).map_err(|e| format!("MLD: {e}"))?;
    Ok(Some(Report::Mld { src, dst, hop_limit, msg }))
}

/// `tcpdump -w` on one interface of a namespace, started before what it must see and read while it runs.
pub struct Capture {
    peer: Peer,
    file: PathBuf,
}

impl Capture {
    /// Starts tcpdump on `ifname` in `ns`, writing every frame at once (`-U`) to a file in `dir`, and
    /// returns when it says it is listening. `-Z root` keeps it from dropping to a user that may not be
    /// able to write there.
    pub fn start(ns: &Netns, dir: &Scratch, ifname: &str) -> Capture {
        let file = dir.file(&format!("{ifname}.pcap"));
        let path = file.to_str().expect("UTF-8 temporary path");
        let mut peer = Peer::start(
            ns,
            dir,
            &format!("tcpdump on {ifname}"),
            "tcpdump",
            &["-i", ifname, "-n", "-U", "-Z", "root", "-w", path],
        );
        peer.wait_stderr("listening on");
        Capture { peer, file }
    }

    /// Every frame captured so far.
    pub fn frames(&self) -> Vec<Vec<u8>> {
        let bytes = std::fs::read(&self.file).unwrap_or_default();
        if bytes.len() < 24 {
            return Vec::new();
        }
        frames(&bytes).unwrap_or_else(|e| panic!("{}: {e}", self.file.display()))
    }

    /// The IGMP and MLD messages captured so far.
    pub fn messages(&self) -> Vec<Report> {
        membership_messages(&self.frames()).unwrap_or_else(|e| panic!("{}: {e}", self.file.display()))
    }

    /// Waits up to [`PATIENCE`] for a message that `wanted` accepts and returns it; fails the test with
    /// everything captured if none comes. Messages counted in `seen` are skipped, so a test can wait for
    /// the next one.
    pub fn wait_for(&self, what: &str, seen: usize, wanted: impl Fn(&Report) -> bool) -> (usize, Report) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let all = self.messages();
            if let Some((i, r)) = all.iter().enumerate().skip(seen).find(|(_, r)| wanted(r)) {
                return (i + 1, r.clone());
            }
            if Instant::now() > deadline {
                panic!("no {what} captured within {PATIENCE:?}; captured: {all:#?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops tcpdump (SIGINT, as Ctrl-C, so it closes the file properly) and returns every message.
    pub fn stop(mut self) -> Vec<Report> {
        self.peer.stop("INT");
        self.messages()
    }
}

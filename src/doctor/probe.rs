//! The doctor's loop test, and the readers of query versions that the querier check ([`super::link`]) uses.
//!
//! The loop test joins the group first and then sends with TTL (hop limit) 0:
//! Linux loops the datagram back to the member and, since this host is a member on the outgoing interface,
//! discards the original instead of transmitting it. (Without a local member, a TTL 0 datagram does go out.)
//! Joining does announce the membership on the link with an IGMP/MLD report, as any receiver would.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{Finding, Status};
use crate::group::Group;
use crate::iface::Interface;
use crate::socket::{Family, McastSocket};

/// IGMP Membership Query (RFC 3376 §4).
const IGMP_QUERY: u8 = 0x11;
/// MLD Multicast Listener Query (RFC 2710, RFC 3810).
const MLD_QUERY: u8 = 130;

/// Reads an IGMP query out of what a raw `IPPROTO_IGMP` socket delivers (the IPv4 header first). Version by
/// length and code (RFC 3376 §7.1): 8 bytes with Max Resp Code 0 is IGMPv1, 8 bytes otherwise IGMPv2, 12 or
/// more IGMPv3.
pub fn igmp_query_version(packet: &[u8]) -> Option<u8> {
    let ihl = usize::from(packet.first()? & 0x0f) * 4;
    let igmp = packet.get(ihl..)?;
    if *igmp.first()? != IGMP_QUERY {
        return None;
    }
    match igmp.len() {
        8 if *igmp.get(1)? == 0 => Some(1),
        8..=11 => Some(2),
        n if n >= 12 => Some(3),
        _ => None,
    }
}

/// Reads an MLD query out of what a raw `IPPROTO_ICMPV6` socket delivers (the ICMPv6 message): 24 bytes is
/// MLDv1, 28 or more MLDv2 (RFC 3810 §8.1).
pub fn mld_query_version(message: &[u8]) -> Option<u8> {
    if *message.first()? != MLD_QUERY {
        return None;
    }
    match message.len() {
        24..=27 => Some(1),
        n if n >= 28 => Some(2),
        _ => None,
    }
}

/// Joins the group on `iface` on a fresh port, sends one datagram to it at TTL 0 with loop on, and waits
/// for it. The port is the kernel's pick, so no other program on this host receives the test datagram.
pub fn loop_test(group: &Group, iface: &Interface) -> Finding {
    match run_loop(group, iface) {
        Ok(true) => Finding::new(
            "loop",
            Status::Ok,
            format!("a datagram sent at TTL 0 to {} on {} came back to a member", group.ip(), iface.name),
        ),
        Ok(false) if group.is_ipv6() && iface.is_loopback() => Finding::new(
            "loop",
            Status::Warn,
            format!("nothing came back on {}: Linux does not deliver IPv6 multicast over loopback", iface.name),
        )
        .fix("test on a real interface (--iface)"),
        Ok(false) => Finding::new(
            "loop",
            Status::Fail,
            format!("a datagram sent at TTL 0 to {} on {} never came back within 2 s", group.ip(), iface.name),
        )
        .fix("see the failures above (interface, route, firewall); a packet filter dropping the group's address drops this too"),
        Err(e) => {
            let fix = if e.raw_os_error() == Some(libc::ENOBUFS) {
                "sysctl -w net.ipv4.igmp_max_memberships=20".to_string()
            } else {
                "see the failures above".to_string()
            };
            Finding::new("loop", Status::Fail, format!("loop test on {}: {e:#}", iface.name)).fix(fix)
        }
    }
}

fn run_loop(group: &Group, iface: &Interface) -> crate::Result<bool> {
    let family = Family::of(group.ip());
    let rx = McastSocket::udp(family)?;
    match family {
        Family::V4 => {
            rx.set_multicast_all_v4(false)?;
            rx.set_pktinfo_v4(true)?;
        }
        Family::V6 => {
            rx.set_only_v6(true)?;
            rx.set_multicast_all_v6(false)?;
            rx.set_recv_pktinfo_v6(true)?;
        }
    }
    rx.bind(SocketAddr::new(family.unspecified(), 0))?;
    let port = rx.local_addr()?.port();
    rx.join_group(group.ip(), iface.index)?;
    let tx = McastSocket::udp(family)?;
    match family {
        Family::V4 => {
            tx.set_multicast_if_v4_index(iface.index)?;
            tx.set_multicast_ttl_v4(0)?;
            tx.set_multicast_loop_v4(true)?;
        }
        Family::V6 => {
            tx.set_multicast_if_v6(iface.index)?;
            tx.set_multicast_hops_v6(0)?;
            tx.set_multicast_loop_v6(true)?;
        }
    }
    let payload = format!("mcast doctor loop test {}", std::process::id());
    let to = Group::with_scope(group.ip(), port, if group.needs_interface() { iface.index } else { 0 })?;
    tx.send_to(payload.as_bytes(), to.socket_addr())?;
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut buf = [0u8; 256];
    let came_back = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break false;
        }
        match rx.recv_timeout(&mut buf, left)? {
            Some(m) if buf.get(..m.len) == Some(payload.as_bytes()) && m.group == Some(group.ip()) => break true,
            Some(_) => continue,
            None => break false,
        }
    };
    // Leave now rather than at close: a child process forked meanwhile would keep the descriptor, and the
    // membership with it, until it execs.
    let _ = rx.leave_group(group.ip(), iface.index);
    Ok(came_back)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_header() -> Vec<u8> {
        let mut h = vec![0u8; 24];
        h[0] = 0x46; // IHL 6: 20 bytes + the Router Alert option IGMP carries
        h
    }

    #[test]
    fn tells_igmp_query_versions_apart() {
        let mut v1 = ipv4_header();
        v1.extend_from_slice(&[0x11, 0, 0, 0, 0, 0, 0, 0]);
        let mut v2 = ipv4_header();
        v2.extend_from_slice(&[0x11, 100, 0, 0, 0, 0, 0, 0]);
        let mut v3 = v2.clone();
        v3.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(
            (igmp_query_version(&v1), igmp_query_version(&v2), igmp_query_version(&v3)),
            (Some(1), Some(2), Some(3))
        );
        let mut report = ipv4_header();
        report.extend_from_slice(&[0x22, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(igmp_query_version(&report), None);
        for cut in 0..v3.len() {
            assert!(igmp_query_version(&v3[..cut]).is_none() || cut >= 32, "{cut}");
        }
        assert_eq!(igmp_query_version(&[0x4f]), None);
    }

    #[test]
    fn tells_mld_query_versions_apart() {
        let mut q = vec![130u8; 24];
        assert_eq!(mld_query_version(&q), Some(1));
        q.extend_from_slice(&[0; 4]);
        assert_eq!(mld_query_version(&q), Some(2));
        assert_eq!(mld_query_version(&q[..10]), None);
        assert_eq!(mld_query_version(&[143; 28]), None);
        assert_eq!(mld_query_version(&[]), None);
    }
}

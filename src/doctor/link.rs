//! What the doctor hears on the link: the IGMP/MLD querier, and the PIM routers with their designated router
//! (and the RPs, when a bootstrap router floods them).
//!
//! Both listen during one window ([`Options::querier_wait`](super::Options)), the PIM listener on a thread of its
//! own (it inherits the caller's network namespace). Queriers ask only every 125 s by default and PIM routers say
//! hello every 30 s, so a short window usually hears neither; two things make the answer useful anyway:
//!
//! - **An answerable question.** On IPv4, when the host speaks IGMPv3, the doctor joins a probe group with two
//!   documentation sources (192.0.2.1 and 192.0.2.2) and then drops one. The kernel reports the change at once
//!   (BLOCK_OLD_SOURCES), and a querier must answer it with a group-and-source-specific query (RFC 3376 §6.4.2)
//!   within a second or so. That query goes to the probe group, which this host is still a member of (with the
//!   other source), so the raw socket gets it. Joining needs no privilege; hearing the answer needs `CAP_NET_RAW`.
//! - **The kernel's memory.** A host that heard an IGMPv1/v2 query drops to that version for a few minutes
//!   (`/proc/net/igmp` shows it): then a querier *was* there, whatever this window heard, and the finding says
//!   so, in agreement with the version check.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::probe::{igmp_query_version, mld_query_version};
use super::{Finding, Status};
use crate::group::Group;
use crate::iface::Interface;
use crate::procnet;
use crate::socket::{Family, McastSocket};
use crate::wire::pim::{Bootstrap, Hello, Packet as PimPacket, ALL_PIM_ROUTERS, TYPE_BOOTSTRAP, TYPE_HELLO};
use crate::wire::Ipv4Packet;

/// The group the doctor joins and changes to make a querier ask (admin-scoped, next to the probe group).
pub const TRIGGER_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 0, 2);
/// The two sources of that join (TEST-NET-1, RFC 5737: nobody sends from them).
pub const TRIGGER_SOURCES: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2)];

/// The querier and PIM findings for `iface`, from one listening window of `wait`.
pub fn listen(iface: &Interface, group: &Group, wait: Duration) -> Vec<Finding> {
    let family = Family::of(group.ip());
    if iface.is_loopback() || wait.is_zero() {
        return vec![querier(iface, family, wait, &AtomicBool::new(false))];
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let pim = (family == Family::V4).then(|| s.spawn(|| pim(iface, group, wait, &done)));
        let q = querier(iface, family, wait, &done);
        done.store(true, Ordering::Relaxed);
        let mut out = vec![q];
        if let Some(p) = pim.and_then(|h| h.join().ok()) {
            out.push(p);
        }
        out
    })
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

/// Opens the raw socket a listener needs, or says why the check is skipped.
fn raw(family: Family, protocol: libc::c_int, what: &str) -> Result<McastSocket, Finding> {
    let socket = McastSocket::raw(family, protocol).and_then(|s| match family {
        Family::V4 => s.set_pktinfo_v4(true).map(|_| s),
        Family::V6 => s.set_recv_pktinfo_v6(true).map(|_| s),
    });
    let check = if protocol == libc::IPPROTO_PIM { "pim" } else { "querier" };
    socket.map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            Finding::new(check, Status::Skip, format!("skipped: listening for {what} needs CAP_NET_RAW"))
        }
        _ => Finding::new(check, Status::Skip, format!("skipped: {e:#}")),
    })
}

/// Listens up to `wait` for an IGMP (IPv4) or MLD (IPv6) query on `iface`, after asking for one where it can.
pub fn querier(iface: &Interface, family: Family, wait: Duration, done: &AtomicBool) -> Finding {
    let proto = if family == Family::V4 { "IGMP" } else { "MLD" };
    if iface.is_loopback() {
        return Finding::new(
            "querier",
            Status::Skip,
            format!("{} is loopback: no querier there, none needed", iface.name),
        );
    }
    if wait.is_zero() {
        return Finding::new("querier", Status::Skip, "not listened for (a wait of 0 s was asked)");
    }
    let protocol = if family == Family::V4 { libc::IPPROTO_IGMP } else { libc::IPPROTO_ICMPV6 };
    let socket = match raw(family, protocol, &format!("{proto} queries")) {
        Ok(s) => s,
        Err(f) => return f,
    };
    let in_force = kernel_version(iface, family);
    let own: Vec<IpAddr> = iface.ipv4.iter().map(|&a| IpAddr::V4(a)).collect();
    let start = Instant::now();
    // Only an IGMPv3 host reports a dropped source; in v1/v2 mode the kernel's state already says a querier
    // was there.
    let trigger = if family == Family::V4 && in_force == Some(3) { Trigger::start(iface.index) } else { None };
    let deadline = start + wait;
    let mut buf = [0u8; 1500];
    let mut others = 0u32;
    let heard = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break None;
        }
        let meta = match socket.recv_timeout(&mut buf, left) {
            Ok(Some(m)) => m,
            Ok(None) => break None,
            Err(e) => return Finding::new("querier", Status::Skip, format!("skipped: {e:#}")),
        };
        if meta.ifindex.is_some_and(|i| i != iface.index) || own.contains(&meta.source.ip()) {
            continue;
        }
        let bytes = buf.get(..meta.len).unwrap_or_default();
        let version = match family {
            Family::V4 => igmp_query_version(bytes),
            Family::V6 => mld_query_version(bytes),
        };
        match version {
            Some(v) => break Some((meta.source.ip(), v, start.elapsed(), meta.group)),
            None if family == Family::V4 => others += 1,
            None => {}
        }
    };
    done.store(true, Ordering::Relaxed);
    let asked = trigger.is_some();
    drop(trigger);
    let listened = format!("listened {} s", secs(wait));
    if let Some((from, v, after, to)) = heard {
        let how = match to {
            Some(IpAddr::V4(g)) if g == TRIGGER_GROUP => {
                format!(", answering this check's change of sources of {TRIGGER_GROUP}")
            }
            _ => String::new(),
        };
        return Finding::new(
            "querier",
            Status::Ok,
            format!("{proto}v{v} query from {from} heard on {} after {:.2} s{how}", iface.name, after.as_secs_f64()),
        );
    }
    // A version forced by sysctl shows the same in /proc/net/igmp, and proves nothing about a querier.
    let forced = procnet::forced_on(family, &iface.name).is_some();
    if let Some(v) = in_force.filter(|&v| family == Family::V4 && v < 3 && !forced) {
        return Finding::new(
            "querier",
            Status::Ok,
            format!(
                "no query heard on {} in this check's {} s, but the host is in IGMPv{v} mode, which only an \
                 IGMPv{v} query heard in the last few minutes puts it in: an IGMPv{v} querier is there",
                iface.name,
                secs(wait)
            ),
        );
    }
    let other = match others {
        0 => String::new(),
        n => format!("; {n} other IGMP message(s) heard"),
    };
    let unanswered = if asked {
        format!("; a change of sources of {TRIGGER_GROUP}, which a querier answers at once, went unanswered")
    } else {
        String::new()
    };
    Finding::new(
        "querier",
        Status::Warn,
        format!(
            "no {proto} query heard on {} ({listened}{other}{unanswered}): queriers ask every 125 s by default; \
             without one, switches that snoop {proto} stop forwarding groups a few minutes after the join",
            iface.name
        ),
    )
    .fix(format!(
        "listen through a whole query interval (--querier-wait 130); if still none, enable a querier on {}'s LAN: \
         the router's {proto}, the switch's querier, or on a Linux bridge: ip link set BRIDGE type bridge mcast_querier 1",
        iface.name
    ))
}

/// The IGMP version the kernel uses on `iface` now (`/proc/net/igmp`); `None` for IPv6 or when unknown.
fn kernel_version(iface: &Interface, family: Family) -> Option<u8> {
    if family != Family::V4 {
        return None;
    }
    let all = procnet::read().ok()?;
    all.into_iter().find(|g| g.ifindex == iface.index && g.version.family == Family::V4).map(|g| g.version.version)
}

/// A source-specific membership of [`TRIGGER_GROUP`] with one of its two sources dropped: the kernel's
/// BLOCK report makes a querier ask. Left on drop.
struct Trigger {
    socket: McastSocket,
    index: u32,
}

impl Trigger {
    fn start(index: u32) -> Option<Trigger> {
        let socket = McastSocket::udp(Family::V4).ok()?;
        let (g, [a, b]) = (IpAddr::V4(TRIGGER_GROUP), TRIGGER_SOURCES.map(IpAddr::V4));
        socket.join_source_group(g, a, index).ok()?;
        let t = Trigger { socket, index };
        t.socket.join_source_group(g, b, index).ok()?;
        // Let the join's report go first, so the querier sees the group before the change.
        std::thread::sleep(Duration::from_millis(50));
        t.socket.leave_source_group(g, a, index).ok()?;
        Some(t)
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        let g = IpAddr::V4(TRIGGER_GROUP);
        for s in TRIGGER_SOURCES {
            let _ = self.socket.leave_source_group(g, IpAddr::V4(s), self.index);
        }
    }
}

/// Reads one PIM datagram (IPv4 header first): a hello goes into `routers`, a Bootstrap message replaces
/// `bsr`; other PIM messages (join/prune, assert) are left alone. An error for a hello or Bootstrap message
/// that does not parse.
fn take(
    from: Ipv4Addr,
    bytes: &[u8],
    routers: &mut BTreeMap<Ipv4Addr, Hello>,
    bsr: &mut Option<Bootstrap>,
) -> crate::wire::Result<()> {
    let ip = Ipv4Packet::new_checked(bytes)?;
    let pim = PimPacket::new_checked(ip.payload())?;
    match pim.msg_type() {
        TYPE_HELLO => {
            routers.insert(from, Hello::parse_v4(&pim)?);
        }
        TYPE_BOOTSTRAP => *bsr = Some(Bootstrap::parse_v4(&pim)?),
        _ => {}
    }
    Ok(())
}

/// The RPs a Bootstrap message names, for the finding: "; BSR 10.0.0.9 announces RP 10.12.0.2 for 224.0.0.0/4".
fn rps(b: &Bootstrap) -> String {
    let list: Vec<String> = b.rps.iter().map(|e| format!("RP {} for {}/{}", e.rp, e.group, e.mask_len)).collect();
    match list.is_empty() {
        true => format!("; BSR {} announces no RP", b.bsr),
        false => format!("; BSR {} announces {}", b.bsr, list.join(", ")),
    }
}

/// One PIM router heard on the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// Its address on the link.
    pub addr: Ipv4Addr,
    /// What its last hello said.
    pub hello: Hello,
}

/// The designated router among `routers` (RFC 7761 §4.3.2): the highest DR priority, then the highest address;
/// if any router leaves out the priority, every router is compared by address alone.
pub fn designated_router(routers: &[Neighbour]) -> Option<Ipv4Addr> {
    let all_have = routers.iter().all(|n| n.hello.dr_priority.is_some());
    routers.iter().max_by_key(|n| (if all_have { n.hello.dr_priority.unwrap_or(0) } else { 0 }, n.addr)).map(|n| n.addr)
}

/// Listens for PIM hellos on `iface` until `wait` is over, or earlier once the querier check is `done` and a
/// router was heard (more routers on the link said hello in the same moment, or will within 30 s).
fn pim(iface: &Interface, group: &Group, wait: Duration, done: &AtomicBool) -> Finding {
    let socket = match raw(Family::V4, libc::IPPROTO_PIM, "PIM hellos") {
        Ok(s) => s,
        Err(f) => return f,
    };
    if let Err(e) = socket.join_group(IpAddr::V4(ALL_PIM_ROUTERS), iface.index) {
        return Finding::new("pim", Status::Skip, format!("skipped: joining {ALL_PIM_ROUTERS}: {e:#}"));
    }
    let start = Instant::now();
    let deadline = start + wait;
    let mut routers: BTreeMap<Ipv4Addr, Hello> = BTreeMap::new();
    let mut bsr: Option<Bootstrap> = None;
    let mut malformed = 0u32;
    let mut buf = [0u8; 1500];
    loop {
        let enough = done.load(Ordering::Relaxed) && !routers.is_empty();
        if enough || Instant::now() >= deadline {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now()).min(Duration::from_millis(100));
        let meta = match socket.recv_timeout(&mut buf, left) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => return Finding::new("pim", Status::Skip, format!("skipped: {e:#}")),
        };
        let IpAddr::V4(from) = meta.source.ip() else { continue };
        if meta.ifindex.is_some_and(|i| i != iface.index) {
            continue;
        }
        let bytes = buf.get(..meta.len).unwrap_or_default();
        if take(from, bytes, &mut routers, &mut bsr).is_err() {
            malformed += 1;
        }
    }
    let _ = socket.leave_group(IpAddr::V4(ALL_PIM_ROUTERS), iface.index);
    let mut bad = if malformed > 0 { format!("; {malformed} malformed PIM message(s) ignored") } else { String::new() };
    if let Some(b) = &bsr {
        bad.push_str(&rps(b));
    }
    let routers: Vec<Neighbour> = routers.into_iter().map(|(addr, hello)| Neighbour { addr, hello }).collect();
    let Some(dr) = designated_router(&routers) else {
        return Finding::new(
            "pim",
            Status::Ok,
            format!(
                "no PIM hello heard on {} in {} s{bad}: no PIM router there, or none said hello yet (they do every \
                 30 s: --querier-wait 35 to be sure; a LAN behind an IGMP proxy or a static router hears none)",
                iface.name,
                secs(wait)
            ),
        );
    };
    let list: Vec<String> = routers
        .iter()
        .map(|n| {
            let prio = n.hello.dr_priority.map_or("no DR priority".to_string(), |p| format!("DR priority {p}"));
            let hold = n.hello.holdtime.map_or(String::new(), |h| format!(", holdtime {h} s"));
            format!("{} ({prio}{hold})", n.addr)
        })
        .collect();
    let note = if group.is_source_specific() {
        format!("{} is source-specific: the last-hop router joins the source directly, no RP involved", group.ip())
    } else {
        "note: the first datagrams of a new sender can be lost while the first-hop router registers it with \
         the RP and the routers build the tree; start senders early, or repeat what must arrive"
            .to_string()
    };
    Finding::new(
        "pim",
        Status::Ok,
        format!("PIM router(s) on {}: {}; DR {dr}{bad}. {note}", iface.name, list.join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(addr: [u8; 4], prio: Option<u32>) -> Neighbour {
        Neighbour { addr: addr.into(), hello: Hello { holdtime: Some(105), dr_priority: prio, generation_id: None } }
    }

    #[test]
    fn the_dr_is_the_highest_priority_then_the_highest_address() {
        assert_eq!(designated_router(&[]), None);
        let two = [n([10, 0, 0, 1], Some(5)), n([10, 0, 0, 2], Some(1))];
        assert_eq!(designated_router(&two), Some(Ipv4Addr::new(10, 0, 0, 1)));
        let tie = [n([10, 0, 0, 1], Some(1)), n([10, 0, 0, 2], Some(1))];
        assert_eq!(designated_router(&tie), Some(Ipv4Addr::new(10, 0, 0, 2)));
        let one_without = [n([10, 0, 0, 1], Some(9)), n([10, 0, 0, 2], None)];
        assert_eq!(designated_router(&one_without), Some(Ipv4Addr::new(10, 0, 0, 2)), "addresses alone");
    }
}

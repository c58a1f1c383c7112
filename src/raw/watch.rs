//! [`Watcher`]: a raw socket that joins where membership reports go, and a table of what they say.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use super::{Heard, IgmpSocket, Message, MldSocket};
use crate::error::{Error, ErrorKind, Result};
use crate::senders::SenderTable;
use crate::wire::{self, igmp, mld, Event, Key, MembershipLimits, MembershipTable, Protocol, RecordType};
use crate::{Family, Interface};

/// Where reports and leaves go, which a watcher joins on each interface (RFC 3376 §4.2.14, RFC 2236 §3; RFC 3810
/// §5.2.14, RFC 2710 §3).
const IGMP_LISTEN: [Ipv4Addr; 2] = [igmp::ALL_V3_ROUTERS, igmp::ALL_ROUTERS];
const MLD_LISTEN: [Ipv6Addr; 2] = [mld::ALL_MLDV2_ROUTERS, mld::ALL_ROUTERS];

/// How long a leave's retransmissions may follow it: hosts repeat a change robustness − 1 times (once by
/// default) within the unsolicited report interval (1 s in Linux, at most 10 s by the RFCs).
const RETRANSMISSIONS: Duration = Duration::from_secs(10);

/// The largest IPv4 datagram or ICMPv6 message.
const BUFFER: usize = 65_535;

#[derive(Debug)]
enum Socket {
    Igmp(IgmpSocket),
    Mld(MldSocket),
}

impl std::os::fd::AsFd for Socket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Socket::Igmp(s) => s.as_fd(),
            Socket::Mld(s) => s.as_fd(),
        }
    }
}

// The raw socket's descriptor, to wait on in an event loop before the watcher's non-blocking reads.
crate::socket::fd_of_socket!(Watcher);

/// What one message did: the message itself, the table changes it caused, and what the table could not use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The message (or why it does not parse) and where it came from.
    pub heard: Heard,
    /// The changes to the table, one per group whose state changed.
    pub events: Vec<Event>,
    /// Groups the message says were left that the table did not know (e.g. an IGMPv2 Leave whose report went to
    /// the group, which only a multicast router hears).
    pub unknown_leaves: Vec<IpAddr>,
    /// This host's own report of a group the watcher joined to listen: left out of the table.
    pub own: bool,
}

/// One group of a report, as a querier lists the answers it got.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reported {
    /// The group.
    pub group: IpAddr,
    /// Protocol and version of the report.
    pub protocol: Protocol,
    /// The record type of an IGMPv3/MLDv2 report; `None` for a v1/v2 report (a plain any-source join).
    pub record: Option<RecordType>,
    /// The record's sources.
    pub sources: Vec<IpAddr>,
}

impl Reported {
    /// The groups a report lists (none for queries, leaves and done messages).
    pub fn of(message: &Message) -> Vec<Reported> {
        let protocol = message.protocol();
        let plain = |group: IpAddr| vec![Reported { group, protocol, record: None, sources: vec![] }];
        let records = |records: Vec<(IpAddr, RecordType, Vec<IpAddr>)>| {
            records
                .into_iter()
                .map(|(group, record, sources)| Reported { group, protocol, record: Some(record), sources })
                .collect()
        };
        match message {
            Message::Igmp { igmp, .. } => match igmp {
                wire::IgmpRepr::ReportV1 { group } | wire::IgmpRepr::ReportV2 { group } => plain((*group).into()),
                wire::IgmpRepr::ReportV3(rs) => records(rs.iter().map(flatten).collect()),
                _ => vec![],
            },
            Message::Mld(mld) => match mld {
                wire::MldRepr::ReportV1 { group } => plain((*group).into()),
                wire::MldRepr::ReportV2(rs) => records(rs.iter().map(flatten).collect()),
                _ => vec![],
            },
        }
    }
}

fn flatten<A: wire::WireAddr>(r: &wire::GroupRecord<A>) -> (IpAddr, RecordType, Vec<IpAddr>) {
    (r.group.into(), r.record_type, r.sources.iter().map(|&s| s.into()).collect())
}

/// Listens to the membership reports on some interfaces and keeps a [`MembershipTable`] of them.
///
/// It joins the groups reports and leaves are sent to (224.0.0.22 and 224.0.0.2; ff02::16 and ff02::2) on each
/// interface, so that IP delivers them; see the [module docs](super) for what that hears and what needs
/// `mrouter`. MLD checksums are verified here (the kernel's check is off), so a bad one is reported. This host's
/// own reports of the groups the watcher joined are left out of the table.
///
/// Whatever the link sends, the watcher's memory stays bounded: the table keeps at most
/// [`MembershipLimits::groups`] groups per interface (evicting the least recently reported) and
/// [`MembershipLimits::sources`] sources per group, and the recent leaves it remembers are as many as the groups
/// of one interface, for at most the time retransmissions take.
#[derive(Debug)]
pub struct Watcher {
    socket: Socket,
    table: MembershipTable,
    interfaces: Vec<Interface>,
    local: BTreeSet<IpAddr>,
    listening: BTreeSet<IpAddr>,
    /// The groups left recently, so that a leave's retransmissions (robustness) are not news again: capped,
    /// each forgotten after [`RETRANSMISSIONS`].
    left: SenderTable<Key, ()>,
    buf: Vec<u8>,
}

impl Watcher {
    /// A watcher of IGMP (`Family::V4`) or MLD (`Family::V6`) on `interfaces`, with the default
    /// [`MembershipLimits`]. With `mrouter`, the socket also becomes the namespace's multicast router, to hear
    /// v1/v2 reports ([`IgmpSocket::become_mrouter`]).
    pub fn open(family: Family, interfaces: &[Interface], mrouter: bool) -> Result<Watcher> {
        Watcher::open_with_limits(family, interfaces, mrouter, MembershipLimits::default())
    }

    /// As [`Watcher::open`], with a table that keeps at most what `limits` say.
    pub fn open_with_limits(
        family: Family,
        interfaces: &[Interface],
        mrouter: bool,
        limits: MembershipLimits,
    ) -> Result<Watcher> {
        if interfaces.is_empty() {
            return Err(Error::new(ErrorKind::UnknownInterface, "no interface to watch"));
        }
        let socket = match family {
            Family::V4 => Socket::Igmp(IgmpSocket::open()?),
            Family::V6 => {
                let mld = MldSocket::open()?;
                mld.set_kernel_checksum(false)?;
                Socket::Mld(mld)
            }
        };
        let local =
            interfaces.iter().flat_map(|i| i.ipv4.iter().map(|&a| a.into()).chain(i.ipv6.iter().map(|&a| a.into())));
        let mut watcher = Watcher {
            socket,
            table: MembershipTable::with_limits(limits),
            interfaces: interfaces.to_vec(),
            local: local.collect(),
            listening: BTreeSet::new(),
            left: SenderTable::new(limits.groups, RETRANSMISSIONS),
            buf: vec![0u8; BUFFER],
        };
        let groups: Vec<IpAddr> = match family {
            Family::V4 => IGMP_LISTEN.iter().map(|&g| g.into()).collect(),
            Family::V6 => MLD_LISTEN.iter().map(|&g| g.into()).collect(),
        };
        for iface in interfaces {
            for &group in &groups {
                watcher.listen(group, iface.index).map_err(|e| e.within(format!("watching {}", iface.name)))?;
            }
        }
        if mrouter {
            match &watcher.socket {
                Socket::Igmp(s) => {
                    let routed: Vec<u32> = interfaces.iter().filter(|i| !i.is_loopback()).map(|i| i.index).collect();
                    s.become_mrouter(&routed)?
                }
                Socket::Mld(s) => s.become_mrouter()?,
            }
        }
        Ok(watcher)
    }

    /// Joins `group` on interface `ifindex` too, so that reports sent to it arrive (a querier asking about one
    /// group does this to hear the v1/v2 answers). This host's own reports of it are left out of the table.
    pub fn listen(&mut self, group: IpAddr, ifindex: u32) -> Result<()> {
        match (&self.socket, group) {
            (Socket::Igmp(s), IpAddr::V4(g)) => s.join(g, ifindex)?,
            (Socket::Mld(s), IpAddr::V6(g)) => s.join(g, ifindex)?,
            _ => return Err(Error::new(ErrorKind::Mismatch, format!("group {group} of the other family"))),
        }
        self.listening.insert(group);
        Ok(())
    }

    /// The interfaces watched.
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// The table so far.
    pub fn table(&self) -> &MembershipTable {
        &self.table
    }

    /// Datagrams the kernel dropped on the watcher's socket for lack of receive buffer since it was opened
    /// ([`McastSocket::kernel_drops`](crate::McastSocket::kernel_drops)): reports the table never saw.
    pub fn kernel_drops(&self) -> Result<u32> {
        match &self.socket {
            Socket::Igmp(s) => s.socket().kernel_drops(),
            Socket::Mld(s) => s.socket().kernel_drops(),
        }
    }

    /// The family watched.
    pub fn family(&self) -> Family {
        match self.socket {
            Socket::Igmp(_) => Family::V4,
            Socket::Mld(_) => Family::V6,
        }
    }

    /// Waits up to `timeout` for one message and feeds it to the table; `Ok(None)` when none came.
    pub fn next(&mut self, timeout: Duration) -> Result<Option<Step>> {
        let heard = match &self.socket {
            Socket::Igmp(s) => s.recv(&mut self.buf, timeout)?,
            Socket::Mld(s) => s.recv(&mut self.buf, timeout)?,
        };
        let Some(heard) = heard else { return Ok(None) };
        let mut step = Step { events: vec![], unknown_leaves: vec![], own: false, heard };
        let Ok(message) = &step.heard.message else { return Ok(Some(step)) };
        let message = match self.without_own(step.heard.source, message) {
            Some(m) => m,
            None => {
                step.own = true;
                return Ok(Some(step));
            }
        };
        let iface = step.heard.ifindex.unwrap_or(0);
        let now = Instant::now();
        self.left.expire(now);
        let left = leaves(&message);
        step.unknown_leaves = left
            .iter()
            .copied()
            .filter(|&group| self.table.get(iface, group).is_none() && self.left.get(&Key { iface, group }).is_none())
            .collect();
        for group in left {
            self.left.insert(Key { iface, group }, (), now);
        }
        step.events = match (&message, step.heard.source) {
            (Message::Igmp { igmp, .. }, IpAddr::V4(from)) => self.table.observe_igmp(iface, from, igmp, now),
            (Message::Mld(mld), IpAddr::V6(from)) => self.table.observe_mld(iface, from, mld, now),
            _ => vec![],
        };
        Ok(Some(step))
    }

    /// Drops the groups not reported for longer than `timeout` ([`wire::MEMBERSHIP_INTERVAL`] by the protocols'
    /// defaults): IGMPv1 hosts leave without a word.
    pub fn expire(&mut self, timeout: Duration) -> Vec<Event> {
        self.table.expire(Instant::now(), timeout)
    }

    /// Whether a report of `group` from `source` is this host's own, of a group the watcher joined to listen.
    pub fn is_own(&self, source: IpAddr, group: IpAddr) -> bool {
        self.local.contains(&source) && self.listening.contains(&group)
    }

    /// `message` without this host's reports of the groups the watcher joined; `None` when nothing is left.
    fn without_own(&self, source: IpAddr, message: &Message) -> Option<Message> {
        if !self.local.contains(&source) {
            return Some(message.clone());
        }
        let mine = |g: IpAddr| self.listening.contains(&g);
        let kept = match message {
            Message::Igmp { ip, igmp } => {
                let igmp = match igmp {
                    wire::IgmpRepr::ReportV3(rs) => {
                        let rs: Vec<_> = rs.iter().filter(|r| !mine(r.group.into())).cloned().collect();
                        (!rs.is_empty()).then_some(wire::IgmpRepr::ReportV3(rs))
                    }
                    wire::IgmpRepr::ReportV1 { group }
                    | wire::IgmpRepr::ReportV2 { group }
                    | wire::IgmpRepr::Leave { group } => (!mine((*group).into())).then(|| igmp.clone()),
                    query => Some(query.clone()),
                };
                igmp.map(|igmp| Message::Igmp { ip: ip.clone(), igmp })
            }
            Message::Mld(mld) => match mld {
                wire::MldRepr::ReportV2(rs) => {
                    let rs: Vec<_> = rs.iter().filter(|r| !mine(r.group.into())).cloned().collect();
                    (!rs.is_empty()).then_some(Message::Mld(wire::MldRepr::ReportV2(rs)))
                }
                wire::MldRepr::ReportV1 { group } | wire::MldRepr::Done { group } => {
                    (!mine((*group).into())).then(|| message.clone())
                }
                _ => Some(message.clone()),
            },
        };
        kept
    }

    /// Sends a query on interface `ifindex`: general (`group` `None`, to all hosts) or about one group (to the
    /// group), of IGMP `version` 1, 2 or 3 or MLD `version` 1 or 2, asking for answers within `max_resp`.
    ///
    /// A v1/v2 answer goes to the group it reports: to hear answers to a group-specific query, [`Watcher::listen`]
    /// to the group first; answers to a general v1/v2 query are heard only as a multicast router.
    pub fn send_query(&self, ifindex: u32, version: u8, group: Option<IpAddr>, max_resp: Duration) -> Result<usize> {
        match &self.socket {
            Socket::Igmp(s) => {
                let group = match group {
                    None => Ipv4Addr::UNSPECIFIED,
                    Some(IpAddr::V4(g)) if g.is_multicast() => g,
                    Some(other) => return Err(bad_group(other, "an IPv4 multicast group")),
                };
                let query = igmp_query(version, group, max_resp)?;
                s.send(&query, if group.is_unspecified() { igmp::ALL_SYSTEMS } else { group }, ifindex)
            }
            Socket::Mld(s) => {
                let group = match group {
                    None => Ipv6Addr::UNSPECIFIED,
                    Some(IpAddr::V6(g)) if g.is_multicast() => g,
                    Some(other) => return Err(bad_group(other, "an IPv6 multicast group")),
                };
                let query = mld_query(version, group, max_resp)?;
                s.send(&query, if group.is_unspecified() { mld::ALL_NODES } else { group }, ifindex)
            }
        }
    }
}

fn bad_group(group: IpAddr, want: &str) -> Error {
    Error::new(ErrorKind::NotMulticast, format!("query about {group}: not {want}"))
}

fn out_of_range(what: &str, max_resp: Duration, range: &str) -> Error {
    Error::new(ErrorKind::OutOfRange, format!("{what} maximum response time {max_resp:?}: out of range {range}"))
}

/// An IGMP query of `version` about `group` (0.0.0.0: general) with this maximum response time.
pub fn igmp_query(version: u8, group: Ipv4Addr, max_resp: Duration) -> Result<wire::IgmpRepr> {
    let tenths = max_resp.as_millis() / 100;
    match version {
        1 if group.is_unspecified() => Ok(wire::IgmpRepr::QueryV1),
        1 => Err(Error::new(ErrorKind::Mismatch, "IGMPv1 queries are always general: no group")),
        2 => match u8::try_from(tenths) {
            Ok(t) if t >= 1 => Ok(wire::IgmpRepr::QueryV2 { max_resp_time: t, group }),
            _ => Err(out_of_range("IGMPv2", max_resp, "0.1..=25.5 s")),
        },
        3 if (1..=u128::from(wire::code::FLOAT8_MAX)).contains(&tenths) => {
            let code = wire::igmp::Query::max_resp_code_for(max_resp);
            Ok(wire::IgmpRepr::QueryV3(wire::igmp::Query {
                max_resp_code: code,
                group,
                ..wire::igmp::Query::general()
            }))
        }
        3 => Err(out_of_range("IGMPv3", max_resp, "0.1..=3174.4 s")),
        v => Err(Error::new(ErrorKind::OutOfRange, format!("IGMP version {v}: 1, 2 or 3"))),
    }
}

/// An MLD query of `version` about `group` (`::`: general) with this maximum response time.
pub fn mld_query(version: u8, group: Ipv6Addr, max_resp: Duration) -> Result<wire::MldRepr> {
    let ms = max_resp.as_millis();
    match version {
        1 => match u16::try_from(ms) {
            Ok(ms) if ms >= 1 => Ok(wire::MldRepr::QueryV1 { max_resp_delay: ms, group }),
            _ => Err(out_of_range("MLDv1", max_resp, "0.001..=65.535 s")),
        },
        2 if (1..=u128::from(wire::code::FLOAT16_MAX)).contains(&ms) => {
            let code = wire::mld::Query::max_resp_code_for(max_resp);
            Ok(wire::MldRepr::QueryV2(wire::mld::Query { max_resp_code: code, group, ..wire::mld::Query::general() }))
        }
        2 => Err(out_of_range("MLDv2", max_resp, "0.001..=8387.584 s")),
        v => Err(Error::new(ErrorKind::OutOfRange, format!("MLD version {v}: 1 or 2"))),
    }
}

/// The groups a message says were left: an IGMPv2 Leave, an MLDv1 Done, a v3/v2 record changing to INCLUDE
/// with no sources.
fn leaves(message: &Message) -> Vec<IpAddr> {
    let record_leaves = |records: Vec<(IpAddr, RecordType, Vec<IpAddr>)>| {
        records
            .into_iter()
            .filter(|(_, t, s)| matches!(t, RecordType::ChangeToInclude | RecordType::ModeIsInclude) && s.is_empty())
            .map(|(g, _, _)| g)
            .collect()
    };
    match message {
        Message::Igmp { igmp: wire::IgmpRepr::Leave { group }, .. } => vec![(*group).into()],
        Message::Igmp { igmp: wire::IgmpRepr::ReportV3(rs), .. } => record_leaves(rs.iter().map(flatten).collect()),
        Message::Mld(wire::MldRepr::Done { group }) => vec![(*group).into()],
        Message::Mld(wire::MldRepr::ReportV2(rs)) => record_leaves(rs.iter().map(flatten).collect()),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_by_version_and_range() {
        let g = Ipv4Addr::new(239, 1, 2, 3);
        let second = Duration::from_secs(1);
        assert_eq!(igmp_query(2, g, second).unwrap(), wire::IgmpRepr::QueryV2 { max_resp_time: 10, group: g });
        assert!(igmp_query(2, g, Duration::from_secs(26)).is_err());
        assert!(igmp_query(2, g, Duration::from_millis(50)).is_err());
        assert!(igmp_query(1, g, second).is_err());
        assert_eq!(igmp_query(1, Ipv4Addr::UNSPECIFIED, second).unwrap(), wire::IgmpRepr::QueryV1);
        match igmp_query(3, g, Duration::from_secs(20)).unwrap() {
            wire::IgmpRepr::QueryV3(q) => assert_eq!((q.group, q.max_resp_time()), (g, Duration::from_secs(20))),
            other => panic!("{other:?}"),
        }
        assert!(igmp_query(4, g, second).is_err());
        let g6: Ipv6Addr = "ff05::1234".parse().unwrap();
        assert_eq!(mld_query(1, g6, second).unwrap(), wire::MldRepr::QueryV1 { max_resp_delay: 1000, group: g6 });
        match mld_query(2, Ipv6Addr::UNSPECIFIED, second).unwrap() {
            wire::MldRepr::QueryV2(q) => assert_eq!(q.max_resp_time(), second),
            other => panic!("{other:?}"),
        }
        assert!(mld_query(1, g6, Duration::from_secs(70)).is_err());
        assert!(mld_query(3, g6, second).is_err());
    }

    #[test]
    fn reports_and_leaves_are_listed() {
        let g = Ipv4Addr::new(239, 1, 2, 3);
        let ip = wire::Ipv4Repr::igmp(Ipv4Addr::new(10, 0, 0, 1), igmp::ALL_V3_ROUTERS, 16);
        let record = |record_type, sources: Vec<Ipv4Addr>| wire::GroupRecord { record_type, group: g, sources };
        let report = Message::Igmp {
            ip: ip.clone(),
            igmp: wire::IgmpRepr::ReportV3(vec![
                record(RecordType::ModeIsExclude, vec![]),
                record(RecordType::ChangeToInclude, vec![]),
            ]),
        };
        let listed = Reported::of(&report);
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].record, Some(RecordType::ModeIsExclude));
        assert_eq!(listed[0].protocol, Protocol::Igmp(wire::IgmpVersion::V3));
        assert_eq!(leaves(&report), vec![IpAddr::V4(g)]);
        let leave = Message::Igmp { ip, igmp: wire::IgmpRepr::Leave { group: g } };
        assert!(Reported::of(&leave).is_empty());
        assert_eq!(leaves(&leave), vec![IpAddr::V4(g)]);
    }
}

//! [`SsmProber`]: `mcast ping --ssmping`, a client of an ssmping server (ssmpingd, or `mcast ping --serve`):
//! queries by unicast to the server's port 4321, and measures the answers that come back by unicast and to
//! the group, per channel: loss, round trip, and the number of routers between (answers leave with TTL 64).
//!
//! One socket does it all, as ssmping's two do: bound to an ephemeral port, it sends the queries, gets the
//! unicast answers, and is joined to the group the answers go to (source-specific to the server for an SSM
//! group, any-source otherwise, as asmping), on that same port. The arrival's destination address tells the
//! channel.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::link::{until, BUFFER};
use super::probe::{ProbeEvent, ProbeReport, Reply};
use super::table::{Channel, Responders};
use crate::error::{Error, ErrorKind, Result};
use crate::group::Group;
use crate::guard::{Refusal, Refusals};
use crate::iface::Interface;
use crate::sendretry::{send_with_retry, Outcome, RetryPolicy, SendStats};
use crate::socket::{Family, McastSocket, RecvMeta};
use crate::wire::proto;
use crate::wire::ssmping::{self, Kind, Packet, Repr, Timestamp};

/// Options of an [`SsmProber`]; see [`SsmProber::builder`].
#[derive(Clone, Debug)]
pub struct SsmProberBuilder {
    server: IpAddr,
    group: Option<IpAddr>,
    iface: Option<Interface>,
    count: Option<u64>,
    interval: Duration,
    wait: Duration,
    client_id: Option<u32>,
}

impl SsmProberBuilder {
    /// The group the server is asked to answer to (default: [`ssmping::GROUP_V4`] or [`ssmping::GROUP_V6`]).
    /// A source-specific group (232/8, ff3x::) is joined for the server alone (ssmping), any other for any
    /// source (asmping); the server answers only groups that end in `.234` or `4321:1234`.
    pub fn group(mut self, group: IpAddr) -> Self {
        self.group = Some(group);
        self
    }

    /// Joins on `iface` (default: the routing table's choice).
    pub fn interface(mut self, iface: Interface) -> Self {
        self.iface = Some(iface);
        self
    }

    /// Sends `n` queries, then waits [`Self::wait`] for the last answers (default: until dropped).
    pub fn count(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }

    /// Time between queries (default 1 s, as ssmping; at least 1 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// How long to wait for answers after the last query (default 1 s).
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The client id the queries carry (default: the process id, as ssmping).
    pub fn client_id(mut self, id: u32) -> Self {
        self.client_id = Some(id);
        self
    }

    /// Opens the socket and joins the answers' group.
    pub fn build(self) -> Result<SsmProber> {
        if self.interval < Duration::from_millis(1) {
            return Err(Error::new(ErrorKind::OutOfRange, "the query interval is at least 0.001 seconds"));
        }
        let family = Family::of(self.server);
        let group = match (self.group, family) {
            (Some(g), _) => g,
            (None, Family::V4) => IpAddr::V4(ssmping::GROUP_V4),
            (None, Family::V6) => IpAddr::V6(ssmping::GROUP_V6),
        };
        if ssmping::answerable_group(Some(group), group.is_ipv6()) != Some(group)
            || group.is_ipv6() != self.server.is_ipv6()
        {
            return Err(Error::new(
                ErrorKind::Mismatch,
                format!(
                    "{group}: an ssmping server answers only groups of the server's family ending in .234 or 4321:1234"
                ),
            ));
        }
        let index = self.iface.as_ref().map_or(0, |i| i.index);
        let s = McastSocket::udp(family)?;
        match family {
            Family::V4 => {
                s.set_pktinfo_v4(true)?;
                s.set_recv_ttl_v4(true)?;
            }
            Family::V6 => {
                s.set_only_v6(true)?;
                s.set_recv_pktinfo_v6(true)?;
                s.set_recv_hoplimit_v6(true)?;
            }
        }
        s.set_timestamp_ns(true)?;
        s.bind(SocketAddr::new(family.unspecified(), 0))?;
        let specific = Group::new(group, 0).map(|g| g.is_source_specific()).unwrap_or(false);
        if specific {
            s.join_source_group(group, self.server, index)?;
        } else {
            s.join_group(group, index)?;
        }
        s.set_nonblocking(true)?;
        let now = Instant::now();
        Ok(SsmProber {
            socket: s,
            server: SocketAddr::new(self.server, ssmping::PORT),
            group,
            client_id: self.client_id.unwrap_or_else(std::process::id),
            buf: vec![0; BUFFER],
            query: Vec::new(),
            table: Responders::new(1),
            sent: 0,
            sends: SendStats::default(),
            refused: Refusals::default(),
            count: self.count,
            interval: self.interval,
            wait: self.wait,
            next_send: now,
            last_send: now,
        })
    }
}

/// Probes an ssmping server: `mcast ping --ssmping` as a library. Call [`Self::step`] until
/// [`Self::is_done`], then take [`Self::report`]: one row per channel, as [`super::Prober`]'s.
pub struct SsmProber {
    socket: McastSocket,
    server: SocketAddr,
    group: IpAddr,
    client_id: u32,
    buf: Vec<u8>,
    query: Vec<u8>,
    /// The one responder, the server.
    table: Responders,
    sent: u64,
    sends: SendStats,
    refused: Refusals,
    count: Option<u64>,
    interval: Duration,
    wait: Duration,
    next_send: Instant,
    last_send: Instant,
}

impl SsmProber {
    /// A client of the ssmping server at `server` with default options.
    pub fn builder(server: IpAddr) -> SsmProberBuilder {
        SsmProberBuilder {
            server,
            group: None,
            iface: None,
            count: None,
            interval: Duration::from_secs(1),
            wait: Duration::from_secs(1),
            client_id: None,
        }
    }

    /// The group the answers go to.
    pub fn group(&self) -> IpAddr {
        self.group
    }

    /// The client id the queries carry.
    pub fn client_id(&self) -> u32 {
        self.client_id
    }

    fn more(&self) -> bool {
        self.count.map_or(true, |n| self.sent < n)
    }

    /// Whether every query was sent and the wait after the last one is over.
    pub fn is_done(&self) -> bool {
        !self.more() && Instant::now() >= self.last_send + self.wait
    }

    /// Sends the next query when it is due, else waits at most [`super::SLICE`] for one datagram and handles it.
    pub fn step(&mut self) -> Result<Option<ProbeEvent>> {
        let now = Instant::now();
        let more = self.more();
        if more && now >= self.next_send {
            return self.send_query(now).map(Some);
        }
        let deadline = if more { self.next_send } else { self.last_send + self.wait };
        let Some(wait) = until(Some(deadline), now) else { return Ok(None) };
        let ready =
            crate::sys::socket::poll_few(&[self.socket.as_fd()], Some(wait)).map_err(|e| Error::os("poll", e))?;
        if ready & 1 == 0 {
            return Ok(None);
        }
        match self.socket.recv(&mut self.buf) {
            Ok(meta) => Ok(self.receive(&meta)),
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sends query `sent + 1` (ssmping numbers from 1).
    fn send_query(&mut self, now: Instant) -> Result<ProbeEvent> {
        let seq = self.sent + 1;
        let repr = Repr {
            kind: Some(Kind::Query),
            client_id: Some(self.client_id),
            seq: Some(seq as u32),
            timestamp: Some(Timestamp::from_ns(proto::now_ns())),
            group: Some(self.group),
            ..Repr::default()
        };
        self.query.resize(repr.buffer_len(), 0);
        repr.emit(&mut self.query).map_err(|e| Error::new(ErrorKind::OutOfRange, e.to_string()))?;
        let (s, dest, query) = (&self.socket, self.server, &self.query);
        let outcome = send_with_retry(&RetryPolicy::default(), &mut self.sends, &mut std::thread::sleep, &mut || {
            s.send_to(query, dest)
        })?;
        self.sent += 1;
        self.last_send = now;
        self.next_send += self.interval;
        Ok(ProbeEvent::Sent { seq, left: matches!(outcome, Outcome::Sent(_)) })
    }

    fn receive(&mut self, meta: &RecvMeta) -> Option<ProbeEvent> {
        let bytes = self.buf.get(..meta.len).unwrap_or_default();
        let answer = Packet::new_checked(bytes).and_then(|p| Repr::parse(&p)).ok();
        let ours = sort_answer(answer, meta.truncated, self.client_id, self.sent);
        let Some((seq, sent_ns)) = ours.filter(|_| meta.source.ip() == self.server.ip()) else {
            self.refused.count(Refusal::Foreign);
            return Some(ProbeEvent::Refused { source: meta.source, reason: Refusal::Foreign });
        };
        let channel = if meta.group.is_some_and(|g| g.is_multicast()) { Channel::Multicast } else { Channel::Unicast };
        let rtt_ns = super::probe::arrival_ns(meta).saturating_sub(sent_ns);
        let from = meta.source.ip();
        let arrival = self.table.record(from, channel, seq, rtt_ns, meta.ttl, Instant::now());
        Some(ProbeEvent::Reply(Reply { responder: from, channel, seq, ttl: meta.ttl, rtt_ns, arrival }))
    }

    /// The summary so far: the server's two rows, with the distance on both channels.
    pub fn report(&self) -> ProbeReport {
        let kernel_drops = self.socket.kernel_drops().map_or(0, u64::from);
        let mut rows = self.table.rows(self.sent);
        for r in &mut rows {
            r.distance = r.ttl.map(ssmping::distance);
        }
        ProbeReport {
            sent: self.sent,
            sends: self.sends.clone(),
            kernel_drops,
            outages: Vec::new(),
            rows,
            responders_evicted: 0,
            refused: self.refused.clone(),
        }
    }
}

/// An answer to one of this client's queries: (sequence, send time in ns), or `None` for anything else (not
/// ssmping, a query, another client's answer, a sequence not sent, no timestamp, cut short).
fn sort_answer(answer: Option<Repr>, truncated: bool, client_id: u32, sent: u64) -> Option<(u64, u64)> {
    let a = answer.filter(|a| !truncated && a.kind == Some(Kind::Answer) && a.client_id == Some(client_id))?;
    let seq = u64::from(a.seq?);
    ((1..=sent).contains(&seq)).then_some((seq, a.timestamp?.as_ns()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_to_this_clients_queries_count() {
        let answer = |id, seq| Repr {
            kind: Some(Kind::Answer),
            client_id: Some(id),
            seq: Some(seq),
            timestamp: Some(Timestamp { secs: 2, usecs: 5 }),
            ..Repr::default()
        };
        assert_eq!(sort_answer(Some(answer(7, 3)), false, 7, 3), Some((3, 2_000_005_000)));
        assert_eq!(sort_answer(Some(answer(7, 3)), true, 7, 3), None, "cut short");
        assert_eq!(sort_answer(Some(answer(8, 3)), false, 7, 3), None, "another client");
        assert_eq!(sort_answer(Some(answer(7, 4)), false, 7, 3), None, "not sent yet");
        assert_eq!(sort_answer(Some(answer(7, 0)), false, 7, 3), None, "ssmping numbers from 1");
        let query = Repr { kind: Some(Kind::Query), ..answer(7, 1) };
        assert_eq!(sort_answer(Some(query), false, 7, 3), None);
        assert_eq!(sort_answer(Some(Repr { timestamp: None, ..answer(7, 1) }), false, 7, 3), None);
        assert_eq!(sort_answer(None, false, 7, 3), None);
    }
}

//! The prober's table of responders, and how it sorts what arrives: pure, with no socket, so it can be fed
//! crafted datagrams.
//!
//! The table is keyed by the answer's source address, which anyone on the link can forge: it keeps at most a
//! fixed number of responders ([`crate::senders::SenderTable`]: O(1) lookup, the idlest forgotten when full,
//! the forgotten counted), so a flood of forged answers costs a bounded amount of memory.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::senders::SenderTable;
use crate::stats::{Order, Rtt, RttSummary, SeqTracker};
use crate::wire::proto::{Kind, Repr};

/// The default cap of the prober's table: responders remembered at once (each with up to two rows).
pub const DEFAULT_MAX_RESPONDERS: usize = 1024;

/// Which of a probe's two answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// The answer to the group.
    Multicast,
    /// The answer to the prober's address.
    Unicast,
}

impl Channel {
    /// `multicast` or `unicast`.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Multicast => "multicast",
            Channel::Unicast => "unicast",
        }
    }

    fn slot(self) -> usize {
        match self {
            Channel::Multicast => 0,
            Channel::Unicast => 1,
        }
    }
}

/// What a datagram that reached the prober is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sorted {
    /// An answer to one of this prober's probes.
    Answer(Repr, Channel),
    /// A probe (this prober's own, looped back, or another prober's): part of the protocol, not for us.
    Probe,
    /// Anything else: not the protocol, another kind, another session, a probe not sent yet.
    Foreign,
}

/// Sorts a datagram by its header (`None`: it did not decode; `truncated` if it did not fit the buffer), for a
/// prober of `session` that has sent `sent` probes.
pub(crate) fn sort_header(repr: Option<Repr>, truncated: bool, session: u32, sent: u64) -> Sorted {
    let Some(repr) = repr else { return Sorted::Foreign };
    let channel = match repr.kind {
        Kind::PingRequest => return Sorted::Probe,
        Kind::PingReplyMulticast => Channel::Multicast,
        Kind::PingReplyUnicast => Channel::Unicast,
        _ => return Sorted::Foreign,
    };
    if truncated || repr.session != session || repr.seq >= sent {
        return Sorted::Foreign;
    }
    Sorted::Answer(repr, channel)
}

/// One responder's answers of one channel.
#[derive(Clone, Debug, Default)]
struct Row {
    seqs: SeqTracker,
    rtt: Rtt,
    ttl: Option<u8>,
}

/// A responder's rows, by channel.
#[derive(Clone, Debug, Default)]
pub(crate) struct Responder {
    rows: [Row; 2],
}

/// One row of the prober's summary: a responder's answers of one channel.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RowReport {
    /// The responder's address.
    pub responder: IpAddr,
    /// Which answers.
    pub channel: Channel,
    /// Probes whose answer was expected: all those sent.
    pub expected: u64,
    /// Distinct answers received.
    pub received: u64,
    /// Expected answers that did not arrive.
    pub lost: u64,
    /// Answers received more than once.
    pub duplicates: u64,
    /// Answers that arrived after a later one.
    pub reordered: u64,
    /// The last TTL or hop limit seen on arrival.
    pub ttl: Option<u8>,
    /// Round trips, when any was counted.
    pub rtt: Option<RttSummary>,
    /// Routers between the responder and the prober, from the last arrival TTL: known for answers that leave
    /// with TTL 64 (unicast answers to probes, and both of ssmping's).
    pub distance: Option<u8>,
}

/// The responders heard, capped.
pub(crate) struct Responders {
    table: SenderTable<IpAddr, Responder>,
}

impl Responders {
    /// A table of at most `cap` responders; none is forgotten for its age (a probe interval can be long).
    pub fn new(cap: usize) -> Responders {
        Responders { table: SenderTable::new(cap, Duration::MAX) }
    }

    /// Records an answer, and how it arrived.
    pub fn record(
        &mut self,
        from: IpAddr,
        channel: Channel,
        seq: u64,
        rtt_ns: u64,
        ttl: Option<u8>,
        now: Instant,
    ) -> Option<Order> {
        let responder = self.table.entry(from, now);
        let row = responder.rows.get_mut(channel.slot())?;
        let arrival = row.seqs.record(seq);
        if matches!(arrival, Order::InOrder | Order::Reordered) {
            row.rtt.record(rtt_ns);
        }
        row.ttl = ttl.or(row.ttl);
        Some(arrival)
    }

    /// Responders forgotten to make room for new ones.
    pub fn evicted(&self) -> u64 {
        self.table.evicted()
    }

    /// Responders remembered now.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// The rows, by responder address and channel, with `sent` probes sent: both channels of every responder
    /// heard, so one whose answers of a channel never arrive shows them all lost.
    pub fn rows(&self, sent: u64) -> Vec<RowReport> {
        let mut rows = Vec::new();
        for (ip, r) in self.table.iter() {
            for (channel, row) in [Channel::Multicast, Channel::Unicast].into_iter().zip(&r.rows) {
                let expected = sent;
                rows.push(RowReport {
                    responder: *ip,
                    channel,
                    expected,
                    received: row.seqs.unique,
                    lost: row.seqs.lost(expected),
                    duplicates: row.seqs.duplicates,
                    reordered: row.seqs.reordered,
                    ttl: row.ttl,
                    rtt: row.rtt.summary(),
                    distance: if channel == Channel::Unicast { crate::discover::distance(row.ttl) } else { None },
                });
            }
        }
        rows.sort_by_key(|r| (r.responder, r.channel));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::proto;
    use std::net::Ipv4Addr;

    fn sort(bytes: &[u8], truncated: bool, session: u32, sent: u64) -> Sorted {
        sort_header(proto::decode(bytes).ok().map(|(r, _)| r), truncated, session, sent)
    }

    fn datagram(kind: Kind, session: u32, seq: u64) -> Vec<u8> {
        let mut buf = vec![0u8; proto::HEADER_LEN + 3];
        let n = proto::encode(kind, session, seq, 7, b"abc", &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn only_answers_of_this_session_to_probes_sent_count() {
        let ok = datagram(Kind::PingReplyUnicast, 42, 3);
        assert!(matches!(sort(&ok, false, 42, 4), Sorted::Answer(r, Channel::Unicast) if r.seq == 3));
        let m = datagram(Kind::PingReplyMulticast, 42, 0);
        assert!(matches!(sort(&m, false, 42, 1), Sorted::Answer(_, Channel::Multicast)));
        assert_eq!(sort(&ok, true, 42, 4), Sorted::Foreign, "truncated");
        assert_eq!(sort(&ok, false, 43, 4), Sorted::Foreign, "another session");
        assert_eq!(sort(&ok, false, 42, 3), Sorted::Foreign, "a probe not sent yet");
        assert_eq!(sort(&datagram(Kind::PerfData, 42, 0), false, 42, 4), Sorted::Foreign, "another kind");
        assert_eq!(sort(&datagram(Kind::PingRequest, 42, 0), false, 42, 4), Sorted::Probe);
        assert_eq!(sort(b"not mcast at all", false, 42, 4), Sorted::Foreign);
        assert_eq!(sort(&ok[..ok.len() - 1], false, 42, 4), Sorted::Foreign, "shorter than it says");
        assert_eq!(sort(&[], false, 42, 4), Sorted::Foreign);
    }

    #[test]
    fn rows_count_loss_duplicates_and_reordering_per_channel() {
        let mut t = Responders::new(8);
        let now = Instant::now();
        let a: IpAddr = "10.0.0.2".parse().unwrap();
        for seq in [0, 2, 1, 1] {
            t.record(a, Channel::Unicast, seq, 1000 + seq, Some(64), now);
        }
        assert_eq!(t.record(a, Channel::Multicast, 2, 5, Some(1), now), Some(Order::InOrder));
        // A responder heard only by unicast still has its multicast row, all lost.
        let b: IpAddr = "10.0.0.3".parse().unwrap();
        t.record(b, Channel::Unicast, 0, 9, Some(62), now);
        let rows = t.rows(4);
        assert_eq!(rows.len(), 4);
        let (m, u) = (&rows[0], &rows[1]);
        assert_eq!((m.channel, m.expected, m.received, m.lost), (Channel::Multicast, 4, 1, 3));
        let (bm, bu) = (&rows[2], &rows[3]);
        assert_eq!((bm.responder, bm.channel, bm.received, bm.lost, bm.rtt), (b, Channel::Multicast, 0, 4, None));
        assert_eq!((bu.channel, bu.received, bu.lost), (Channel::Unicast, 1, 3));
        assert_eq!(
            (u.channel, u.expected, u.received, u.lost, u.duplicates, u.reordered),
            (Channel::Unicast, 4, 3, 1, 1, 1)
        );
        assert_eq!(u.rtt.map(|r| (r.count, r.min, r.max)), Some((3, 1000, 1002)));
        assert_eq!((u.ttl, m.ttl), (Some(64), Some(1)));
    }

    #[test]
    fn a_flood_of_forged_responders_stays_within_the_cap() {
        let mut t = Responders::new(16);
        let now = Instant::now();
        let honest: IpAddr = "10.0.0.2".parse().unwrap();
        t.record(honest, Channel::Unicast, 0, 1, None, now);
        for i in 0..10_000u32 {
            let forged = IpAddr::V4(Ipv4Addr::from(0x0b00_0000 + i));
            t.record(forged, Channel::Unicast, 0, 1, None, now);
        }
        assert_eq!(t.len(), 16);
        assert_eq!(t.evicted(), 10_001 - 16);
        assert_eq!(t.rows(1).len(), 32);
        assert!(t.rows(1).iter().all(|r| r.responder != honest), "the idlest went first");
    }
}

/// The prober's handling of answers fed `datagrams` (metadata, bytes) with no socket, for the fuzz target
/// `ping_answers`: for a prober of `session` that has sent `sent` probes and keeps `cap` responders, the
/// responders held and evicted, and the datagrams refused as foreign.
#[cfg(fuzzing)]
pub fn fuzz_answers<'a>(
    session: u32,
    sent: u64,
    cap: usize,
    datagrams: impl IntoIterator<Item = (crate::RecvMeta, &'a [u8])>,
) -> (usize, u64, u64) {
    let mut table = Responders::new(cap);
    let mut foreign = 0u64;
    let now = Instant::now();
    for (meta, data) in datagrams {
        let repr = crate::wire::proto::decode(data).ok().map(|(r, _)| r);
        match sort_header(repr, meta.truncated, session, sent) {
            Sorted::Answer(r, channel) => {
                table.record(meta.source.ip(), channel, r.seq, 0, meta.ttl, now);
            }
            Sorted::Probe => {}
            Sorted::Foreign => foreign += 1,
        }
    }
    (table.len(), table.evicted(), foreign)
}

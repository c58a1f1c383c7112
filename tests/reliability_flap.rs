//! Receivers and senders across interface flaps, through the library: a link set down and up, a peer losing
//! its carrier, a veth deleted and made again under the same name (with a new index), IPv4 and IPv6.
//!
//! Topology of every test: two namespaces, `a` (sender, `va` 10.0.0.1/24) and `b` (receiver, `vb`
//! 10.0.0.2/24), joined by a veth pair. The sender numbers its datagrams with the tools' header (a
//! `PerfData` stream) every 10 ms for the whole test; the receiver records each sequence number. Each test
//! checks that datagrams arrive again after the flap, within a bounded time and without a restart, and that
//! the outage the receiver recorded names the interface, the cause, the indices and the datagrams missed,
//! which must equal the gap in the sequence numbers that arrived.
mod common;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{veth, wait_ipv6, Netns};
use mcast::__private::sendretry::{Outcome, ResilientSender, SendStats};
use mcast::resilient::{Cause, Notice, Outage, ResilientReceiver};
use mcast::wire::proto::{self, Kind};
use mcast::{Group, IfaceSpec, Receiver, Sender};

/// How long the receiver may take to hear the stream again after the link is back: generous, on a loaded
/// 2-core machine.
const RECOVERY: Duration = Duration::from_secs(15);

/// The two namespaces and their veth link.
struct Pair {
    a: Netns,
    b: Netns,
}

impl Pair {
    fn new(tag: &str) -> Pair {
        let pair = Pair { a: Netns::new(&format!("{tag}a")), b: Netns::new(&format!("{tag}b")) };
        pair.link();
        pair
    }

    /// (Re)makes the veth pair `va` - `vb`, addressed and up.
    fn link(&self) {
        veth(&self.a, "va", "10.0.0.1/24", &self.b, "vb", "10.0.0.2/24");
        wait_ipv6(&self.a, "va");
        wait_ipv6(&self.b, "vb");
    }
}

/// What the receiver thread saw.
#[derive(Default)]
struct Heard {
    seqs: Vec<u64>,
    sources: Vec<IpAddr>,
    groups: Vec<Option<IpAddr>>,
}

struct Running {
    stop: Arc<AtomicBool>,
    heard: Arc<Mutex<Heard>>,
    rx: JoinHandle<(Vec<Outage>, Vec<Notice>)>,
    tx: JoinHandle<SendStats>,
}

impl Running {
    /// A numbered stream from `a` out of `va` to `group`, and a resilient receiver in `b` joined on `vb`.
    fn start(pair: &Pair, group: Group) -> Running {
        let stop = Arc::new(AtomicBool::new(false));
        let heard = Arc::new(Mutex::new(Heard::default()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let rx = {
            let (stop, heard) = (stop.clone(), heard.clone());
            pair.b.spawn(move || {
                let rx = Receiver::builder(group).interface(IfaceSpec::Name("vb".into())).build().expect("receiver");
                let mut rx = ResilientReceiver::new(rx).expect("resilient receiver");
                assert!(rx.has_link_watch(), "no NETLINK_ROUTE socket");
                assert_eq!(rx.watched(), ["vb"]);
                ready_tx.send(()).unwrap();
                let mut buf = [0u8; 2048];
                let mut notices = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    if let Some(meta) = rx.recv_timeout(&mut buf, Duration::from_millis(100)).expect("recv") {
                        let (repr, _) = proto::decode(&buf[..meta.len]).expect("a numbered datagram");
                        let mut h = heard.lock().unwrap();
                        h.seqs.push(repr.seq);
                        h.sources.push(meta.source.ip());
                        h.groups.push(meta.group);
                    }
                    notices.extend(rx.take_notices());
                }
                (rx.outages().cloned().collect(), notices)
            })
        };
        ready_rx.recv_timeout(RECOVERY).expect("receiver ready");
        let tx = {
            let stop = stop.clone();
            pair.a.spawn(move || {
                let sender = Sender::builder(group).interface(IfaceSpec::Name("va".into())).ttl(1).build().unwrap();
                let mut tx = ResilientSender::new(sender);
                let mut buf = [0u8; 64];
                let mut seq = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let n = proto::encode(Kind::PerfData, 7, seq, proto::now_ns(), b"flap", &mut buf).unwrap();
                    match tx.send(&buf[..n]).expect("no fatal send error") {
                        Outcome::Sent(len) => assert_eq!(len, n),
                        Outcome::Failed(_) => {}
                    }
                    seq += 1;
                    std::thread::sleep(Duration::from_millis(10));
                }
                tx.stats().clone()
            })
        };
        Running { stop, heard, rx, tx }
    }

    fn heard(&self) -> usize {
        self.heard.lock().unwrap().seqs.len()
    }

    /// Waits until `more` datagrams beyond those heard so far have arrived, up to `limit`.
    fn wait_for(&self, more: usize, limit: Duration, what: &str) {
        let target = self.heard() + more;
        let deadline = Instant::now() + limit;
        while self.heard() < target {
            assert!(Instant::now() < deadline, "{what}: only {} of {target} datagrams within {limit:?}", self.heard());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn finish(self) -> (Heard, Vec<Outage>, Vec<Notice>, SendStats) {
        self.stop.store(true, Ordering::SeqCst);
        let stats = self.tx.join().expect("sender thread");
        let (outages, notices) = self.rx.join().expect("receiver thread");
        let heard = std::mem::take(&mut *self.heard.lock().unwrap());
        (heard, outages, notices, stats)
    }
}

/// The one gap in `seqs` (strictly increasing on a veth, which neither loses nor reorders): the last number
/// before it and the first after.
fn the_gap(seqs: &[u64]) -> (u64, u64) {
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "not strictly increasing: {seqs:?}");
    let gaps: Vec<(u64, u64)> = seqs.windows(2).filter(|w| w[1] > w[0] + 1).map(|w| (w[0], w[1])).collect();
    assert_eq!(gaps.len(), 1, "exactly one gap expected: {gaps:?}");
    gaps[0]
}

/// Checks what every test shares: the stream resumed from the same source and group, one outage of
/// `cause` on `vb`, closed, whose missed count is the gap; notices of the loss and the rejoin.
fn check(heard: &Heard, outages: &[Outage], notices: &[Notice], cause: Cause, group: Group, source: IpAddr) -> Outage {
    assert!(heard.sources.iter().all(|s| *s == source), "sources: {:?}", heard.sources);
    assert!(heard.groups.iter().all(|g| *g == Some(group.ip())), "groups: {:?}", heard.groups);
    let (before, after) = the_gap(&heard.seqs);
    assert_eq!(outages.len(), 1, "{outages:?}");
    let o = outages[0].clone();
    assert_eq!((o.iface.as_str(), o.cause), ("vb", cause), "{o:?}");
    assert!(o.duration.is_some() && o.rejoin_error.is_none(), "{o:?}");
    assert_eq!(o.missed, Some(after - before - 1), "{o:?}");
    assert!(matches!(&notices[0], Notice::Lost { iface, .. } if iface == "vb"), "{notices:?}");
    assert!(
        matches!(notices.last(), Some(Notice::Rejoined { iface, index, .. }) if iface == "vb" && Some(*index) == o.new_index),
        "{notices:?}"
    );
    o
}

/// `vb` deleted (with its peer) and made again: a new index, so the receiver must leave the stale
/// membership and join again; the sender's interface index is stale too, so it must look `va` up again.
#[test]
fn ipv4_veth_deleted_and_recreated() {
    needs_root!();
    let pair = Pair::new("flapdel");
    let group: Group = "239.7.7.1:5701".parse().unwrap();
    let old_index = pair.b.ifindex("vb");
    let run = Running::start(&pair, group);
    run.wait_for(20, RECOVERY, "before the flap");
    pair.a.ip(&["link", "del", "va"]);
    std::thread::sleep(Duration::from_millis(300));
    pair.link();
    let new_index = pair.b.ifindex("vb");
    assert_ne!(old_index, new_index, "a re-created interface has a new index");
    run.wait_for(20, RECOVERY, "after the veth was made again");
    let (heard, outages, notices, stats) = run.finish();
    let o = check(&heard, &outages, &notices, Cause::Removed, group, "10.0.0.1".parse().unwrap());
    assert_eq!((o.old_index, o.new_index), (old_index, Some(new_index)));
    // The sender failed while va was gone, counted it, looked va up again and carried on.
    assert!(stats.failed > 0 && stats.reconfigured > 0, "{stats:?}");
    assert!(
        stats.errors.keys().all(|e| [libc::ENODEV, libc::ENETUNREACH, libc::EADDRNOTAVAIL].contains(e)),
        "{stats:?}"
    );
    assert_eq!(stats.streak, 0, "{stats:?}");
    assert!(stats.sent >= heard.seqs.len() as u64, "{stats:?} vs {} heard", heard.seqs.len());
}

/// `vb` set down and up: same index; the kernel kept the membership, the receiver checks it holds.
#[test]
fn ipv4_link_down_and_up() {
    needs_root!();
    let pair = Pair::new("flapdown");
    let group: Group = "239.7.7.2:5702".parse().unwrap();
    let index = pair.b.ifindex("vb");
    let run = Running::start(&pair, group);
    run.wait_for(20, RECOVERY, "before the flap");
    pair.b.ip(&["link", "set", "vb", "down"]);
    std::thread::sleep(Duration::from_millis(300));
    pair.b.ip(&["link", "set", "vb", "up"]);
    run.wait_for(20, RECOVERY, "after vb came up");
    let (heard, outages, notices, stats) = run.finish();
    let o = check(&heard, &outages, &notices, Cause::Down, group, "10.0.0.1".parse().unwrap());
    assert_eq!((o.old_index, o.new_index), (index, Some(index)));
    assert_eq!(stats.errors.len(), 0, "the sender's side stayed up: {stats:?}");
}

/// The sender's end `va` set down: `vb` stays up but loses its carrier.
#[test]
fn ipv4_peer_down_is_no_carrier() {
    needs_root!();
    let pair = Pair::new("flapcarrier");
    let group: Group = "239.7.7.3:5703".parse().unwrap();
    let run = Running::start(&pair, group);
    run.wait_for(20, RECOVERY, "before the flap");
    pair.a.ip(&["link", "set", "va", "down"]);
    std::thread::sleep(Duration::from_millis(300));
    pair.a.ip(&["link", "set", "va", "up"]);
    run.wait_for(20, RECOVERY, "after va came up");
    let (heard, outages, notices, stats) = run.finish();
    check(&heard, &outages, &notices, Cause::NoCarrier, group, "10.0.0.1".parse().unwrap());
    // Sends out of a down interface fail with ENETUNREACH, counted; the sender went on.
    assert!(stats.failed > 0 && stats.errors.keys().all(|e| *e == libc::ENETUNREACH), "{stats:?}");
}

/// IPv6, a link-scoped group: the same deletion and re-creation.
#[test]
fn ipv6_veth_deleted_and_recreated() {
    needs_root!();
    let pair = Pair::new("flapdel6");
    let group: Group = "[ff12::7:1]:5704".parse().unwrap();
    let run = Running::start(&pair, group);
    run.wait_for(20, RECOVERY, "before the flap");
    let source = run.heard.lock().unwrap().sources[0];
    pair.b.ip(&["link", "del", "vb"]);
    std::thread::sleep(Duration::from_millis(300));
    pair.link();
    run.wait_for(20, RECOVERY, "after the veth was made again");
    let (heard, outages, notices, stats) = run.finish();
    // The re-created va has a new link-local address: the source changes once, at the gap.
    let (before, _) = the_gap(&heard.seqs);
    let cut = heard.seqs.iter().position(|s| *s == before).unwrap() + 1;
    let after =
        Heard { seqs: heard.seqs.clone(), sources: heard.sources[..cut].to_vec(), groups: heard.groups.clone() };
    assert!(heard.sources[..cut].iter().all(|s| *s == source));
    assert!(heard.sources[cut..].windows(2).all(|w| w[0] == w[1]));
    let o = check(&after, &outages, &notices, Cause::Removed, group, source);
    assert_ne!(Some(o.old_index), o.new_index);
    assert!(stats.failed > 0 && stats.reconfigured > 0, "{stats:?}");
}

/// A multi-group receiver (three groups, one socket each at a limit of one membership per socket) follows
/// vb through its deletion and re-creation with a [`LinkFollower`]: every group is heard again, every
/// membership names vb's new index, and the outage's missed count is the sum of the three streams' gaps.
#[test]
fn multi_group_receiver_follows_a_recreated_interface() {
    needs_root!();
    use mcast::multi::MultiReceiver;
    use mcast::resilient::LinkFollower;

    let pair = Pair::new("flapmulti");
    let groups: Vec<Group> = (1..=3).map(|i| format!("239.7.8.{i}:5705").parse().unwrap()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let heard = Arc::new(Mutex::new(Vec::<(u32, u64)>::new()));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let rx = {
        let (stop, heard, groups) = (stop.clone(), heard.clone(), groups.clone());
        pair.b.spawn(move || {
            let mut rx = MultiReceiver::builder()
                .groups(groups)
                .interface(IfaceSpec::Name("vb".into()))
                .per_socket(1)
                .build()
                .expect("multi-group receiver");
            assert_eq!(rx.fds().len(), 3);
            let mut follower = LinkFollower::new(&mut rx);
            assert_eq!(follower.watched(), ["vb"]);
            ready_tx.send(()).unwrap();
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::SeqCst) {
                let wait = follower.wait_limit(Duration::from_millis(100));
                if let Some(a) = rx.recv_timeout(&mut buf, wait).expect("recv") {
                    let payload = &buf[..a.meta.len];
                    let (repr, _) = proto::decode(payload).expect("a numbered datagram");
                    heard.lock().unwrap().push((repr.session, repr.seq));
                    follower.observe(payload, Instant::now());
                }
                follower.service(&mut rx);
            }
            let indices: Vec<Option<u32>> = rx.members().iter().map(|m| m.iface.as_ref().map(|i| i.index)).collect();
            (follower.outages().cloned().collect::<Vec<_>>(), indices)
        })
    };
    ready_rx.recv_timeout(RECOVERY).expect("receiver ready");
    let tx = {
        let (stop, groups) = (stop.clone(), groups.clone());
        pair.a.spawn(move || {
            let mut senders: Vec<ResilientSender> = groups
                .iter()
                .map(|g| {
                    let s = Sender::builder(*g).interface(IfaceSpec::Name("va".into())).ttl(1).build().unwrap();
                    ResilientSender::new(s)
                })
                .collect();
            let mut buf = [0u8; 64];
            let mut seq = 0u64;
            while !stop.load(Ordering::SeqCst) {
                for (session, tx) in senders.iter_mut().enumerate() {
                    let n =
                        proto::encode(Kind::PerfData, session as u32, seq, proto::now_ns(), b"m", &mut buf).unwrap();
                    tx.send(&buf[..n]).expect("no fatal send error");
                }
                seq += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let count = || heard.lock().unwrap().len();
    let wait_more = |more: usize, what: &str| {
        let (target, deadline) = (count() + more, Instant::now() + RECOVERY);
        while count() < target {
            assert!(Instant::now() < deadline, "{what}: only {} of {target}", count());
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_more(30, "before the flap");
    pair.a.ip(&["link", "del", "va"]);
    std::thread::sleep(Duration::from_millis(300));
    pair.link();
    let new_index = pair.b.ifindex("vb");
    wait_more(60, "after the veth was made again");
    stop.store(true, Ordering::SeqCst);
    tx.join().expect("sender");
    let (outages, indices) = rx.join().expect("receiver");
    assert_eq!(indices, [Some(new_index); 3]);
    let heard = heard.lock().unwrap().clone();
    let mut missed = 0;
    for session in 0..3u32 {
        let seqs: Vec<u64> = heard.iter().filter(|(s, _)| *s == session).map(|(_, q)| *q).collect();
        let (before, after) = the_gap(&seqs);
        missed += after - before - 1;
    }
    assert_eq!(outages.len(), 1, "{outages:?}");
    assert_eq!((outages[0].cause, outages[0].new_index), (Cause::Removed, Some(new_index)));
    assert_eq!(outages[0].missed, Some(missed));
}

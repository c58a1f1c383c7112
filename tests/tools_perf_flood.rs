//! `mcast perf --serve` under a flood of forged sessions (`docs/security.md`): its session table stays
//! within its cap and its memory within 64 MiB, it counts what it evicted and what was not a perf datagram,
//! its report stays bounded, and an honest run heard after the flood is measured exactly.
mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::cli::{json, mcast, of_type, the_summary, Running};
use common::{status_kib, veth, Netns};
use mcast::wire::proto::{self, Kind};
use mcast::{Family, McastSocket};

const FORGED: u32 = 100_000;
const FOREIGN: u64 = 10;
const CAP: u64 = 1024;
const LISTED: usize = 64;

/// Topology: `a` (10.78.0.1, va) <-veth-> `b` (10.78.0.2, vb). A receiver in `b` joined on vb with the
/// default cap of 1024 sessions. From `a`, a plain UDP socket sends 100,000 header-only perf datagrams, each
/// with a fresh session id, and 10 datagrams that are not perf datagrams; then `mcast perf` sends an honest
/// run of 20,000 datagrams at 20,000/s. The receiver's peak resident memory grows by at most 64 MiB over
/// what it had when it started listening; it evicted exactly the sessions it saw beyond its cap; it
/// counted the 10 foreign datagrams; it lists 64 sessions and counts the other 960 it held; and the honest
/// session is all there: received = sent = 20,000, none lost.
#[test]
fn forged_sessions_leave_memory_bounded_and_an_honest_run_exact() {
    needs_root!();
    let a = Netns::new("pflooda");
    let b = Netns::new("pfloodb");
    veth(&a, "va", "10.78.0.1/24", &b, "vb", "10.78.0.2/24");
    let group = "239.78.0.1:5005";
    let rx = Running::start_within(
        &b,
        &["perf", "--serve", group, "--iface", "vb", "--interval", "0", "--timeout", "5", "--json"],
        Duration::from_secs(120),
    );
    rx.wait_until("perf receiving", || rx.stderr().iter().any(|l| l.starts_with("mcast perf: receiving")));
    let pid = rx.child.id();
    let before = status_kib(pid, "VmRSS:").expect("the receiver's VmRSS");
    // The peak, sampled until the receiver exits: VmHWM only grows, so the last sample holds the peak.
    let (peak, done) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                match status_kib(pid, "VmHWM:") {
                    Some(kib) => peak.fetch_max(kib, Ordering::SeqCst),
                    None => break,
                };
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    a.run(|| {
        let s = McastSocket::udp(Family::V4).unwrap();
        s.set_multicast_ttl_v4(1).unwrap();
        s.set_multicast_if_v4(Ipv4Addr::new(10, 78, 0, 1)).unwrap();
        let to = SocketAddr::from((Ipv4Addr::new(239, 78, 0, 1), 5005));
        let mut buf = [0u8; proto::HEADER_LEN];
        for id in 0..FORGED {
            proto::encode(Kind::PerfData, 0x7000_0000 + id, 0, proto::now_ns(), &[], &mut buf).unwrap();
            s.send_to(&buf, to).unwrap();
            // A breath now and then, so the kernel's queues never overflow and every session reaches the
            // receiver (a drop would show in its kernel_drops).
            if id % 1000 == 999 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        for _ in 0..FOREIGN {
            s.send_to(b"not a perf datagram", to).unwrap();
        }
    });
    let honest = mcast(
        &a,
        &["perf", group, "--iface", "va", "--rate", "20kpps", "--count", "20000", "--size", "200", "--json", "-q"],
    )
    .output()
    .expect("run mcast perf");
    assert!(honest.status.success(), "{}", String::from_utf8_lossy(&honest.stderr));
    let sent = json(&String::from_utf8_lossy(&honest.stdout).lines().map(str::to_string).collect::<Vec<_>>());
    let sender = of_type(&sent, "sender")[0].clone();
    assert_eq!(sender["sent"].as_u64(), Some(20_000), "{sender}");

    let (status, out, err) = rx.finish();
    done.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    assert!(status.success(), "{err:?}");
    let got = json(&out);
    let summary = the_summary(&got).clone();
    let (seen, drops) = (summary["sessions"].as_u64().unwrap(), summary["kernel_drops"].as_u64().unwrap());
    assert!(seen <= u64::from(FORGED) + 1 && seen + drops > u64::from(FORGED), "{summary}");
    assert_eq!(summary["evicted"].as_u64(), Some(seen - CAP), "{summary}");
    assert_eq!(summary["max_sessions"].as_u64(), Some(CAP), "{summary}");
    assert_eq!(summary["sessions_held"].as_u64(), Some(CAP), "{summary}");
    assert_eq!(summary["foreign"].as_u64(), Some(FOREIGN), "{summary}");
    // Bounded: 64 session lines, the rest of the table counted.
    let sessions = of_type(&got, "session");
    assert_eq!(sessions.len(), LISTED, "{summary}");
    assert_eq!(summary["sessions_omitted"].as_u64(), Some(CAP - LISTED as u64), "{summary}");
    assert_eq!(got.len(), LISTED + 1, "nothing else printed");
    // The honest run, measured exactly.
    let h = sessions.iter().find(|s| s["session"] == sender["session"]).expect("the honest session is listed");
    assert_eq!(h["source"], "10.78.0.1", "{h}");
    assert_eq!(
        (h["received"].as_u64(), h["expected"].as_u64(), h["lost"].as_u64()),
        (Some(20_000), Some(20_000), Some(0)),
        "{h}"
    );
    assert_eq!((h["duplicates"].as_u64(), h["ended"].as_bool()), (Some(0), Some(true)), "{h}");
    assert_eq!(summary["received"].as_u64(), Some(seen - 1 + 20_000), "each forged session brought one datagram");
    let growth = peak.load(Ordering::SeqCst).saturating_sub(before);
    eprintln!(
        "perf --serve: VmRSS {before} KiB at the start, peak VmHWM {} KiB: grew {growth} KiB",
        peak.load(Ordering::SeqCst)
    );
    assert!(growth <= 64 * 1024, "resident memory grew by {growth} KiB under {FORGED} forged sessions");
}

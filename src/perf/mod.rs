//! The throughput engine behind `mcast perf`: a [`PerfSender`] that sends numbered datagrams paced or flat
//! out, and a [`PerfServer`] that receives them in batches and accounts each sender's run (rate, loss,
//! duplicates, reordering, RFC 3550 jitter, the kernel's drops).
//!
//! Both are driven by [`step`](PerfServer::step), which does one round of work (one batch sent or received)
//! and hands back what happened as a typed event; the caller prints, and decides when to stop early. Neither
//! prints anything.
//!
//! ```no_run
//! use mcast::perf::{PerfSender, PerfServer, ServeEvent, Step};
//! use mcast::perf::Rate;
//! let group: mcast::Group = "239.1.2.3:5001".parse()?;
//! // Receiving, in one process:
//! let mut server = PerfServer::builder(group).timeout(std::time::Duration::from_secs(5)).build()?;
//! while let Step::Event(_) | Step::Busy = server.step()? {}
//! for s in &server.finish().sessions {
//!     println!("{} {:08x}: {} of {} datagrams", s.source, s.session, s.received, s.expected);
//! }
//! // Sending, in another:
//! let opts = PerfSender::builder(group).rate(Rate::Packets(10_000.0)).count(50_000);
//! let socket = opts.socket()?;
//! let mut tx = opts.start(&socket)?;
//! while !matches!(tx.step()?, Step::Done) {}
//! println!("sent {}", tx.finish()?.sent);
//! # Ok::<(), mcast::Error>(())
//! ```
//!
//! The receiver's table of sessions is bounded (`docs/security.md`): at most
//! [`DEFAULT_MAX_SESSIONS`] (or [`PerfServerBuilder::max_sessions`]) are kept, looked up in `O(1)`, and the
//! one idle the longest is forgotten to make room, its figures handed back as [`ServeEvent::Evicted`] and
//! counted in [`ServeReport::evicted`]. Datagrams that are not perf datagrams are counted as foreign.
//!
//! iperf 2 on the wire ([`crate::wire::iperf2`]): the receiver also accounts an iperf 2.1 client's UDP
//! stream (its numbers, send times and final negative number), as a session of id [`IPERF_SESSION`]; the
//! sender, with [`PerfSenderBuilder::iperf`], sends datagrams an `iperf -s -u` server counts.

mod send;
mod serve;
mod session;

pub use crate::pace::Rate;
pub use send::{PerfSender, PerfSenderBuilder, SendEvent, SendInterval, SendReport};
#[cfg(fuzzing)]
pub use serve::fuzz_intake;
pub use serve::{IntervalReport, PerfServer, PerfServerBuilder, ServeEvent, ServeReport};
pub use session::{SessionInterval, SessionKey, SessionReport};

/// Sessions a receiver keeps at once unless told otherwise: each holds an 8 KiB window of sequence
/// numbers, so 1024 of them take 8 MiB.
pub const DEFAULT_MAX_SESSIONS: usize = 1024;

/// The session id the receiver gives an iperf 2 stream (iperf's datagrams carry none; its source address and
/// port tell streams apart).
pub const IPERF_SESSION: u32 = 0;

/// The most sessions a receiver may be told to keep (512 MiB of sequence windows).
pub const MAX_SESSIONS_LIMIT: usize = 65_536;

/// Sessions a report lists unless told otherwise; the rest are counted.
pub const DEFAULT_REPORT_SESSIONS: usize = 64;

/// What one call of a `step` method did.
#[derive(Debug)]
pub enum Step<E> {
    /// Something to report.
    Event(E),
    /// A round of work with nothing to report (a batch went or came, or the sender waited for its pace).
    Busy,
    /// The run is over: call `finish` for the report.
    Done,
}

/// Bits per second and datagrams per second over `seconds` (0 when no time passed).
fn per_second(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n as f64 / seconds
    } else {
        0.0
    }
}

//! `mcast ping` as a library: a [`Prober`] that probes a group and measures, per responder, the multicast and
//! the unicast round trip, and a [`Server`] that answers each probe twice, to the group and to the prober.
//!
//! Both are driven the same way: build with options, call `step` in a loop (each call waits at most
//! [`SLICE`] and returns at most one typed event), and take the final report. Nothing is printed.
//!
//! ```no_run
//! use mcast::ping::{ProbeEvent, Prober};
//! let mut p = Prober::builder("239.1.2.3:4321".parse()?).count(5).build()?;
//! while !p.is_done() {
//!     if let Some(ProbeEvent::Reply(r)) = p.step()? {
//!         println!("{} {} seq={} {} ns", r.responder, r.channel.name(), r.seq, r.rtt_ns);
//!     }
//! }
//! println!("{} rows", p.report().rows.len());
//! # Ok::<(), mcast::Error>(())
//! ```
//!
//! The server applies the answering policy of `docs/security.md` ([`crate::guard::AnswerGuard`]) to every
//! probe before either answer leaves; the prober's table of responders, keyed by what the network chooses, is
//! capped ([`DEFAULT_MAX_RESPONDERS`]). Probe and answers carry the tools' header (`docs/protocol.md`).

mod link;
mod own;
mod probe;
mod serve;
mod ssm;
mod table;

pub use crate::stats::{Order, RttSummary};
pub use link::SLICE;
pub use probe::{ProbeEvent, ProbeReport, Prober, ProberBuilder, Reply};
pub use serve::{Answered, ServeEvent, ServeReport, Server, ServerBuilder};
pub use ssm::{SsmProber, SsmProberBuilder};
#[cfg(fuzzing)]
pub use table::fuzz_answers;
pub use table::{Channel, RowReport, DEFAULT_MAX_RESPONDERS};

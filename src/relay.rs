//! `mcast relay` as a library: forwarding one group to another (IPv4 and IPv6 in any combination), under
//! the relay policy of `docs/security.md` (rule 6), optionally impaired.
//!
//! Three layers, each usable alone:
//! - [`Engine`] (the impairments): decides from a seed which datagrams to drop, duplicate, hold back or
//!   delay, and counts exactly what it did; its queue is bounded ([`QueueLimits`]).
//! - [`Forwarder`] (the policy, no sockets): forwards only the FROM group from the FROM interfaces, with
//!   the TTL it arrived with minus one, and refuses copies it forwarded a moment ago, each refusal counted
//!   by its [`crate::guard::Refusal`] reason.
//! - [`Relay`]: the forwarder between a receiver that follows its interfaces and a sender; [`Relay::poll`]
//!   returns typed [`Event`]s and [`Relay::finish`] the [`Report`].
//!
//! ```no_run
//! use mcast::relay::{Event, Relay};
//! use mcast::Group;
//! use std::time::Duration;
//! let from: Group = "239.1.1.1:5000".parse()?;
//! let to: Group = "239.1.1.2:5000".parse()?;
//! let mut relay = Relay::builder(from, to).max_ttl(8).build()?;
//! for _ in 0..100 {
//!     for event in relay.poll(Duration::from_millis(100))? {
//!         if let Event::Refused { source, reason } = event {
//!             eprintln!("{source}: {reason}");
//!         }
//!     }
//! }
//! let (report, _) = relay.finish()?;
//! println!("{} received, {} sent", report.received, report.sent);
//! # Ok::<(), mcast::Error>(())
//! ```

mod forward;
mod impair;
mod run;

pub use forward::{Datagram, Forwarder, Policy, Verdict, DEFAULT_DEDUP_CAP, DEFAULT_DEDUP_WINDOW};
pub use impair::{
    Counts, Engine, Impairments, Probability, QueueLimits, Rng, DEFAULT_QUEUE_BYTES, DEFAULT_QUEUE_DATAGRAMS,
};
pub use run::{Event, Relay, RelayBuilder, Report};

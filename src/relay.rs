//! `mcast relay` as a library: forwarding one group to another, with deterministic impairments.
//!
//! The impairment engine ([`Engine`]) decides from a seed which datagrams to drop, duplicate, hold back or
//! delay, and counts exactly what it did.

mod forward;
mod impair;

pub use forward::{Datagram, Forwarder, Policy, Verdict, DEFAULT_DEDUP_CAP, DEFAULT_DEDUP_WINDOW};
pub use impair::{
    Counts, Engine, Impairments, Probability, QueueLimits, Rng, DEFAULT_QUEUE_BYTES, DEFAULT_QUEUE_DATAGRAMS,
};

//! IP multicast over UDP, correct by default.
//!
//! ```no_run
//! use mcast::{Group, Receiver, Sender};
//! let group: Group = "239.1.2.3:5000".parse()?;
//! let rx = Receiver::builder(group).build()?;
//! Sender::builder(group).ttl(1).build()?.send(b"hello")?;
//! let mut buf = [0u8; 1500];
//! let meta = rx.recv(&mut buf)?;
//! println!("{} bytes from {} to {:?}", meta.len, meta.source, meta.group);
//! # Ok::<(), mcast::Error>(())
//! ```
//!
//! Layers, top to bottom: [`Sender`]/[`Receiver`] build a correct socket in one call; [`McastSocket`] has
//! every multicast socket option of ip(7) and ipv6(7) as a method; `sys` (private) is the only place that
//! talks to the kernel. [`Group`] and [`Interface`] validate and describe addresses and interfaces.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// The public modules: what docs/design.md lists under "The public API" (tests/api/public-api.txt is the
// listing `make check` compares).
pub mod buffers;
pub mod discover;
pub mod doctor;
pub mod gso;
pub mod guard;
pub mod multi;
pub mod perf;
pub mod ping;
pub mod procnet;
pub mod raw;
pub mod relay;
pub mod resilient;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;
pub mod wire;

// Inside the crate only.
mod addrinfo;
#[allow(unsafe_code)]
#[cfg(feature = "capi")]
mod capi;
mod endpoint;
mod error;
mod filter;
mod group;
mod hostloop;
mod iface;
mod linkwatch;
mod options;
mod pace;
mod payload;
mod senders;
mod sendretry;
mod socket;
mod stats;
#[allow(unsafe_code)]
mod sys;
mod tally;

pub use endpoint::{Membership, Receiver, ReceiverBuilder, Sender, SenderBuilder};
pub use error::{Error, ErrorKind, Result};
pub use filter::{FilterMode, SourceFilter};
pub use group::{Group, Scope, V4Block, V6Flags, MULTICAST_RANGES};
pub use iface::{IfaceSpec, Interface};
pub use sendretry::SendStats;
pub use socket::{Family, McastSocket, RecvMeta};

/// The Multicast HOWTO's socket options, IPv4 then IPv6, with mcast beside each C snippet
/// (`docs/tutorial.md`; its Rust blocks are compiled as doc tests).
#[doc = include_str!("../docs/tutorial.md")]
pub mod tutorial {}

#[doc(hidden)]
pub mod __private;

/// The crate version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

//! What the `mcast` command and this crate's own tests use from inside the library.
//!
//! Not part of the API: hidden from the documentation, left out of the public API listing
//! (`tests/api/public-api.txt`), and free to change in any release. docs/design.md says why each piece is here.

/// The command's receive loops: when to stop and what to count (`mcast recv`).
pub mod tally {
    pub use crate::tally::*;
}
/// What `mcast send` sends.
pub mod payload {
    pub use crate::payload::*;
}
/// The demo's exchanges that never leave the host.
pub mod hostloop {
    pub use crate::hostloop::*;
}
/// What `mcast info` says of an address.
pub mod addrinfo {
    pub use crate::addrinfo::*;
}
/// A sender that carries on through send errors.
pub mod sendretry {
    pub use crate::sendretry::*;
}
/// Sending rates and pacing.
pub mod pace {
    pub use crate::pace::*;
}
/// Sequence, jitter and round-trip bookkeeping.
pub mod stats {
    pub use crate::stats::*;
}
/// SIGINT and SIGTERM for a command: a flag its loops poll, and the exit status a shell expects.
pub mod signal {
    pub use crate::sys::signal::*;
}
/// Raw socket option and batch calls, for tests that read back what the kernel holds.
pub mod sys {
    pub use crate::sys::mmsg;
    pub use crate::sys::mreq;
    pub use crate::sys::socket;
    pub use crate::sys::sockopt;
}
/// The small JSON reader the doctor uses for `nft --json`, for tests that read the command's `--json`.
pub mod json {
    pub use crate::doctor::json::*;
}
/// An interface as the command's table tests describe it.
pub fn interface(
    name: &str,
    index: u32,
    flags: u32,
    mtu: u32,
    ipv4: Vec<std::net::Ipv4Addr>,
    ipv6: Vec<std::net::Ipv6Addr>,
) -> crate::Interface {
    crate::Interface { name: name.into(), index, flags, mtu, ipv4, ipv6 }
}
/// The packet filter model of the doctor, for its fuzz target.
pub mod firewall {
    pub use crate::doctor::firewall::*;

    /// The traffic kinds multicast reception depends on, for `group` on `iface`.
    pub fn packets(group: &crate::Group, iface: Option<&crate::Interface>) -> Vec<Packet> {
        crate::doctor::packets(group, iface)
    }
}
/// The doctor's `RTM_GETROUTE` reply reader, for its fuzz target.
pub mod route {
    pub use crate::doctor::route::*;
}
/// The link announcements reader, for its fuzz target.
pub mod linkwatch {
    pub use crate::linkwatch::*;
}

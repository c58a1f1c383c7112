//! Socket options for raw IGMP and ICMPv6 sockets, on any [`McastSocket`]: what [`IgmpSocket`](super::IgmpSocket)
//! and [`MldSocket`](super::MldSocket) set, and what the C ABI offers on a descriptor from `mcast_open`.

use super::{os, Icmp6Filter};
use crate::error::{Error, ErrorKind, Result};
use crate::sys::raw::{ICMP6_FILTER, MRT6_INIT, MRT_ADD_VIF, MRT_INIT, VIFF_USE_IFINDEX};
use crate::sys::{raw, sockopt};
use crate::wire::ipv4::option_kind;
use crate::{Family, McastSocket};

/// The Router Alert option as `IP_OPTIONS` takes it: type 148, length 4, value 0 (RFC 2113).
const ROUTER_ALERT_V4: [u8; 4] = [option_kind::ROUTER_ALERT, 4, 0, 0];

/// A hop-by-hop options header as `IPV6_HOPOPTS` takes it (RFC 2711, RFC 3810 §5): next header (the kernel
/// fills it), length 0 (8 bytes), Router Alert (type 5, length 2, value 0: MLD), then PadN of no data bytes.
/// Linux's own MLD messages carry exactly these bytes.
const ROUTER_ALERT_V6: [u8; 8] = [0, 0, 5, 2, 0, 0, 1, 0];

/// Where the ICMPv6 checksum is (`IPV6_CHECKSUM` offset), which the kernel uses on raw ICMPv6 sockets.
const ICMPV6_CHECKSUM_OFFSET: libc::c_int = 2;

/// Socket options for raw sockets (raw(7), icmp6(7), RFC 3542), by the socket's family.
impl McastSocket {
    fn want(&self, family: Family, what: &str) -> Result<()> {
        if self.family() == family {
            return Ok(());
        }
        let (want, have) = match family {
            Family::V4 => ("IPv4", "IPv6"),
            Family::V6 => ("IPv6", "IPv4"),
        };
        Err(Error::new(ErrorKind::Mismatch, format!("{what} is for {want} raw sockets, not {have}")))
    }

    /// The Router Alert on what this socket sends: IPv4 `IP_OPTIONS` with the Router Alert option (RFC 2113),
    /// IPv6 `IPV6_HOPOPTS` with a hop-by-hop Router Alert of value 0, MLD (RFC 2711). Off clears the option.
    /// An IPv4 socket that writes its own header (`IP_HDRINCL`) cannot send once `IP_OPTIONS` has been set on
    /// it, even cleared again: Linux keeps an empty option list and answers `EINVAL`.
    pub fn set_router_alert(&self, on: bool) -> Result<()> {
        let (level, name, cname, value): (_, _, _, &[u8]) = match self.family() {
            Family::V4 => (libc::IPPROTO_IP, libc::IP_OPTIONS, "IP_OPTIONS", &ROUTER_ALERT_V4),
            Family::V6 => (libc::IPPROTO_IPV6, libc::IPV6_HOPOPTS, "IPV6_HOPOPTS", &ROUTER_ALERT_V6),
        };
        let value = if on { value } else { &[] };
        raw::setsockopt_bytes(self.fd(), level, name, value)
            .map_err(os(format!("setsockopt {cname} {}", if on { "Router Alert" } else { "none" })))
    }

    /// `ICMP6_FILTER` (level `IPPROTO_ICMPV6`, RFC 3542 §3.2): which ICMPv6 types reach a raw ICMPv6 socket.
    pub fn set_icmp6_filter(&self, filter: &Icmp6Filter) -> Result<()> {
        self.want(Family::V6, "ICMP6_FILTER")?;
        sockopt::setsockopt(self.fd(), libc::IPPROTO_ICMPV6, ICMP6_FILTER, filter)
            .map_err(os("setsockopt ICMP6_FILTER"))
    }

    /// Reads `ICMP6_FILTER`.
    pub fn icmp6_filter(&self) -> Result<Icmp6Filter> {
        self.want(Family::V6, "ICMP6_FILTER")?;
        sockopt::getsockopt(self.fd(), libc::IPPROTO_ICMPV6, ICMP6_FILTER).map_err(os("getsockopt ICMP6_FILTER"))
    }

    /// `IPV6_CHECKSUM` at level `SOL_RAW`, Linux's way past RFC 3542 (which refuses the option at `IPPROTO_IPV6`
    /// on ICMPv6 sockets): on (offset 2, the default of a raw ICMPv6 socket), the kernel fills in the checksum
    /// of what is sent and silently drops what arrives with a bad one; off (-1), both are left to the program.
    pub fn set_kernel_checksum_v6(&self, on: bool) -> Result<()> {
        self.want(Family::V6, "IPV6_CHECKSUM at SOL_RAW")?;
        let value: libc::c_int = if on { ICMPV6_CHECKSUM_OFFSET } else { -1 };
        sockopt::setsockopt(self.fd(), libc::SOL_RAW, libc::IPV6_CHECKSUM, &value)
            .map_err(os(format!("setsockopt SOL_RAW IPV6_CHECKSUM {value}")))
    }

    /// Reads `IPV6_CHECKSUM` at level `SOL_RAW`: whether the kernel handles checksums.
    pub fn kernel_checksum_v6(&self) -> Result<bool> {
        self.want(Family::V6, "IPV6_CHECKSUM at SOL_RAW")?;
        sockopt::getsockopt::<libc::c_int>(self.fd(), libc::SOL_RAW, libc::IPV6_CHECKSUM)
            .map(|offset| offset >= 0)
            .map_err(os("getsockopt SOL_RAW IPV6_CHECKSUM"))
    }

    /// `MRT_INIT` and one `MRT_ADD_VIF` (by index) per interface on a raw IGMP socket, or `MRT6_INIT` on a raw
    /// ICMPv6 socket: the socket becomes the namespace's multicast router. See
    /// [`IgmpSocket::become_mrouter`](super::IgmpSocket::become_mrouter).
    pub fn become_mrouter(&self, ifindexes: &[u32]) -> Result<()> {
        let on: libc::c_int = 1;
        match self.family() {
            Family::V6 => sockopt::setsockopt(self.fd(), libc::IPPROTO_IPV6, MRT6_INIT, &on)
                .map_err(|e| mrouter_error("MRT6_INIT", e)),
            Family::V4 => {
                if ifindexes.len() > raw::MAXVIFS {
                    return Err(Error::new(
                        ErrorKind::OutOfRange,
                        format!("{} interfaces: a multicast router has at most {}", ifindexes.len(), raw::MAXVIFS),
                    ));
                }
                sockopt::setsockopt(self.fd(), libc::IPPROTO_IP, MRT_INIT, &on)
                    .map_err(|e| mrouter_error("MRT_INIT", e))?;
                for (vifi, &index) in ifindexes.iter().enumerate() {
                    let vif = raw::VifCtl {
                        vifc_vifi: vifi as u16,
                        vifc_flags: VIFF_USE_IFINDEX,
                        vifc_threshold: 1,
                        vifc_lcl_ifindex: super::c_index(index)?,
                        ..raw::VifCtl::default()
                    };
                    sockopt::setsockopt(self.fd(), libc::IPPROTO_IP, MRT_ADD_VIF, &vif)
                        .map_err(os(format!("MRT_ADD_VIF {vifi} on interface #{index}")))?;
                }
                Ok(())
            }
        }
    }
}

/// A multicast-routing call's error, saying what the usual causes mean.
fn mrouter_error(call: &str, e: std::io::Error) -> Error {
    let why = match e.raw_os_error() {
        Some(libc::EADDRINUSE) => {
            "another socket (a routing daemon: smcroute, pimd, igmpproxy, ...) is this network namespace's \
             multicast router already"
        }
        Some(libc::EOPNOTSUPP) => "only a raw IGMP (IPv4) or ICMPv6 (IPv6) socket can be a multicast router",
        Some(libc::ENOPROTOOPT) => "this kernel has no multicast routing (CONFIG_IP_MROUTE / CONFIG_IPV6_MROUTE)",
        Some(libc::EACCES) | Some(libc::EPERM) => "changing another socket's multicast routing needs CAP_NET_ADMIN",
        _ => "",
    };
    let err = Error::os(call.to_string(), e);
    if why.is_empty() {
        err
    } else {
        err.within(why)
    }
}

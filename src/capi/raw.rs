//! Raw sockets for IGMP and MLD: `IP_HDRINCL`, the Router Alert, the MLD filter and the kernel's ICMPv6
//! checksum, on a descriptor from `mcast_open(AF_INET, SOCK_RAW, IPPROTO_IGMP)` or
//! `mcast_open(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6)`.

use std::ffi::c_int;

use super::{borrow, ffi_fn};
use crate::raw::MldSocket;
use crate::{Error, ErrorKind, Family};

ffi_fn! {
    /// `mcast_set_hdrincl`: `IP_HDRINCL` on an IPv4 raw socket; any non-zero value is on.
    fn mcast_set_hdrincl(fd: c_int, on: c_int) -> c_int, on failure -1; {
        let socket = borrow(fd)?;
        if socket.family() != Family::V4 {
            return Err(Error::new(ErrorKind::Mismatch, "IP_HDRINCL is for IPv4 raw sockets").into());
        }
        socket.set_header_included_v4(on != 0)?;
        Ok(0)
    }

    /// `mcast_set_router_alert`: `IP_OPTIONS` with the Router Alert (IPv4) or `IPV6_HOPOPTS` with a hop-by-hop
    /// Router Alert for MLD (IPv6) on everything the socket sends; 0 clears it.
    fn mcast_set_router_alert(fd: c_int, on: c_int) -> c_int, on failure -1; {
        borrow(fd)?.set_router_alert(on != 0)?;
        Ok(0)
    }

    /// `mcast_set_mld_filter`: `ICMP6_FILTER` passing the MLD types (130, 131, 132, 143) only.
    fn mcast_set_mld_filter(fd: c_int) -> c_int, on failure -1; {
        borrow(fd)?.set_icmp6_filter(&MldSocket::mld_filter())?;
        Ok(0)
    }

    /// `mcast_set_kernel_checksum`: `IPV6_CHECKSUM` at `SOL_RAW` on an IPv6 raw socket, offset 2 (on) or -1 (off).
    fn mcast_set_kernel_checksum(fd: c_int, on: c_int) -> c_int, on failure -1; {
        borrow(fd)?.set_kernel_checksum_v6(on != 0)?;
        Ok(0)
    }
}

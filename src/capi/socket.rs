//! Sockets and their multicast options: `mcast_open`, `mcast_close`, TTL, loop, outgoing interface, joins.

use std::ffi::{c_char, c_int, c_uint};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::IntoRawFd;

use super::{borrow, c_out, c_ref, c_str, ffi_fn, Borrowed, CResult, Failure};
use crate::endpoint::{membership, Membership};
use crate::options::out_of_range;
use crate::socket::{Family, McastSocket};
use crate::{Error, ErrorKind, Group, IfaceSpec, Interface};

/// The `SOCK_*` flags `socket(2)` accepts or-ed into the type.
const TYPE_FLAGS: c_int = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;

fn family(af: c_int) -> CResult<Family> {
    match af {
        libc::AF_INET => Ok(Family::V4),
        libc::AF_INET6 => Ok(Family::V6),
        _ => Err(Failure::new(libc::EAFNOSUPPORT, format!("family {af}: IP multicast needs AF_INET or AF_INET6"))),
    }
}

/// Opens the socket and turns on what `mcast_recv` reports: destination and interface, and the arrival TTL.
fn open(af: c_int, ty: c_int, protocol: c_int) -> CResult<McastSocket> {
    let family = family(af)?;
    let base = ty & !TYPE_FLAGS;
    let socket = if base == libc::SOCK_RAW {
        McastSocket::raw(family, protocol)?
    } else {
        McastSocket::open(family, base, protocol)?
    };
    match family {
        Family::V4 => {
            socket.set_pktinfo_v4(true)?;
            socket.set_recv_ttl_v4(true)?;
        }
        Family::V6 => {
            socket.set_recv_pktinfo_v6(true)?;
            socket.set_recv_hoplimit_v6(true)?;
        }
    }
    if ty & libc::SOCK_NONBLOCK != 0 {
        socket.set_nonblocking(true)?;
    }
    Ok(socket)
}

/// A group named in text (`239.1.2.3`, `ff02::1%eth0`; a `:port` is allowed and ignored), of the socket's
/// family.
pub(super) fn text_group(socket: &Borrowed, text: &str) -> CResult<Group> {
    let group = Group::parse_address(text)?;
    same_family(socket, group)
}

/// A group given as an address, checked to be multicast by the safe API.
pub(super) fn addr_group(socket: &Borrowed, ip: IpAddr) -> CResult<Group> {
    same_family(socket, Group::new(ip, 0)?)
}

fn same_family(socket: &Borrowed, group: Group) -> CResult<Group> {
    if Family::of(group.ip()) != socket.family() {
        let (g, s) = if group.is_ipv6() { ("IPv6", "IPv4") } else { ("IPv4", "IPv6") };
        return Err(Error::new(ErrorKind::Mismatch, format!("{g} group {group} on an {s} socket")).into());
    }
    Ok(group)
}

/// The interface a join names: the one given, else the group's zone, else none (the kernel picks by route).
pub(super) fn join_iface(iface: Option<&str>, group: &Group) -> CResult<Option<Interface>> {
    Ok(match iface {
        Some(text) => Some(text.parse::<IfaceSpec>()?.resolve()?),
        None if group.scope_id() != 0 => Some(Interface::by_index(group.scope_id())?),
        None => None,
    })
}

pub(super) fn in_addr(a: &libc::in_addr) -> Ipv4Addr {
    // s_addr holds the address in network byte order: its bytes in memory are the octets.
    Ipv4Addr::from(a.s_addr.to_ne_bytes())
}

pub(super) fn in6_addr(a: &libc::in6_addr) -> Ipv6Addr {
    Ipv6Addr::from(a.s6_addr)
}

/// Joins or leaves by text, through the same code the Rust `Receiver` uses.
fn member(fd: c_int, group: &str, source: Option<&str>, iface: Option<&str>, join: bool) -> CResult<c_int> {
    let socket = borrow(fd)?;
    let group = text_group(&socket, group)?;
    let source = match source {
        Some(text) => Some(
            text.parse::<IpAddr>().map_err(|_| Failure::invalid(format!("source '{text}' is not an IP address")))?,
        ),
        None => None,
    };
    // An interface that does not resolve fails before any option is set: name the option and the group the
    // call was about, as the kernel's own failures do.
    let iface = join_iface(iface, &group).map_err(|f| Failure {
        message: format!("{} {group}: {}", option_name(&group, source, join), f.message),
        ..f
    })?;
    membership(&socket, &Membership { group, source, iface }, join)?;
    Ok(0)
}

/// The option a join or leave sets (for IPv4 without an interface address, the ip_mreqn form of the same name).
fn option_name(group: &Group, source: Option<IpAddr>, join: bool) -> &'static str {
    match (group.is_ipv6(), source.is_some(), join) {
        (false, false, true) => "IP_ADD_MEMBERSHIP",
        (false, false, false) => "IP_DROP_MEMBERSHIP",
        (false, true, true) => "IP_ADD_SOURCE_MEMBERSHIP",
        (false, true, false) => "IP_DROP_SOURCE_MEMBERSHIP",
        (true, false, true) => "IPV6_JOIN_GROUP",
        (true, false, false) => "IPV6_LEAVE_GROUP",
        (true, true, true) => "MCAST_JOIN_SOURCE_GROUP",
        (true, true, false) => "MCAST_LEAVE_SOURCE_GROUP",
    }
}

/// Sets the outgoing interface: by address when the interface has an IPv4 one (readable back with
/// `IP_MULTICAST_IF`), else by index. `None` reverts to the route's choice.
fn set_if(socket: &Borrowed, iface: Option<(&Interface, Option<Ipv4Addr>)>) -> CResult<()> {
    match (socket.family(), iface) {
        (Family::V4, None) => socket.set_multicast_if_v4(Ipv4Addr::UNSPECIFIED)?,
        (Family::V4, Some((i, given))) => match given.or_else(|| i.first_ipv4()) {
            Some(a) => socket.set_multicast_if_v4(a)?,
            None => socket.set_multicast_if_v4_index(i.index)?,
        },
        (Family::V6, None) => socket.set_multicast_if_v6(0)?,
        (Family::V6, Some((i, _))) => socket.set_multicast_if_v6(i.index)?,
    }
    Ok(())
}

/// A C TTL or hop limit as the Rust API's `u8`. Out of 0..=255, the error names the option of `family` and its
/// range, as the option's own check does (`IP_MULTICAST_TTL 300 is out of range 0..=255`): EINVAL in C.
pub(super) fn hops_from_c(family: Family, ttl: c_int) -> Result<u8, Error> {
    u8::try_from(ttl).map_err(|_| match family {
        Family::V4 => out_of_range("IP_MULTICAST_TTL", ttl.into(), 0, 255),
        Family::V6 => out_of_range("IPV6_MULTICAST_HOPS", ttl.into(), -1, 255),
    })
}

ffi_fn! {
    /// `mcast_open`: `socket(2)` for multicast, with arrival information turned on.
    fn mcast_open(af: c_int, ty: c_int, protocol: c_int) -> c_int, on failure -1; {
        Ok(open(af, ty, protocol)?.into_raw_fd())
    }

    /// `mcast_close`: `close(2)`, the one call that ends a descriptor.
    fn mcast_close(fd: c_int) -> c_int, on failure -1; {
        if fd < 0 {
            return Err(Failure::new(libc::EBADF, format!("{fd} is not a file descriptor")));
        }
        // SAFETY: close takes any integer; the caller hands the descriptor over, as close(2) does. EINTR is not
        // retried: on Linux the descriptor is gone even then.
        if unsafe { libc::close(fd) } == -1 {
            return Err(Error::os(format!("close {fd}"), std::io::Error::last_os_error()).into());
        }
        Ok(0)
    }

    /// `mcast_set_ttl`: `IP_MULTICAST_TTL` (0..=255) or `IPV6_MULTICAST_HOPS` (-1..=255) by the socket's family.
    /// The C `int` is checked here, before the Rust API's `u8` (and its `None` for -1) can take it.
    fn mcast_set_ttl(fd: c_int, ttl: c_int) -> c_int, on failure -1; {
        let socket = borrow(fd)?;
        match socket.family() {
            Family::V4 if ttl < 0 => {
                let e = Error::new(ErrorKind::OutOfRange, format!("IP_MULTICAST_TTL {ttl}: a TTL cannot be negative"));
                return Err(e.into());
            }
            Family::V4 => socket.set_multicast_ttl_v4(hops_from_c(Family::V4, ttl)?)?,
            Family::V6 if ttl == -1 => socket.set_multicast_hops_v6(None)?,
            Family::V6 => socket.set_multicast_hops_v6(hops_from_c(Family::V6, ttl)?)?,
        }
        Ok(0)
    }

    /// `mcast_get_ttl`: reads the TTL or hop limit.
    fn mcast_get_ttl(fd: c_int, ttl: *mut c_int) -> c_int, on failure -1; {
        let out = c_out!(ttl);
        let socket = borrow(fd)?;
        let value = match socket.family() {
            Family::V4 => c_int::from(socket.multicast_ttl_v4()?),
            Family::V6 => c_int::from(socket.multicast_hops_v6()?),
        };
        out.write(value);
        Ok(0)
    }

    /// `mcast_set_loop`: `IP_MULTICAST_LOOP`/`IPV6_MULTICAST_LOOP`; any non-zero value is on.
    fn mcast_set_loop(fd: c_int, on: c_int) -> c_int, on failure -1; {
        let socket = borrow(fd)?;
        match socket.family() {
            Family::V4 => socket.set_multicast_loop_v4(on != 0)?,
            Family::V6 => socket.set_multicast_loop_v6(on != 0)?,
        }
        Ok(0)
    }

    /// `mcast_set_dscp`: `IP_TOS` / `IPV6_TCLASS` set to `dscp << 2` (0..=63).
    fn mcast_set_dscp(fd: c_int, dscp: c_int) -> c_int, on failure -1, mcast_set_dscp in "@@MCAST_0.2"; {
        let socket = borrow(fd)?;
        let d = u8::try_from(dscp)
            .ok()
            .filter(|d| *d <= 63)
            .ok_or_else(|| Error::new(ErrorKind::OutOfRange, format!("DSCP {dscp}: out of range 0..=63")))?;
        socket.set_dscp(d)?;
        Ok(0)
    }

    /// `mcast_get_dscp`: the upper six bits of `IP_TOS` / `IPV6_TCLASS`.
    fn mcast_get_dscp(fd: c_int, dscp: *mut c_int) -> c_int, on failure -1, mcast_get_dscp in "@@MCAST_0.2"; {
        let out = c_out!(dscp);
        let socket = borrow(fd)?;
        out.write(c_int::from(socket.dscp()?));
        Ok(0)
    }

    /// `mcast_get_loop`: 1 or 0.
    fn mcast_get_loop(fd: c_int, on: *mut c_int) -> c_int, on failure -1; {
        let out = c_out!(on);
        let socket = borrow(fd)?;
        let value = match socket.family() {
            Family::V4 => socket.multicast_loop_v4()?,
            Family::V6 => socket.multicast_loop_v6()?,
        };
        out.write(c_int::from(value));
        Ok(0)
    }

    /// `mcast_set_if`: the outgoing interface by name, index or address; `"0"`, `"0.0.0.0"` or `"::"` revert to
    /// the route's choice.
    fn mcast_set_if(fd: c_int, iface: *const c_char) -> c_int, on failure -1; {
        let text = c_str!(iface);
        let socket = borrow(fd)?;
        let spec: IfaceSpec = text.parse()?;
        match spec {
            IfaceSpec::Index(0) => set_if(&socket, None)?,
            IfaceSpec::Addr(a) if a.is_unspecified() => set_if(&socket, None)?,
            spec => {
                let i = spec.resolve()?;
                let given = match spec {
                    IfaceSpec::Addr(IpAddr::V4(a)) => Some(a),
                    _ => None,
                };
                set_if(&socket, Some((&i, given)))?;
            }
        }
        Ok(0)
    }

    /// `mcast_set_if_index`: the outgoing interface by index; 0 reverts to the route's choice.
    fn mcast_set_if_index(fd: c_int, ifindex: c_uint) -> c_int, on failure -1; {
        let socket = borrow(fd)?;
        if ifindex == 0 {
            set_if(&socket, None)?;
        } else {
            set_if(&socket, Some((&Interface::by_index(ifindex)?, None)))?;
        }
        Ok(0)
    }

    /// `mcast_get_if`: the outgoing interface's index, 0 for the route's choice.
    fn mcast_get_if(fd: c_int, ifindex: *mut c_uint) -> c_int, on failure -1; {
        let out = c_out!(ifindex);
        let socket = borrow(fd)?;
        let index = match socket.family() {
            Family::V4 => match socket.multicast_if_v4()? {
                a if a.is_unspecified() => 0,
                a => Interface::by_addr(IpAddr::V4(a))?.index,
            },
            Family::V6 => socket.multicast_if_v6()?,
        };
        out.write(index);
        Ok(0)
    }

    /// `mcast_get_if_addr`: IPv4 only, the address `IP_MULTICAST_IF` reports.
    fn mcast_get_if_addr(fd: c_int, addr: *mut libc::in_addr) -> c_int, on failure -1; {
        let out = c_out!(addr);
        let socket = borrow(fd)?;
        if socket.family() != Family::V4 {
            return Err(Error::new(ErrorKind::Mismatch, "IP_MULTICAST_IF is an IPv4 option: use mcast_get_if").into());
        }
        let a = socket.multicast_if_v4()?;
        out.write(libc::in_addr { s_addr: u32::from_ne_bytes(a.octets()) });
        Ok(0)
    }

    /// `mcast_join`: joins `group` on `iface` (name, index or address; NULL: the group's zone or the route's
    /// choice).
    fn mcast_join(fd: c_int, group: *const c_char, iface: *const c_char) -> c_int, on failure -1; {
        let g = c_str!(group);
        let i = if iface.is_null() { None } else { Some(c_str!(iface)) };
        member(fd, g, None, i, true)
    }

    /// `mcast_leave`: drops what `mcast_join` with the same arguments joined.
    fn mcast_leave(fd: c_int, group: *const c_char, iface: *const c_char) -> c_int, on failure -1; {
        let g = c_str!(group);
        let i = if iface.is_null() { None } else { Some(c_str!(iface)) };
        member(fd, g, None, i, false)
    }

    /// `mcast_join_source`: receives `group` only from `source` (source-specific multicast).
    fn mcast_join_source(fd: c_int, group: *const c_char, source: *const c_char, iface: *const c_char) -> c_int,
        on failure -1; {
        let (g, s) = (c_str!(group), c_str!(source));
        let i = if iface.is_null() { None } else { Some(c_str!(iface)) };
        member(fd, g, Some(s), i, true)
    }

    /// `mcast_leave_source`: drops a source-specific membership.
    fn mcast_leave_source(fd: c_int, group: *const c_char, source: *const c_char, iface: *const c_char) -> c_int,
        on failure -1; {
        let (g, s) = (c_str!(group), c_str!(source));
        let i = if iface.is_null() { None } else { Some(c_str!(iface)) };
        member(fd, g, Some(s), i, false)
    }

    /// `mcast_join_addr`: `IP_ADD_MEMBERSHIP` with `ip_mreqn`, interface by index (0: the route's choice).
    fn mcast_join_addr(fd: c_int, group: *const libc::in_addr, ifindex: c_uint) -> c_int, on failure -1; {
        let ip = in_addr(c_ref!(group));
        let socket = borrow(fd)?;
        addr_group(&socket, IpAddr::V4(ip))?;
        socket.join_v4_index(ip, ifindex)?;
        Ok(0)
    }

    /// `mcast_leave_addr`: `IP_DROP_MEMBERSHIP` with `ip_mreqn`.
    fn mcast_leave_addr(fd: c_int, group: *const libc::in_addr, ifindex: c_uint) -> c_int, on failure -1; {
        let ip = in_addr(c_ref!(group));
        let socket = borrow(fd)?;
        addr_group(&socket, IpAddr::V4(ip))?;
        socket.leave_v4_index(ip, ifindex)?;
        Ok(0)
    }

    /// `mcast_join_addr6`: `IPV6_JOIN_GROUP` with `ipv6_mreq` (0: the route's choice).
    fn mcast_join_addr6(fd: c_int, group: *const libc::in6_addr, ifindex: c_uint) -> c_int, on failure -1; {
        let ip = in6_addr(c_ref!(group));
        let socket = borrow(fd)?;
        addr_group(&socket, IpAddr::V6(ip))?;
        socket.join_v6(ip, ifindex)?;
        Ok(0)
    }

    /// `mcast_leave_addr6`: `IPV6_LEAVE_GROUP`.
    fn mcast_leave_addr6(fd: c_int, group: *const libc::in6_addr, ifindex: c_uint) -> c_int, on failure -1; {
        let ip = in6_addr(c_ref!(group));
        let socket = borrow(fd)?;
        addr_group(&socket, IpAddr::V6(ip))?;
        socket.leave_v6(ip, ifindex)?;
        Ok(0)
    }
}

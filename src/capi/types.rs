//! The structs of `ffi/mcast.h`, laid out by `#[repr(C)]`. `layout.rs` exports their sizes and offsets, and the
//! C suite compares them with what the C compiler makes of the header, so the two cannot drift apart.

use std::ffi::{c_char, c_int, c_uint};
use std::net::SocketAddr;

use crate::sys::mreq::sockaddr_storage;
use crate::RecvMeta;

/// `struct mcast_opts`: settings for `mcast_sender` and `mcast_receiver`; `MCAST_OPTS_INIT` and
/// `mcast_opts_init` give the defaults.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct McastOpts {
    /// Sender: TTL (IPv4) or hop limit (IPv6), 0..=255; -1 keeps the kernel's default (1).
    pub ttl: c_int,
    /// Sender: 1 loops copies back to this host's members, 0 does not, -1 keeps the default (on).
    pub loop_: c_int,
    /// Both: interface name, index or address; NULL lets the kernel choose by route.
    pub iface: *const c_char,
    /// Receiver: the only source to receive from (source-specific join); NULL for any source.
    pub source: *const c_char,
    /// Receiver: `SO_REUSEADDR`, so other receivers may share the port (1, the default) or not (0).
    pub reuse: c_int,
    /// Both: 1 makes the returned descriptor non-blocking (`O_NONBLOCK`).
    pub nonblock: c_int,
    /// Receiver: receive buffer in bytes; 0 keeps the kernel's default.
    pub rcvbuf: c_uint,
}

impl Default for McastOpts {
    fn default() -> Self {
        McastOpts {
            ttl: -1,
            loop_: -1,
            iface: std::ptr::null(),
            source: std::ptr::null(),
            reuse: 1,
            nonblock: 0,
            rcvbuf: 0,
        }
    }
}

/// `struct mcast_rxinfo`: what `mcast_recv` learnt about one datagram.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct McastRxinfo {
    /// The sender's address and port (`sockaddr_in` or `sockaddr_in6`).
    pub source: libc::sockaddr_storage,
    /// The destination address, normally the group, port 0; `ss_family` is `AF_UNSPEC` when unknown.
    pub group: libc::sockaddr_storage,
    /// Bytes placed in the buffer.
    pub len: usize,
    /// The datagram's full size; larger than `len` when it was truncated.
    pub full_len: usize,
    /// Arrival interface index; 0 when unknown.
    pub ifindex: c_uint,
    /// TTL or hop limit on arrival; -1 when unknown.
    pub ttl: c_int,
    /// 1 when the datagram did not fit the buffer (`full_len - len` bytes were lost).
    pub truncated: c_int,
    /// The socket's running count of datagrams dropped for lack of buffer space (`SO_RXQ_OVFL`); 0 if unknown.
    pub drops: u32,
}

impl From<&RecvMeta> for McastRxinfo {
    fn from(m: &RecvMeta) -> Self {
        McastRxinfo {
            source: sockaddr_storage(&m.source),
            group: match m.group {
                Some(ip) => sockaddr_storage(&SocketAddr::new(ip, 0)),
                None => unspecified_storage(),
            },
            len: m.len,
            full_len: m.full_len,
            ifindex: m.ifindex.unwrap_or(0),
            ttl: m.ttl.map(c_int::from).unwrap_or(-1),
            truncated: c_int::from(m.truncated),
            drops: m.drops.unwrap_or(0),
        }
    }
}

/// A `sockaddr_storage` of family `AF_UNSPEC` (all zero).
pub(super) fn unspecified_storage() -> libc::sockaddr_storage {
    // The zero bytes of any address in its storage: take an IPv4 one and clear the family and address.
    let mut st = sockaddr_storage(&SocketAddr::from(([0, 0, 0, 0], 0)));
    st.ss_family = libc::AF_UNSPEC as libc::sa_family_t;
    st
}

/// `struct mcast_iface`: one interface of `mcast_if_list`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct McastIface {
    /// Name, NUL-terminated (`IF_NAMESIZE` bytes).
    pub name: [c_char; libc::IFNAMSIZ],
    /// Index; 0 only in the entry that ends the list.
    pub index: c_uint,
    /// `IFF_*` flags (`SIOCGIFFLAGS`).
    pub flags: c_uint,
    /// MTU; 0 when unknown.
    pub mtu: c_uint,
    /// Number of IPv4 addresses at `ipv4`.
    pub n_ipv4: usize,
    /// IPv4 addresses (`SIOCGIFCONF`), network byte order; NULL when there are none.
    pub ipv4: *const libc::in_addr,
    /// Number of IPv6 addresses at `ipv6`.
    pub n_ipv6: usize,
    /// IPv6 addresses; NULL when there are none.
    pub ipv6: *const libc::in6_addr,
}

/// `struct mcast_abi_entry`: one line of the layout table `mcast_abi_layout` returns.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct AbiEntry {
    /// The struct's name without `struct`, e.g. `"mcast_rxinfo"`.
    pub type_name: *const c_char,
    /// The field's name, or NULL for the line that describes the whole struct.
    pub field: *const c_char,
    /// The field's offset (0 for the whole struct).
    pub offset: usize,
    /// The field's (or struct's) size.
    pub size: usize,
    /// The field's (or struct's) alignment.
    pub align: usize,
}

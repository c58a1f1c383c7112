//! Hand-laid request structs for the multicast socket options, each proven against `libc`'s definition.
//!
//! All addresses are stored in network byte order, exactly as `<netinet/in.h>` wants them: an
//! [`Ipv4Addr`]'s octets are copied into memory in order (`u32::from_ne_bytes(octets)`), never byte-swapped
//! twice. The compile-time assertions below fail the build if size, alignment or a field offset ever
//! differs from the C struct the kernel reads.

use std::mem::{align_of, offset_of, size_of};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// `struct in_addr`: an IPv4 address in network byte order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InAddr {
    /// The address, network byte order in memory.
    pub s_addr: u32,
}

impl From<Ipv4Addr> for InAddr {
    fn from(ip: Ipv4Addr) -> Self {
        // The octets are already in network order; from_ne_bytes keeps them in that order in memory.
        InAddr { s_addr: u32::from_ne_bytes(ip.octets()) }
    }
}

impl From<InAddr> for Ipv4Addr {
    fn from(a: InAddr) -> Self {
        Ipv4Addr::from(a.s_addr.to_ne_bytes())
    }
}

/// `struct in6_addr`: sixteen bytes in network order (the C struct is 4-byte aligned through its union).
#[repr(C, align(4))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct In6Addr {
    /// The address bytes.
    pub s6_addr: [u8; 16],
}

impl From<Ipv6Addr> for In6Addr {
    fn from(ip: Ipv6Addr) -> Self {
        In6Addr { s6_addr: ip.octets() }
    }
}

impl From<In6Addr> for Ipv6Addr {
    fn from(a: In6Addr) -> Self {
        Ipv6Addr::from(a.s6_addr)
    }
}

/// `struct ip_mreq` (ip(7)): group and local interface address, for `IP_ADD_MEMBERSHIP`/`IP_DROP_MEMBERSHIP`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpMreq {
    /// Multicast group to join.
    pub imr_multiaddr: InAddr,
    /// Local address of the interface; `INADDR_ANY` lets the kernel choose by route.
    pub imr_interface: InAddr,
}

/// `struct ip_mreqn` (ip(7)): like `ip_mreq` but the interface can be named by index.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpMreqn {
    /// Multicast group.
    pub imr_multiaddr: InAddr,
    /// Local address, or `INADDR_ANY`.
    pub imr_address: InAddr,
    /// Interface index, or 0 for "use `imr_address`".
    pub imr_ifindex: libc::c_int,
}

/// `struct ip_mreq_source` (ip(7)): group, interface address and source, for source-specific options.
///
/// Linux orders the fields multiaddr, interface, sourceaddr; BSDs put the source second.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpMreqSource {
    /// Multicast group.
    pub imr_multiaddr: InAddr,
    /// Local interface address.
    pub imr_interface: InAddr,
    /// Source address to include or block.
    pub imr_sourceaddr: InAddr,
}

/// `struct ipv6_mreq` (ipv6(7)): group and interface index, for `IPV6_JOIN_GROUP`/`IPV6_LEAVE_GROUP`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ipv6Mreq {
    /// Multicast group.
    pub ipv6mr_multiaddr: In6Addr,
    /// Interface index; 0 lets the kernel choose.
    pub ipv6mr_interface: libc::c_uint,
}

/// The gap C leaves between the `u32` interface index and the 8-byte-aligned `sockaddr_storage` of `group_req`
/// and `group_source_req` (4 bytes on 64-bit targets). Spelt out as a zeroed field, so that every byte handed
/// to the kernel is initialised (implicit padding is not, and valgrind rightly reports it).
const GROUP_PAD: usize = align_of::<libc::sockaddr_storage>() - size_of::<u32>();

/// `struct group_req` (RFC 3678): protocol-independent join, `MCAST_JOIN_GROUP`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GroupReq {
    /// Interface index.
    pub gr_interface: u32,
    gr_pad: [u8; GROUP_PAD],
    /// The group as a `sockaddr_in` or `sockaddr_in6`, port ignored.
    pub gr_group: libc::sockaddr_storage,
}

/// `struct group_source_req` (RFC 3678): `MCAST_JOIN_SOURCE_GROUP`, `MCAST_BLOCK_SOURCE` and friends.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GroupSourceReq {
    /// Interface index.
    pub gsr_interface: u32,
    gsr_pad: [u8; GROUP_PAD],
    /// The group.
    pub gsr_group: libc::sockaddr_storage,
    /// The source.
    pub gsr_source: libc::sockaddr_storage,
}

impl GroupReq {
    /// A request for `group` on interface `index`.
    pub fn new(group: std::net::IpAddr, index: u32) -> Self {
        GroupReq { gr_interface: index, gr_pad: [0; GROUP_PAD], gr_group: sockaddr_storage(&SocketAddr::new(group, 0)) }
    }
}

impl GroupSourceReq {
    /// A request for (`source`, `group`) on interface `index`.
    pub fn new(group: std::net::IpAddr, source: std::net::IpAddr, index: u32) -> Self {
        GroupSourceReq {
            gsr_interface: index,
            gsr_pad: [0; GROUP_PAD],
            gsr_group: sockaddr_storage(&SocketAddr::new(group, 0)),
            gsr_source: sockaddr_storage(&SocketAddr::new(source, 0)),
        }
    }
}

/// A `sockaddr_in`/`sockaddr_in6` for `addr`, inside a zeroed `sockaddr_storage`, and its length.
pub fn sockaddr_storage(addr: &SocketAddr) -> libc::sockaddr_storage {
    sockaddr(addr).0
}

/// The C socket address for `addr`, with the length to pass beside it.
pub fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY-free construction: fill a typed sockaddr_in/in6 and copy its bytes into the storage.
    let mut storage = SockaddrStorage::zeroed();
    let len = match CSockAddr::new(addr) {
        CSockAddr::V4(sin) => {
            storage.put(&sin);
            size_of::<libc::sockaddr_in>()
        }
        CSockAddr::V6(sin6) => {
            storage.put(&sin6);
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage.0, len as libc::socklen_t)
}

/// Reads a socket address the kernel wrote; `None` for families other than IPv4/IPv6 or a short length.
#[inline]
pub fn from_sockaddr(storage: &libc::sockaddr_storage, len: libc::socklen_t) -> Option<SocketAddr> {
    let len = len as usize;
    let addr = match storage.ss_family as libc::c_int {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => CSockAddr::V4(read_as(storage)),
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => CSockAddr::V6(read_as(storage)),
        _ => return None,
    };
    Some(addr.socket_addr())
}

const V4_LEN: usize = size_of::<libc::sockaddr_in>();

/// An IPv4 or IPv6 socket address as the kernel lays it out: what a receive path copies from the kernel's
/// answer to a C caller's `sockaddr_storage` as it is, with no [`SocketAddr`] in between.
#[derive(Clone, Copy)]
pub enum CSockAddr {
    /// A `sockaddr_in`.
    V4(libc::sockaddr_in),
    /// A `sockaddr_in6`.
    V6(libc::sockaddr_in6),
}

impl CSockAddr {
    /// The C form of `addr`.
    #[inline]
    pub fn new(addr: &SocketAddr) -> Self {
        match addr {
            SocketAddr::V4(a) => CSockAddr::V4(libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            }),
            SocketAddr::V6(a) => CSockAddr::V6(libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo().to_be(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            }),
        }
    }

    /// The address at the start of `name`, the bytes the kernel wrote (`msg_namelen` of them); `None` for
    /// another family or a short length.
    #[inline]
    pub fn read(name: &[u8]) -> Option<Self> {
        match CSockAddr::len_of(name)? {
            V4_LEN => super::cmsg::read(name).map(CSockAddr::V4),
            _ => super::cmsg::read(name).map(CSockAddr::V6),
        }
    }

    /// The length of the `sockaddr_in` or `sockaddr_in6` at the start of `name` (see [`CSockAddr::read`]).
    #[inline]
    pub fn len_of(name: &[u8]) -> Option<usize> {
        let family = match name {
            [a, b, ..] => libc::sa_family_t::from_ne_bytes([*a, *b]),
            _ => return None,
        };
        let len = match family as libc::c_int {
            libc::AF_INET => V4_LEN,
            libc::AF_INET6 => size_of::<libc::sockaddr_in6>(),
            _ => return None,
        };
        (name.len() >= len).then_some(len)
    }

    /// The Rust form.
    pub fn socket_addr(&self) -> SocketAddr {
        match self {
            CSockAddr::V4(sin) => SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(sin.sin_port),
            )),
            CSockAddr::V6(sin6) => SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                u32::from_be(sin6.sin6_flowinfo),
                sin6.sin6_scope_id,
            )),
        }
    }
}

/// A `sockaddr_storage` with typed reads and writes of its leading `sockaddr_in`/`sockaddr_in6`.
struct SockaddrStorage(libc::sockaddr_storage);

impl SockaddrStorage {
    fn zeroed() -> Self {
        // SAFETY: sockaddr_storage is plain integers and byte arrays; all-zero is a valid value.
        SockaddrStorage(unsafe { std::mem::zeroed() })
    }

    fn put<T: SockaddrKind>(&mut self, value: &T) {
        // SAFETY: T is sockaddr_in or sockaddr_in6 (sealed trait), both smaller than sockaddr_storage
        // (asserted below) and with an alignment that sockaddr_storage's 8-byte alignment satisfies.
        unsafe { std::ptr::write(std::ptr::addr_of_mut!(self.0).cast::<T>(), *value) }
    }
}

/// The leading `sockaddr_in`/`sockaddr_in6` of a storage, read in place (a receive path reads one per datagram:
/// no copy of the whole storage first).
fn read_as<T: SockaddrKind>(storage: &libc::sockaddr_storage) -> T {
    // SAFETY: as in SockaddrStorage::put: T is smaller than the storage and its alignment is satisfied, and every
    // bit pattern is a valid sockaddr_in/in6.
    unsafe { std::ptr::read((storage as *const libc::sockaddr_storage).cast::<T>()) }
}

trait SockaddrKind: Copy {}
impl SockaddrKind for libc::sockaddr_in {}
impl SockaddrKind for libc::sockaddr_in6 {}

macro_rules! assert_layout {
    ($ours:ty, $theirs:ty, $($field:ident = $cfield:ident),*) => {
        const _: () = {
            assert!(size_of::<$ours>() == size_of::<$theirs>());
            assert!(align_of::<$ours>() == align_of::<$theirs>());
            $(assert!(offset_of!($ours, $field) == offset_of!($theirs, $cfield));)*
        };
    };
}

assert_layout!(InAddr, libc::in_addr, s_addr = s_addr);
assert_layout!(In6Addr, libc::in6_addr, s6_addr = s6_addr);
assert_layout!(IpMreq, libc::ip_mreq, imr_multiaddr = imr_multiaddr, imr_interface = imr_interface);
assert_layout!(
    IpMreqn,
    libc::ip_mreqn,
    imr_multiaddr = imr_multiaddr,
    imr_address = imr_address,
    imr_ifindex = imr_ifindex
);
assert_layout!(
    IpMreqSource,
    libc::ip_mreq_source,
    imr_multiaddr = imr_multiaddr,
    imr_interface = imr_interface,
    imr_sourceaddr = imr_sourceaddr
);
assert_layout!(Ipv6Mreq, libc::ipv6_mreq, ipv6mr_multiaddr = ipv6mr_multiaddr, ipv6mr_interface = ipv6mr_interface);
assert_layout!(GroupReq, libc::group_req, gr_interface = gr_interface, gr_group = gr_group);
assert_layout!(
    GroupSourceReq,
    libc::group_source_req,
    gsr_interface = gsr_interface,
    gsr_group = gsr_group,
    gsr_source = gsr_source
);
const _: () = {
    assert!(size_of::<libc::sockaddr_in6>() <= size_of::<libc::sockaddr_storage>());
    assert!(align_of::<libc::sockaddr_in6>() <= align_of::<libc::sockaddr_storage>());
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_addr_is_network_order_in_memory() {
        let a = InAddr::from(Ipv4Addr::new(239, 1, 2, 3));
        assert_eq!(a.s_addr.to_ne_bytes(), [239, 1, 2, 3]);
        assert_eq!(Ipv4Addr::from(a), Ipv4Addr::new(239, 1, 2, 3));
    }

    #[test]
    fn sockaddr_round_trips() {
        for s in ["239.1.2.3:5000", "[ff15::1%7]:6000", "[::1]:1"] {
            let addr: SocketAddr = s.parse().unwrap();
            let (st, len) = sockaddr(&addr);
            assert_eq!(from_sockaddr(&st, len), Some(addr), "{s}");
        }
    }

    #[test]
    fn group_source_req_carries_both_addresses() {
        let g: std::net::IpAddr = "232.1.1.1".parse().unwrap();
        let s: std::net::IpAddr = "10.0.0.1".parse().unwrap();
        let r = GroupSourceReq::new(g, s, 3);
        assert_eq!(r.gsr_interface, 3);
        assert_eq!(from_sockaddr(&r.gsr_group, 16), Some(SocketAddr::new(g, 0)));
        assert_eq!(from_sockaddr(&r.gsr_source, 16), Some(SocketAddr::new(s, 0)));
    }
}

//! Every socket option, set then read back from the kernel.
//!
//! Each row of `option!` names the C constant as ip(7), ipv6(7), socket(7) and udp(7) do, the socket it
//! applies to, the default a fresh socket reports, and pairs `set => read back`. The value read back is
//! checked twice: through the library's getter and through a plain `getsockopt` of the named C constant, so
//! a setter wired to the wrong option cannot pass. Out-of-range values must be refused by the library before
//! the kernel sees them.
//!
//! Topology: one namespace from [`Netns::new`] per test (`lo` up, MULTICAST, 127.0.0.1); no traffic.

mod common;

use std::os::fd::AsFd;

use common::Netns;
use mcast::{ErrorKind, Family, Interface, McastSocket};

/// The kernel's value of an `int` option, read without the library's typed getters.
fn kernel_int(s: &McastSocket, level: libc::c_int, name: libc::c_int) -> i32 {
    mcast::__private::sys::sockopt::getsockopt::<libc::c_int>(s.as_fd(), level, name)
        .unwrap_or_else(|e| panic!("getsockopt({level}, {name}): {e}"))
}

fn udp4() -> McastSocket {
    McastSocket::udp(Family::V4).expect("AF_INET SOCK_DGRAM")
}

fn udp6() -> McastSocket {
    McastSocket::udp(Family::V6).expect("AF_INET6 SOCK_DGRAM")
}

/// A raw socket of an experimental protocol (RFC 3692: 253), which nothing on the host answers.
fn raw4() -> McastSocket {
    McastSocket::raw(Family::V4, 253).expect("AF_INET SOCK_RAW 253 (needs CAP_NET_RAW)")
}

fn raw6() -> McastSocket {
    McastSocket::raw(Family::V6, 253).expect("AF_INET6 SOCK_RAW 253 (needs CAP_NET_RAW)")
}

fn lo_index() -> u32 {
    Interface::by_name("lo").expect("lo").index
}

/// `/proc/sys/net/core/<key>` as this thread's namespace sees it.
fn net_core(key: &str) -> u32 {
    let path = format!("/proc/sys/net/core/{key}");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}")).trim().parse().expect(&path)
}

/// `option!(test_name: socket, LEVEL, C_NAME, getter / setter, default D, [set => read back, ...]);`
macro_rules! option {
    ($(
        $(#[$doc:meta])*
        $test:ident: $sock:expr, $level:ident, $cname:ident, $get:ident / $set:ident,
            default $default:expr, [$($value:expr => $expect:expr),+ $(,)?];
    )*) => {$(
        $(#[$doc])*
        #[test]
        fn $test() {
            needs_root!();
            let ns = Netns::new("opt");
            ns.run(|| {
                let s: McastSocket = $sock;
                let (level, name, cname) = (libc::$level, libc::$cname, stringify!($cname));
                let default = $default;
                assert_eq!(s.$get().unwrap(), default, "{cname}: default");
                assert_eq!(kernel_int(&s, level, name), default as i32, "{cname}: kernel's default");
                $(
                    let (value, expect) = ($value, $expect);
                    s.$set(value).unwrap_or_else(|e| panic!("{cname} = {value:?}: {e}"));
                    assert_eq!(s.$get().unwrap(), expect, "{cname} = {value:?}, read back");
                    assert_eq!(kernel_int(&s, level, name), expect as i32, "{cname} = {value:?}, kernel's value");
                )+
            });
        }
    )*};
}

option! {
    /// ip(7): "IP_MULTICAST_TTL: Set or read the time-to-live value of outgoing multicast packets ... default 1".
    ip_multicast_ttl: udp4(), IPPROTO_IP, IP_MULTICAST_TTL, multicast_ttl_v4 / set_multicast_ttl_v4,
        default 1, [0 => 0, 1 => 1, 7 => 7, 255 => 255];
    /// ip(7): "IP_MULTICAST_LOOP: ... whether sent multicast packets should be looped back ... default on".
    ip_multicast_loop: udp4(), IPPROTO_IP, IP_MULTICAST_LOOP, multicast_loop_v4 / set_multicast_loop_v4,
        default true, [false => false, true => true];
    /// ip(7): "IP_MULTICAST_ALL ... The default value is 1".
    ip_multicast_all: udp4(), IPPROTO_IP, IP_MULTICAST_ALL, multicast_all_v4 / set_multicast_all_v4,
        default true, [false => false, true => true];
    /// ip(7): IP_PKTINFO, off until asked for.
    ip_pktinfo: udp4(), IPPROTO_IP, IP_PKTINFO, pktinfo_v4 / set_pktinfo_v4,
        default false, [true => true, false => false];
    /// ip(7): IP_RECVTTL, off until asked for.
    ip_recvttl: udp4(), IPPROTO_IP, IP_RECVTTL, recv_ttl_v4 / set_recv_ttl_v4,
        default false, [true => true, false => false];
    /// ip(7): IP_TTL, the unicast TTL; it reads as the system default (64) until set, and -1 (`None`)
    /// restores that.
    ip_ttl: udp4(), IPPROTO_IP, IP_TTL, unicast_ttl_v4 / set_unicast_ttl_v4,
        default 64, [Some(1) => 1, Some(200) => 200, Some(255) => 255, None => 64];
    /// raw(7): IP_HDRINCL is off on a raw socket of a protocol other than IPPROTO_RAW.
    ip_hdrincl: raw4(), IPPROTO_IP, IP_HDRINCL, header_included_v4 / set_header_included_v4,
        default false, [true => true, false => false];
    /// ipv6(7): IPV6_MULTICAST_HOPS; -1 (`None`) means "the route default", which Linux stores and reports
    /// as 1.
    ipv6_multicast_hops: udp6(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, multicast_hops_v6 / set_multicast_hops_v6,
        default 1, [Some(0) => 0, Some(1) => 1, Some(7) => 7, Some(255) => 255, None => 1];
    /// ipv6(7): IPV6_UNICAST_HOPS; -1 (`None`) restores the default, which reads as 64.
    ipv6_unicast_hops: udp6(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, unicast_hops_v6 / set_unicast_hops_v6,
        default 64, [Some(1) => 1, Some(200) => 200, Some(255) => 255, None => 64];
    /// ipv6(7): IPV6_MULTICAST_LOOP, on by default.
    ipv6_multicast_loop: udp6(), IPPROTO_IPV6, IPV6_MULTICAST_LOOP, multicast_loop_v6 / set_multicast_loop_v6,
        default true, [false => false, true => true];
    /// ipv6(7): IPV6_MULTICAST_IF by index; 0 reverts to the route's choice.
    ipv6_multicast_if: udp6(), IPPROTO_IPV6, IPV6_MULTICAST_IF, multicast_if_v6 / set_multicast_if_v6,
        default 0, [lo_index() => lo_index(), 0 => 0];
    /// ipv6(7): IPV6_MULTICAST_ALL, on by default like its IPv4 twin.
    ipv6_multicast_all: udp6(), IPPROTO_IPV6, IPV6_MULTICAST_ALL, multicast_all_v6 / set_multicast_all_v6,
        default true, [false => false, true => true];
    /// ipv6(7): IPV6_RECVPKTINFO, off until asked for.
    ipv6_recvpktinfo: udp6(), IPPROTO_IPV6, IPV6_RECVPKTINFO, recv_pktinfo_v6 / set_recv_pktinfo_v6,
        default false, [true => true, false => false];
    /// ipv6(7): IPV6_RECVHOPLIMIT, off until asked for.
    ipv6_recvhoplimit: udp6(), IPPROTO_IPV6, IPV6_RECVHOPLIMIT, recv_hoplimit_v6 / set_recv_hoplimit_v6,
        default false, [true => true, false => false];
    /// ipv6(7): IPV6_V6ONLY defaults to net.ipv6.bindv6only, 0 in a new namespace.
    ipv6_v6only: udp6(), IPPROTO_IPV6, IPV6_V6ONLY, only_v6 / set_only_v6,
        default false, [true => true, false => false];
    /// ipv6(7): IPV6_CHECKSUM on a raw socket: -1 (none) by default, an even offset otherwise.
    ipv6_checksum: raw6(), IPPROTO_IPV6, IPV6_CHECKSUM, checksum_offset_v6 / set_checksum_offset_v6,
        default -1, [2 => 2, -1 => -1];
    /// socket(7): SO_REUSEADDR.
    so_reuseaddr: udp4(), SOL_SOCKET, SO_REUSEADDR, reuse_address / set_reuse_address,
        default false, [true => true, false => false];
    /// socket(7): SO_REUSEPORT.
    so_reuseport: udp4(), SOL_SOCKET, SO_REUSEPORT, reuse_port / set_reuse_port,
        default false, [true => true, false => false];
    /// socket(7): "SO_RCVBUF ... The kernel doubles this value ... and this doubled value is returned by
    /// getsockopt". The default is net.core.rmem_default.
    so_rcvbuf: udp4(), SOL_SOCKET, SO_RCVBUF, recv_buffer_size / set_recv_buffer_size,
        default net_core("rmem_default"), [16384 => 32768, 65536 => 131072];
    /// socket(7): SO_SNDBUF, doubled the same way; the default is net.core.wmem_default.
    so_sndbuf: udp4(), SOL_SOCKET, SO_SNDBUF, send_buffer_size / set_send_buffer_size,
        default net_core("wmem_default"), [16384 => 32768, 65536 => 131072];
    /// socket(7): SO_RXQ_OVFL, off until asked for.
    so_rxq_ovfl: udp4(), SOL_SOCKET, SO_RXQ_OVFL, rxq_overflow / set_rxq_overflow,
        default false, [true => true, false => false];
    /// socket(7): SO_TIMESTAMPNS, off until asked for.
    so_timestampns: udp4(), SOL_SOCKET, SO_TIMESTAMPNS, timestamp_ns / set_timestamp_ns,
        default false, [true => true, false => false];
    /// udp(7): UDP_GRO, off until asked for.
    udp_gro: udp4(), SOL_UDP, UDP_GRO, udp_gro / set_udp_gro,
        default false, [true => true, false => false];
    /// udp(7): UDP_SEGMENT, the socket's GSO size; 0 is off.
    udp_segment: udp4(), SOL_UDP, UDP_SEGMENT, udp_segment / set_udp_segment,
        default 0, [1400 => 1400, 0 => 0];
}

/// raw(7): "If IPPROTO_RAW is specified, the IP_HDRINCL option is enabled": the kernel says so too.
#[test]
fn ip_hdrincl_is_on_for_ipproto_raw() {
    needs_root!();
    Netns::new("opt").run(|| {
        let s = McastSocket::raw(Family::V4, libc::IPPROTO_RAW).expect("SOCK_RAW IPPROTO_RAW");
        assert!(s.header_included_v4().unwrap());
        assert_eq!(kernel_int(&s, libc::IPPROTO_IP, libc::IP_HDRINCL), 1);
    });
}

/// socket(7): SO_RCVBUFFORCE "can override the rmem_max limit" (CAP_NET_ADMIN); the kernel doubles it too.
#[test]
fn so_rcvbufforce_passes_rmem_max() {
    needs_root!();
    Netns::new("opt").run(|| {
        let s = udp4();
        let bytes = 2 * net_core("rmem_max") + 4096;
        s.set_recv_buffer_size(bytes).unwrap();
        assert_eq!(s.recv_buffer_size().unwrap(), 2 * net_core("rmem_max"), "SO_RCVBUF is capped at rmem_max");
        s.set_recv_buffer_size_force(bytes).unwrap();
        assert_eq!(s.recv_buffer_size().unwrap(), 2 * bytes, "SO_RCVBUFFORCE is not capped");
        assert_eq!(kernel_int(&s, libc::SOL_SOCKET, libc::SO_RCVBUF), 2 * bytes as i32);
    });
}

/// socket(7): SO_SNDBUFFORCE "can override the wmem_max limit".
#[test]
fn so_sndbufforce_passes_wmem_max() {
    needs_root!();
    Netns::new("opt").run(|| {
        let s = udp4();
        let bytes = 2 * net_core("wmem_max") + 4096;
        s.set_send_buffer_size(bytes).unwrap();
        assert_eq!(s.send_buffer_size().unwrap(), 2 * net_core("wmem_max"), "SO_SNDBUF is capped at wmem_max");
        s.set_send_buffer_size_force(bytes).unwrap();
        assert_eq!(s.send_buffer_size().unwrap(), 2 * bytes, "SO_SNDBUFFORCE is not capped");
        assert_eq!(kernel_int(&s, libc::SOL_SOCKET, libc::SO_SNDBUF), 2 * bytes as i32);
    });
}

/// ipv6(7) IPV6_CHECKSUM: the kernel itself refuses an odd offset (the library passes it on, with context).
#[test]
fn ipv6_checksum_odd_offset_is_refused_by_the_kernel() {
    needs_root!();
    Netns::new("opt").run(|| {
        let s = raw6();
        let e = s.set_checksum_offset_v6(3).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e}");
        assert!(e.to_string().contains("IPV6_CHECKSUM 3"), "{e}");
        assert_eq!(s.checksum_offset_v6().unwrap(), -1, "unchanged");
    });
}

/// `refused!(test: socket, setter(good, bad), getter, "C_NAME")`: the library refuses `bad` with
/// `OutOfRange` before any syscall (no errno), names the option and value, and the kernel keeps `good`'s value.
macro_rules! refused {
    ($($test:ident: $sock:expr, $set:ident($good:expr, $bad:expr), $get:ident, $cname:literal;)*) => {$(
        #[test]
        fn $test() {
            needs_root!();
            Netns::new("opt").run(|| {
                let s: McastSocket = $sock;
                s.$set($good).unwrap();
                let before = s.$get().unwrap();
                let e = s.$set($bad).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::OutOfRange, "{e}");
                assert_eq!(e.raw_os_error(), None, "refused before the syscall: {e}");
                let text = e.to_string();
                assert!(text.contains($cname) && text.contains(&$bad.to_string()), "{text}");
                assert_eq!(s.$get().unwrap(), before, "the kernel's value is untouched");
            });
        }
    )*};
}

// TTLs and hop limits take a `u8` (hops also `None`, the route's default), so a TTL of 256 or a hop limit of
// -2 does not compile; the C ABI's `int` is checked where it crosses (src/capi/tests.rs, tests/c/test_args.c).
refused! {
    udp_segment_65536_is_out_of_range: udp4(), set_udp_segment(1400, 65536), udp_segment, "UDP_SEGMENT";
    rcvbuf_past_int_max_is_out_of_range: udp4(), set_recv_buffer_size(16384, u32::MAX), recv_buffer_size, "SO_RCVBUF";
    ipv6_multicast_if_past_int_max_is_out_of_range:
        udp6(), set_multicast_if_v6(0, u32::MAX), multicast_if_v6, "IPV6_MULTICAST_IF";
}

//! The C functions called from Rust: argument checks, `errno`, the last-error message, output parameters left
//! alone on failure, descriptors never closed behind the caller's back. No traffic and no joins here (they
//! belong to the C suite, inside network namespaces): these sockets only have options set and read.

use std::ffi::{c_char, c_int, CStr};
use std::ptr::{null, null_mut};

use super::endpoint::*;
use super::error::*;
use super::iface::*;
use super::io::*;
use super::layout::*;
use super::socket::*;
use super::types::*;

fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn last_error() -> String {
    // SAFETY: mcast_last_error returns a valid NUL-terminated string owned by this thread.
    unsafe { CStr::from_ptr(mcast_last_error()) }.to_string_lossy().into_owned()
}

/// Asserts a call failed with -1, `errno` and a last-error message containing `text`.
macro_rules! fails {
    ($call:expr, $errno:expr, $text:expr) => {{
        let ret = $call;
        let (e, msg) = (errno(), last_error());
        assert_eq!(ret as i64, -1, "{} returned {ret}", stringify!($call));
        assert_eq!(e, $errno, "{}: errno {e} ({msg})", stringify!($call));
        assert!(msg.contains($text), "{}: message {msg:?} lacks {:?}", stringify!($call), $text);
    }};
}

/// An unbound UDP socket of `af` (no traffic is ever sent on it).
fn open(af: c_int) -> c_int {
    // SAFETY: integer arguments only.
    let fd = unsafe { mcast_open(af, libc::SOCK_DGRAM, 0) };
    assert!(fd >= 0, "mcast_open: {}", last_error());
    fd
}

fn close(fd: c_int) {
    // SAFETY: fd is ours.
    assert_eq!(unsafe { mcast_close(fd) }, 0, "{}", last_error());
}

fn is_open(fd: c_int) -> bool {
    // SAFETY: F_GETFD takes no pointer.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

#[test]
fn null_pointers_are_einval_and_name_the_argument() {
    let fd = open(libc::AF_INET);
    // SAFETY: every pointer is NULL or valid; NULL is what is being tested.
    unsafe {
        fails!(mcast_get_ttl(fd, null_mut()), libc::EINVAL, "mcast_get_ttl: ttl is NULL");
        fails!(mcast_get_loop(fd, null_mut()), libc::EINVAL, "on is NULL");
        fails!(mcast_set_if(fd, null()), libc::EINVAL, "iface is NULL");
        fails!(mcast_get_if(fd, null_mut()), libc::EINVAL, "ifindex is NULL");
        fails!(mcast_get_if_addr(fd, null_mut()), libc::EINVAL, "addr is NULL");
        fails!(mcast_join(fd, null(), null()), libc::EINVAL, "group is NULL");
        fails!(mcast_leave(fd, null(), c"lo".as_ptr()), libc::EINVAL, "group is NULL");
        fails!(mcast_join_source(fd, c"232.1.1.1".as_ptr(), null(), null()), libc::EINVAL, "source is NULL");
        fails!(mcast_leave_source(fd, null(), null(), null()), libc::EINVAL, "group is NULL");
        fails!(mcast_join_addr(fd, null(), 0), libc::EINVAL, "group is NULL");
        fails!(mcast_join_addr6(fd, null(), 0), libc::EINVAL, "group is NULL");
        fails!(mcast_leave_addr(fd, null(), 0), libc::EINVAL, "group is NULL");
        fails!(mcast_leave_addr6(fd, null(), 0), libc::EINVAL, "group is NULL");
        fails!(mcast_sender(null(), null()), libc::EINVAL, "group_port is NULL");
        fails!(mcast_receiver(null(), null()), libc::EINVAL, "group_port is NULL");
        fails!(mcast_send(fd, null(), 0), libc::EINVAL, "buf is NULL");
        fails!(mcast_send_to(fd, b"x".as_ptr().cast(), 1, null()), libc::EINVAL, "group_port is NULL");
        fails!(mcast_recv(fd, null_mut(), 10, null_mut()), libc::EINVAL, "buf is NULL");
        fails!(mcast_send_batch(fd, null(), 1), libc::EINVAL, "bufs is NULL");
        let mut buf = [0u8; 4];
        let iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        fails!(mcast_recv_batch(fd, &iov, null_mut(), 1), libc::EINVAL, "infos is NULL");
        let holes = libc::iovec { iov_base: null_mut(), iov_len: 4 };
        let mut info = [McastRxinfo::from(&dummy_meta()); 1];
        fails!(mcast_recv_batch(fd, &holes, info.as_mut_ptr(), 1), libc::EINVAL, "iov_base is NULL");
        fails!(mcast_if_list(null_mut(), null_mut()), libc::EINVAL, "list is NULL");
        // The _free and _init functions accept NULL and do nothing.
        mcast_if_list_free(null_mut());
        mcast_opts_init(null_mut());
    }
    assert!(is_open(fd), "a failed call must not close the caller's descriptor");
    close(fd);
}

fn dummy_meta() -> crate::RecvMeta {
    crate::RecvMeta::sample(3, 5, None)
}

#[test]
fn rxinfo_carries_every_field_of_the_metadata() {
    let info = McastRxinfo::from(&dummy_meta());
    let source = crate::sys::mreq::from_sockaddr(&info.source, std::mem::size_of::<libc::sockaddr_in>() as u32);
    assert_eq!(source, Some("192.0.2.1:5000".parse().unwrap()));
    let group = crate::sys::mreq::from_sockaddr(&info.group, std::mem::size_of::<libc::sockaddr_in>() as u32);
    assert_eq!(group, Some("239.1.2.3:0".parse().unwrap()));
    assert_eq!((info.len, info.full_len, info.truncated, info.ifindex, info.ttl, info.drops), (3, 5, 1, 3, 9, 4));
    let unknown = McastRxinfo::from(&crate::RecvMeta { group: None, ttl: None, ifindex: None, ..dummy_meta() });
    assert_eq!(unknown.group.ss_family as c_int, libc::AF_UNSPEC);
    assert_eq!((unknown.ttl, unknown.ifindex), (-1, 0));
}

#[test]
fn bad_descriptors_are_ebadf_and_wrong_sockets_eafnosupport() {
    // Tests run on parallel threads, so a descriptor closed here could be reused by another test at once:
    // use a number above any open-file limit instead (the C suite, single-threaded, closes a real one).
    let fd = 1 << 24;
    let mut ttl = 77;
    // SAFETY: valid pointers; the descriptors are what is being tested.
    unsafe {
        fails!(mcast_set_ttl(fd, 1), libc::EBADF, "SO_DOMAIN");
        fails!(mcast_get_ttl(fd, &mut ttl), libc::EBADF, "Bad file descriptor");
        fails!(mcast_set_ttl(-1, 1), libc::EBADF, "-1 is not a file descriptor");
        fails!(mcast_close(fd), libc::EBADF, "close");
        fails!(mcast_close(-5), libc::EBADF, "-5");
        let tcp = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(tcp >= 0);
        fails!(mcast_set_loop(tcp, 1), libc::EAFNOSUPPORT, "not a SOCK_DGRAM or SOCK_RAW socket");
        assert!(is_open(tcp));
        libc::close(tcp);
        let mut pair = [0; 2];
        assert_eq!(libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0, pair.as_mut_ptr()), 0);
        fails!(mcast_get_ttl(pair[0], &mut ttl), libc::EAFNOSUPPORT, "not an AF_INET or AF_INET6 socket");
        libc::close(pair[0]);
        libc::close(pair[1]);
    }
    assert_eq!(ttl, 77, "output parameters are written only on success");
}

#[test]
fn open_checks_family_and_type() {
    // SAFETY: integer arguments only.
    unsafe {
        fails!(mcast_open(libc::AF_UNIX, libc::SOCK_DGRAM, 0), libc::EAFNOSUPPORT, "AF_INET or AF_INET6");
        fails!(mcast_open(libc::AF_INET, libc::SOCK_STREAM, 0), libc::EAFNOSUPPORT, "SOCK_DGRAM and SOCK_RAW");
        let fd = mcast_open(libc::AF_INET6, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, 0);
        assert!(fd >= 0, "{}", last_error());
        assert_ne!(libc::fcntl(fd, libc::F_GETFL) & libc::O_NONBLOCK, 0);
        assert_ne!(libc::fcntl(fd, libc::F_GETFD) & libc::FD_CLOEXEC, 0);
        let mut buf = [0u8; 8];
        fails!(mcast_recv(fd, buf.as_mut_ptr().cast(), buf.len(), null_mut()), libc::EAGAIN, "recvmsg");
        close(fd);
    }
}

#[test]
fn ttl_is_range_checked_by_the_family_and_left_alone_on_failure() {
    let (v4, v6) = (open(libc::AF_INET), open(libc::AF_INET6));
    let mut ttl: c_int = -7;
    // SAFETY: valid descriptors and pointers.
    unsafe {
        assert_eq!(mcast_set_ttl(v4, 255), 0);
        assert_eq!(mcast_get_ttl(v4, &mut ttl), 0);
        assert_eq!(ttl, 255);
        fails!(mcast_set_ttl(v4, 256), libc::EINVAL, "IP_MULTICAST_TTL 256 is out of range 0..=255");
        fails!(mcast_set_ttl(v4, 300), libc::EINVAL, "IP_MULTICAST_TTL 300 is out of range 0..=255");
        fails!(mcast_set_ttl(v4, c_int::MAX), libc::EINVAL, "IP_MULTICAST_TTL 2147483647 is out of range");
        fails!(mcast_set_ttl(v4, -1), libc::EINVAL, "cannot be negative");
        assert_eq!(mcast_get_ttl(v4, &mut ttl), 0);
        assert_eq!(ttl, 255, "a refused TTL changes nothing");
        assert_eq!(mcast_set_ttl(v6, 0), 0);
        assert_eq!(mcast_get_ttl(v6, &mut ttl), 0);
        assert_eq!(ttl, 0);
        assert_eq!(mcast_set_ttl(v6, -1), 0, "-1 is the route's default hop limit");
        assert_eq!(mcast_get_ttl(v6, &mut ttl), 0);
        assert_eq!(ttl, 1);
        fails!(mcast_set_ttl(v6, 256), libc::EINVAL, "IPV6_MULTICAST_HOPS 256 is out of range -1..=255");
        fails!(mcast_set_ttl(v6, 300), libc::EINVAL, "IPV6_MULTICAST_HOPS 300 is out of range -1..=255");
        fails!(mcast_set_ttl(v6, -2), libc::EINVAL, "IPV6_MULTICAST_HOPS -2 is out of range -1..=255");
        fails!(mcast_set_ttl(v6, c_int::MIN), libc::EINVAL, "IPV6_MULTICAST_HOPS -2147483648 is out of range");
        assert_eq!(mcast_get_ttl(v6, &mut ttl), 0);
        assert_eq!(ttl, 1, "a refused hop limit changes nothing");
    }
    close(v4);
    close(v6);
}

#[test]
fn loop_and_interface_options_round_trip() {
    for af in [libc::AF_INET, libc::AF_INET6] {
        let fd = open(af);
        let (mut on, mut index): (c_int, u32) = (9, 9);
        // SAFETY: valid descriptor and pointers.
        unsafe {
            assert_eq!(mcast_set_loop(fd, 0), 0);
            assert_eq!(mcast_get_loop(fd, &mut on), 0);
            assert_eq!(on, 0);
            assert_eq!(mcast_set_loop(fd, 42), 0);
            assert_eq!(mcast_get_loop(fd, &mut on), 0);
            assert_eq!(on, 1);
            let lo = crate::sys::ifconf::name_to_index("lo").unwrap();
            assert_eq!(mcast_set_if(fd, c"lo".as_ptr()), 0, "{}", last_error());
            assert_eq!(mcast_get_if(fd, &mut index), 0, "{}", last_error());
            assert_eq!(index, lo);
            assert_eq!(mcast_set_if(fd, c"0".as_ptr()), 0);
            assert_eq!(mcast_get_if(fd, &mut index), 0);
            assert_eq!(index, 0);
            assert_eq!(mcast_set_if_index(fd, lo), 0, "{}", last_error());
            fails!(mcast_set_if(fd, c"nosuchif0".as_ptr()), libc::ENODEV, "unknown interface 'nosuchif0'");
            fails!(mcast_set_if(fd, c"a/b".as_ptr()), libc::ENODEV, "cannot be an interface name");
            fails!(mcast_set_if(fd, c"".as_ptr()), libc::EINVAL, "empty interface");
            fails!(mcast_set_if_index(fd, 999_999), libc::ENODEV, "unknown interface '999999'");
        }
        close(fd);
    }
}

#[test]
fn joins_refuse_bad_groups_before_any_syscall() {
    let (v4, v6) = (open(libc::AF_INET), open(libc::AF_INET6));
    let unicast = libc::in_addr { s_addr: u32::from_ne_bytes([10, 0, 0, 1]) };
    let v6_unicast = libc::in6_addr { s6_addr: "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets() };
    let bad: *const c_char = c"\xff\xfe".as_ptr();
    // SAFETY: valid descriptors and pointers.
    unsafe {
        fails!(mcast_join(v4, c"10.0.0.1".as_ptr(), null()), libc::EINVAL, "not a multicast address");
        fails!(mcast_join(v4, c"not-a-group".as_ptr(), null()), libc::EINVAL, "is not a group");
        fails!(mcast_join(v4, bad, null()), libc::EINVAL, "group is not UTF-8");
        fails!(mcast_join(v4, c"ff12::1".as_ptr(), null()), libc::EAFNOSUPPORT, "IPv6 group ff12::1 on an IPv4");
        fails!(mcast_join(v6, c"239.1.2.3".as_ptr(), null()), libc::EAFNOSUPPORT, "IPv4 group");
        fails!(mcast_join(v4, c"239.1.2.3".as_ptr(), c"nosuchif0".as_ptr()), libc::ENODEV, "nosuchif0");
        fails!(mcast_join_source(v4, c"232.1.1.1".as_ptr(), c"x".as_ptr(), null()), libc::EINVAL, "source 'x'");
        fails!(
            mcast_join_source(v4, c"232.1.1.1".as_ptr(), c"239.1.1.1".as_ptr(), null()),
            libc::EINVAL,
            "source 239.1.1.1 is a multicast address; a source must be a unicast address"
        );
        fails!(
            mcast_join_source(v6, c"ff3e::8000:1".as_ptr(), c"::".as_ptr(), null()),
            libc::EINVAL,
            "source :: is the unspecified address"
        );
        fails!(mcast_join_addr(v4, &unicast, 0), libc::EINVAL, "10.0.0.1 is not a multicast address");
        fails!(mcast_join_addr6(v6, &v6_unicast, 0), libc::EINVAL, "2001:db8::1 is not a multicast");
        fails!(mcast_leave_addr(v6, &unicast, 0), libc::EINVAL, "not a multicast");
    }
    close(v4);
    close(v6);
}

#[test]
fn endpoints_refuse_bad_groups_and_options() {
    let mut opts = McastOpts::default();
    // SAFETY: valid pointers.
    unsafe {
        fails!(mcast_sender(c"239.1.2.3".as_ptr(), null()), libc::EINVAL, "has no port");
        fails!(mcast_receiver(c"10.1.2.3:5000".as_ptr(), null()), libc::EINVAL, "not a multicast address");
        opts.ttl = 256;
        fails!(mcast_sender(c"239.1.2.3:5000".as_ptr(), &opts), libc::EINVAL, "IP_MULTICAST_TTL 256");
        opts.ttl = 300;
        fails!(mcast_sender(c"[ff15::1]:5000".as_ptr(), &opts), libc::EINVAL, "IPV6_MULTICAST_HOPS 300 is out of");
        opts.ttl = -2;
        fails!(mcast_sender(c"239.1.2.3:5000".as_ptr(), &opts), libc::EINVAL, "TTL -2");
        opts = McastOpts { iface: c"nosuchif0".as_ptr(), ..McastOpts::default() };
        fails!(mcast_sender(c"239.1.2.3:5000".as_ptr(), &opts), libc::ENODEV, "nosuchif0");
        fails!(mcast_receiver(c"239.1.2.3:5000".as_ptr(), &opts), libc::ENODEV, "nosuchif0");
        opts = McastOpts { source: c"nope".as_ptr(), ..McastOpts::default() };
        fails!(mcast_receiver(c"232.1.1.1:5000".as_ptr(), &opts), libc::EINVAL, "opts->source 'nope'");
        fails!(mcast_receiver(c"[ff02::1]:5000".as_ptr(), null()), libc::ENODEV, "link-local");
        let fd = open(libc::AF_INET);
        fails!(mcast_send_to(fd, b"x".as_ptr().cast(), 1, c"10.0.0.1:9".as_ptr()), libc::EINVAL, "not a multicast");
        fails!(mcast_send(fd, b"x".as_ptr().cast(), 1), libc::EDESTADDRREQ, "send");
        let iov = libc::iovec { iov_base: b"x".as_ptr() as *mut _, iov_len: 1 };
        fails!(mcast_send_batch(fd, &iov, 1), libc::ENOTCONN, "getpeername");
        close(fd);
    }
    let mut init = McastOpts { ttl: 5, loop_: 5, reuse: 5, nonblock: 5, rcvbuf: 5, ..McastOpts::default() };
    // SAFETY: valid pointer.
    unsafe { mcast_opts_init(&mut init) };
    assert_eq!((init.ttl, init.loop_, init.reuse, init.nonblock, init.rcvbuf), (-1, -1, 1, 0, 0));
    assert!(init.iface.is_null() && init.source.is_null());
}

#[test]
fn panics_become_eio_with_a_message() {
    let ret = super::boundary("mcast_test", -1, || -> super::CResult<c_int> { panic!("boom") });
    let (e, msg) = (errno(), last_error());
    assert_eq!((ret, e), (-1, libc::EIO));
    assert_eq!(msg, "mcast_test: internal error (panic caught at the C boundary): boom");
}

#[test]
fn strerror_version_and_layout() {
    // SAFETY: the returned strings are valid and NUL-terminated.
    unsafe {
        let s = CStr::from_ptr(mcast_strerror(libc::ENODEV)).to_str().unwrap();
        assert!(s.starts_with("No such device (") && s.contains("interface"), "{s}");
        let s = CStr::from_ptr(mcast_strerror(libc::EINTR)).to_str().unwrap();
        assert_eq!(s, "Interrupted system call");
        assert_eq!(CStr::from_ptr(mcast_version()).to_str().unwrap(), crate::VERSION);
        let mut n = 0;
        let table = mcast_abi_layout(&mut n);
        assert_eq!(n, entries().len());
        assert_eq!(table, entries().as_ptr());
    }
    let field = |ty: &[u8], name: &[u8]| {
        entries().iter().find(|e| {
            // SAFETY: the table's names are static NUL-terminated strings.
            unsafe {
                !e.field.is_null()
                    && CStr::from_ptr(e.type_name).to_bytes() == ty
                    && CStr::from_ptr(e.field).to_bytes() == name
            }
        })
    };
    // 0.2 puts size first; 0.1's layout stays in the table for programs built against it.
    assert_eq!(field(b"mcast_opts", b"loop").map(|e| (e.offset, e.size)), Some((12, 4)));
    assert_eq!(field(b"mcast_opts_0_1", b"loop").map(|e| (e.offset, e.size)), Some((4, 4)));
    assert_eq!(field(b"mcast_rxinfo", b"size").map(|e| (e.offset, e.size)), Some((0, 8)));
}

#[test]
fn interface_list_has_loopback_and_frees_cleanly() {
    let mut list: *mut McastIface = null_mut();
    let mut count = 0usize;
    // SAFETY: valid out pointers; the list is read within its length and freed once.
    unsafe {
        assert_eq!(mcast_if_list(&mut list, &mut count), 0, "{}", last_error());
        assert!(!list.is_null() && count >= 1);
        let entries = std::slice::from_raw_parts(list, count + 1);
        assert_eq!(entries[count].index, 0, "the list ends with index 0");
        let lo = entries.iter().find(|e| CStr::from_ptr(e.name.as_ptr()).to_bytes() == b"lo").expect("lo");
        assert_ne!(lo.flags & libc::IFF_LOOPBACK as u32, 0);
        assert_eq!(lo.n_ipv4, 1);
        assert_eq!((*lo.ipv4).s_addr, u32::from_ne_bytes([127, 0, 0, 1]));
        mcast_if_list_free(list);
    }
}

/// A failed system call's message names the call and the group, then the kernel's words, once.
#[test]
fn last_error_names_the_call_and_its_cause_once() {
    let fd = open(libc::AF_INET);
    // SAFETY: valid NUL-terminated strings; leaving a group never joined changes nothing.
    unsafe {
        fails!(
            mcast_leave(fd, c"239.7.7.8".as_ptr(), c"lo".as_ptr()),
            libc::EADDRNOTAVAIL,
            "IP_DROP_MEMBERSHIP 239.7.7.8"
        );
    }
    let msg = last_error();
    assert_eq!(msg.matches("Cannot assign requested address").count(), 1, "{msg}");
    close(fd);
}

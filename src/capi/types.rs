//! The structs of `ffi/mcast.h`, laid out by `#[repr(C)]`. `layout.rs` exports their sizes and offsets, and the
//! C suite compares them with what the C compiler makes of the header, so the two cannot drift apart.

use std::ffi::{c_char, c_int, c_uint};
use std::mem::{align_of, offset_of, size_of, MaybeUninit};
use std::net::SocketAddr;
use std::ptr::addr_of_mut;

use super::{CResult, Failure};

use crate::sys::cmsg::{self, Sink};
use crate::sys::mreq::sockaddr_storage;
use crate::sys::socket::RawRecv;
use crate::{Error, ErrorKind, RecvMeta};

/// `struct mcast_opts`: settings for `mcast_sender` and `mcast_receiver`; `MCAST_OPTS_INIT` and
/// `mcast_opts_init` give the defaults. `size` comes first so that the struct can grow: the library reads only
/// the fields the caller's `size` covers and takes the defaults for the rest.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct McastOpts {
    /// `sizeof(struct mcast_opts)` as the caller's header has it.
    pub size: usize,
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
        McastOpts::from(McastOpts01::default())
    }
}

/// `struct mcast_opts` as 0.1 laid it out, without `size`: what programs built against 0.1 pass.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct McastOpts01 {
    /// As [`McastOpts::ttl`].
    pub ttl: c_int,
    /// As [`McastOpts::loop_`].
    pub loop_: c_int,
    /// As [`McastOpts::iface`].
    pub iface: *const c_char,
    /// As [`McastOpts::source`].
    pub source: *const c_char,
    /// As [`McastOpts::reuse`].
    pub reuse: c_int,
    /// As [`McastOpts::nonblock`].
    pub nonblock: c_int,
    /// As [`McastOpts::rcvbuf`].
    pub rcvbuf: c_uint,
}

impl Default for McastOpts01 {
    fn default() -> Self {
        McastOpts01 {
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

impl From<McastOpts01> for McastOpts {
    fn from(o: McastOpts01) -> Self {
        McastOpts {
            size: size_of::<McastOpts>(),
            ttl: o.ttl,
            loop_: o.loop_,
            iface: o.iface,
            source: o.source,
            reuse: o.reuse,
            nonblock: o.nonblock,
            rcvbuf: o.rcvbuf,
        }
    }
}

impl From<McastOpts> for McastOpts01 {
    fn from(o: McastOpts) -> Self {
        McastOpts01 {
            ttl: o.ttl,
            loop_: o.loop_,
            iface: o.iface,
            source: o.source,
            reuse: o.reuse,
            nonblock: o.nonblock,
            rcvbuf: o.rcvbuf,
        }
    }
}

/// The end of each field of a struct, for [`covered`].
macro_rules! field_ends {
    ($ty:ty: $($field:ident: $fty:ty),*) => {
        [$(offset_of!($ty, $field) + size_of::<$fty>()),*]
    };
}

/// How many leading bytes of a struct whose fields end at `ends` a caller's `size` covers, whole fields only: a
/// caller built against an older header has a shorter struct, and a field it lacks must not be read half.
#[inline]
fn covered(size: usize, ends: &[usize]) -> usize {
    match ends.last() {
        // A caller of this version or a newer one (the receive calls' usual case, checked on every datagram).
        Some(&last) if size >= last => last,
        _ => ends.iter().copied().filter(|&e| e <= size).max().unwrap_or(0),
    }
}

const OPTS_ENDS: [usize; 8] = field_ends!(McastOpts: size: usize, ttl: c_int, loop_: c_int, iface: *const c_char,
    source: *const c_char, reuse: c_int, nonblock: c_int, rcvbuf: c_uint);

const RXINFO_ENDS: [usize; 9] = field_ends!(McastRxinfo: size: usize, source: libc::sockaddr_storage,
    group: libc::sockaddr_storage, len: usize, full_len: usize, ifindex: c_uint, ttl: c_int, truncated: c_int,
    drops: u32);

/// Reads a caller's sized `struct mcast_opts` (NULL: the defaults): the fields its `size` covers, the defaults
/// for the rest. A `size` smaller than the field itself is `EINVAL`; one larger than this library's struct is accepted only if the bytes this library does not know are
/// zero (`E2BIG` otherwise), as `perf_event_open(2)` does, so a newer program's settings are never silently lost.
///
/// # Safety
/// `opts` is NULL or points at a `struct mcast_opts` readable for `opts->size` bytes.
pub(super) unsafe fn read_opts(opts: *const McastOpts) -> CResult<McastOpts> {
    let mut value = McastOpts::default();
    if opts.is_null() {
        return Ok(value);
    }
    // SAFETY: non-NULL; the contract makes at least the size field readable.
    let size = unsafe { opts.cast::<usize>().read() };
    check_size(size, false, "opts", "struct mcast_opts")?;
    let ours = size_of::<McastOpts>();
    if size > ours {
        // SAFETY: the contract makes `size` bytes readable; the tail starts past our struct.
        let tail = unsafe { std::slice::from_raw_parts(opts.cast::<u8>().add(ours), size - ours) };
        if tail.iter().any(|&b| b != 0) {
            return Err(Failure::new(
                libc::E2BIG,
                format!("opts->size is {size}, and fields past this library's {ours} bytes are set: update libmcast"),
            ));
        }
    }
    let take = covered(size, &OPTS_ENDS);
    // SAFETY: `take` <= min(size, sizeof McastOpts) bytes: readable in the caller's struct, writable in ours;
    // whole fields only, so every pointer copied is the caller's whole pointer.
    unsafe { std::ptr::copy_nonoverlapping(opts.cast::<u8>(), (&mut value as *mut McastOpts).cast::<u8>(), take) };
    value.size = ours;
    Ok(value)
}

/// Checks a caller's `size`: at least the size field itself, and for an array (`stride`) a multiple of the
/// struct's alignment, so that every entry is aligned.
/// `what` names the struct (`opts`, `info`, `infos`); the message is made only on failure, since receive calls
/// check on every datagram.
#[inline]
fn check_size(size: usize, stride: bool, what: &str, ty: &str) -> CResult<()> {
    if size < size_of::<usize>() || (stride && size % align_of::<usize>() != 0) {
        return Err(bad_size(size, what, ty));
    }
    Ok(())
}

#[cold]
#[inline(never)]
fn bad_size(size: usize, what: &str, ty: &str) -> Failure {
    Failure::invalid(format!("{what}->size is {size}: set it to sizeof({ty})"))
}

/// `struct mcast_rxinfo`: what `mcast_recv` learnt about one datagram. `size` comes first: the caller sets it
/// to `sizeof(struct mcast_rxinfo)` before the call, and the library writes only the fields it covers (and, of
/// a newer caller's larger struct, only those it knows), leaving `size` as it was.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct McastRxinfo {
    /// The caller's `sizeof(struct mcast_rxinfo)`, never changed by the library.
    pub size: usize,
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

/// `struct mcast_rxinfo` as 0.1 laid it out, without `size`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct McastRxinfo01 {
    /// As [`McastRxinfo::source`].
    pub source: libc::sockaddr_storage,
    /// As [`McastRxinfo::group`].
    pub group: libc::sockaddr_storage,
    /// As [`McastRxinfo::len`].
    pub len: usize,
    /// As [`McastRxinfo::full_len`].
    pub full_len: usize,
    /// As [`McastRxinfo::ifindex`].
    pub ifindex: c_uint,
    /// As [`McastRxinfo::ttl`].
    pub ttl: c_int,
    /// As [`McastRxinfo::truncated`].
    pub truncated: c_int,
    /// As [`McastRxinfo::drops`].
    pub drops: u32,
}

impl From<&RecvMeta> for McastRxinfo {
    fn from(m: &RecvMeta) -> Self {
        McastRxinfo {
            size: size_of::<McastRxinfo>(),
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

/// A receive's raw answer, checked: the datagram calls' path to `struct mcast_rxinfo`, which copies the
/// sender's address as the kernel wrote it and reads the control messages once, straight into the caller's
/// entry, with no Rust address types in between.
#[derive(Clone, Copy)]
pub(super) struct RawRx<'a> {
    raw: RawRecv<'a>,
    /// The sender's `sockaddr_in` or `sockaddr_in6`.
    source: &'a [u8],
}

impl<'a> RawRx<'a> {
    /// The answer of one `recvmsg`. A sender that is not an IPv4 or IPv6 address (a socket of another family)
    /// is an error, as in the safe API; nothing has been written then.
    #[inline]
    pub(super) fn new(raw: RawRecv<'a>) -> CResult<Self> {
        match raw.source_bytes() {
            Some(source) => Ok(RawRx { raw, source }),
            None => Err(no_ip_source()),
        }
    }

    /// Bytes placed in the buffer.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.raw.len
    }

    /// Writes the whole entry at `p` but its size.
    ///
    /// # Safety
    /// `p` is writable for a `McastRxinfo` (any alignment).
    #[inline]
    unsafe fn fill(&self, p: *mut McastRxinfo) {
        let r = &self.raw;
        // SAFETY: every field pointer lies within *p, writable by the contract; the unaligned writes ask nothing
        // of its alignment.
        unsafe {
            // The address as the kernel wrote it, zeros after it; each copy of a constant length.
            let source = addr_of_mut!((*p).source);
            source.write_bytes(0, 1);
            if let Ok(sin) = <[u8; size_of::<libc::sockaddr_in>()]>::try_from(self.source) {
                source.cast::<[u8; size_of::<libc::sockaddr_in>()]>().write_unaligned(sin);
            } else if let Ok(sin6) = <[u8; size_of::<libc::sockaddr_in6>()]>::try_from(self.source) {
                source.cast::<[u8; size_of::<libc::sockaddr_in6>()]>().write_unaligned(sin6);
            }
            addr_of_mut!((*p).group).write_bytes(0, 1);
            addr_of_mut!((*p).len).write_unaligned(r.len);
            addr_of_mut!((*p).full_len).write_unaligned(r.full_len);
            addr_of_mut!((*p).truncated).write_unaligned(c_int::from(r.truncated));
            addr_of_mut!((*p).ifindex).write_unaligned(0);
            addr_of_mut!((*p).ttl).write_unaligned(-1);
            addr_of_mut!((*p).drops).write_unaligned(0);
        }
        cmsg::walk(r.control, &mut EntrySink(p));
    }
}

#[cold]
fn no_ip_source() -> Failure {
    Error::new(ErrorKind::Mismatch, "datagram without an IP source").into()
}

/// The control messages' values, written into an entry whose defaults are in place (see [`RawRx::fill`]).
struct EntrySink(*mut McastRxinfo);

impl Sink for EntrySink {
    #[inline]
    fn pktinfo_v4(&mut self, pi: &libc::in_pktinfo) {
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: pi.ipi_addr,
            sin_zero: [0; 8],
        };
        // SAFETY: the entry is writable (RawRx::fill's contract), and its group storage already zeroed past the
        // address.
        unsafe {
            addr_of_mut!((*self.0).group).cast::<libc::sockaddr_in>().write_unaligned(sin);
            addr_of_mut!((*self.0).ifindex).write_unaligned(c_uint::try_from(pi.ipi_ifindex).unwrap_or(0));
        }
    }
    #[inline]
    fn pktinfo_v6(&mut self, pi: &libc::in6_pktinfo) {
        let sin6 = libc::sockaddr_in6 {
            sin6_family: libc::AF_INET6 as libc::sa_family_t,
            sin6_port: 0,
            sin6_flowinfo: 0,
            sin6_addr: pi.ipi6_addr,
            sin6_scope_id: 0,
        };
        // SAFETY: as above.
        unsafe {
            addr_of_mut!((*self.0).group).cast::<libc::sockaddr_in6>().write_unaligned(sin6);
            addr_of_mut!((*self.0).ifindex).write_unaligned(pi.ipi6_ifindex);
        }
    }
    #[inline]
    fn ttl(&mut self, ttl: Option<u8>) {
        // SAFETY: as above.
        unsafe { addr_of_mut!((*self.0).ttl).write_unaligned(ttl.map_or(-1, c_int::from)) }
    }
    #[inline]
    fn drops(&mut self, drops: Option<u32>) {
        // SAFETY: as above.
        unsafe { addr_of_mut!((*self.0).drops).write_unaligned(drops.unwrap_or(0)) }
    }
}

// 0.1's entry is this version's without the leading size: RxOut::write_with copies one from the other.
const _: () = {
    assert!(size_of::<McastRxinfo01>() + size_of::<usize>() == size_of::<McastRxinfo>());
    assert!(offset_of!(McastRxinfo01, source) + size_of::<usize>() == offset_of!(McastRxinfo, source));
    assert!(offset_of!(McastRxinfo01, drops) + size_of::<usize>() == offset_of!(McastRxinfo, drops));
};

/// Where a receive call writes its `struct mcast_rxinfo` entries: nowhere (NULL), 0.1's layout, or the sized
/// layout, `stride` bytes apart with the first `take` bytes of each written. Checked before anything is
/// received, written only once the call has succeeded.
pub(super) enum RxOut {
    /// The caller passed NULL.
    Nowhere,
    /// A 0.1 program's array.
    V01(*mut McastRxinfo01),
    /// A sized array.
    Sized { base: *mut u8, stride: usize, take: usize },
}

impl RxOut {
    /// The `count` sized entries at `infos` (NULL: [`RxOut::Nowhere`]); the first entry's `size` is every
    /// entry's size, the array's stride. An empty array is not read.
    ///
    /// # Safety
    /// `infos` is NULL or points at `count` entries of `infos->size` bytes each, writable for the call.
    #[inline]
    pub(super) unsafe fn sized(infos: *mut McastRxinfo, count: usize, what: &str) -> CResult<Self> {
        if infos.is_null() {
            return Ok(RxOut::Nowhere);
        }
        if count == 0 {
            return Ok(RxOut::Sized { base: infos.cast(), stride: 0, take: 0 });
        }
        // SAFETY: non-NULL; the contract makes the first entry's size field readable.
        let size = unsafe { infos.cast::<usize>().read() };
        check_size(size, true, what, "struct mcast_rxinfo")?;
        Ok(RxOut::Sized { base: infos.cast(), stride: size, take: covered(size, &RXINFO_ENDS) })
    }

    /// 0.1 entries at `infos` (NULL: [`RxOut::Nowhere`]).
    pub(super) fn v01(infos: *mut McastRxinfo01) -> Self {
        if infos.is_null() {
            RxOut::Nowhere
        } else {
            RxOut::V01(infos)
        }
    }

    /// True for NULL.
    pub(super) fn is_nowhere(&self) -> bool {
        matches!(self, RxOut::Nowhere)
    }

    /// Writes entry `i` from a receive's raw answer.
    ///
    /// # Safety
    /// The array this was made from has at least `i + 1` entries, writable for the call.
    #[inline]
    pub(super) unsafe fn write_raw(&self, i: usize, rx: &RawRx<'_>) {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.write_with(i, |p| rx.fill(p)) }
    }

    /// Writes entry `i` from `meta`.
    ///
    /// # Safety
    /// As [`RxOut::write_raw`].
    pub(super) unsafe fn write(&self, i: usize, meta: &RecvMeta) {
        let value = McastRxinfo::from(meta);
        // SAFETY: forwarded from this function's contract; `fill` is handed a writable McastRxinfo.
        unsafe { self.write_with(i, |p| p.write_unaligned(value)) }
    }

    /// Writes entry `i` with `fill`, which writes a whole `McastRxinfo` but its size at the pointer it is
    /// given: the caller's entry itself when it is of this version's layout and size (the common case, no
    /// copy), else a struct on the stack of which the fields the entry has are then copied.
    ///
    /// # Safety
    /// As [`RxOut::write_raw`]; `fill` writes nothing but the `McastRxinfo` it is given.
    #[inline]
    unsafe fn write_with(&self, i: usize, fill: impl FnOnce(*mut McastRxinfo)) {
        let whole = size_of::<McastRxinfo>();
        match *self {
            RxOut::Nowhere => {}
            RxOut::Sized { base, stride, take } if take == whole => {
                // SAFETY: entry i spans base + i * stride .. + stride >= take bytes, writable by the contract.
                let p = unsafe { base.add(i * stride) }.cast::<McastRxinfo>();
                fill(p);
                // SAFETY: as above.
                unsafe { addr_of_mut!((*p).size).write_unaligned(stride) };
            }
            RxOut::Sized { base, stride, take } => {
                let mut value = MaybeUninit::<McastRxinfo>::uninit();
                fill(value.as_mut_ptr());
                // SAFETY: fill wrote every field but the size, which is written here; the entry spans stride
                // >= take bytes, writable by the contract, and `take` never exceeds the struct (covered()).
                unsafe {
                    addr_of_mut!((*value.as_mut_ptr()).size).write(stride);
                    std::ptr::copy_nonoverlapping(value.as_ptr().cast::<u8>(), base.add(i * stride), take);
                }
            }
            RxOut::V01(p) => {
                let mut value = MaybeUninit::<McastRxinfo>::uninit();
                fill(value.as_mut_ptr());
                // SAFETY: fill wrote every field after the size; 0.1's entry is the same fields without the
                // size (the layout table in layout.rs proves it), and entry i is writable by the contract.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        value.as_ptr().cast::<u8>().add(size_of::<usize>()),
                        p.add(i).cast::<u8>(),
                        size_of::<McastRxinfo01>(),
                    )
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::cmsg::control_bytes;
    use crate::sys::mreq::sockaddr;

    /// A raw answer from `source` with IP_PKTINFO (interface 3, group 239.1.2.3), TTL 9, a timestamp and a
    /// drop count of 4, cut from 5 bytes to 3.
    fn raw_answer<'a>(name: &'a [u8], control: &'a [u8]) -> RawRecv<'a> {
        RawRecv { len: 3, full_len: 5, truncated: true, control_truncated: false, name, control }
    }

    fn sample_control(v6: bool) -> Vec<u8> {
        let pktinfo = if v6 {
            let mut b = "ff15::1".parse::<std::net::Ipv6Addr>().unwrap().octets().to_vec();
            b.extend_from_slice(&3u32.to_ne_bytes());
            b
        } else {
            let mut b = 3i32.to_ne_bytes().to_vec();
            b.extend_from_slice(&[10, 0, 0, 1, 239, 1, 2, 3]);
            b
        };
        let (level, kind, ttl) = if v6 {
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, libc::IPV6_HOPLIMIT)
        } else {
            (libc::IPPROTO_IP, libc::IP_PKTINFO, libc::IP_TTL)
        };
        let ts = [7i64.to_ne_bytes(), 9i64.to_ne_bytes()].concat();
        control_bytes(&[
            (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &ts),
            (level, kind, &pktinfo),
            (level, ttl, &9i32.to_ne_bytes()),
            (libc::SOL_SOCKET, libc::SO_RXQ_OVFL, &4u32.to_ne_bytes()),
        ])
    }

    fn bytes_of<T>(v: &T) -> &[u8] {
        // SAFETY: any initialised value may be viewed as its bytes (the structs here have no padding that was
        // left unwritten: they come from zeroed memory or whole writes).
        unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), size_of::<T>()) }
    }

    #[test]
    fn the_raw_path_writes_what_the_safe_api_path_writes() {
        for source in ["192.0.2.1:5000", "[2001:db8::1%7]:6000"] {
            let addr: SocketAddr = source.parse().unwrap();
            let (st, len) = sockaddr(&addr);
            let name = &bytes_of(&st)[..len as usize];
            let control = sample_control(addr.is_ipv6());
            let raw = raw_answer(name, &control);
            let want = McastRxinfo::from(&RecvMeta::from_raw(&raw.received()).unwrap());
            assert_eq!(
                (want.len, want.full_len, want.truncated, want.ifindex, want.ttl, want.drops),
                (3, 5, 1, 3, 9, 4)
            );
            let rx = RawRx::new(raw).unwrap();
            // Whatever the entry held before, every byte is written.
            for fill in [0u8, 0xa5] {
                let mut got = [fill; size_of::<McastRxinfo>()];
                got[..8].copy_from_slice(&size_of::<McastRxinfo>().to_ne_bytes());
                // SAFETY: got is a writable entry of its own size.
                unsafe { RxOut::sized(got.as_mut_ptr().cast(), 1, "info").unwrap().write_raw(0, &rx) };
                assert_eq!(&got[..], bytes_of(&want), "{source}");
                let mut old = [fill; size_of::<McastRxinfo01>()];
                // SAFETY: old is a writable 0.1 entry.
                unsafe { RxOut::v01(old.as_mut_ptr().cast()).write_raw(0, &rx) };
                assert_eq!(&old[..], &bytes_of(&want)[size_of::<usize>()..], "{source}, 0.1");
            }
        }
    }

    #[test]
    fn an_older_callers_entry_is_written_only_as_far_as_its_size() {
        let addr: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        let (st, len) = sockaddr(&addr);
        let control = sample_control(false);
        let rx = RawRx::new(raw_answer(&bytes_of(&st)[..len as usize], &control)).unwrap();
        let size = offset_of!(McastRxinfo, full_len); // a struct that ended with len
        let mut entry = [0xa5u8; size_of::<McastRxinfo>()];
        entry[..8].copy_from_slice(&size.to_ne_bytes());
        // SAFETY: entry is writable for more than the size it declares.
        unsafe { RxOut::sized(entry.as_mut_ptr().cast(), 1, "info").unwrap().write_raw(0, &rx) };
        let at = offset_of!(McastRxinfo, len);
        assert_eq!(entry[at..at + 8], 3usize.to_ne_bytes());
        assert!(entry[size..].iter().all(|&b| b == 0xa5), "nothing past the size is written");
        assert_eq!(entry[..8], size.to_ne_bytes(), "the size is kept");
        let group = offset_of!(McastRxinfo, group);
        assert_eq!(entry[group..group + 8], [2, 0, 0, 0, 239, 1, 2, 3], "AF_INET, port 0, the group");
    }

    #[test]
    fn a_sender_that_is_not_ip_is_refused() {
        let unix = [1u8, 0, b'/', b'x'];
        let e = RawRx::new(raw_answer(&unix, &[])).err().unwrap();
        assert!(e.message.contains("without an IP source"), "{}", e.message);
        assert!(RawRx::new(raw_answer(&[2, 0, 0, 0], &[])).is_err(), "a short IPv4 address");
    }

    #[test]
    fn a_size_covers_whole_fields_only() {
        assert_eq!(covered(8, &OPTS_ENDS), 8);
        assert_eq!(covered(13, &OPTS_ENDS), 12); // size and ttl, not half of loop
        assert_eq!(covered(size_of::<McastOpts>() + 64, &OPTS_ENDS), OPTS_ENDS[7]);
        assert_eq!(covered(4, &OPTS_ENDS), 0);
        assert_eq!(covered(size_of::<McastRxinfo>(), &RXINFO_ENDS), RXINFO_ENDS[8]);
    }

    #[test]
    fn opts_are_read_as_far_as_their_size_and_no_further() {
        let mut big = [0u64; 16]; // a newer caller's struct, larger than ours
        let ours = McastOpts { ttl: 9, reuse: 0, ..McastOpts::default() };
        // SAFETY: big has room for a McastOpts at its start, aligned to 8.
        unsafe { big.as_mut_ptr().cast::<McastOpts>().write(ours) };
        big[0] = 128;
        // SAFETY: big is readable for 128 bytes.
        let read = unsafe { read_opts(big.as_ptr().cast()) }.unwrap();
        assert_eq!((read.ttl, read.reuse, read.size), (9, 0, size_of::<McastOpts>()));
        big[15] = 1;
        // SAFETY: as above.
        let e = unsafe { read_opts(big.as_ptr().cast()) }.unwrap_err();
        assert_eq!(e.errno, libc::E2BIG);
        big[0] = 12; // size and ttl only: the rest are defaults, whatever the bytes say
                     // SAFETY: as above.
        let read = unsafe { read_opts(big.as_ptr().cast()) }.unwrap();
        assert_eq!((read.ttl, read.reuse, read.loop_), (9, 1, -1));
        big[0] = 3;
        // SAFETY: as above.
        assert_eq!(unsafe { read_opts(big.as_ptr().cast()) }.unwrap_err().errno, libc::EINVAL);
    }
}

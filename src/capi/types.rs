//! The structs of `ffi/mcast.h`, laid out by `#[repr(C)]`. `layout.rs` exports their sizes and offsets, and the
//! C suite compares them with what the C compiler makes of the header, so the two cannot drift apart.

use std::ffi::{c_char, c_int, c_uint};
use std::mem::{align_of, offset_of, size_of};
use std::net::SocketAddr;

use super::{CResult, Failure};

use crate::sys::mreq::sockaddr_storage;
use crate::RecvMeta;

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
fn covered(size: usize, ends: &[usize]) -> usize {
    ends.iter().copied().filter(|&e| e <= size).max().unwrap_or(0)
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
fn check_size(size: usize, stride: bool, what: &str, ty: &str) -> CResult<()> {
    if size < size_of::<usize>() || (stride && size % align_of::<usize>() != 0) {
        return Err(Failure::invalid(format!("{what}->size is {size}: set it to sizeof({ty})")));
    }
    Ok(())
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

impl From<&RecvMeta> for McastRxinfo01 {
    fn from(m: &RecvMeta) -> Self {
        let i = McastRxinfo::from(m);
        McastRxinfo01 {
            source: i.source,
            group: i.group,
            len: i.len,
            full_len: i.full_len,
            ifindex: i.ifindex,
            ttl: i.ttl,
            truncated: i.truncated,
            drops: i.drops,
        }
    }
}

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

    /// Writes entry `i` from `meta`.
    ///
    /// # Safety
    /// The array this was made from has at least `i + 1` entries, writable for the call.
    #[inline]
    pub(super) unsafe fn write(&self, i: usize, meta: &RecvMeta) {
        match *self {
            RxOut::Nowhere => {}
            // SAFETY: entry i exists and is writable by the contract.
            RxOut::V01(p) => unsafe { p.add(i).write(McastRxinfo01::from(meta)) },
            RxOut::Sized { base, stride, take } => {
                let mut value = McastRxinfo::from(meta);
                value.size = stride;
                if take == size_of::<McastRxinfo>() {
                    // The common case, a caller of this very version: one write of a known size.
                    // SAFETY: entry i spans base + i * stride .. + stride >= take bytes, writable by the
                    // contract, and aligned: the caller's array of structs of 8-byte alignment, with a stride
                    // check_size made a multiple of 8.
                    unsafe { base.add(i * stride).cast::<McastRxinfo>().write(value) };
                    return;
                }
                // SAFETY: entry i spans base + i * stride .. + stride >= take bytes, writable by the contract;
                // `value` is a live McastRxinfo of at least `take` bytes (covered() never exceeds its size).
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        (&value as *const McastRxinfo).cast::<u8>(),
                        base.add(i * stride),
                        take,
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

//! `MCAST_MSFILTER` (RFC 3678 section 5.2): the full-state source filter of one membership, through the kernel's
//! variable-length `struct group_filter`, for IPv4 and IPv6 alike.
//!
//! ```c
//! struct group_filter {                     /* <netinet/in.h>, <linux/in.h> */
//!     uint32_t                gf_interface; /* offset 0; 4 bytes of padding follow */
//!     struct sockaddr_storage gf_group;     /* offset 8 */
//!     uint32_t                gf_fmode;     /* offset 136: MCAST_INCLUDE 1, MCAST_EXCLUDE 0 */
//!     uint32_t                gf_numsrc;    /* offset 140 */
//!     struct sockaddr_storage gf_slist[1];  /* offset 144: gf_numsrc entries in fact */
//! };
//! #define GROUP_FILTER_SIZE(n) (sizeof(struct group_filter) - sizeof(struct sockaddr_storage) \
//!                               + (n) * sizeof(struct sockaddr_storage))
//! ```
//!
//! `libc` does not define the struct, so [`GroupFilterHead`] lays out everything before `gf_slist` and the
//! assertions below pin it to those offsets. The kernel reads a set request of `GROUP_FILTER_SIZE(numsrc)`
//! bytes; a get request passes the room for sources in `gf_numsrc` and gets back the mode, the full count (which
//! may exceed the room) and as many sources as fit.

use std::io;
use std::mem::{align_of, offset_of, size_of};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, BorrowedFd};

use super::cvt;
use super::mreq::{from_sockaddr, sockaddr_storage};

/// `MCAST_EXCLUDE` (`<netinet/in.h>`): everything but the listed sources.
pub const MCAST_EXCLUDE: u32 = 0;
/// `MCAST_INCLUDE`: only the listed sources.
pub const MCAST_INCLUDE: u32 = 1;

/// `struct group_filter` up to (not including) `gf_slist`, whose entries follow it in the same buffer.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct GroupFilterHead {
    /// Interface index; 0 lets the kernel choose by route.
    pub gf_interface: u32,
    gf_pad: [u8; 4],
    /// The group (`sockaddr_in` or `sockaddr_in6`).
    pub gf_group: libc::sockaddr_storage,
    /// [`MCAST_INCLUDE`] or [`MCAST_EXCLUDE`].
    pub gf_fmode: u32,
    /// Number of sources in `gf_slist` (set), or room for them (get; the kernel answers the full count).
    pub gf_numsrc: u32,
}

/// Offset of `gf_slist`, the head's size: 144 on LP64.
pub const SLIST_OFFSET: usize = size_of::<GroupFilterHead>();

const _: () = {
    assert!(offset_of!(GroupFilterHead, gf_interface) == 0);
    assert!(offset_of!(GroupFilterHead, gf_group) == 8);
    assert!(offset_of!(GroupFilterHead, gf_fmode) == 8 + size_of::<libc::sockaddr_storage>());
    assert!(offset_of!(GroupFilterHead, gf_numsrc) == 12 + size_of::<libc::sockaddr_storage>());
    assert!(SLIST_OFFSET == 16 + size_of::<libc::sockaddr_storage>());
    assert!(SLIST_OFFSET % align_of::<libc::sockaddr_storage>() == 0);
    assert!(align_of::<GroupFilterHead>() == align_of::<libc::sockaddr_storage>());
};

/// A `group_filter` with room for `n` sources, in 8-byte words so that the heads and the `sockaddr_storage`
/// entries are aligned as C aligns them. Every byte is initialised (zero), padding included.
struct FilterBuf {
    words: Vec<u64>,
}

impl FilterBuf {
    fn new(n: usize) -> io::Result<Self> {
        let bytes = n
            .checked_mul(size_of::<libc::sockaddr_storage>())
            .and_then(|b| b.checked_add(SLIST_OFFSET))
            .filter(|&b| b <= libc::socklen_t::MAX as usize)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOBUFS))?;
        Ok(FilterBuf { words: vec![0; bytes.div_ceil(8)] })
    }

    fn len(&self) -> usize {
        self.words.len() * 8
    }

    fn ptr(&mut self) -> *mut u8 {
        self.words.as_mut_ptr().cast()
    }

    fn set_head(&mut self, head: &GroupFilterHead) {
        // SAFETY: the buffer holds at least SLIST_OFFSET = size_of::<GroupFilterHead>() bytes and is 8-byte
        // aligned, GroupFilterHead's alignment; both are plain data.
        unsafe { self.ptr().cast::<GroupFilterHead>().write(*head) }
    }

    fn head(&mut self) -> GroupFilterHead {
        // SAFETY: as in set_head; every bit pattern is a valid GroupFilterHead (integers and byte arrays).
        unsafe { self.ptr().cast::<GroupFilterHead>().read() }
    }

    /// Entry `i` of `gf_slist`, which must be within the room the buffer was made with.
    fn slot(&mut self, i: usize) -> *mut libc::sockaddr_storage {
        assert!(SLIST_OFFSET + (i + 1) * size_of::<libc::sockaddr_storage>() <= self.len());
        // SAFETY: in bounds (asserted), and SLIST_OFFSET plus a multiple of 128 keeps 8-byte alignment.
        unsafe { self.ptr().add(SLIST_OFFSET + i * size_of::<libc::sockaddr_storage>()).cast() }
    }
}

/// `setsockopt(MCAST_MSFILTER)`: the filter of `group` on interface `index` becomes `mode` with `sources`.
/// `level` is `IPPROTO_IP` or `IPPROTO_IPV6`, by the socket's family.
pub fn set_filter(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    group: IpAddr,
    index: u32,
    mode: u32,
    sources: &[IpAddr],
) -> io::Result<()> {
    let mut buf = FilterBuf::new(sources.len().max(1))?;
    let numsrc = u32::try_from(sources.len()).map_err(|_| io::Error::from_raw_os_error(libc::ENOBUFS))?;
    buf.set_head(&GroupFilterHead {
        gf_interface: index,
        gf_pad: [0; 4],
        gf_group: sockaddr_storage(&SocketAddr::new(group, 0)),
        gf_fmode: mode,
        gf_numsrc: numsrc,
    });
    for (i, s) in sources.iter().enumerate() {
        let slot = buf.slot(i);
        // SAFETY: slot is an aligned, writable sockaddr_storage inside the buffer.
        unsafe { slot.write(sockaddr_storage(&SocketAddr::new(*s, 0))) };
    }
    let len = SLIST_OFFSET + sources.len() * size_of::<libc::sockaddr_storage>();
    // SAFETY: the buffer holds a group_filter of `len` bytes (GROUP_FILTER_SIZE(numsrc)), initialised and alive
    // for the call; the kernel only reads it.
    let ret = unsafe {
        libc::setsockopt(fd.as_raw_fd(), level, libc::MCAST_MSFILTER, buf.ptr().cast(), len as libc::socklen_t)
    };
    cvt(ret).map(drop)
}

/// `getsockopt(MCAST_MSFILTER)`: the mode of `group`'s filter on interface `index`, the number of sources it has,
/// and the first `room` of them.
pub fn get_filter(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    group: IpAddr,
    index: u32,
    room: usize,
) -> io::Result<(u32, usize, Vec<IpAddr>)> {
    let mut buf = FilterBuf::new(room.max(1))?;
    buf.set_head(&GroupFilterHead {
        gf_interface: index,
        gf_pad: [0; 4],
        gf_group: sockaddr_storage(&SocketAddr::new(group, 0)),
        gf_fmode: 0,
        gf_numsrc: u32::try_from(room).unwrap_or(u32::MAX),
    });
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: the buffer is writable for `len` bytes and alive for the call; the kernel writes at most `len`
    // bytes (it checks the room against gf_numsrc and len) and updates len.
    let ret = unsafe { libc::getsockopt(fd.as_raw_fd(), level, libc::MCAST_MSFILTER, buf.ptr().cast(), &mut len) };
    cvt(ret)?;
    let head = buf.head();
    let total = head.gf_numsrc as usize;
    let written = (len as usize).saturating_sub(SLIST_OFFSET) / size_of::<libc::sockaddr_storage>();
    let mut sources = Vec::with_capacity(total.min(room));
    for i in 0..total.min(room).min(written) {
        let slot = buf.slot(i);
        // SAFETY: slot is an aligned sockaddr_storage inside the buffer; all bit patterns are valid.
        let st = unsafe { slot.read() };
        if let Some(addr) = from_sockaddr(&st, size_of::<libc::sockaddr_storage>() as libc::socklen_t) {
            sources.push(addr.ip());
        }
    }
    Ok((head.gf_fmode, total, sources))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_starts_after_the_head_at_144_on_lp64() {
        if size_of::<usize>() == 8 {
            assert_eq!(SLIST_OFFSET, 144);
            assert_eq!(FilterBuf::new(1).unwrap().len(), 272); // sizeof(struct group_filter)
        }
        assert!(FilterBuf::new(usize::MAX / 64).is_err());
    }
}

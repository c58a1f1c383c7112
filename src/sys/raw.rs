//! What raw sockets for IGMP and MLD need beyond the generic options: the ICMPv6 type filter, byte-string
//! options (`IP_OPTIONS`, `IPV6_HOPOPTS`), and the multicast-routing calls (`MRT_INIT`, `MRT_ADD_VIF`,
//! `MRT6_INIT`) that make the kernel hand a raw socket the IGMP and MLD messages for groups this host has not
//! joined.
//!
//! The constants are Linux's (`<linux/icmpv6.h>`, `<linux/mroute.h>`, `<linux/mroute6.h>`); `libc` does not
//! define them all, so they are written here once, next to the structs that go with them.

use std::io;
use std::mem::{align_of, offset_of, size_of};
use std::os::fd::{AsRawFd, BorrowedFd};

use super::cvt;
use super::mreq::InAddr;
use super::sockopt::Plain;

/// `ICMP6_FILTER` (`<netinet/icmp6.h>`, RFC 3542 §3.2), at level `IPPROTO_ICMPV6`.
pub const ICMP6_FILTER: libc::c_int = 1;
/// `MRT_INIT` (`<linux/mroute.h>`): this socket becomes the namespace's IPv4 multicast router.
pub const MRT_INIT: libc::c_int = 200;
/// `MRT_ADD_VIF`: an interface takes part in multicast routing (`struct vifctl`).
pub const MRT_ADD_VIF: libc::c_int = 202;
/// `MRT6_INIT` (`<linux/mroute6.h>`), at level `IPPROTO_IPV6`: the IPv6 twin of `MRT_INIT`.
pub const MRT6_INIT: libc::c_int = 200;
/// `VIFF_USE_IFINDEX`: `vifctl`'s union holds an interface index, not a local address.
pub const VIFF_USE_IFINDEX: u8 = 0x8;
/// `MAXVIFS`: the kernel's limit of virtual interfaces per routing table.
pub const MAXVIFS: usize = 32;

/// `struct icmp6_filter` (RFC 3542 §3.2): 256 bits, one per ICMPv6 type; a set bit blocks the type.
///
/// Bit `t` lives in word `t / 32` at position `t % 32` of that `u32` in host order, as glibc's
/// `ICMP6_FILTER_SETPASS` macros and Linux's `icmpv6_filter` read it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Icmp6Filter {
    /// The bitmap: set = block.
    pub icmp6_filt: [u32; 8],
}

impl Icmp6Filter {
    /// Every type blocked (`ICMP6_FILTER_SETBLOCKALL`).
    pub fn block_all() -> Self {
        Icmp6Filter { icmp6_filt: [u32::MAX; 8] }
    }

    /// Every type passed (`ICMP6_FILTER_SETPASSALL`), the kernel's default for a raw ICMPv6 socket.
    pub fn pass_all() -> Self {
        Icmp6Filter { icmp6_filt: [0; 8] }
    }

    fn word(&mut self, ty: u8) -> &mut u32 {
        // ty / 32 is at most 7: the index is always inside the array, so this never panics.
        &mut self.icmp6_filt[usize::from(ty >> 5)]
    }

    /// Lets `ty` through (`ICMP6_FILTER_SETPASS`).
    pub fn pass(&mut self, ty: u8) {
        *self.word(ty) &= !(1u32 << (ty & 31));
    }

    /// Blocks `ty` (`ICMP6_FILTER_SETBLOCK`).
    pub fn block(&mut self, ty: u8) {
        *self.word(ty) |= 1u32 << (ty & 31);
    }

    /// Whether `ty` passes (`ICMP6_FILTER_WILLPASS`).
    pub fn passes(&self, ty: u8) -> bool {
        self.icmp6_filt.get(usize::from(ty >> 5)).is_some_and(|w| w & (1u32 << (ty & 31)) == 0)
    }
}

// The C struct: eight uint32_t, no padding.
const _: () = assert!(size_of::<Icmp6Filter>() == 32);
const _: () = assert!(align_of::<Icmp6Filter>() == 4);
const _: () = assert!(offset_of!(Icmp6Filter, icmp6_filt) == 0);

/// `struct vifctl` (`<linux/mroute.h>`) for `MRT_ADD_VIF`, with the union read as `vifc_lcl_ifindex`
/// (`VIFF_USE_IFINDEX`), which has the size and place of `vifc_lcl_addr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VifCtl {
    /// The virtual interface number, 0..MAXVIFS.
    pub vifc_vifi: u16,
    /// `VIFF_*` flags.
    pub vifc_flags: u8,
    /// Minimum TTL a datagram needs to be forwarded on this interface.
    pub vifc_threshold: u8,
    /// Unused by Linux.
    pub vifc_rate_limit: u32,
    /// The interface index (the union's `vifc_lcl_ifindex`).
    pub vifc_lcl_ifindex: libc::c_int,
    /// Tunnel remote address; unused here.
    pub vifc_rmt_addr: InAddr,
}

// The kernel's layout: u16, u8, u8, then three 4-byte fields (unsigned int, the union, in_addr).
const _: () = assert!(size_of::<VifCtl>() == 16);
const _: () = assert!(align_of::<VifCtl>() == 4);
const _: () = assert!(offset_of!(VifCtl, vifc_vifi) == 0);
const _: () = assert!(offset_of!(VifCtl, vifc_flags) == 2);
const _: () = assert!(offset_of!(VifCtl, vifc_threshold) == 3);
const _: () = assert!(offset_of!(VifCtl, vifc_rate_limit) == 4);
const _: () = assert!(offset_of!(VifCtl, vifc_lcl_ifindex) == 8);
const _: () = assert!(offset_of!(VifCtl, vifc_rmt_addr) == 12);

// SAFETY: repr(C) array of integers: every bit pattern is valid, no pointers.
unsafe impl Plain for Icmp6Filter {}
// SAFETY: repr(C) struct of integers and an InAddr (an integer), no pointers; its one padding-free layout is
// asserted above.
unsafe impl Plain for VifCtl {}

/// `setsockopt(fd, level, name, bytes, len)` for options whose value is a byte string (`IP_OPTIONS`,
/// `IPV6_HOPOPTS`); an empty slice clears such an option.
pub fn setsockopt_bytes(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int, bytes: &[u8]) -> io::Result<()> {
    let len = libc::socklen_t::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "option value longer than socklen_t"))?;
    // SAFETY: `bytes` is readable for `len` bytes for the whole call (a zero-length slice's dangling but aligned
    // pointer is never read), and the kernel only reads it.
    let ret = unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, bytes.as_ptr().cast(), len) };
    cvt(ret).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_bits_follow_rfc3542() {
        let mut f = Icmp6Filter::block_all();
        for ty in [130u8, 131, 132, 143] {
            f.pass(ty);
        }
        // 130 = 4 * 32 + 2, 131 bit 3, 132 bit 4 of word 4; 143 = 4 * 32 + 15.
        assert_eq!(f.icmp6_filt[4], !((1 << 2) | (1 << 3) | (1 << 4) | (1 << 15)));
        assert!(f.passes(143) && f.passes(130) && !f.passes(128) && !f.passes(0) && !f.passes(255));
        f.block(143);
        assert!(!f.passes(143));
        assert!(Icmp6Filter::pass_all().passes(255));
    }
}

//! The 0.1 entry points of the calls whose structs gained a leading `size` in 0.2: `struct mcast_opts`
//! (`mcast_opts_init`, `mcast_sender`, `mcast_receiver`, `mcast_multi_open`) and `struct mcast_rxinfo`
//! (`mcast_recv`, `mcast_recv_batch`, `mcast_recv_gro`, `mcast_multi_recv`).
//!
//! Each is exported as `name@MCAST_0.1`, beside the 0.2 `name@@MCAST_0.2`: a program linked against 0.1 binds
//! to these and keeps passing 0.1's layouts ([`McastOpts01`], [`McastRxinfo01`]), which they convert and hand to
//! the same bodies as the 0.2 calls. Nothing else differs.

use std::ffi::{c_char, c_int, c_void};

use super::endpoint::{receiver_call, sender_call};
use super::gso::recv_gro;
use super::io::{recv, recv_batch};
use super::multi::{multi_open, multi_recv, McastMulti};
use super::types::{McastOpts, McastOpts01, McastRxinfo01, RxOut};
use super::{ffi_fn, Out};

/// A 0.1 program's options (NULL: the defaults), as 0.2's struct.
///
/// # Safety
/// `opts` is NULL or points at a readable 0.1 `struct mcast_opts`.
unsafe fn options(opts: *const McastOpts01) -> McastOpts {
    if opts.is_null() {
        McastOpts::default()
    } else {
        // SAFETY: non-NULL and valid by this function's contract; McastOpts01 is Copy.
        McastOpts::from(unsafe { *opts })
    }
}

ffi_fn! {
    /// `mcast_opts_init` of 0.1: the defaults in 0.1's layout.
    fn mcast_opts_init_0_1(opts: *mut McastOpts01) -> (), on failure (), mcast_opts_init in "@MCAST_0.1"; {
        // SAFETY: the contract makes opts NULL or writable.
        if let Some(out) = unsafe { Out::new(opts) } {
            out.write(McastOpts01::default());
        }
        Ok(())
    }

    /// `mcast_sender` of 0.1.
    fn mcast_sender_0_1(group_port: *const c_char, opts: *const McastOpts01) -> c_int, on failure -1,
        mcast_sender in "@MCAST_0.1"; {
        // SAFETY: the contract makes opts NULL or a 0.1 struct mcast_opts.
        sender_call(group_port, Ok(unsafe { options(opts) }))
    }

    /// `mcast_receiver` of 0.1.
    fn mcast_receiver_0_1(group_port: *const c_char, opts: *const McastOpts01) -> c_int, on failure -1,
        mcast_receiver in "@MCAST_0.1"; {
        // SAFETY: the contract makes opts NULL or a 0.1 struct mcast_opts.
        receiver_call(group_port, Ok(unsafe { options(opts) }))
    }

    /// `mcast_multi_open` of 0.1.
    fn mcast_multi_open_0_1(groups: *const c_char, opts: *const McastOpts01, out: *mut *mut McastMulti) -> c_int,
        on failure -1, mcast_multi_open in "@MCAST_0.1"; {
        // SAFETY: the contract makes opts NULL or a 0.1 struct mcast_opts.
        multi_open(groups, Ok(unsafe { options(opts) }), out)
    }

    /// `mcast_recv` of 0.1.
    fn mcast_recv_0_1(fd: c_int, buf: *mut c_void, len: usize, info: *mut McastRxinfo01) -> libc::ssize_t,
        on failure -1, mcast_recv in "@MCAST_0.1"; {
        // SAFETY: the contract makes info NULL or a writable 0.1 entry, buf writable for len bytes.
        unsafe { recv(fd, buf, len, RxOut::v01(info)) }
    }

    /// `mcast_recv_batch` of 0.1.
    fn mcast_recv_batch_0_1(fd: c_int, bufs: *const libc::iovec, infos: *mut McastRxinfo01, count: usize) -> c_int,
        on failure -1, mcast_recv_batch in "@MCAST_0.1"; {
        // SAFETY: the contract makes infos NULL or count writable 0.1 entries, bufs count iovecs.
        unsafe { recv_batch(fd, bufs, RxOut::v01(infos), count) }
    }

    /// `mcast_recv_gro` of 0.1.
    fn mcast_recv_gro_0_1(fd: c_int, buf: *mut c_void, len: usize, infos: *mut McastRxinfo01, count: usize)
        -> c_int, on failure -1, mcast_recv_gro in "@MCAST_0.1"; {
        // SAFETY: the contract makes infos NULL or count writable 0.1 entries, buf writable for len bytes.
        unsafe { recv_gro(fd, buf, len, RxOut::v01(infos), count) }
    }

    /// `mcast_multi_recv` of 0.1.
    fn mcast_multi_recv_0_1(multi: *mut McastMulti, buf: *mut c_void, len: usize, info: *mut McastRxinfo01,
        timeout_ms: c_int) -> libc::ssize_t, on failure -1, mcast_multi_recv in "@MCAST_0.1"; {
        // SAFETY: the contract makes info NULL or a writable 0.1 entry, buf writable for len bytes, multi NULL
        // or live.
        unsafe { multi_recv(multi, buf, len, RxOut::v01(info), timeout_ms) }
    }
}

//! Interfaces: `SIOCGIFCONF`, `SIOCGIFFLAGS`, `if_nametoindex`, `if_indextoname`, `if_nameindex`.

use std::ffi::{CStr, CString};
use std::io;
use std::mem::size_of;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::cvt;

/// `IFNAMSIZ`: an interface name is at most 15 bytes plus the NUL.
pub const IFNAMSIZ: usize = libc::IFNAMSIZ;

fn name_field(name: &str) -> io::Result<[libc::c_char; IFNAMSIZ]> {
    if name.is_empty() || name.len() >= IFNAMSIZ || name.bytes().any(|b| b == 0 || b == b'/') {
        return Err(io::Error::from_raw_os_error(libc::ENODEV));
    }
    let mut out = [0 as libc::c_char; IFNAMSIZ];
    for (o, b) in out.iter_mut().zip(name.bytes()) {
        *o = b as libc::c_char;
    }
    Ok(out)
}

fn name_from_field(field: &[libc::c_char; IFNAMSIZ]) -> String {
    let bytes: Vec<u8> = field.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `SIOCGIFCONF`: every (interface name, IPv4 address) pair the kernel has.
///
/// `SIOCGIFCONF` only knows IPv4 (AF_INET) addresses, and an interface without one is not listed at all;
/// callers add IPv6 addresses and address-less interfaces from other sources. The buffer grows until the
/// kernel's answer leaves room to spare, since a full buffer may mean a cut-off answer.
pub fn ifconf_ipv4(fd: BorrowedFd<'_>) -> io::Result<Vec<(String, Ipv4Addr)>> {
    let mut cap = 16usize;
    loop {
        // SAFETY: ifreq is plain data (name bytes and a union of integers); all-zero is valid.
        let mut reqs: Vec<libc::ifreq> = vec![unsafe { std::mem::zeroed() }; cap];
        let bytes = cap * size_of::<libc::ifreq>();
        // SAFETY: all-zero ifconf is valid.
        let mut conf: libc::ifconf = unsafe { std::mem::zeroed() };
        conf.ifc_len = bytes as libc::c_int;
        conf.ifc_ifcu.ifcu_req = reqs.as_mut_ptr();
        // SAFETY: conf points at `bytes` writable bytes of reqs, alive for the call.
        cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFCONF, &mut conf) })?;
        let used = conf.ifc_len.max(0) as usize;
        if used + size_of::<libc::ifreq>() > bytes && cap < 1 << 16 {
            cap *= 2;
            continue;
        }
        let count = used / size_of::<libc::ifreq>();
        let mut out = Vec::with_capacity(count);
        for req in reqs.iter().take(count) {
            // SAFETY: SIOCGIFCONF fills ifru_addr for each entry; reading a union of plain data is valid.
            let sa = unsafe { req.ifr_ifru.ifru_addr };
            if sa.sa_family as libc::c_int != libc::AF_INET {
                continue;
            }
            // sockaddr_in's address sits at bytes 2..6 of sa_data (after the port).
            let d = sa.sa_data;
            let ip = Ipv4Addr::new(d[2] as u8, d[3] as u8, d[4] as u8, d[5] as u8);
            out.push((name_from_field(&req.ifr_name), ip));
        }
        return Ok(out);
    }
}

/// `SIOCGIFFLAGS`: the interface's `IFF_*` flags.
pub fn if_flags(fd: BorrowedFd<'_>, name: &str) -> io::Result<u32> {
    // SAFETY: all-zero ifreq is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    req.ifr_name = name_field(name)?;
    // SAFETY: req is a valid ifreq alive for the call; the kernel writes ifru_flags.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })?;
    // SAFETY: SIOCGIFFLAGS wrote ifru_flags; a c_short is valid for any bits.
    Ok(unsafe { req.ifr_ifru.ifru_flags } as u16 as u32)
}

/// `SIOCGIFMTU`: the interface's MTU.
pub fn if_mtu(fd: BorrowedFd<'_>, name: &str) -> io::Result<u32> {
    // SAFETY: all-zero ifreq is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    req.ifr_name = name_field(name)?;
    // SAFETY: as in if_flags; the kernel writes ifru_mtu.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFMTU, &mut req) })?;
    // SAFETY: SIOCGIFMTU wrote ifru_mtu.
    Ok(unsafe { req.ifr_ifru.ifru_mtu }.max(0) as u32)
}

/// `if_nametoindex(3)`; `ENODEV` when there is no such interface.
pub fn name_to_index(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
    // SAFETY: c is a valid NUL-terminated string alive for the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        let e = io::Error::last_os_error();
        // glibc leaves errno ENODEV for an unknown name; anything else is passed on as it is.
        return Err(if e.raw_os_error().unwrap_or(0) == 0 { io::Error::from_raw_os_error(libc::ENODEV) } else { e });
    }
    Ok(idx)
}

/// `if_indextoname(3)`; `ENXIO` when there is no such index.
pub fn index_to_name(index: u32) -> io::Result<String> {
    let mut buf = [0 as libc::c_char; IFNAMSIZ];
    // SAFETY: buf has IFNAMSIZ bytes, as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return Err(io::Error::last_os_error());
    }
    Ok(name_from_field(&buf))
}

/// `if_nameindex(3)`: every interface (with or without addresses) as (index, name).
pub fn name_index() -> io::Result<Vec<(u32, String)>> {
    // SAFETY: no arguments; the result is null or an array ended by a zero entry that we free below.
    let list = unsafe { libc::if_nameindex() };
    if list.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut out = Vec::new();
    let mut p = list;
    loop {
        // SAFETY: p points inside the array, which ends with an entry of index 0 and null name.
        let entry = unsafe { &*p };
        if entry.if_index == 0 || entry.if_name.is_null() {
            break;
        }
        // SAFETY: if_name is a NUL-terminated string owned by the array.
        let name = unsafe { CStr::from_ptr(entry.if_name) }.to_string_lossy().into_owned();
        out.push((entry.if_index, name));
        // SAFETY: the terminating entry has not been reached, so the next one exists.
        p = unsafe { p.add(1) };
    }
    // SAFETY: list came from if_nameindex and is freed exactly once.
    unsafe { libc::if_freenameindex(list) };
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_exist_are_refused() {
        assert!(name_field("").is_err());
        assert!(name_field("a-name-far-too-long").is_err());
        assert!(name_field("a\0b").is_err());
        assert_eq!(name_from_field(&name_field("lo").unwrap()), "lo");
    }
}

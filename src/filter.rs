//! Source filters of a membership: the full-state API of RFC 3678 section 5.2 (`MCAST_MSFILTER`, what
//! `setsourcefilter(3)` and `getsourcefilter(3)` wrap), and `IP_MULTICAST_ALL`/`IPV6_MULTICAST_ALL` by the
//! socket's family. Blocking one source at a time is [`McastSocket::block_source`].

use std::net::IpAddr;

use crate::error::{Error, ErrorKind, Result};
use crate::socket::{iface_index, multicast_only, unicast_source, Family, McastSocket};
use crate::sys::msfilter::{self, MCAST_EXCLUDE, MCAST_INCLUDE};

/// Which sources a membership's filter lets through: a socket's source filter, or a membership reported on the
/// wire (IGMPv3/MLDv2 records).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FilterMode {
    /// `MCAST_INCLUDE`: only the listed sources (source-specific; an empty list leaves the group).
    Include,
    /// `MCAST_EXCLUDE`: every source but the listed ones (an any-source join has an empty exclude list).
    Exclude,
}

impl std::fmt::Display for FilterMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FilterMode::Include => "INCLUDE",
            FilterMode::Exclude => "EXCLUDE",
        })
    }
}

impl FilterMode {
    /// The `MCAST_INCLUDE`/`MCAST_EXCLUDE` value.
    pub fn as_raw(self) -> u32 {
        match self {
            FilterMode::Include => MCAST_INCLUDE,
            FilterMode::Exclude => MCAST_EXCLUDE,
        }
    }

    /// The mode of an `MCAST_INCLUDE`/`MCAST_EXCLUDE` value; `None` for anything else.
    pub fn from_raw(v: u32) -> Option<Self> {
        match v {
            MCAST_INCLUDE => Some(FilterMode::Include),
            MCAST_EXCLUDE => Some(FilterMode::Exclude),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            FilterMode::Include => "include",
            FilterMode::Exclude => "exclude",
        }
    }
}

/// A membership's source filter as the kernel holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFilter {
    /// Include or exclude.
    pub mode: FilterMode,
    /// The sources read, at most the room asked for.
    pub sources: Vec<IpAddr>,
    /// How many sources the filter has: more than `sources.len()` when the room was short.
    pub total: usize,
}

impl McastSocket {
    /// `MCAST_MSFILTER` (RFC 3678 5.2): replaces the filter of the membership of `group` on interface `index`
    /// (0: the one the kernel chose) with `mode` and `sources`, in one call. The group must be joined already.
    /// Linux caps the list (`net.ipv4.igmp_max_msf`, 10; `net.ipv6.mld_max_msf`, 64): `ENOBUFS` past it. An
    /// empty include list leaves the group.
    pub fn set_source_filter(&self, group: IpAddr, index: u32, mode: FilterMode, sources: &[IpAddr]) -> Result<()> {
        self.filter_args(group, sources)?;
        msfilter::set_filter(self.fd(), self.level(), group, index, mode.as_raw(), sources).map_err(|e| {
            Error::os(
                format!(
                    "MCAST_MSFILTER {group} on {}: {} {} source(s)",
                    iface_index(index),
                    mode.name(),
                    sources.len()
                ),
                e,
            )
        })
    }

    /// Reads the filter of the membership of `group` on interface `index`, with room for `room` sources.
    /// `EADDRNOTAVAIL` when the group is not joined there.
    pub fn source_filter(&self, group: IpAddr, index: u32, room: usize) -> Result<SourceFilter> {
        self.filter_args(group, &[])?;
        let ctx = || format!("getsockopt MCAST_MSFILTER {group} on {}", iface_index(index));
        let (mode, total, sources) =
            msfilter::get_filter(self.fd(), self.level(), group, index, room).map_err(|e| Error::os(ctx(), e))?;
        let mode = FilterMode::from_raw(mode)
            .ok_or_else(|| Error::new(ErrorKind::Mismatch, format!("{}: unknown filter mode {mode}", ctx())))?;
        Ok(SourceFilter { mode, sources, total })
    }

    fn filter_args(&self, group: IpAddr, sources: &[IpAddr]) -> Result<()> {
        multicast_only("MCAST_MSFILTER", group)?;
        if Family::of(group) != self.family() {
            return Err(Error::new(
                ErrorKind::Mismatch,
                format!("MCAST_MSFILTER: group {group} on a socket of the other family"),
            ));
        }
        for s in sources {
            unicast_source("MCAST_MSFILTER", *s)?;
            if s.is_ipv4() != group.is_ipv4() {
                return Err(Error::new(
                    ErrorKind::Mismatch,
                    format!("MCAST_MSFILTER: source {s} and group {group} differ in family"),
                ));
            }
        }
        Ok(())
    }

    /// `IP_MULTICAST_ALL` or `IPV6_MULTICAST_ALL` by the socket's family: on (Linux's default), a socket bound
    /// to the wildcard address also gets the groups other sockets of the host joined on its port.
    pub fn set_multicast_all(&self, on: bool) -> Result<()> {
        match self.family() {
            Family::V4 => self.set_multicast_all_v4(on),
            Family::V6 => self.set_multicast_all_v6(on),
        }
    }

    /// Reads `IP_MULTICAST_ALL` or `IPV6_MULTICAST_ALL`; see [`McastSocket::set_multicast_all`].
    pub fn multicast_all(&self) -> Result<bool> {
        match self.family() {
            Family::V4 => self.multicast_all_v4(),
            Family::V6 => self.multicast_all_v6(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_rfc_3678s_values() {
        assert_eq!(FilterMode::Include.as_raw(), 1);
        assert_eq!(FilterMode::Exclude.as_raw(), 0);
        assert_eq!(FilterMode::from_raw(1), Some(FilterMode::Include));
        assert_eq!(FilterMode::from_raw(0), Some(FilterMode::Exclude));
        assert_eq!(FilterMode::from_raw(2), None);
    }

    #[test]
    fn bad_groups_and_sources_are_refused_before_the_kernel() {
        let s = McastSocket::udp(Family::V4).unwrap();
        let g: IpAddr = "239.1.1.1".parse().unwrap();
        let e = s.set_source_filter("10.0.0.1".parse().unwrap(), 0, FilterMode::Include, &[]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotMulticast);
        let e = s.set_source_filter(g, 0, FilterMode::Exclude, &["239.9.9.9".parse().unwrap()]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotUnicast);
        let e = s.set_source_filter(g, 0, FilterMode::Exclude, &["::1".parse().unwrap()]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Mismatch);
        let e = s.source_filter("ff15::1".parse().unwrap(), 0, 4).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Mismatch);
        // Not joined: the kernel's answer, with the option and the group in the message.
        let e = s.source_filter(g, 0, 4).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL), "{e}");
        assert!(e.to_string().contains("MCAST_MSFILTER 239.1.1.1"), "{e}");
    }
}

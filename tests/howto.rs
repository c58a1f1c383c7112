//! The Multicast HOWTO's socket-option chapter, sentence by sentence, on this kernel.
//!
//! Each test is named after a statement of the guide and quotes it in its doc comment (`docs/tutorial.md`
//! walks the same chapter with the guide's C beside mcast's Rust). Where the guide and Linux differ, the
//! test asserts what Linux does and says so. Statements about multicast routers (TTL thresholds, the
//! forwarding of 224.0.0.0/24 and of link-local scope) need a routed network and are not checked here.
//!
//! Topologies, each test building its own namespaces (see its doc comment for which):
//!
//! ```text
//!   Link:  a [va 10.0.0.1 fd00:1::1] <-> [vb 10.0.0.2 fd00:1::2] b
//!   Star:  b [vb 10.0.0.2 fd00:1::2] <-> [va 10.0.0.1 fd00:1::1] a [vc 10.0.2.1 fd00:2::1] <-> [vd 10.0.2.2 fd00:2::2] c
//!   Pair:  one host h with both ends of one link: [va 10.0.1.1] <-> [vb 10.0.1.2]
//! ```

mod common;

#[path = "howto/basics.rs"]
mod basics;
#[path = "howto/delivery.rs"]
mod delivery;
#[path = "howto/receiving.rs"]
mod receiving;
#[path = "howto/sending.rs"]
mod sending;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use common::{veth, veth_pair_in, wait_ipv6, Netns};
use mcast::{Family, Group, McastSocket};

/// What a test needs to know about one address family, so one body can prove a sentence for both.
pub struct Fam {
    /// `V4` or `V6`.
    pub family: Family,
    /// An any-source group that scopes allow across one link.
    pub group: IpAddr,
    /// A second such group.
    pub group2: IpAddr,
    /// Host a's address on `va`.
    pub a: IpAddr,
    /// Host b's address on `vb`.
    pub b: IpAddr,
    /// Host a's address on `vc` (Star).
    pub ac: IpAddr,
    /// Host c's address on `vd` (Star).
    pub c: IpAddr,
}

/// IPv4: 239.1.2.3 and 239.1.2.4.
pub const V4: Fam = Fam {
    family: Family::V4,
    group: IpAddr::V4(Ipv4Addr::new(239, 1, 2, 3)),
    group2: IpAddr::V4(Ipv4Addr::new(239, 1, 2, 4)),
    a: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
    b: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
    ac: IpAddr::V4(Ipv4Addr::new(10, 0, 2, 1)),
    c: IpAddr::V4(Ipv4Addr::new(10, 0, 2, 2)),
};

/// IPv6: global scope ff1e::1234 and ff1e::1235, so global addresses are the sources.
pub const V6: Fam = Fam {
    family: Family::V6,
    group: IpAddr::V6(Ipv6Addr::new(0xff1e, 0, 0, 0, 0, 0, 0, 0x1234)),
    group2: IpAddr::V6(Ipv6Addr::new(0xff1e, 0, 0, 0, 0, 0, 0, 0x1235)),
    a: IpAddr::V6(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 1)),
    b: IpAddr::V6(Ipv6Addr::new(0xfd00, 1, 0, 0, 0, 0, 0, 2)),
    ac: IpAddr::V6(Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, 0, 1)),
    c: IpAddr::V6(Ipv6Addr::new(0xfd00, 2, 0, 0, 0, 0, 0, 2)),
};

impl Fam {
    /// The group on `port`.
    pub fn g(&self, port: u16) -> Group {
        Group::new(self.group, port).expect("group")
    }

    /// The second group on `port`.
    pub fn g2(&self, port: u16) -> Group {
        Group::new(self.group2, port).expect("group")
    }

    /// The claims on `group` on device `dev` of `ns`, from `/proc/net/igmp` or `/proc/net/igmp6`.
    pub fn claims(&self, ns: &Netns, dev: &str, group: IpAddr) -> u32 {
        match group {
            IpAddr::V4(g) => ns.igmp_users(dev, g),
            IpAddr::V6(g) => ns.igmp6_users(dev, g),
        }
    }

    /// A fresh UDP socket of this family.
    pub fn udp(&self) -> McastSocket {
        McastSocket::udp(self.family).expect("UDP socket")
    }

    /// Sets `IP_MULTICAST_LOOP` or `IPV6_MULTICAST_LOOP`.
    pub fn set_loop(&self, s: &McastSocket, on: bool) {
        match self.family {
            Family::V4 => s.set_multicast_loop_v4(on),
            Family::V6 => s.set_multicast_loop_v6(on),
        }
        .expect("set loop")
    }

    /// Reads `IP_MULTICAST_LOOP` or `IPV6_MULTICAST_LOOP`.
    pub fn loop_of(&self, s: &McastSocket) -> bool {
        match self.family {
            Family::V4 => s.multicast_loop_v4(),
            Family::V6 => s.multicast_loop_v6(),
        }
        .expect("read loop")
    }

    /// Reads `IP_MULTICAST_TTL` or `IPV6_MULTICAST_HOPS`.
    pub fn hops_of(&self, s: &McastSocket) -> u8 {
        match self.family {
            Family::V4 => s.multicast_ttl_v4(),
            Family::V6 => s.multicast_hops_v6(),
        }
        .expect("read TTL or hop limit")
    }

    /// The wildcard address and `port`.
    pub fn any(&self, port: u16) -> std::net::SocketAddr {
        std::net::SocketAddr::new(self.family.unspecified(), port)
    }
}

/// Three hosts: `a` in the middle, `b` on its `va` link, `c` on its `vc` link.
pub struct Star {
    /// The host with two links.
    pub a: Netns,
    /// The host on `va`'s link.
    pub b: Netns,
    /// The host on `vc`'s link.
    pub c: Netns,
}

impl Star {
    /// Builds the three hosts and two links; fails the test if it cannot.
    pub fn new(tag: &str) -> Star {
        let (a, b, c) =
            (Netns::new(&format!("{tag}a")), Netns::new(&format!("{tag}b")), Netns::new(&format!("{tag}c")));
        veth(&a, "va", "10.0.0.1/24", &b, "vb", "10.0.0.2/24");
        veth(&a, "vc", "10.0.2.1/24", &c, "vd", "10.0.2.2/24");
        for (ns, dev, cidr) in [
            (&a, "va", "fd00:1::1/64"),
            (&b, "vb", "fd00:1::2/64"),
            (&a, "vc", "fd00:2::1/64"),
            (&c, "vd", "fd00:2::2/64"),
        ] {
            ns.add_addr(dev, cidr);
            wait_ipv6(ns, dev);
        }
        Star { a, b, c }
    }
}

/// One host with both ends of one link, `va` 10.0.1.1/24 and `vb` 10.0.1.2/24 (IPv6: link-local only), so it
/// belongs to a group "on another interface" than the one it sends from.
pub fn pair(tag: &str) -> Netns {
    let h = Netns::new(tag);
    veth_pair_in(&h, "va", "vb");
    h.add_addr("va", "10.0.1.1/24");
    h.add_addr("vb", "10.0.1.2/24");
    // A datagram whose source is one of the host's own addresses is dropped as martian on arrival, unless
    // the receiving interface accepts local sources.
    h.sysctl("net.ipv4.conf.vb.accept_local", "1");
    h
}

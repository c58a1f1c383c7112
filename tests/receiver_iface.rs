//! A `Receiver` that names its interfaces hears only those interfaces, for IPv6 too, where Linux matches
//! memberships by group alone.

mod common;

use std::time::Duration;

use common::{veth_pair_in, Netns};
use mcast::{Group, IfaceSpec, Receiver, Sender};

/// Topology: one namespace, veth pair va <-> vb. R joins ff02::77 on va; another socket S joins it on vb.
/// "foreign" is sent out of va (so it arrives on vb), then "home" out of vb (arriving on va), loop off both.
/// The kernel hands R both; R must return only "home" and count "foreign" as foreign.
#[test]
fn ipv6_receiver_drops_datagrams_from_interfaces_it_did_not_join() {
    needs_root!();
    let ns = Netns::new("rxif");
    veth_pair_in(&ns, "va", "vb");
    ns.run(|| {
        let g: Group = "[ff02::77]:4077".parse().unwrap();
        let va = IfaceSpec::Name("va".into());
        let vb = IfaceSpec::Name("vb".into());
        let r = Receiver::builder(g).interface(va.clone()).build().unwrap();
        let s = Receiver::builder(g).interface(vb.clone()).build().unwrap();
        let out_va = Sender::builder(g).ttl(1).multicast_loop(false).interface(va).build().unwrap();
        let out_vb = Sender::builder(g).ttl(1).multicast_loop(false).interface(vb).build().unwrap();
        out_va.send(b"foreign").unwrap();
        let mut buf = [0u8; 64];
        let at_s = s.recv_timeout(&mut buf, Duration::from_secs(5)).unwrap().expect("S hears the datagram on vb");
        assert_eq!(&buf[..at_s.len], b"foreign");
        out_vb.send(b"home").unwrap();
        let at_r = r.recv_timeout(&mut buf, Duration::from_secs(5)).unwrap().expect("R hears the datagram on va");
        assert_eq!(&buf[..at_r.len], b"home");
        assert_eq!(at_r.group, Some(g.ip()));
        assert_eq!(at_r.ifindex, Some(mcast::Interface::by_name("va").unwrap().index));
        assert_eq!(r.foreign(), 1, "the datagram from vb was counted, not delivered");
        assert_eq!(s.foreign(), 0);
    });
}

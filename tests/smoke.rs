mod common;
use common::*;
use mcast::*;
use std::time::Duration;

#[test]
fn smoke_v4_v6_lo() {
    let ns = Netns::new("smoke");
    veth_pair_in(&ns, "va", "vb");
    ns.run(|| {
        let g: Group = "239.1.2.3:5000".parse().unwrap();
        let rx = Receiver::builder(g).interface("lo".parse().unwrap()).build().unwrap();
        let tx = Sender::builder(g).ttl(0).interface("lo".parse().unwrap()).build().unwrap();
        tx.send(b"hello").unwrap();
        let mut buf = [0u8; 100];
        let m = rx.recv_timeout(&mut buf, Duration::from_secs(2)).unwrap().expect("v4 datagram");
        println!("{m:?}");
        for (hops, rxif) in [(0, "va"), (1, "vb")] {
            let g6: Group = "[ff01::1234]:5001".parse().unwrap();
            let g6 = if hops == 1 { "[ff02::1234]:5001".parse().unwrap() } else { g6 };
            let rx = Receiver::builder(g6).interface(rxif.parse().unwrap()).build().unwrap();
            let tx = Sender::builder(g6).ttl(hops).interface("va".parse().unwrap()).build().unwrap();
            tx.send(b"hello6").unwrap();
            let m = rx.recv_timeout(&mut buf, Duration::from_secs(2)).unwrap().expect("v6 datagram");
            println!("{m:?}");
        }
    });
}

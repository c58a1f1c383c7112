//! A LAN behind `igmpproxy`: the proxy forwards multicast from its upstream interface to the hosts below,
//! joining upstream what they report, and is the IGMPv2 querier of its downstream LAN.
//!
//! ```text
//!   h1 (source): v1 10.1.0.2 -- pu 10.1.0.1 [px: igmpproxy] pd 10.4.0.1 -- v4 10.4.0.2 :hd (behind the proxy)
//! ```
//!
//! The proxy is IGMPv2 only: its first general query (sent as it starts) makes the host below drop to
//! IGMPv2 for a few minutes, so it can no longer signal a source-specific join. [`Proxied::new`] returns
//! once the host is in that mode. The daemon is stopped on drop, before the namespaces go.

use std::time::{Duration, Instant};

use super::routed::peer::{Peer, Scratch, PATIENCE};
use super::{veth, Netns};

/// The topology. Fields drop in order: daemon, hosts, proxy, files.
pub struct Proxied {
    /// igmpproxy, in the foreground with debug output.
    pub proxy: Peer,
    /// The source's namespace (`v1`).
    pub h1: Netns,
    /// The host behind the proxy (`v4`).
    pub hd: Netns,
    /// The proxy's namespace (`pu` upstream, `pd` downstream).
    pub px: Netns,
    /// The config and the daemon's output.
    pub scratch: Scratch,
}

impl Proxied {
    /// Builds the namespaces, starts igmpproxy and waits (up to [`PATIENCE`]) for the host below to be in
    /// IGMPv2 mode on `v4`. Fails the test, with the daemon's output, if not (also when igmpproxy is not
    /// installed: `apt-get install igmpproxy`).
    pub fn new(tag: &str) -> Proxied {
        let scratch = Scratch::new(tag);
        let px = Netns::new(&format!("{tag}px"));
        let h1 = Netns::new(&format!("{tag}h1"));
        let hd = Netns::new(&format!("{tag}hd"));
        px.sysctl("net.ipv4.ip_forward", "1");
        veth(&h1, "v1", "10.1.0.2/24", &px, "pu", "10.1.0.1/24");
        veth(&hd, "v4", "10.4.0.2/24", &px, "pd", "10.4.0.1/24");
        h1.ip(&["route", "add", "default", "via", "10.1.0.1", "dev", "v1"]);
        hd.ip(&["route", "add", "default", "via", "10.4.0.1", "dev", "v4"]);
        let conf = scratch.file("igmpproxy.conf");
        let text = "quickleave\n\
                    phyint pu upstream ratelimit 0 threshold 1\n  altnet 10.0.0.0/8\n\
                    phyint pd downstream ratelimit 0 threshold 1\n\
                    phyint lo disabled\n";
        std::fs::write(&conf, text).unwrap_or_else(|e| panic!("write {}: {e}", conf.display()));
        let path = conf.to_str().expect("UTF-8 temporary path");
        let mut proxy = Peer::start(&px, &scratch, "igmpproxy", "igmpproxy", &["-d", "-v", "-v", path]);
        let deadline = Instant::now() + PATIENCE;
        while hd.igmp_version("v4") != Some(2) {
            if !proxy.running() || Instant::now() > deadline {
                panic!("the host behind igmpproxy never dropped to IGMPv2\n{}", proxy.report());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Proxied { proxy, h1, hd, px, scratch }
    }
}

impl Drop for Proxied {
    fn drop(&mut self) {
        self.proxy.terminate();
    }
}

impl Netns {
    /// The IGMP version the kernel uses on `dev` now (the "Querier" column of `/proc/net/igmp`).
    pub fn igmp_version(&self, dev: &str) -> Option<u8> {
        let text = self.proc_net("igmp");
        // "Idx Device : Count Querier": "2 v4 : 1 V2".
        text.lines()
            .filter(|l| !l.starts_with('\t') && !l.starts_with("Idx"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.get(1) == Some(&dev))
            .and_then(|w| w.get(4).and_then(|v| v.strip_prefix('V')).and_then(|v| v.parse().ok()))
    }
}

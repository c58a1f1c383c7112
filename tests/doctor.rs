//! The doctor in namespaces: each failure made on purpose, named, and its fix (applied where it can be)
//! shown to cure it; a healthy namespace gets ok from every check.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::traffic::{assert_silent, expect};
use common::*;
use mcast::doctor::{diagnose, Finding, Options, Report, Status};
use mcast::{Group, McastSocket};

fn opts(group: &str, iface: Option<&str>) -> Options {
    Options {
        groups: mcast::multi::parse_group_list(group, None).unwrap(),
        iface: iface.map(|i| i.parse().unwrap()),
        querier_wait: Duration::ZERO,
        ..Options::default()
    }
}

fn doctor(ns: &Netns, o: Options) -> Report {
    ns.run(move || diagnose(&o))
}

fn show(r: &Report) -> String {
    r.findings
        .iter()
        .map(|f| format!("{:<5} {:<12} {} | fix: {}", f.status, f.check, f.summary, f.fix.as_deref().unwrap_or("-")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The one finding of `check` with `status`; fails the test, showing the report, if there is none.
fn finding<'a>(r: &'a Report, check: &str, status: Status) -> &'a Finding {
    r.findings
        .iter()
        .find(|f| f.check == check && f.status == status)
        .unwrap_or_else(|| panic!("no {status} finding for {check}:\n{}", show(r)))
}

fn fix_of(f: &Finding) -> &str {
    f.fix.as_deref().unwrap_or_else(|| panic!("no fix in {f:?}"))
}

/// Runs a fix the doctor printed, word by word, inside the namespace (only the part before " (or ...").
fn apply(ns: &Netns, fix: &str) {
    let cmd = fix.split(" (").next().unwrap();
    let words: Vec<&str> = cmd.split_whitespace().collect();
    let out = ns.command(words[0]).args(&words[1..]).output().unwrap();
    assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A bridge `br0` with an IGMPv3/MLDv2 querier asking every second, one veth port (so it has a carrier),
/// 10.9.0.1/24, and 239.0.0.0/8 routed through it:
///
/// ```text
///   [ br0 10.9.0.1/24, querier ] -- vq0 <-veth-> vq1
/// ```
fn bridged(tag: &str) -> Netns {
    let ns = Netns::new(tag);
    ns.ip(&[
        "link",
        "add",
        "br0",
        "type",
        "bridge",
        "mcast_snooping",
        "1",
        "mcast_querier",
        "1",
        "mcast_igmp_version",
        "3",
        "mcast_mld_version",
        "2",
        "mcast_query_interval",
        "100",
        "mcast_startup_query_interval",
        "100",
        "mcast_startup_query_count",
        "1000",
    ]);
    ns.sysctl("net.ipv6.conf.br0.accept_dad", "0");
    ns.ip(&["link", "add", "vq0", "type", "veth", "peer", "name", "vq1"]);
    ns.ip(&["link", "set", "vq0", "master", "br0"]);
    for i in ["vq0", "vq1", "br0"] {
        ns.ip(&["link", "set", i, "up"]);
    }
    ns.ip(&["addr", "add", "10.9.0.1/24", "dev", "br0"]);
    ns.ip(&["route", "add", "239.0.0.0/8", "dev", "br0"]);
    wait_ipv6(&ns, "br0");
    ns
}

#[test]
fn a_healthy_ipv4_namespace_gets_ok_from_every_check() {
    needs_root!();
    let ns = bridged("dochealthy");
    let r = doctor(&ns, Options { querier_wait: Duration::from_secs(10), ..opts("239.1.2.3:5000", Some("br0")) });
    assert!(r.findings.iter().all(|f| f.status == Status::Ok), "{}", show(&r));
    let checks: Vec<&str> = r.findings.iter().map(|f| f.check).collect();
    for c in [
        "interface",
        "route",
        "rp_filter",
        "igmp-version",
        "memberships",
        "firewall",
        "scope",
        "mac",
        "querier",
        "pim",
        "loop",
    ] {
        assert!(checks.contains(&c), "{c} missing:\n{}", show(&r));
    }
    assert!(finding(&r, "querier", Status::Ok).summary.contains("IGMPv3 query"), "{}", show(&r));
    assert!(finding(&r, "route", Status::Ok).summary.contains("out of br0"));
    assert!(!r.failed());
}

#[test]
fn a_healthy_ipv6_namespace_gets_ok_from_every_check() {
    needs_root!();
    let ns = bridged("dochealthy6");
    let r = doctor(&ns, Options { querier_wait: Duration::from_secs(10), ..opts("[ff02::4321]:5000", Some("br0")) });
    assert!(r.findings.iter().all(|f| f.status == Status::Ok), "{}", show(&r));
    assert!(finding(&r, "querier", Status::Ok).summary.contains("MLDv2 query"), "{}", show(&r));
    assert!(finding(&r, "mld-version", Status::Ok).summary.contains("MLDv2"));
    assert!(finding(&r, "loop", Status::Ok).summary.contains("ff02::4321"));
}

/// Topology: a veth pair va <-> vb in one namespace, no querier and no PIM router anywhere. The querier check
/// says how long it listened, that the question it asked (a dropped source of 239.255.0.2) went unanswered,
/// and offers a longer listen; the PIM check heard no router; nothing fails.
#[test]
fn no_querier_is_a_warning_that_says_what_was_tried() {
    needs_root!();
    let ns = Netns::new("docnoq");
    veth_pair_in(&ns, "va", "vb");
    ns.add_addr("va", "10.9.1.1/24");
    let r = doctor(&ns, Options { querier_wait: Duration::from_secs(1), ..opts("239.1.2.3:5000", Some("va")) });
    let f = finding(&r, "querier", Status::Warn);
    assert!(f.summary.starts_with("no IGMP query heard on va (listened 1 s"), "{}", show(&r));
    assert!(f.summary.contains("a change of sources of 239.255.0.2, which a querier answers at once, went unanswered"));
    assert!(fix_of(f).starts_with("listen through a whole query interval (--querier-wait 130)"), "{}", show(&r));
    assert!(finding(&r, "pim", Status::Ok).summary.starts_with("no PIM hello heard on va in 1 s"), "{}", show(&r));
    assert!(!r.failed(), "{}", show(&r));
    // IGMPv2 forced by sysctl puts /proc/net/igmp in v2 mode too, but proves no querier; and a v2 host
    // reports no change of sources, so nothing is asked.
    ns.sysctl("net.ipv4.conf.va.force_igmp_version", "2");
    let r = doctor(&ns, Options { querier_wait: Duration::from_secs(1), ..opts("239.1.2.3:5000", Some("va")) });
    let f = finding(&r, "querier", Status::Warn);
    assert!(f.summary.starts_with("no IGMP query heard on va (listened 1 s)"), "{}", show(&r));
}

#[test]
fn no_route_is_named_with_the_route_to_add() {
    needs_root!();
    let ns = Netns::new("docnoroute");
    veth_pair_in(&ns, "va", "vb");
    ns.ip(&["route", "del", "224.0.0.0/4"]);
    let r = doctor(&ns, opts("239.1.2.3:5000", Some("va")));
    let f = finding(&r, "route", Status::Fail);
    assert!(f.summary.contains("no route for 239.1.2.3"), "{}", show(&r));
    assert_eq!(fix_of(f), "ip route add 224.0.0.0/4 dev va");
    assert!(r.failed());
    // Without an interface named, there is none to check either.
    let r = doctor(&ns, opts("239.1.2.3:5000", None));
    finding(&r, "interface", Status::Fail);
    apply(&ns, "ip route add 224.0.0.0/4 dev va");
    let r = doctor(&ns, opts("239.1.2.3:5000", Some("va")));
    assert!(finding(&r, "route", Status::Ok).summary.contains("out of va"));
}

#[test]
fn a_down_interface_is_named_and_its_fix_brings_it_up() {
    needs_root!();
    let ns = Netns::new("docdown");
    veth_pair_in(&ns, "va", "vb");
    ns.ip(&["route", "add", "239.0.0.0/8", "dev", "va"]);
    ns.ip(&["link", "set", "va", "down"]);
    let r = doctor(&ns, opts("239.1.2.3:5000", Some("va")));
    let f = finding(&r, "interface", Status::Fail);
    assert!(f.summary.contains("va is down"), "{}", show(&r));
    assert_eq!(fix_of(f), "ip link set va up");
    finding(&r, "loop", Status::Fail);
    apply(&ns, fix_of(f));
    // The carrier (RUNNING) follows an instant later, when the kernel's link watch runs.
    wait_running(&ns, "va");
    let r = doctor(&ns, opts("239.1.2.3:5000", Some("va")));
    finding(&r, "interface", Status::Ok);
    finding(&r, "loop", Status::Ok);
}

#[test]
fn a_missing_multicast_flag_is_named() {
    needs_root!();
    let ns = Netns::new("docnomc");
    veth_pair_in(&ns, "va", "vb");
    ns.ip(&["route", "add", "239.0.0.0/8", "dev", "va"]);
    ns.ip(&["link", "set", "va", "multicast", "off"]);
    let r = doctor(&ns, opts("239.1.2.3:5000", Some("va")));
    let f = finding(&r, "interface", Status::Fail);
    assert!(f.summary.contains("MULTICAST flag"), "{}", show(&r));
    assert_eq!(fix_of(f), "ip link set va multicast on");
    apply(&ns, fix_of(f));
    finding(&doctor(&ns, opts("239.1.2.3:5000", Some("va"))), "interface", Status::Ok);
}

/// Strict reverse-path filtering with an asymmetric path. Host `a` receives on `va`, but its route back to
/// the sender 10.2.0.5 leaves by `vc`:
///
/// ```text
///   b: vb 10.1.0.2/24 + 10.2.0.5/32  <-- veth -->  a: va 10.1.0.1/24   (rp_filter=1)
///                                                  a: vc 10.2.0.1/24 <-veth-> vd   (a's route to 10.2.0.0/24)
/// ```
///
/// The doctor must fail rp_filter; the traffic proves it right (nothing arrives), and its fix makes it arrive.
#[test]
fn strict_rp_filter_with_an_asymmetric_path_is_named_and_fixed() {
    needs_root!();
    let a = Netns::new("docrpa");
    let b = Netns::new("docrpb");
    veth(&a, "va", "10.1.0.1/24", &b, "vb", "10.1.0.2/24");
    b.ip(&["addr", "add", "10.2.0.5/32", "dev", "vb"]);
    b.ip(&["route", "add", "239.0.0.0/8", "dev", "vb"]);
    a.ip(&["link", "add", "vc", "type", "veth", "peer", "name", "vd"]);
    a.ip(&["addr", "add", "10.2.0.1/24", "dev", "vc"]);
    a.ip(&["link", "set", "vc", "up"]);
    a.ip(&["link", "set", "vd", "up"]);
    a.sysctl("net.ipv4.conf.all.rp_filter", "1");
    a.sysctl("net.ipv4.conf.va.rp_filter", "1");
    let source: IpAddr = "10.2.0.5".parse().unwrap();
    let o = Options { source: Some(source), ..opts("239.7.7.7:5007", Some("va")) };
    let r = doctor(&a, o.clone());
    let f = finding(&r, "rp_filter", Status::Fail);
    assert!(f.summary.contains("leaves by vc, not va"), "{}", show(&r));
    assert!(fix_of(f).starts_with("sysctl -w net.ipv4.conf.va.rp_filter=2"), "{}", show(&r));
    // A sender whose route back is va is fine.
    let ok = doctor(&a, Options { source: Some("10.1.0.2".parse().unwrap()), ..o.clone() });
    finding(&ok, "rp_filter", Status::Ok);

    let g: Group = "239.7.7.7:5007".parse().unwrap();
    let send = || {
        b.run(|| {
            let tx = mcast::Sender::builder(g).interface("vb").bind("10.2.0.5:0".parse().unwrap());
            tx.build().unwrap().send(b"rpf").unwrap();
        })
    };
    let rx = a.run(|| mcast::Receiver::builder(g).interface("va").build().unwrap().into_socket());
    send();
    assert_silent_in(&a, &rx, "datagram from 10.2.0.5 under strict rp_filter");
    apply(&a, fix_of(f));
    send();
    let got = a.run(|| expect(&rx, "datagram from 10.2.0.5 after the fix"));
    assert_eq!((got.bytes.as_slice(), got.meta.source.ip()), (&b"rpf"[..], source));
    finding(&doctor(&a, o), "rp_filter", Status::Ok);
}

/// Waits (up to 5 s) until `ifname` has its carrier.
fn wait_running(ns: &Netns, ifname: &str) {
    let name = ifname.to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !ns.run(|| mcast::Interface::by_name(&name).unwrap().is_running()) {
        assert!(std::time::Instant::now() < deadline, "{ifname} has no carrier after 5 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_silent_in(ns: &Netns, sock: &McastSocket, what: &str) {
    ns.run(|| assert_silent(sock, what));
}

#[test]
fn an_nft_drop_rule_is_named_with_a_rule_that_lets_the_group_in() {
    needs_root!();
    let ns = Netns::new("docnft");
    veth_pair_in(&ns, "va", "vb");
    ns.ip(&["route", "add", "239.0.0.0/8", "dev", "va"]);
    for cmd in [
        "add table inet f",
        "add chain inet f input { type filter hook input priority 0 ; policy accept ; }",
        "add rule inet f input udp dport 5000 drop",
    ] {
        let out = ns.command("nft").args(cmd.split_whitespace()).output().unwrap();
        assert!(out.status.success(), "nft {cmd}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let r = doctor(&ns, opts("239.1.2.3:5000", Some("va")));
    let f = finding(&r, "firewall", Status::Fail);
    assert!(f.summary.contains("nftables inet f input") && f.summary.contains("udp dport 5000 drop"), "{}", show(&r));
    assert!(f.summary.contains("drops UDP to 239.1.2.3:5000"), "{}", show(&r));
    let fix = fix_of(f);
    assert!(fix.starts_with("nft insert rule inet f input position "), "{fix}");
    assert!(fix.contains("ip daddr 239.1.2.3 udp dport 5000 accept"), "{fix}");
    // Another port is not affected.
    finding(&doctor(&ns, opts("239.1.2.3:5001", Some("va"))), "firewall", Status::Ok);
    apply(&ns, fix);
    let r = doctor(&ns, opts("239.1.2.3:5000", Some("va")));
    assert!(finding(&r, "firewall", Status::Ok).summary.contains("nftables"), "{}", show(&r));
}

#[test]
fn an_iptables_rule_dropping_igmp_is_named() {
    needs_root!();
    let ns = Netns::new("docipt");
    veth_pair_in(&ns, "va", "vb");
    ns.ip(&["route", "add", "239.0.0.0/8", "dev", "va"]);
    let out = ns.command("iptables").args(["-A", "INPUT", "-p", "igmp", "-j", "DROP"]).output().unwrap();
    assert!(out.status.success(), "iptables: {}", String::from_utf8_lossy(&out.stderr));
    let r = doctor(&ns, opts("239.1.2.3:5000", Some("va")));
    let f = finding(&r, "firewall", Status::Fail);
    assert!(f.summary.starts_with("iptables filter INPUT"), "{}", show(&r));
    assert!(f.summary.contains("drops IGMP queries"), "{}", show(&r));
    let fix = fix_of(f);
    assert!(fix.starts_with("iptables -t filter -I INPUT -p igmp -j ACCEPT"), "{fix}");
    assert!(fix.ends_with("(or remove the rule: iptables -t filter -D INPUT 1)"), "{fix}");
    apply(&ns, fix);
    finding(&doctor(&ns, opts("239.1.2.3:5000", Some("va"))), "firewall", Status::Ok);
}

#[test]
fn a_lowered_membership_limit_is_named_with_the_sysctl() {
    needs_root!();
    let ns = Netns::new("doclimit");
    ns.sysctl("net.ipv4.igmp_max_memberships", "2");
    let r = doctor(&ns, opts("239.1.1.1-239.1.1.5:5000", Some("lo")));
    let f = finding(&r, "memberships", Status::Warn);
    assert!(
        f.summary.contains("net.ipv4.igmp_max_memberships=2") && f.summary.contains("only 2 of these 5"),
        "{}",
        show(&r)
    );
    assert_eq!(fix_of(f), "sysctl -w net.ipv4.igmp_max_memberships=20");
    let one = doctor(&ns, opts("239.1.1.1:5000", Some("lo")));
    assert!(finding(&one, "memberships", Status::Warn).summary.contains("below the default 20"));
    ns.sysctl("net.ipv4.igmp_max_memberships", "0");
    let zero = doctor(&ns, opts("239.1.1.1:5000", Some("lo")));
    finding(&zero, "memberships", Status::Fail);
    assert!(zero.failed());
    apply(&ns, "sysctl -w net.ipv4.igmp_max_memberships=20");
    finding(&doctor(&ns, opts("239.1.1.1-239.1.1.5:5000", Some("lo"))), "memberships", Status::Ok);
}

#[test]
fn a_mac_collision_with_a_joined_group_is_named() {
    needs_root!();
    let ns = Netns::new("docmac");
    // 224.1.2.3 and 239.129.2.3 both map to 01:00:5e:01:02:03.
    let holder = ns.run(|| {
        let s = McastSocket::udp(mcast::Family::V4).unwrap();
        s.join_group("224.1.2.3".parse().unwrap(), mcast::Interface::by_name("lo").unwrap().index).unwrap();
        s
    });
    let r = doctor(&ns, opts("239.129.2.3:5000", Some("lo")));
    let f = finding(&r, "mac", Status::Warn);
    assert!(f.summary.contains("01:00:5e:01:02:03") && f.summary.contains("224.1.2.3 on lo"), "{}", show(&r));
    assert!(fix_of(f).contains("low 23 bits"));
    finding(&doctor(&ns, opts("239.1.2.4:5000", Some("lo"))), "mac", Status::Ok);
    // Leave explicitly: closing alone may leave the membership to a child another test forked meanwhile,
    // which holds the descriptor until it execs.
    let lo = ns.ifindex("lo");
    holder.leave_group("224.1.2.3".parse().unwrap(), lo).unwrap();
    finding(&doctor(&ns, opts("239.129.2.3:5000", Some("lo"))), "mac", Status::Ok);
}

#[test]
fn a_forced_igmp_version_fails_source_specific_joins() {
    needs_root!();
    let ns = Netns::new("docforce");
    ns.sysctl("net.ipv4.conf.lo.force_igmp_version", "2");
    let o = Options { source: Some("127.0.0.1".parse().unwrap()), ..opts("232.1.1.1:5000", Some("lo")) };
    let r = doctor(&ns, o.clone());
    let f = finding(&r, "igmp-version", Status::Fail);
    assert!(f.summary.contains("IGMPv2 is forced on lo"), "{}", show(&r));
    assert!(fix_of(f).starts_with("sysctl -w net.ipv4.conf.lo.force_igmp_version=0"));
    apply(&ns, fix_of(f));
    assert!(finding(&doctor(&ns, o), "igmp-version", Status::Ok).summary.contains("IGMPv3"));
}

/// `mcast doctor` itself: text, `--json`, and exit status 1 when a check fails.
#[test]
fn the_command_exits_1_on_failure_and_speaks_json() {
    needs_root!();
    let ns = Netns::new("doccli");
    veth_pair_in(&ns, "va", "vb");
    ns.ip(&["route", "add", "239.0.0.0/8", "dev", "va"]);
    let run = |args: &[&str]| {
        let out = ns.command(env!("CARGO_BIN_EXE_mcast")).arg("doctor").args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, text, err) = run(&["239.1.2.3:5000", "--iface", "va", "--querier-wait", "0"]);
    assert_eq!(code, Some(0), "{text}{err}");
    assert!(text.lines().any(|l| l.starts_with("ok") && l.contains("loop")), "{text}");
    ns.ip(&["link", "set", "va", "down"]);
    let (code, text, err) = run(&["239.1.2.3:5000", "--iface", "va", "--querier-wait", "0"]);
    assert_eq!(code, Some(1), "{text}{err}");
    assert!(text.contains("va is down") && text.contains("ip link set va up"), "{text}");
    let (code, json, _) = run(&["239.1.2.3:5000", "--iface", "va", "--querier-wait", "0", "--json"]);
    assert_eq!(code, Some(1));
    let doc = mcast::__private::json::Json::parse(json.trim()).unwrap_or_else(|| panic!("not JSON: {json}"));
    let findings = doc.get("findings").unwrap().items();
    let down = findings
        .iter()
        .find(|f| f.get("check").and_then(|c| c.as_str()) == Some("interface"))
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(down.get("status").and_then(|s| s.as_str()), Some("fail"));
    assert_eq!(down.get("fix").and_then(|s| s.as_str()), Some("ip link set va up"));
    assert_eq!(doc.get("failed"), Some(&mcast::__private::json::Json::Bool(true)));
    let (code, _, err) = run(&["not-a-group"]);
    assert_eq!(code, Some(2), "{err}");
}

/// The packet filter is listed by programs from /usr/sbin or /sbin only. With `PATH` holding nothing but fake
/// listing programs that leave a mark when run, `mcast doctor` (run as root here) runs none of them.
#[test]
fn the_firewall_listing_never_runs_programs_found_through_path() {
    needs_root!();
    let ns = Netns::new("docpath");
    let dir = std::env::temp_dir().join(format!("mcast-docpath-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let marker = dir.join("ran");
    for prog in ["nft", "iptables-save", "ip6tables-save", "iptables-legacy-save", "ip6tables-legacy-save"] {
        let path = dir.join(prog);
        std::fs::write(&path, format!("#!/bin/sh\necho \"$0\" >> '{}'\n", marker.display())).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    // `ip` itself is found through the child's PATH, so the fake directory lends it the real one.
    let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .expect("iproute2's ip");
    std::os::unix::fs::symlink(ip, dir.join("ip")).unwrap();
    let out = ns
        .command(env!("CARGO_BIN_EXE_mcast"))
        .args(["doctor", "239.1.2.3:5000", "--iface", "lo", "--querier-wait", "0", "--no-loop"])
        .env("PATH", &dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let ran = std::fs::read_to_string(&marker).unwrap_or_default();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(ran.is_empty(), "programs found through PATH were run: {ran}\n{text}");
    assert!(text.lines().any(|l| l.contains("firewall")), "the firewall check ran: {text}");
    if std::path::Path::new("/usr/sbin/nft").is_file() || std::path::Path::new("/sbin/nft").is_file() {
        assert!(text.contains("nftables"), "the system's nft was run: {text}");
    }
}

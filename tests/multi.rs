//! The multi-group receiver: many groups over several sockets, every datagram counted for its own group.
//!
//! Topologies: one namespace; IPv4 on `lo` (its 224.0.0.0/4 route), IPv6 on a veth pair `va`/`vb` inside it
//! (hop limit 0 loops back on `va`). Each test sends a known number of datagrams to each group, each naming
//! its group and sequence number, and checks every group's count, bytes, sender and destination.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::*;
use mcast::multi::{parse_group_list, MultiReceiver, Subscription};
use mcast::{ErrorKind, Family, Group, McastSocket};

/// Receive buffer per socket: room for every datagram a test sends, so nothing depends on reading fast.
const RCVBUF: u32 = 8 << 20;

/// A sending socket on interface `ifname` that loops its datagrams back to this host (TTL/hop limit 0).
fn sender(family: Family, ifname: &str, bind: Option<SocketAddr>) -> McastSocket {
    let s = McastSocket::udp(family).unwrap();
    if let Some(a) = bind {
        s.bind(a).unwrap();
    }
    let index = mcast::Interface::by_name(ifname).unwrap().index;
    match family {
        Family::V4 => {
            s.set_multicast_if_v4_index(index).unwrap();
            s.set_multicast_ttl_v4(0).unwrap();
            s.set_multicast_loop_v4(true).unwrap();
        }
        Family::V6 => {
            s.set_multicast_if_v6(index).unwrap();
            s.set_multicast_hops_v6(0).unwrap();
            s.set_multicast_loop_v6(true).unwrap();
        }
    }
    s
}

fn payload(group: &Group, n: usize) -> Vec<u8> {
    format!("{group} #{n}").into_bytes()
}

/// Sends `count` datagrams to each group, round-robin over the groups; returns the bytes sent per group.
fn send_each(tx: &McastSocket, groups: &[Group], count: usize) -> HashMap<Group, u64> {
    let mut bytes = HashMap::new();
    for n in 0..count {
        for g in groups {
            let p = payload(g, n);
            assert_eq!(tx.send_to(&p, g.socket_addr()).unwrap(), p.len());
            *bytes.entry(*g).or_insert(0) += p.len() as u64;
        }
    }
    bytes
}

/// Reads until `total` datagrams arrived (or a generous deadline passes), checking each one: it counts for a
/// member whose group is the datagram's destination, its payload names that group, it came from `source`.
fn receive_checked(rx: &mut MultiReceiver, total: u64, source: SocketAddr) {
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = 0;
    while got < total && Instant::now() < deadline {
        let Some(a) = rx.recv_timeout(&mut buf, Duration::from_secs(1)).unwrap() else { continue };
        let member = a.member.unwrap_or_else(|| panic!("a stray datagram: {:?}", a.meta));
        let group = rx.members()[member].group();
        assert_eq!(a.meta.group, Some(group.ip()), "counted for the group it was sent to");
        assert_eq!(a.socket, reader_of(rx, member), "read from the socket that holds the membership, or its reader");
        let text = String::from_utf8_lossy(&buf[..a.meta.len]).to_string();
        assert!(text.starts_with(&format!("{group} #")), "payload {text:?} for {group}");
        assert_eq!((a.meta.source.ip(), a.meta.source.port()), (source.ip(), source.port()), "sender");
        got += 1;
    }
    assert_eq!(got, total, "datagrams received in 20 s");
    // Nothing more may come: every group's count is exact, not at least.
    assert!(rx.recv_timeout(&mut buf, Duration::from_millis(300)).unwrap().is_none(), "an extra datagram");
    assert_eq!(rx.strays(), 0);
    assert_eq!(rx.kernel_drops(), 0);
}

/// The socket a member's datagrams are read from: with one reader (a socket holding no membership, bound to
/// the member's port in its family) that one, else the socket that holds the membership.
fn reader_of(rx: &MultiReceiver, member: usize) -> usize {
    let m = &rx.members()[member];
    let per = rx.members_per_socket();
    let reader = rx.sockets().enumerate().position(|(i, s)| {
        per[i] == 0
            && s.family() == Family::of(m.group().ip())
            && s.local_addr().is_ok_and(|a| a.port() == m.group().port())
    });
    reader.unwrap_or(m.socket)
}

fn assert_counts(rx: &MultiReceiver, count: u64, bytes: &HashMap<Group, u64>) {
    assert_eq!(rx.members().len(), bytes.len());
    for m in rx.members() {
        assert_eq!(m.counters.datagrams, count, "datagrams for {}", m.group());
        assert_eq!(m.counters.bytes, bytes[&m.group()], "bytes for {}", m.group());
        assert_eq!(m.counters.truncated, 0);
    }
}

/// 100 IPv4 groups on `lo`; the namespace keeps the default igmp_max_memberships (20), so the receiver needs
/// exactly 5 sockets of 20 memberships each.
#[test]
fn hundred_ipv4_groups_each_counted_exactly() {
    needs_root!();
    let ns = Netns::new("multi100");
    ns.run(|| {
        let groups = parse_group_list("239.10.0.1-239.10.0.100:5000", None).unwrap();
        assert_eq!(groups.len(), 100);
        let mut rx =
            MultiReceiver::builder().groups(groups.clone()).interface("lo").recv_buffer(RCVBUF).build().unwrap();
        assert_eq!(rx.members_per_socket(), vec![20; 5], "the kernel's default limit of 20 per socket");
        assert_eq!(rx.fds().len(), 5);
        let tx = sender(Family::V4, "lo", Some("127.0.0.1:0".parse().unwrap()));
        let bytes = send_each(&tx, &groups, 20);
        receive_checked(&mut rx, 100 * 20, tx.local_addr().unwrap());
        assert_counts(&rx, 20, &bytes);
        let lo = ns_ifindex("lo");
        assert!(rx.members().iter().all(|m| m.iface.as_ref().map(|i| i.index) == Some(lo)));
    });
}

/// The same with `net.ipv4.igmp_max_memberships` lowered to 3 inside the namespace: 34 sockets, still exact.
#[test]
fn hundred_ipv4_groups_with_a_lowered_membership_limit() {
    needs_root!();
    let ns = Netns::new("multilim");
    ns.sysctl("net.ipv4.igmp_max_memberships", "3");
    ns.run(|| {
        let groups = parse_group_list("239.11.0.1-239.11.0.100:5001", None).unwrap();
        let mut rx = MultiReceiver::builder().groups(groups.clone()).recv_buffer(RCVBUF).build().unwrap();
        let per = rx.members_per_socket();
        assert_eq!(per.len(), 34, "{per:?}");
        assert!(per.iter().all(|&n| n <= 3) && per.iter().sum::<usize>() == 100, "{per:?}");
        let tx = sender(Family::V4, "lo", Some("127.0.0.1:0".parse().unwrap()));
        let bytes = send_each(&tx, &groups, 10);
        receive_checked(&mut rx, 100 * 10, tx.local_addr().unwrap());
        assert_counts(&rx, 10, &bytes);
    });
}

/// IPv6 has no membership count, but each join is charged to the socket's option memory: with
/// `net.core.optmem_max` lowered in the namespace, 100 IPv6 groups need several sockets. IPv4 groups come in
/// the same receiver, mixed in the same list.
#[test]
fn mixed_ipv4_and_ipv6_groups_with_lowered_option_memory() {
    needs_root!();
    let ns = Netns::new("multi6");
    veth_pair_in(&ns, "va", "vb");
    ns.sysctl("net.core.optmem_max", "2048");
    ns.run(|| {
        let groups = parse_group_list("[ff15::100-ff15::163%va]:5002,239.12.0.1-239.12.0.30:5002", None).unwrap();
        assert_eq!(groups.len(), 130);
        let mut rx = MultiReceiver::builder().groups(groups.clone()).recv_buffer(RCVBUF).build().unwrap();
        let v6_sockets = rx.sockets().filter(|s| s.family() == Family::V6).count();
        assert!(v6_sockets >= 2, "optmem_max 2048 cannot hold 100 IPv6 memberships in one socket");
        let (v6, v4): (Vec<Group>, Vec<Group>) = groups.iter().partition(|g| g.is_ipv6());
        let tx6 = sender(Family::V6, "va", None);
        let tx4 = sender(Family::V4, "lo", Some("127.0.0.1:0".parse().unwrap()));
        let mut bytes = send_each(&tx6, &v6, 5);
        receive_checked(&mut rx, 100 * 5, SocketAddr::new(link_local("va"), tx6.local_addr().unwrap().port()));
        bytes.extend(send_each(&tx4, &v4, 5));
        receive_checked(&mut rx, 30 * 5, tx4.local_addr().unwrap());
        assert_counts(&rx, 5, &bytes);
    });
}

/// Source-specific subscriptions: two sources of one group, with `igmp_max_msf` (sources per group per
/// socket) lowered to 1 so they need two sockets; a third source is not subscribed and must not be counted.
#[test]
fn source_specific_subscriptions_are_counted_per_source() {
    needs_root!();
    let ns = Netns::new("multissm");
    ns.sysctl("net.ipv4.igmp_max_msf", "1");
    ns.run(|| {
        let g: Group = "232.1.1.1:5003".parse().unwrap();
        let (s1, s2, s3): (IpAddr, IpAddr, IpAddr) =
            ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap());
        let mut rx = MultiReceiver::builder()
            .subscriptions([Subscription { group: g, source: Some(s1) }, Subscription { group: g, source: Some(s2) }])
            .interface("lo")
            .build()
            .unwrap();
        assert_eq!(rx.members_per_socket(), vec![1, 1], "one source per socket under igmp_max_msf=1");
        let tx3 = sender(Family::V4, "lo", Some(SocketAddr::new(s3, 0)));
        for n in 0..4 {
            tx3.send_to(&payload(&g, n), g.socket_addr()).unwrap();
        }
        for (source, count) in [(s1, 5), (s2, 7)] {
            let tx = sender(Family::V4, "lo", Some(SocketAddr::new(source, 0)));
            for n in 0..count {
                tx.send_to(&payload(&g, n), g.socket_addr()).unwrap();
            }
            receive_checked(&mut rx, count as u64, tx.local_addr().unwrap());
        }
        let counts: Vec<(Option<IpAddr>, u64)> =
            rx.members().iter().map(|m| (m.subscription.source, m.counters.datagrams)).collect();
        assert_eq!(counts, vec![(Some(s1), 5), (Some(s2), 7)]);
    });
}

/// Bound groups: each group gets its own socket bound to its address and port (30 IPv4 groups, 30 sockets of
/// one membership, though the kernel would put 20 in one), every datagram is counted for its group exactly,
/// and a unicast datagram to the port reaches no socket (no stray). IPv6 on the veth: a link-scope group's
/// socket is bound with the interface as its zone, a site-scope one's without.
#[test]
fn bound_groups_each_have_their_socket_and_count_exactly() {
    needs_root!();
    let ns = Netns::new("multibind");
    veth_pair_in(&ns, "va", "vb");
    ns.run(|| {
        let groups = parse_group_list("239.14.0.1-239.14.0.30:5005", None).unwrap();
        let mut rx = MultiReceiver::builder()
            .groups(groups.clone())
            .interface("lo")
            .recv_buffer(RCVBUF)
            .bind_groups(true)
            .build()
            .unwrap();
        assert_eq!(rx.members_per_socket(), vec![1; 30], "a socket per group");
        let sockets: Vec<&McastSocket> = rx.sockets().collect();
        for m in rx.members() {
            assert_eq!(sockets[m.socket].local_addr().unwrap(), m.group().socket_addr(), "bound to its group");
        }
        let tx = sender(Family::V4, "lo", Some("127.0.0.1:0".parse().unwrap()));
        tx.send_to(b"unicast to the port", "127.0.0.1:5005".parse().unwrap()).unwrap();
        let bytes = send_each(&tx, &groups, 10);
        receive_checked(&mut rx, 30 * 10, tx.local_addr().unwrap());
        assert_counts(&rx, 10, &bytes);

        let groups6 = parse_group_list("[ff12::14:1-ff12::14:3]:5006,[ff15::14:1-ff15::14:3]:5006", None).unwrap();
        let mut rx6 = MultiReceiver::builder()
            .groups(groups6.clone())
            .interface("va")
            .recv_buffer(RCVBUF)
            .bind_groups(true)
            .build()
            .unwrap();
        let va = ns_ifindex("va");
        let sockets: Vec<&McastSocket> = rx6.sockets().collect();
        assert_eq!(sockets.len(), 6);
        for m in rx6.members() {
            let SocketAddr::V6(a) = sockets[m.socket].local_addr().unwrap() else { panic!("an IPv6 socket") };
            let zone = if m.group().needs_interface() { va } else { 0 };
            assert_eq!((IpAddr::V6(*a.ip()), a.port(), a.scope_id()), (m.group().ip(), 5006, zone), "{}", m.group());
        }
        let tx6 = sender(Family::V6, "va", None);
        let bytes6 = send_each(&tx6, &groups6, 4);
        receive_checked(&mut rx6, 6 * 4, SocketAddr::new(link_local("va"), tx6.local_addr().unwrap().port()));
        assert_counts(&rx6, 4, &bytes6);
    });
}

/// One reader: 100 IPv4 groups read through one socket bound to the port, `IP_MULTICAST_ALL` on and no
/// membership of its own, while five unbound sockets hold 20 memberships each; every group is counted exactly.
/// A group another socket of the host joined on the port reaches the reader too, and is a stray with its own
/// payload and group; IPv6 (link and site scope, on the veth) likewise. Dropping the receiver leaves every group.
#[test]
fn one_reader_reads_every_group_through_one_socket() {
    needs_root!();
    let ns = Netns::new("multione");
    veth_pair_in(&ns, "va", "vb");
    ns.run(|| {
        let groups = parse_group_list("239.24.0.1-239.24.0.100:5015", None).unwrap();
        let mut rx = MultiReceiver::builder()
            .groups(groups.clone())
            .interface("lo")
            .recv_buffer(RCVBUF)
            .one_reader(true)
            .build()
            .unwrap();
        assert_eq!(rx.members_per_socket(), vec![0, 20, 20, 20, 20, 20], "one reader, five holders of 20");
        let sockets: Vec<&McastSocket> = rx.sockets().collect();
        assert_eq!(sockets[0].local_addr().unwrap(), "0.0.0.0:5015".parse().unwrap());
        assert!(sockets[0].multicast_all().unwrap(), "the reader takes every group joined on the host");
        for s in &sockets[1..] {
            assert_eq!(s.local_addr().unwrap().port(), 0, "a holder binds nothing");
        }
        assert!(rx.members().iter().all(|m| m.socket > 0), "the reader holds no membership");
        assert!(rx.try_recv(1, &mut [0u8; 64]).unwrap().is_none(), "a holder reads nothing, and does not wait");
        let tx = sender(Family::V4, "lo", Some("127.0.0.1:0".parse().unwrap()));
        let bytes = send_each(&tx, &groups, 10);
        receive_checked(&mut rx, 100 * 10, tx.local_addr().unwrap());
        assert_counts(&rx, 10, &bytes);

        // Someone else's group on the port: the reader hears it, counts it apart and for no member.
        let other = McastSocket::udp(Family::V4).unwrap();
        let foreign: IpAddr = "239.24.1.1".parse().unwrap();
        other.join_group(foreign, ns_ifindex("lo")).unwrap();
        tx.send_to(b"someone else's group", SocketAddr::new(foreign, 5015)).unwrap();
        let mut buf = [0u8; 256];
        let a = rx.recv_timeout(&mut buf, Duration::from_secs(5)).unwrap().expect("the foreign group's datagram");
        assert_eq!((a.member, a.socket, a.meta.group), (None, 0, Some(foreign)));
        assert_eq!((&buf[..a.meta.len], a.meta.source), (&b"someone else's group"[..], tx.local_addr().unwrap()));
        assert_eq!(rx.strays(), 1);
        assert_counts(&rx, 10, &bytes);
        assert!(rx.recv_timeout(&mut buf, Duration::from_millis(300)).unwrap().is_none(), "an extra datagram");

        let groups6 = parse_group_list("[ff12::24:1-ff12::24:3]:5016,[ff15::24:1-ff15::24:3]:5016", None).unwrap();
        let mut rx6 = MultiReceiver::builder()
            .groups(groups6.clone())
            .interface("va")
            .recv_buffer(RCVBUF)
            .one_reader(true)
            .build()
            .unwrap();
        assert_eq!(rx6.members_per_socket(), vec![0, 6]);
        let reader6 = rx6.sockets().next().unwrap();
        assert_eq!(reader6.local_addr().unwrap(), "[::]:5016".parse().unwrap());
        assert!(reader6.multicast_all().unwrap());
        let tx6 = sender(Family::V6, "va", None);
        let bytes6 = send_each(&tx6, &groups6, 4);
        receive_checked(&mut rx6, 6 * 4, SocketAddr::new(link_local("va"), tx6.local_addr().unwrap().port()));
        assert_counts(&rx6, 4, &bytes6);

        let held = |g: &Group| mcast::procnet::group_users(g.ip()).unwrap_or(0);
        assert!(groups.iter().chain(&groups6).all(|g| held(g) == 1), "each group joined once, by its holder");
        drop((rx, rx6));
        let left: Vec<&Group> = groups.iter().chain(&groups6).filter(|g| held(g) > 0).collect();
        assert!(left.is_empty(), "still joined after the receiver was dropped: {left:?}");
    });
}

/// `mcast recv --one-reader` says how its sockets are laid out and counts every group exactly; with
/// `--bind-group` too it is a usage error.
#[test]
fn the_recv_command_reads_through_one_socket_when_asked() {
    needs_root!();
    use mcast::__private::json::Json;

    let ns = Netns::new("multionecli");
    let spec = "239.25.0.1-239.25.0.30:5017";
    let groups = parse_group_list(spec, None).unwrap();
    let args = ["recv", spec, "--one-reader", "--iface", "lo", "--time", "10", "--json", "--count", "90"];
    let (first, sent, lines) = recv_command(&ns, &[&args[..], &["--interval", "0"]].concat(), &groups, 3);
    let want = "listening on 30 groups over 3 sockets (1 reading every group with no membership, 20, 10 memberships \
                held by the others";
    assert!(first.contains(want), "{first}");
    let summary = lines.last().unwrap();
    assert_eq!(summary.get("sockets").and_then(Json::as_u64), Some(3));
    assert_eq!(summary.get("datagrams").and_then(Json::as_u64), Some(90));
    assert_eq!(summary.get("strays").and_then(Json::as_u64), Some(0));
    assert_group_rows(summary, &groups, 3, &sent);

    let both = ns
        .command(env!("CARGO_BIN_EXE_mcast"))
        .args([&args[..2], &["--one-reader", "--bind-group"]].concat())
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2));
    let err = String::from_utf8_lossy(&both.stderr);
    assert!(err.contains("--bind-group and --one-reader are two layouts"), "{err}");
}

/// Runs `mcast recv` with `args` in `ns`, waits for its "listening" line, sends `count` datagrams to each of
/// `groups` from 127.0.0.1 on `lo`, and returns that line, the bytes sent per group and every JSON line it
/// printed, having checked it exited 0.
fn recv_command(
    ns: &Netns,
    args: &[&str],
    groups: &[Group],
    count: usize,
) -> (String, HashMap<Group, u64>, Vec<mcast::__private::json::Json>) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    use mcast::__private::json::Json;

    let mut child = ns
        .command(env!("CARGO_BIN_EXE_mcast"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    let sent = ns.run(|| {
        let tx = sender(Family::V4, "lo", Some("127.0.0.1:0".parse().unwrap()));
        send_each(&tx, groups, count)
    });
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let lines = String::from_utf8(out.stdout).unwrap().lines().map(|l| Json::parse(l).unwrap()).collect();
    (first, sent, lines)
}

/// The summary's row of each group: its address, `count` datagrams and the bytes sent to it.
fn assert_group_rows(summary: &mcast::__private::json::Json, groups: &[Group], count: u64, sent: &HashMap<Group, u64>) {
    use mcast::__private::json::Json;

    let rows = summary.get("groups").unwrap().items();
    assert_eq!(rows.len(), groups.len());
    for (g, row) in groups.iter().zip(rows) {
        assert_eq!(row.get("group").and_then(Json::as_str), Some(g.ip().to_string().as_str()));
        assert_eq!(row.get("datagrams").and_then(Json::as_u64), Some(count), "{g}");
        assert_eq!(row.get("bytes").and_then(Json::as_u64), Some(sent[g]), "{g}");
    }
}

/// `mcast recv --bind-group`: a socket per group, said so when listening, and every group counted exactly;
/// with one group too (the flag takes the many-group receiver).
#[test]
fn the_recv_command_binds_each_group_when_asked() {
    needs_root!();
    use mcast::__private::json::Json;

    let ns = Netns::new("multibindcli");
    for (spec, n) in [("239.22.0.1-239.22.0.3:5012", 3usize), ("239.22.0.9:5013", 1)] {
        let groups = parse_group_list(spec, None).unwrap();
        let total = (n * 4).to_string();
        let args = ["recv", spec, "--bind-group", "--iface", "lo", "--time", "10", "--json", "--count", &total];
        let (first, sent, lines) = recv_command(&ns, &[&args[..], &["--interval", "0"]].concat(), &groups, 4);
        let ones = vec!["1"; n].join(", ");
        let want =
            format!("over {n} socket{} ({ones} memberships; each bound to its group)", if n > 1 { "s" } else { "" });
        assert!(first.contains(&want), "{first}");
        let summary = lines.last().unwrap();
        assert_eq!(summary.get("sockets").and_then(Json::as_u64), Some(n as u64));
        assert_eq!(summary.get("datagrams").and_then(Json::as_u64), Some(n as u64 * 4));
        assert_group_rows(summary, &groups, 4, &sent);
    }
}

/// Bound groups need a descriptor each: with a soft open-file limit of 40 the receiver raises it to hold 100
/// groups; with the hard limit at 40 too it cannot, and says which limit to raise.
#[test]
fn bound_groups_raise_the_open_file_limit_or_say_which_to_raise() {
    needs_root!();
    let ns = Netns::new("multinofile");
    let mcast = env!("CARGO_BIN_EXE_mcast");
    let run = |ulimit: &str| {
        ns.command("sh")
            .arg("-c")
            .arg(format!(
                "ulimit {ulimit} 40 && exec {mcast} recv 239.23.0.1-239.23.0.100:5014 --bind-group --iface lo \
                 --time 0.3 --interval 0"
            ))
            .output()
            .unwrap()
    };
    let soft = run("-Sn");
    let err = String::from_utf8_lossy(&soft.stderr);
    assert!(err.contains("listening on 100 groups over 100 sockets (1 each memberships; each bound"), "{err}");
    assert_eq!(soft.status.code(), Some(1), "nothing arrived in 0.3 s: {err}");
    // -n sets both limits: the soft one cannot rise past 40.
    let hard = run("-n");
    let err = String::from_utf8_lossy(&hard.stderr);
    assert!(!hard.status.success(), "{err}");
    assert!(
        err.contains("out of descriptors; each bound group takes a descriptor: raise the hard open-file limit"),
        "{err}"
    );
}

/// A datagram to the port but for none of a socket's groups (here unicast, which a port-bound socket hears)
/// is a stray: counted apart, for no member, also where each socket holds a single membership.
#[test]
fn a_unicast_datagram_to_the_port_is_a_stray() {
    needs_root!();
    let ns = Netns::new("multistray");
    ns.run(|| {
        let groups = parse_group_list("239.15.0.1-239.15.0.2:5007", None).unwrap();
        let mut rx = MultiReceiver::builder().groups(groups.clone()).interface("lo").per_socket(1).build().unwrap();
        assert_eq!(rx.members_per_socket(), vec![1, 1]);
        let tx = sender(Family::V4, "lo", Some("127.0.0.1:0".parse().unwrap()));
        tx.send_to(b"unicast", "127.0.0.1:5007".parse().unwrap()).unwrap();
        let bytes = send_each(&tx, &groups, 1);
        let mut buf = [0u8; 256];
        let mut arrivals = Vec::new();
        while let Some(a) = rx.recv_timeout(&mut buf, Duration::from_millis(500)).unwrap() {
            arrivals.push((a.member, a.meta.group, buf[..a.meta.len].to_vec()));
        }
        assert_eq!(arrivals.len(), 3, "{arrivals:?}");
        let strays: Vec<_> = arrivals.iter().filter(|(m, _, _)| m.is_none()).collect();
        assert_eq!(strays.len(), 1, "{arrivals:?}");
        assert_eq!((strays[0].1, &strays[0].2[..]), (Some("127.0.0.1".parse().unwrap()), &b"unicast"[..]));
        assert_eq!(rx.strays(), 1);
        assert_counts(&rx, 1, &bytes);
    });
}

/// Where no socket can hold even one membership, the error names the sysctl and the value to set.
#[test]
fn a_zero_limit_is_an_error_that_names_the_sysctl() {
    needs_root!();
    let ns = Netns::new("multizero");
    ns.sysctl("net.ipv4.igmp_max_memberships", "0");
    ns.run(|| {
        let groups = parse_group_list("239.13.0.1-239.13.0.2:5004", None).unwrap();
        let e = MultiReceiver::builder().groups(groups).build().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Os);
        assert_eq!(e.raw_os_error(), Some(libc::ENOBUFS));
        let text = e.to_string();
        assert!(text.contains("239.13.0.1:5004"), "{text}");
        assert!(text.contains("sysctl -w net.ipv4.igmp_max_memberships=20"), "{text}");
    });
}

/// The sockets are ordinary descriptors: `poll` says which one holds a datagram and `try_recv` reads it
/// there without blocking.
#[test]
fn poll_names_the_socket_that_holds_the_datagram() {
    needs_root!();
    let ns = Netns::new("multipoll");
    ns.run(|| {
        let groups = parse_group_list("239.14.0.1-239.14.0.3:5005", None).unwrap();
        let mut rx = MultiReceiver::builder().groups(groups.clone()).per_socket(1).build().unwrap();
        assert_eq!(rx.raw_fds().len(), 3);
        let mut buf = [0u8; 256];
        assert!(rx.poll(Some(Duration::from_millis(100))).unwrap().is_empty());
        assert!(rx.try_recv(1, &mut buf).unwrap().is_none(), "an empty socket does not block");
        let tx = sender(Family::V4, "lo", None);
        tx.send_to(&payload(&groups[2], 0), groups[2].socket_addr()).unwrap();
        let mut ready = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(5);
        while ready.is_empty() && Instant::now() < deadline {
            ready = rx.poll(Some(Duration::from_secs(1))).unwrap();
        }
        assert_eq!(ready, vec![2]);
        let a = rx.try_recv(2, &mut buf).unwrap().expect("the datagram poll announced");
        assert_eq!(a.member, Some(2));
        assert_eq!(&buf[..a.meta.len], payload(&groups[2], 0).as_slice());
        assert_eq!(rx.members()[2].counters.datagrams, 1);
        assert!(rx.members()[..2].iter().all(|m| m.counters.datagrams == 0));
        assert_eq!(rx.try_recv(9, &mut buf).unwrap_err().kind(), ErrorKind::OutOfRange);
    });
}

/// The sockets a poll finds readable are served in turn, one datagram each: a group with a long queue does not
/// hold back another socket's datagram, and each socket's datagrams come in their order, all of them, exactly.
#[test]
fn readable_sockets_are_served_in_turn_until_drained() {
    needs_root!();
    let ns = Netns::new("multiturn");
    ns.run(|| {
        let groups = parse_group_list("239.14.1.1-239.14.1.3:5006", None).unwrap();
        let mut rx = MultiReceiver::builder().groups(groups.clone()).per_socket(1).recv_buffer(RCVBUF).build().unwrap();
        let tx = sender(Family::V4, "lo", None);
        let busy = 50;
        for n in 0..busy {
            tx.send_to(&payload(&groups[0], n), groups[0].socket_addr()).unwrap();
        }
        tx.send_to(&payload(&groups[2], 0), groups[2].socket_addr()).unwrap();
        // Both sockets are readable before the first read.
        let deadline = Instant::now() + Duration::from_secs(5);
        while rx.poll(Some(Duration::from_millis(100))).unwrap() != vec![0, 2] && Instant::now() < deadline {}
        let mut buf = [0u8; 256];
        let mut order = Vec::new();
        while let Some(a) = rx.recv_timeout(&mut buf, Duration::from_millis(500)).unwrap() {
            let m = a.member.expect("every datagram is a member's");
            let n = order.iter().filter(|&&o| o == m).count();
            assert_eq!(&buf[..a.meta.len], payload(&groups[m], n).as_slice(), "in order within its group");
            order.push(m);
        }
        assert_eq!(order.len(), busy + 1);
        assert_eq!(order.iter().position(|&m| m == 2), Some(1), "served second, not after the busy queue: {order:?}");
        assert_eq!(rx.members()[0].counters.datagrams, busy as u64);
        assert_eq!((rx.members()[1].counters.datagrams, rx.members()[2].counters.datagrams), (0, 1));
    });
}

fn ns_ifindex(name: &str) -> u32 {
    mcast::Interface::by_name(name).unwrap().index
}

fn link_local(ifname: &str) -> IpAddr {
    let i = mcast::Interface::by_name(ifname).unwrap();
    let a = i.ipv6.iter().find(|a| a.segments()[0] == 0xfe80).unwrap_or_else(|| panic!("no fe80:: on {ifname}"));
    IpAddr::V6(*a)
}

/// `mcast recv` with a range: the summary counts every group exactly, over as many sockets as the limit
/// needs (30 groups, 20 per socket: 2). Interval lines name every group.
#[test]
fn the_recv_command_counts_each_group_of_a_range() {
    needs_root!();
    use mcast::__private::json::Json;

    let ns = Netns::new("multicli");
    let groups = parse_group_list("239.21.0.1-239.21.0.30:5010", None).unwrap();
    for (extra, interval_lines) in
        [(&["--count", "300", "--interval", "0"][..], false), (&["--interval", "0.2"][..], true)]
    {
        let args = ["recv", "239.21.0.1-239.21.0.30:5010", "--iface", "lo", "--timeout", "3", "--json"];
        let (first, sent, lines) =
            recv_command(&ns, &[&args[..], &["--rcvbuf", "4194304"], extra].concat(), &groups, 10);
        assert!(first.contains("listening on 30 groups over 2 sockets (20, 10 memberships"), "{first}");
        let summary = lines.last().unwrap();
        assert_eq!(summary.get("type").and_then(Json::as_str), Some("summary"));
        assert_eq!(summary.get("datagrams").and_then(Json::as_u64), Some(300));
        assert_eq!(summary.get("sockets").and_then(Json::as_u64), Some(2));
        assert_group_rows(summary, &groups, 10, &sent);
        let intervals: Vec<&Json> =
            lines.iter().filter(|l| l.get("type").and_then(Json::as_str) == Some("interval")).collect();
        assert_eq!(!intervals.is_empty(), interval_lines);
        // An interval line lists the groups heard in it and counts the silent ones: 30 in all.
        for l in &intervals {
            let heard = l.get("groups").unwrap().items();
            assert!(heard.iter().all(|g| g.get("datagrams").and_then(Json::as_u64).unwrap_or(0) > 0));
            assert_eq!(heard.len() as u64 + l.get("silent").and_then(Json::as_u64).unwrap(), 30);
        }
        let heard: u64 = intervals
            .iter()
            .flat_map(|l| l.get("groups").unwrap().items())
            .map(|g| g.get("datagrams").and_then(Json::as_u64).unwrap())
            .sum();
        assert!(heard <= 300);
    }
}

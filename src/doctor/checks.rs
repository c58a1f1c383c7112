//! The host checks of the doctor: what the kernel's configuration says, without sending anything.

use std::net::IpAddr;

use super::{route, Finding, Setting, Status};
use crate::group::{Group, Scope};
use crate::iface::Interface;
use crate::procnet::{self, conf_u32, forced_on, sysctl_u32};
use crate::socket::Family;

/// The interface exists, is UP, has a carrier and the MULTICAST flag.
pub fn interface(i: &Interface, group: &Group) -> Vec<Finding> {
    let name = &i.name;
    let mut out = Vec::new();
    if !i.is_up() {
        out.push(
            Finding::new("interface", Status::Fail, format!("{name} is down: nothing is sent or received on it"))
                .fix(format!("ip link set {name} up")),
        );
    }
    if !i.is_multicast() {
        out.push(
            Finding::new(
                "interface",
                Status::Fail,
                format!(
                    "{name} lacks the MULTICAST flag: its driver does not offer multicast, so programs and routing \
                     daemons skip it and what is sent there may go nowhere"
                ),
            )
            .fix(format!("ip link set {name} multicast on")),
        );
    }
    if i.is_up() && !i.is_running() {
        out.push(
            Finding::new("interface", Status::Warn, format!("{name} is up but has no carrier (not RUNNING)"))
                .fix(format!("connect {name}'s link (cable, peer, bridge port)")),
        );
    }
    if out.is_empty() {
        let what = if group.is_ipv6() { "IPv6" } else { "IPv4" };
        out.push(Finding::new(
            "interface",
            Status::Ok,
            format!("{name} (#{}) is {}; {what} groups go through it", i.index, i.flag_names().join(",")),
        ));
    }
    out
}

/// A route decides which interface a group leaves by, and joins without an interface use it too. Returns
/// the findings and the interface the route picks.
pub fn route(group: &Group, wanted: Option<&Interface>) -> (Vec<Finding>, Option<Interface>) {
    let g = group.ip();
    let oif = if group.needs_interface() { wanted.map(|i| i.index) } else { None };
    let add_route = |dev: &str| match g {
        IpAddr::V4(_) => format!("ip route add 224.0.0.0/4 dev {dev}"),
        IpAddr::V6(_) => format!("ip -6 route add ff00::/8 dev {dev} table local"),
    };
    let dev_hint = wanted.map_or("IFACE".to_string(), |i| i.name.clone());
    let r = match route::get(g, oif) {
        Ok(r) => r,
        Err(e) if e.raw_os_error() == Some(libc::ENETUNREACH) || e.raw_os_error() == Some(libc::EHOSTUNREACH) => {
            let f = Finding::new(
                "route",
                Status::Fail,
                format!("no route for {g}: the kernel cannot pick an interface to send it out of or to join it on"),
            )
            .fix(add_route(&dev_hint));
            return (vec![f], None);
        }
        Err(e) => return (vec![Finding::new("route", Status::Skip, format!("cannot ask the kernel: {e:#}"))], None),
    };
    if r.kind == route::RouteKind::Refused {
        let f = Finding::new(
            "route",
            Status::Fail,
            format!("the route for {g} refuses it (blackhole, unreachable or prohibit)"),
        )
        .fix(format!("remove that route (ip route get {g} shows it) and {}", add_route(&dev_hint)));
        return (vec![f], None);
    }
    let Some(routed) = r.oif.and_then(|i| Interface::by_index(i).ok()) else {
        return (vec![Finding::new("route", Status::Warn, format!("the route for {g} names no interface"))], None);
    };
    let src = r.prefsrc.map(|s| format!(" (source {s})")).unwrap_or_default();
    let f = match wanted {
        Some(w) if w.index != routed.index => {
            let fix = match g {
                IpAddr::V4(_) => format!(
                    "make programs name the interface ({} as IP_MULTICAST_IF), or route the group there: \
                     ip route add {g}/32 dev {}",
                    w.name, w.name
                ),
                IpAddr::V6(_) => {
                    format!("make programs name the interface ({} as IPV6_MULTICAST_IF, or {g}%{})", w.name, w.name)
                }
            };
            Finding::new(
                "route",
                Status::Warn,
                format!(
                    "the route sends {g} out of {}{src}, not {}: programs that name no interface send and join there",
                    routed.name, w.name
                ),
            )
            .fix(fix)
            .setting(Setting::Interface)
        }
        _ => Finding::new("route", Status::Ok, format!("{g} is routed out of {}{src}", routed.name)),
    };
    (vec![f], Some(routed))
}

/// Reverse-path filtering: in strict mode (1) the kernel drops a datagram whose sender is not routed back
/// through the interface it arrived on, multicast included. The effective value is the higher of
/// `conf.all.rp_filter` and `conf.IFACE.rp_filter`.
pub fn rp_filter(i: &Interface, source: Option<IpAddr>) -> Finding {
    let all = conf_u32(Family::V4, "all", "rp_filter").unwrap_or(0);
    let own = conf_u32(Family::V4, &i.name, "rp_filter").unwrap_or(0);
    let effective = all.max(own);
    let name = &i.name;
    let setting = format!("rp_filter={effective} (all={all}, {name}={own})");
    let loosen = format!("sysctl -w net.ipv4.conf.{name}.rp_filter=2 (loose: the sender must be routable at all)");
    match (effective, source) {
        (0, _) => Finding::new("rp_filter", Status::Ok, format!("{setting}: no reverse-path filtering on {name}")),
        (2, _) => Finding::new("rp_filter", Status::Ok, format!("{setting}: loose, any routable sender is accepted")),
        (_, None) => Finding::new(
            "rp_filter",
            Status::Ok,
            format!("{setting}: strict, senders must be routed back through {name} (name a sender to check one)"),
        )
        .setting(Setting::Source),
        (_, Some(s)) => match route::get(s, None) {
            Ok(r) if r.oif == Some(i.index) => Finding::new(
                "rp_filter",
                Status::Ok,
                format!("{setting}: strict, and the route back to {s} goes through {name}"),
            ),
            Ok(r) => {
                let back = r.oif.and_then(|o| Interface::by_index(o).ok()).map_or("no interface".into(), |b| b.name);
                Finding::new(
                    "rp_filter",
                    Status::Fail,
                    format!("{setting}: strict, and the route back to {s} leaves by {back}, not {name}: the kernel drops its datagrams"),
                )
                .fix(loosen)
            }
            Err(_) => Finding::new(
                "rp_filter",
                Status::Fail,
                format!("{setting}: strict, and there is no route back to {s}: the kernel drops its datagrams"),
            )
            .fix(format!("{loosen}, or add a route to {s} through {name}")),
        },
    }
}

/// The IGMP/MLD version in force: forced to an old one, or pulled down by an old querier, the host cannot
/// signal source-specific joins.
pub fn protocol_version(i: &Interface, group: &Group, wants_source: bool) -> Vec<Finding> {
    let family = Family::of(group.ip());
    let (check, proto, key, newest) = match family {
        Family::V4 => ("igmp-version", "IGMP", "force_igmp_version", 3u8),
        Family::V6 => ("mld-version", "MLD", "force_mld_version", 2u8),
    };
    let forced = forced_on(family, &i.name);
    let fam = if family == Family::V4 { "ipv4" } else { "ipv6" };
    let in_force = match family {
        Family::V4 => procnet::read()
            .ok()
            .and_then(|l| l.into_iter().find(|g| g.ifindex == i.index && g.version.family == Family::V4))
            .map(|g| g.version.version),
        Family::V6 => None,
    }
    .or(forced)
    .unwrap_or(newest);
    let ssm = group.is_source_specific() || wants_source;
    let mut out = Vec::new();
    if let Some(v) = forced.filter(|&v| v < newest) {
        let status = if ssm { Status::Fail } else { Status::Warn };
        out.push(
            Finding::new(
                check,
                status,
                format!(
                    "{proto}v{v} is forced on {} ({key}={v}): joins cannot name sources{}",
                    i.name,
                    if ssm { ", so this source-specific join is never signalled" } else { "" }
                ),
            )
            .fix(format!("sysctl -w net.{fam}.conf.{}.{key}=0 net.{fam}.conf.all.{key}=0", i.name)),
        );
    } else if in_force < newest {
        let status = if ssm { Status::Fail } else { Status::Warn };
        out.push(
            Finding::new(
                check,
                status,
                format!("an {proto}v{in_force} querier was heard on {}: the host answers in {proto}v{in_force}, without sources", i.name),
            )
            .fix(format!("upgrade the querier (router or switch) on {}'s LAN to {proto}v{newest}", i.name)),
        );
    } else {
        out.push(Finding::new(check, Status::Ok, format!("{proto}v{in_force} on {} (not forced)", i.name)));
    }
    out
}

/// Linux limits memberships per socket (`igmp_max_memberships`, IPv4) and charges each to the socket's
/// option memory (`optmem_max`; the only limit for IPv6); source lists are capped by `igmp_max_msf` /
/// `mld_max_msf`.
pub fn membership_limit(groups: &[Group], group: Group, wants_source: bool) -> Vec<Finding> {
    let n = groups.len().max(1);
    let ssm = wants_source || group.is_source_specific();
    let mut out = Vec::new();
    if group.is_ipv6() {
        let optmem = sysctl_u32("net.core.optmem_max").unwrap_or(0);
        // About 56 bytes of option memory per IPv6 membership (struct ipv6_mc_socklist).
        let room = (optmem / 56) as usize;
        if room < n {
            out.push(
                Finding::new(
                    "memberships",
                    if room == 0 { Status::Fail } else { Status::Warn },
                    format!("net.core.optmem_max={optmem} fits about {room} IPv6 memberships per socket; {n} are wanted (joins past it fail with ENOMEM)"),
                )
                .fix(format!("sysctl -w net.core.optmem_max={}", (n as u64 * 64).max(131_072))),
            );
        }
        if ssm && sysctl_u32("net.ipv6.mld_max_msf") == Some(0) {
            out.push(
                Finding::new("memberships", Status::Fail, "net.ipv6.mld_max_msf=0: no socket may name a source")
                    .fix("sysctl -w net.ipv6.mld_max_msf=64"),
            );
        }
    } else {
        let max = sysctl_u32("net.ipv4.igmp_max_memberships").unwrap_or(20) as usize;
        let fix = format!("sysctl -w net.ipv4.igmp_max_memberships={}", n.max(20));
        if max == 0 {
            out.push(
                Finding::new(
                    "memberships",
                    Status::Fail,
                    "net.ipv4.igmp_max_memberships=0: no socket may join any group (ENOBUFS)",
                )
                .fix(fix),
            );
        } else if max < n {
            out.push(
                Finding::new(
                    "memberships",
                    Status::Warn,
                    format!("net.ipv4.igmp_max_memberships={max}: one socket may join only {max} of these {n} groups (ENOBUFS after; mcast recv spreads them over sockets, most programs do not)"),
                )
                .fix(fix),
            );
        } else if max < 20 {
            out.push(
                Finding::new(
                    "memberships",
                    Status::Warn,
                    format!("net.ipv4.igmp_max_memberships={max}, below the default 20: a program joining more groups on one socket gets ENOBUFS"),
                )
                .fix(fix),
            );
        }
        if ssm && sysctl_u32("net.ipv4.igmp_max_msf") == Some(0) {
            out.push(
                Finding::new("memberships", Status::Fail, "net.ipv4.igmp_max_msf=0: no socket may name a source")
                    .fix("sysctl -w net.ipv4.igmp_max_msf=10"),
            );
        }
    }
    if out.is_empty() {
        let limit = if group.is_ipv6() {
            format!("net.core.optmem_max={}", sysctl_u32("net.core.optmem_max").unwrap_or(0))
        } else {
            format!("net.ipv4.igmp_max_memberships={}", sysctl_u32("net.ipv4.igmp_max_memberships").unwrap_or(20))
        };
        out.push(Finding::new("memberships", Status::Ok, format!("{limit}: room for {n} group(s) on one socket")));
    }
    out
}

/// The group's scope against the TTL senders use: how far it can travel, and whether it can at all.
pub fn scope(group: &Group, ttl: u8, have_iface: bool) -> Vec<Finding> {
    let g = group.ip();
    let scope = group.scope();
    let f = |status, text: String| Finding::new("scope", status, text);
    let mut out = Vec::new();
    if group.needs_interface() && !have_iface {
        out.push(
            f(Status::Fail, format!("{g} is {scope}: it exists only on one interface, and none was named"))
                .fix(format!("name the interface, or write {g}%IFACE"))
                .setting(Setting::Interface),
        );
    }
    if let Scope::Other(n) = scope {
        out.push(
            f(Status::Fail, format!("{g} has scope {n:x}, which is reserved: routers and hosts may refuse it"))
                .fix("use a group of scope 5 (site), 8 (organization) or e (global), e.g. ff15::1"),
        );
    }
    if group.is_source_specific() {
        out.push(
            f(
                Status::Ok,
                format!("{g} is source-specific (SSM): receivers must name the sender (a source-specific join)"),
            )
            .setting(Setting::Source),
        );
    }
    let reach = match ttl {
        0 => {
            out.push(
                f(
                    Status::Warn,
                    format!(
                        "TTL 0 reaches only members on this host (where it has none on the interface, Linux still \
                         sends {g} on the link, and the next hop discards it)"
                    ),
                )
                .fix("TTL 1 for this link, more to cross routers")
                .setting(Setting::Ttl),
            );
            return out;
        }
        1 => "this link only".to_string(),
        t => format!("up to {} routers", t - 1),
    };
    let text = match scope {
        Scope::InterfaceLocal => format!("{g} is interface-local: it never leaves the host, whatever the TTL"),
        Scope::LinkLocal if ttl > 1 => {
            out.push(
                f(Status::Warn, format!("{g} is link-local: routers never forward it, so TTL {ttl} buys nothing"))
                    .fix("TTL 1, or a routable group (239.x.x.x, ff15::/16) to cross routers")
                    .setting(Setting::Ttl),
            );
            return out;
        }
        Scope::LinkLocal => format!("{g} is link-local: it stays on the link, which TTL 1 matches"),
        _ if ttl == 1 => format!("{g} is {scope}; TTL 1 keeps it on this link (raise the TTL to cross routers)"),
        _ if !group.is_ipv6() && matches!(scope, Scope::AdminLocal | Scope::SiteLocal | Scope::OrganizationLocal) => {
            format!("{g} is administratively scoped (239/8): with TTL {ttl} it reaches {reach}, stopped at the site's boundary routers")
        }
        _ => format!("{g} is {scope}: TTL {ttl} reaches {reach}"),
    };
    let ok = f(Status::Ok, text);
    out.push(if ttl == 1 && !matches!(scope, Scope::InterfaceLocal | Scope::LinkLocal) {
        ok.setting(Setting::Ttl)
    } else {
        ok
    });
    out
}

/// Other groups joined on the same interface that share the group's Ethernet MAC: the NIC lets both in and
/// the kernel sorts them out, so a busy neighbour costs this receiver CPU (32 IPv4 groups share each MAC).
pub fn mac_collisions(group: &Group, iface: Option<&Interface>) -> Finding {
    let mac = group.mac();
    let text_mac = mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    let members = procnet::memberships().unwrap_or_default();
    let mut clash: Vec<String> = members
        .iter()
        .filter(|m| iface.map_or(true, |i| i.index == m.ifindex))
        .filter(|m| m.group != group.ip() && m.group.is_ipv4() == group.ip().is_ipv4())
        .filter(|m| Group::new(m.group, 0).is_ok_and(|o| o.mac() == mac))
        .map(|m| format!("{} on {}", m.group, m.iface))
        .collect();
    clash.dedup();
    if clash.is_empty() {
        return Finding::new(
            "mac",
            Status::Ok,
            format!("no other joined group maps to {}'s MAC {text_mac}", group.ip()),
        );
    }
    let hint = match group.ip() {
        IpAddr::V4(_) => "pick a group whose low 23 bits differ (the MAC keeps only those)",
        IpAddr::V6(_) => "pick a group whose last 32 bits differ (the MAC keeps only those)",
    };
    Finding::new(
        "mac",
        Status::Warn,
        format!(
            "{} shares MAC {text_mac} with {}: the NIC passes both groups' traffic up and the kernel discards the other's",
            group.ip(),
            clash.join(", ")
        ),
    )
    .fix(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(s: &str) -> Group {
        s.parse().unwrap()
    }

    fn statuses(v: &[Finding]) -> Vec<Status> {
        v.iter().map(|f| f.status).collect()
    }

    #[test]
    fn scope_against_ttl() {
        assert_eq!(statuses(&scope(&g("239.1.2.3:1"), 1, true)), [Status::Ok]);
        assert_eq!(statuses(&scope(&g("239.1.2.3:1"), 0, true)), [Status::Warn]);
        let link = scope(&g("224.0.0.251:1"), 8, true);
        assert_eq!(statuses(&link), [Status::Warn]);
        assert!(link[0].summary.contains("routers never forward"));
        let ff02 = scope(&g("[ff02::1234]:1"), 1, false);
        assert_eq!(ff02[0].status, Status::Fail);
        assert!(ff02[0].fix.as_deref().unwrap().contains("%IFACE"));
        assert_eq!(scope(&g("[ff10::1]:1"), 1, true)[0].status, Status::Fail, "reserved scope 0");
        assert!(scope(&g("239.1.2.3:1"), 33, true)[0].summary.contains("up to 32 routers"));
        assert_eq!(scope(&g("232.1.1.1:1"), 1, true)[0].setting, Some(Setting::Source));
    }

    #[test]
    fn interface_flags() {
        let mut i = Interface { name: "x0".into(), index: 9, flags: 0, mtu: 1500, ipv4: vec![], ipv6: vec![] };
        let f = interface(&i, &g("239.1.2.3:1"));
        assert_eq!(statuses(&f), [Status::Fail, Status::Fail]);
        assert_eq!(f[0].fix.as_deref(), Some("ip link set x0 up"));
        assert_eq!(f[1].fix.as_deref(), Some("ip link set x0 multicast on"));
        i.flags = (libc::IFF_UP | libc::IFF_MULTICAST) as u32;
        assert_eq!(statuses(&interface(&i, &g("239.1.2.3:1"))), [Status::Warn], "no carrier");
        i.flags |= libc::IFF_RUNNING as u32;
        assert_eq!(statuses(&interface(&i, &g("239.1.2.3:1"))), [Status::Ok]);
    }
}

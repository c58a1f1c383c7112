//! Properties of the wire formats over many generated cases, deterministic (a fixed-seed SplitMix64) and quick:
//!
//! - every representation that can be encoded decodes to itself;
//! - decoding arbitrary and mutated bytes returns a value or an error and never panics, and whatever decodes
//!   re-encodes to bytes that decode to the same value;
//! - the floating-point codes are monotonic and round down.

use std::net::{Ipv4Addr, Ipv6Addr};

use mcast::wire::{
    self, code, igmp, mld, GroupRecord, IgmpPacket, IgmpRepr, Ipv4Option, Ipv4Packet, Ipv4Repr, MldPacket, MldRepr,
    RecordPacket, RecordType,
};

/// Cases per property: enough to reach every branch of every parser many times, still well under a second each.
const CASES: usize = 20_000;

/// SplitMix64: tiny, fast, and the same sequence on every run.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn u8(&mut self) -> u8 {
        self.next_u64() as u8
    }
    fn u16(&mut self) -> u16 {
        self.next_u64() as u16
    }
    fn bool(&mut self) -> bool {
        self.next_u64() & 1 == 1
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.u8()).collect()
    }
    fn v4(&mut self) -> Ipv4Addr {
        Ipv4Addr::from(self.next_u64() as u32)
    }
    fn v4_group(&mut self) -> Ipv4Addr {
        Ipv4Addr::from(0xe000_0000 | (self.next_u64() as u32 & 0x0fff_ffff))
    }
    fn v6(&mut self) -> Ipv6Addr {
        Ipv6Addr::from((u128::from(self.next_u64()) << 64) | u128::from(self.next_u64()))
    }
    fn v6_group(&mut self) -> Ipv6Addr {
        Ipv6Addr::from(0xff00_u128 << 112 | (u128::from(self.next_u64()) << 48) | u128::from(self.u16()))
    }
    /// Mostly small counts, sometimes none, now and then many.
    fn count(&mut self) -> usize {
        match self.below(10) {
            0 => 0,
            1 => self.below(64),
            _ => self.below(4),
        }
    }
    fn record_type(&mut self) -> RecordType {
        RecordType::from(if self.below(8) == 0 { self.u8() } else { 1 + self.below(6) as u8 })
    }
}

fn igmp_repr(rng: &mut Rng) -> IgmpRepr {
    let group_or_zero = |rng: &mut Rng| if rng.bool() { Ipv4Addr::UNSPECIFIED } else { rng.v4_group() };
    match rng.below(7) {
        0 => IgmpRepr::QueryV1,
        1 => IgmpRepr::QueryV2 { max_resp_time: 1 + rng.below(255) as u8, group: group_or_zero(rng) },
        2 => IgmpRepr::QueryV3(igmp::Query {
            max_resp_code: rng.u8(),
            group: group_or_zero(rng),
            suppress: rng.bool(),
            qrv: rng.below(8) as u8,
            qqic: rng.u8(),
            sources: (0..rng.count()).map(|_| rng.v4()).collect(),
        }),
        3 => IgmpRepr::ReportV1 { group: rng.v4_group() },
        4 => IgmpRepr::ReportV2 { group: rng.v4_group() },
        5 => IgmpRepr::Leave { group: rng.v4_group() },
        _ => IgmpRepr::ReportV3(
            (0..rng.count())
                .map(|_| GroupRecord {
                    record_type: rng.record_type(),
                    group: rng.v4_group(),
                    sources: (0..rng.count()).map(|_| rng.v4()).collect(),
                })
                .collect(),
        ),
    }
}

fn mld_repr(rng: &mut Rng) -> MldRepr {
    let group_or_zero = |rng: &mut Rng| if rng.bool() { Ipv6Addr::UNSPECIFIED } else { rng.v6_group() };
    match rng.below(5) {
        0 => MldRepr::QueryV1 { max_resp_delay: rng.u16(), group: group_or_zero(rng) },
        1 => MldRepr::QueryV2(mld::Query {
            max_resp_code: rng.u16(),
            group: group_or_zero(rng),
            suppress: rng.bool(),
            qrv: rng.below(8) as u8,
            qqic: rng.u8(),
            sources: (0..rng.count()).map(|_| rng.v6()).collect(),
        }),
        2 => MldRepr::ReportV1 { group: rng.v6_group() },
        3 => MldRepr::Done { group: rng.v6_group() },
        _ => MldRepr::ReportV2(
            (0..rng.count())
                .map(|_| GroupRecord {
                    record_type: rng.record_type(),
                    group: rng.v6_group(),
                    sources: (0..rng.count()).map(|_| rng.v6()).collect(),
                })
                .collect(),
        ),
    }
}

fn ipv4_repr(rng: &mut Rng) -> Ipv4Repr {
    let mut options = Vec::new();
    let mut room = 40;
    while rng.below(3) != 0 {
        let option = match rng.below(3) {
            0 => Ipv4Option::NoOperation,
            1 => Ipv4Option::RouterAlert(rng.u16()),
            _ => {
                let kinds = [7u8, 0x44, 0x82, 0x83, 0x89, 0x88];
                let kind = kinds[rng.below(kinds.len())];
                let len = rng.below(10);
                Ipv4Option::Other { kind, data: rng.bytes(len) }
            }
        };
        if option.buffer_len() > room {
            break;
        }
        room -= option.buffer_len();
        options.push(option);
    }
    Ipv4Repr {
        src: rng.v4(),
        dst: rng.v4(),
        protocol: rng.u8(),
        ttl: rng.u8(),
        tos: rng.u8(),
        ident: rng.u16(),
        dont_frag: rng.bool(),
        options,
        payload_len: rng.below(100),
    }
}

/// Damage bytes the way a bad sender or a fuzzer would: flip bits, rewrite a byte, cut, extend, or set a count
/// field to something large.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(3) {
        match rng.below(6) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            1 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] = rng.u8();
            }
            2 => bytes.truncate(rng.below(bytes.len() + 1)),
            3 => {
                let extra = rng.below(24);
                bytes.extend(rng.bytes(extra));
            }
            4 if bytes.len() >= 12 => {
                // The count fields of v3/MLDv2 reports (6..8) and IGMPv3 queries (10..12).
                let at = if rng.bool() { 6 } else { 10 };
                bytes[at] = rng.u8();
                bytes[at + 1] = rng.u8();
            }
            _ => {
                let i = rng.below(bytes.len() + 1);
                bytes.insert(i, rng.u8());
            }
        }
    }
}

#[test]
fn igmp_round_trips() {
    let mut rng = Rng::new(1);
    for case in 0..CASES {
        let repr = igmp_repr(&mut rng);
        let bytes = repr.to_bytes().unwrap();
        assert_eq!(bytes.len(), repr.buffer_len());
        let packet = IgmpPacket::new_checked(&bytes[..]).unwrap_or_else(|e| panic!("case {case}: {e}: {repr:?}"));
        assert!(packet.verify_checksum());
        assert_eq!(IgmpRepr::parse(&packet), Ok(repr), "case {case}");
    }
}

#[test]
fn mld_round_trips() {
    let mut rng = Rng::new(2);
    for case in 0..CASES {
        let repr = mld_repr(&mut rng);
        let (src, dst) = (rng.v6(), rng.v6());
        let bytes = repr.to_bytes(&src, &dst).unwrap();
        assert_eq!(bytes.len(), repr.buffer_len());
        let packet = MldPacket::new_checked(&bytes[..]).unwrap_or_else(|e| panic!("case {case}: {e}: {repr:?}"));
        assert!(packet.verify_checksum(&src, &dst));
        assert_eq!(MldRepr::parse(&packet, &src, &dst), Ok(repr), "case {case}");
    }
}

#[test]
fn ipv4_round_trips() {
    let mut rng = Rng::new(3);
    for case in 0..CASES {
        let repr = ipv4_repr(&mut rng);
        let mut bytes = vec![0u8; repr.total_len()];
        repr.emit(&mut Ipv4Packet::new_unchecked(&mut bytes[..])).unwrap();
        let packet = Ipv4Packet::new_checked(&bytes[..]).unwrap_or_else(|e| panic!("case {case}: {e}: {repr:?}"));
        assert_eq!(packet.header_len(), repr.header_len());
        assert_eq!(Ipv4Repr::parse(&packet), Ok(repr), "case {case}");
    }
}

#[test]
fn igmp_datagrams_round_trip() {
    let mut rng = Rng::new(4);
    for case in 0..CASES / 4 {
        let igmp = igmp_repr(&mut rng);
        let (src, dst) = (rng.v4(), rng.v4_group());
        let bytes = wire::igmp_datagram(src, dst, &igmp).unwrap();
        let (ip, parsed) = wire::parse_igmp_datagram(&bytes).unwrap_or_else(|e| panic!("case {case}: {e}"));
        assert_eq!((ip.src, ip.dst, ip.ttl, ip.router_alert()), (src, dst, 1, Some(0)));
        assert_eq!(ip.payload_len, igmp.buffer_len());
        assert_eq!(parsed, igmp, "case {case}");
    }
}

/// Random bytes, with a type byte that is usually a real one so that the parsers get past the first check.
fn random_message(rng: &mut Rng, types: &[u8]) -> Vec<u8> {
    let len = rng.below(120);
    let mut bytes = rng.bytes(len);
    if let Some(first) = bytes.first_mut() {
        if rng.below(4) != 0 {
            *first = types[rng.below(types.len())];
        }
    }
    bytes
}

/// Whatever parses re-encodes to something that parses to the same value.
fn check_igmp(bytes: &[u8]) -> bool {
    let Ok(packet) = IgmpPacket::new_checked(bytes) else { return false };
    // A checked view's records iterate without error.
    assert!(packet.records().all(|r| r.is_ok()) || packet.msg_type() != igmp::message_type::V3_REPORT);
    let _ = packet.sources().count();
    match IgmpRepr::parse(&packet) {
        Ok(repr) => {
            let again = repr.to_bytes().unwrap();
            assert_eq!(IgmpRepr::parse(&IgmpPacket::new_checked(&again[..]).unwrap()), Ok(repr));
            true
        }
        Err(err) => {
            assert!(!err.to_string().is_empty());
            false
        }
    }
}

#[test]
fn igmp_decoding_never_panics() {
    let types = [0x11, 0x12, 0x16, 0x17, 0x22];
    let mut rng = Rng::new(5);
    let mut parsed = 0;
    for _ in 0..CASES {
        let mut bytes =
            if rng.bool() { random_message(&mut rng, &types) } else { igmp_repr(&mut rng).to_bytes().unwrap() };
        mutate(&mut rng, &mut bytes);
        if rng.bool() {
            // Repair the checksum so that the parser looks past it.
            IgmpPacket::new_unchecked(&mut bytes[..]).fill_checksum();
        }
        parsed += usize::from(check_igmp(&bytes));
        // Unchecked views read zeros past the end instead of panicking.
        let unchecked = IgmpPacket::new_unchecked(&bytes[..]);
        let _ = (unchecked.group_addr(), unchecked.sources().count(), unchecked.records().count());
    }
    // The mutations must leave enough valid messages for the re-encoding check to mean something.
    assert!(parsed > CASES / 20, "only {parsed} of {CASES} parsed");
}

#[test]
fn mld_decoding_never_panics() {
    let types = [130, 131, 132, 143, 128, 135];
    let mut rng = Rng::new(6);
    let mut parsed = 0;
    let (src, dst) = ("fe80::1".parse().unwrap(), "ff02::16".parse().unwrap());
    for _ in 0..CASES {
        let mut bytes = if rng.bool() {
            random_message(&mut rng, &types)
        } else {
            mld_repr(&mut rng).to_bytes(&src, &dst).unwrap()
        };
        mutate(&mut rng, &mut bytes);
        let verify = rng.bool();
        if verify {
            MldPacket::new_unchecked(&mut bytes[..]).fill_checksum(&src, &dst);
        }
        let Ok(packet) = MldPacket::new_checked(&bytes[..]) else { continue };
        let result = if verify { MldRepr::parse(&packet, &src, &dst) } else { MldRepr::parse_unverified(&packet) };
        if let Ok(repr) = result {
            parsed += 1;
            let again = repr.to_bytes(&src, &dst).unwrap();
            assert_eq!(MldRepr::parse(&MldPacket::new_checked(&again[..]).unwrap(), &src, &dst), Ok(repr));
        }
        let unchecked = MldPacket::new_unchecked(&bytes[..]);
        let _ = (unchecked.group_addr(), unchecked.sources().count(), unchecked.records().count());
    }
    assert!(parsed > CASES / 20, "only {parsed} of {CASES} parsed");
}

#[test]
fn ipv4_decoding_never_panics() {
    let mut rng = Rng::new(7);
    let mut parsed = 0;
    for _ in 0..CASES {
        let mut bytes = if rng.below(4) == 0 {
            let len = rng.below(80);
            rng.bytes(len)
        } else {
            let igmp = igmp_repr(&mut rng);
            wire::igmp_datagram(rng.v4(), rng.v4_group(), &igmp).unwrap()
        };
        mutate(&mut rng, &mut bytes);
        if rng.bool() {
            Ipv4Packet::new_unchecked(&mut bytes[..]).fill_checksum();
        }
        if let Ok((ip, igmp)) = wire::parse_igmp_datagram(&bytes) {
            parsed += 1;
            let again = wire::igmp_datagram(ip.src, ip.dst, &igmp).unwrap();
            assert_eq!(wire::parse_igmp_datagram(&again).unwrap().1, igmp);
        }
        if let Ok(packet) = Ipv4Packet::new_checked(&bytes[..]) {
            if let Ok(repr) = Ipv4Repr::parse(&packet) {
                let mut again = vec![0u8; repr.total_len()];
                repr.emit(&mut Ipv4Packet::new_unchecked(&mut again[..])).unwrap();
                assert_eq!(Ipv4Repr::parse(&Ipv4Packet::new_checked(&again[..]).unwrap()), Ok(repr));
            }
        }
        let unchecked = Ipv4Packet::new_unchecked(&bytes[..]);
        let _ = (unchecked.payload(), unchecked.option_iter().count(), unchecked.src_addr());
    }
    assert!(parsed > CASES / 20, "only {parsed} of {CASES} parsed");
}

#[test]
fn record_views_never_panic() {
    let mut rng = Rng::new(8);
    for _ in 0..CASES {
        let len = rng.below(80);
        let mut bytes = rng.bytes(len);
        if bytes.len() >= 4 && rng.bool() {
            bytes[1] = rng.below(3) as u8;
            bytes[2] = 0;
            bytes[3] = rng.below(8) as u8;
        }
        let v4 = RecordPacket::<_, Ipv4Addr>::new_unchecked(&bytes[..]);
        let v6 = RecordPacket::<_, Ipv6Addr>::new_unchecked(&bytes[..]);
        let _ = (v4.sources().count(), v4.aux_data().len(), v6.sources().count(), v6.aux_data().len());
        if let Ok(record) = RecordPacket::<_, Ipv4Addr>::new_checked(&bytes[..]) {
            assert!(record.total_len() <= bytes.len());
            assert_eq!(record.aux_data().len(), 4 * usize::from(record.aux_data_len()));
        }
    }
}

#[test]
fn codes_are_monotonic_and_round_down() {
    let mut rng = Rng::new(9);
    for _ in 0..CASES {
        let (a, b) = (rng.next_u64() as u32 >> rng.below(32), rng.next_u64() as u32 >> rng.below(32));
        let (lo, hi) = (a.min(b), a.max(b));
        assert!(code::encode_float8(lo) <= code::encode_float8(hi));
        assert!(code::encode_float16(lo) <= code::encode_float16(hi));
        assert!(code::decode_float8(code::encode_float8(hi)) <= hi.min(code::FLOAT8_MAX));
        assert!(code::decode_float16(code::encode_float16(hi)) <= hi.min(code::FLOAT16_MAX));
    }
}

#[test]
fn membership_table_stays_consistent() {
    use mcast::wire::{Event, FilterMode, MembershipLimits, MembershipTable, MEMBERSHIP_INTERVAL};
    use std::time::{Duration, Instant};

    let mut rng = Rng::new(10);
    // Six groups and five sources against caps of four and three: evictions and capped lists happen.
    let mut table = MembershipTable::with_limits(MembershipLimits::new(4, 3));
    let mut evicted = 0;
    let start = Instant::now();
    let groups: Vec<Ipv4Addr> = (0..6).map(|_| rng.v4_group()).collect();
    let sources: Vec<Ipv4Addr> = (0..5).map(|_| rng.v4()).collect();
    let mut members: i64 = 0;
    for step in 0..CASES as u64 {
        let now = start + Duration::from_secs(step);
        let group = groups[rng.below(groups.len())];
        let message = match rng.below(5) {
            0 => IgmpRepr::ReportV2 { group },
            1 => IgmpRepr::Leave { group },
            2 => IgmpRepr::ReportV1 { group },
            _ => IgmpRepr::ReportV3(
                (0..1 + rng.below(3))
                    .map(|_| GroupRecord {
                        record_type: RecordType::from(1 + rng.below(7) as u8),
                        group: groups[rng.below(groups.len())],
                        sources: (0..rng.below(4)).map(|_| sources[rng.below(sources.len())]).collect(),
                    })
                    .collect(),
            ),
        };
        let iface = 1 + rng.below(2) as u32;
        let mut events = table.observe_igmp(iface, rng.v4(), &message, now);
        if step % 97 == 0 {
            events.extend(table.expire(now, MEMBERSHIP_INTERVAL / 4));
        }
        for event in &events {
            assert!(event.key().iface == iface || matches!(event, Event::Expired { .. }), "{event}");
            match event {
                Event::Joined { .. } => members += 1,
                Event::Left { .. } | Event::Expired { .. } => members -= 1,
                Event::Evicted { .. } => {
                    members -= 1;
                    evicted += 1;
                }
                Event::Changed { old, new, .. } => assert_ne!(
                    (old.protocol, old.mode, &old.sources, old.sources_capped),
                    (new.protocol, new.mode, &new.sources, new.sources_capped)
                ),
            }
        }
        assert_eq!(members, table.len() as i64, "step {step}");
        assert_eq!(evicted, table.evicted(), "step {step}");
        for iface in [1, 2] {
            assert!(table.iter().filter(|(k, _)| k.iface == iface).count() <= 4, "step {step}");
        }
        for (_, entry) in table.iter() {
            assert!(entry.sources.len() <= 3, "step {step}");
            assert!(entry.mode == FilterMode::Exclude || !entry.sources.is_empty(), "INCLUDE {{}} kept at step {step}");
            assert!(entry.since <= entry.last_seen);
        }
    }
    assert!(evicted > 0, "the caps were never reached");
}

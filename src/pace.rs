//! Rate pacing for senders: a [`Rate`] parsed from the command line (`5000`, `2kpps`, `100M`, `max`) and a
//! [`Pacer`] that says how many datagrams are due now, so a sender can batch what is due and sleep otherwise.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Result};

/// How fast to send.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rate {
    /// As fast as the socket takes them.
    Unlimited,
    /// Datagrams per second.
    Packets(f64),
    /// Bits per second of UDP payload (as iperf counts them).
    Bits(f64),
}

impl Rate {
    /// Datagrams per second for datagrams of `size` bytes; `None` for [`Rate::Unlimited`].
    pub fn packets_per_sec(&self, size: usize) -> Option<f64> {
        match *self {
            Rate::Unlimited => None,
            Rate::Packets(p) => Some(p),
            Rate::Bits(b) => Some(b / (8.0 * size.max(1) as f64)),
        }
    }
}

const RATE_HELP: &str =
    "a rate is datagrams/s (5000, 2kpps, 1.5Mpps), bits/s with a unit (100M, 2.5G, 64kbit, 800bps), \
                         or max";

/// The fastest datagram rate accepted: a billion datagrams per second is past any interface, so a larger
/// number is a typo (or an overflow), not a wish to send flat out.
pub const MAX_PACKETS_PER_SEC: f64 = 1e9;
/// The fastest bit rate accepted: 1 Tbit/s, past any interface.
pub const MAX_BITS_PER_SEC: f64 = 1e12;

impl FromStr for Rate {
    type Err = Error;

    /// A plain number is datagrams per second; `pps` with an optional k/M/G prefix is too; a k/M/G suffix alone,
    /// or `bps`/`bit`, is bits per second (`100M` is 100 Mbit/s, as iperf reads it); `max` is unlimited. A rate
    /// of 0 is refused (it would send nothing; flat out is `max`), and so is one past [`MAX_PACKETS_PER_SEC`]
    /// or [`MAX_BITS_PER_SEC`] (or too large to be a number at all).
    fn from_str(s: &str) -> Result<Rate> {
        let bad = || Error::new(ErrorKind::Parse, format!("rate '{s}': {RATE_HELP}"));
        let t = s.trim();
        if t.eq_ignore_ascii_case("max") {
            return Ok(Rate::Unlimited);
        }
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let v: f64 = num.parse().map_err(|_| bad())?;
        let (mult, rest) = match unit.chars().next() {
            Some('k' | 'K') => (1e3, &unit[1..]),
            Some('M') => (1e6, &unit[1..]),
            Some('G') => (1e9, &unit[1..]),
            _ => (1.0, unit),
        };
        let rate = match rest.to_ascii_lowercase().as_str() {
            "pps" => Rate::Packets(v * mult),
            "" if mult == 1.0 => Rate::Packets(v),
            "" | "bps" | "bit" | "b" | "bit/s" => Rate::Bits(v * mult),
            _ => return Err(bad()),
        };
        let (value, limit, what) = match rate {
            Rate::Packets(p) => (p, MAX_PACKETS_PER_SEC, "datagrams/s"),
            Rate::Bits(b) => (b, MAX_BITS_PER_SEC, "bit/s"),
            Rate::Unlimited => return Ok(rate),
        };
        if value == 0.0 {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                format!("rate '{s}': a rate of 0 would send nothing; to send as fast as possible, give max"),
            ));
        }
        if !value.is_finite() || value > limit {
            return Err(Error::new(
                ErrorKind::OutOfRange,
                format!(
                    "rate '{s}': more than {limit:e} {what}, faster than any link; to send as fast as possible, \
                     give max"
                ),
            ));
        }
        Ok(rate)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rate::Unlimited => f.write_str("max"),
            Rate::Packets(p) => write!(f, "{p} datagrams/s"),
            Rate::Bits(b) => write!(f, "{b} bit/s"),
        }
    }
}

/// Paces a sender: datagram `n` is due `n / rate` seconds after the start. Falling behind is made up in
/// bursts of at most `burst`, so a sender stalled for a moment neither floods nor loses its average.
#[derive(Clone, Debug)]
pub struct Pacer {
    start: Instant,
    per_sec: Option<f64>,
    sent: u64,
    burst: u64,
}

impl Pacer {
    /// A pacer at `per_sec` datagrams per second (`None`: unlimited), releasing at most `burst` at once.
    pub fn new(per_sec: Option<f64>, burst: u64, start: Instant) -> Pacer {
        Pacer { start, per_sec: per_sec.filter(|r| *r > 0.0 && r.is_finite()), sent: 0, burst: burst.max(1) }
    }

    /// How many datagrams may go at `now` (0: wait for [`Pacer::next_due`]).
    pub fn due(&self, now: Instant) -> u64 {
        match self.per_sec {
            None => self.burst,
            Some(r) => {
                let elapsed = now.saturating_duration_since(self.start).as_secs_f64();
                // `as` saturates: a rate too fast for u64 releases a full burst, never overflows.
                let allowed = ((elapsed * r).floor() as u64).saturating_add(1);
                allowed.saturating_sub(self.sent).min(self.burst)
            }
        }
    }

    /// Notes that `n` went.
    pub fn sent(&mut self, n: u64) {
        self.sent = self.sent.saturating_add(n);
    }

    /// Datagrams sent so far.
    pub fn total(&self) -> u64 {
        self.sent
    }

    /// When the next datagram is due (`start` for an unlimited pacer).
    pub fn next_due(&self) -> Instant {
        match self.per_sec {
            None => self.start,
            // A rate so slow that the next datagram lies past what an Instant holds is due "never": a year on.
            Some(r) => Duration::try_from_secs_f64(self.sent as f64 / r)
                .ok()
                .and_then(|d| self.start.checked_add(d))
                .or_else(|| self.start.checked_add(Duration::from_secs(365 * 24 * 3600)))
                .unwrap_or(self.start),
        }
    }

    /// Waits until the next datagram is due: sleeps when that is far off, spins the last stretch so short
    /// intervals are kept (`thread::sleep` overshoots by tens of microseconds).
    pub fn wait(&self) {
        self.wait_until(None)
    }

    /// Like [`Pacer::wait`], but returns at `limit` if that comes first (the end of a timed run).
    pub fn wait_until(&self, limit: Option<Instant>) {
        let due = match limit {
            Some(l) => self.next_due().min(l),
            None => self.next_due(),
        };
        loop {
            let now = Instant::now();
            if now >= due {
                return;
            }
            let left = due - now;
            if left > Duration::from_micros(200) {
                std::thread::sleep(left - Duration::from_micros(100));
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_as_documented() {
        assert_eq!("5000".parse::<Rate>().unwrap(), Rate::Packets(5000.0));
        assert_eq!("2kpps".parse::<Rate>().unwrap(), Rate::Packets(2000.0));
        assert_eq!("1.5Mpps".parse::<Rate>().unwrap(), Rate::Packets(1.5e6));
        assert_eq!("100M".parse::<Rate>().unwrap(), Rate::Bits(1e8));
        assert_eq!("64kbit".parse::<Rate>().unwrap(), Rate::Bits(64e3));
        assert_eq!("800bps".parse::<Rate>().unwrap(), Rate::Bits(800.0));
        assert_eq!("max".parse::<Rate>().unwrap(), Rate::Unlimited);
        for bad in ["", "x", "-5", "5 furlongs", "1.2.3", "M", "nan", "10Tpps"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
        assert_eq!(Rate::Bits(8000.0).packets_per_sec(100), Some(10.0));
    }

    #[test]
    fn a_zero_rate_is_refused_naming_max() {
        for zero in ["0", "0.0", "0kpps", "0M", "00bps"] {
            let e = zero.parse::<Rate>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::OutOfRange, "{zero}");
            assert_eq!(
                e.to_string(),
                format!("rate '{zero}': a rate of 0 would send nothing; to send as fast as possible, give max")
            );
        }
    }

    #[test]
    fn an_absurd_or_overflowing_rate_is_refused() {
        let e = "99999999999999999999999G".parse::<Rate>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfRange);
        assert_eq!(
            e.to_string(),
            "rate '99999999999999999999999G': more than 1e12 bit/s, faster than any link; to send as fast as \
             possible, give max"
        );
        let e = "2Gpps".parse::<Rate>().unwrap_err();
        assert!(e.to_string().contains("more than 1e9 datagrams/s"), "{e}");
        // Too many digits for an f64: infinite, refused the same way.
        let inf = "9".repeat(400);
        assert!(inf.parse::<Rate>().unwrap_err().to_string().contains("faster than any link"));
        // The limits themselves are accepted.
        assert_eq!("1000Gbit".parse::<Rate>().unwrap(), Rate::Bits(MAX_BITS_PER_SEC));
        assert_eq!("1Gpps".parse::<Rate>().unwrap(), Rate::Packets(MAX_PACKETS_PER_SEC));
    }

    #[test]
    fn pacers_at_extreme_rates_never_panic() {
        let t0 = Instant::now();
        let mut fast = Pacer::new(Some(1e300), 8, t0);
        assert_eq!(fast.due(t0 + Duration::from_secs(1)), 8);
        fast.sent(u64::MAX);
        fast.sent(1);
        assert_eq!(fast.total(), u64::MAX);
        assert_eq!(fast.due(t0 + Duration::from_secs(1)), 0);
        let mut slow = Pacer::new(Some(1e-300), 8, t0);
        slow.sent(1);
        assert!(slow.next_due() > t0 + Duration::from_secs(3600), "the next datagram is due far off");
    }

    #[test]
    fn pacer_releases_by_the_clock() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Some(1000.0), 8, t0);
        assert_eq!(p.due(t0), 1);
        p.sent(1);
        assert_eq!(p.due(t0), 0);
        assert_eq!(p.due(t0 + Duration::from_millis(3)), 3);
        assert_eq!(p.due(t0 + Duration::from_secs(1)), 8, "bursts are capped");
        p.sent(3);
        assert_eq!(p.next_due(), t0 + Duration::from_millis(4));
        assert_eq!(Pacer::new(None, 16, t0).due(t0), 16);
    }
}

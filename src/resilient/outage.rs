//! What a resilient receiver reports: each [`Outage`] of an interface it joined on, and [`Notice`]s as
//! they happen.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

/// What took an interface away.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Cause {
    /// Up, but without a carrier (`IFF_RUNNING` off: a cable out, a veth whose peer is down).
    NoCarrier,
    /// Set down (`IFF_UP` off).
    Down,
    /// Deleted (possibly made again later under the same name, with a new index).
    Removed,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Cause::NoCarrier => "no carrier",
            Cause::Down => "link down",
            Cause::Removed => "deleted",
        })
    }
}

/// One interval during which an interface the receiver joined on was unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outage {
    /// The interface's name.
    pub iface: String,
    /// The worst that happened to it during the outage (deleted > down > no carrier).
    pub cause: Cause,
    /// When the receiver learnt of it.
    pub start: SystemTime,
    /// How long until the receiver had rejoined on the usable interface; `None` while it lasts.
    pub duration: Option<Duration>,
    /// The interface's index before.
    pub old_index: u32,
    /// Its index after (different after a deletion and re-creation); `None` while it lasts.
    pub new_index: Option<u32>,
    /// Datagrams missed, as the gaps in the tools' sequence numbers across the outage tell; `None` when no
    /// numbered stream was heard both before and after it.
    pub missed: Option<u64>,
    /// Why the last attempt to rejoin failed, while it does.
    pub rejoin_error: Option<String>,
    pub(super) id: u64,
    pub(super) began: Instant,
    pub(super) ended: Option<Instant>,
}

impl Outage {
    /// Whether it still lasts.
    pub fn is_ongoing(&self) -> bool {
        self.duration.is_none()
    }
}

/// Something the receiver did about its interfaces, for the caller to report as it happens.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// An interface the receiver joined on became unusable.
    Lost {
        /// Its name.
        iface: String,
        /// Why.
        cause: Cause,
    },
    /// It is back and the memberships on it are held again.
    Rejoined {
        /// Its name.
        iface: String,
        /// Its index now.
        index: u32,
        /// Its index before (the same unless it was re-created).
        old_index: u32,
        /// How long the outage lasted.
        after: Duration,
    },
    /// It is back but joining failed; the receiver tries again.
    RejoinFailed {
        /// Its name.
        iface: String,
        /// Why.
        error: String,
    },
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Lost { iface, cause } => write!(f, "{iface}: {cause}; waiting for it to come back"),
            Notice::Rejoined { iface, index, old_index, after } if index != old_index => {
                write!(
                    f,
                    "{iface}: back as index {index} (was {old_index}), rejoined after {:.3} s",
                    after.as_secs_f64()
                )
            }
            Notice::Rejoined { iface, after, .. } => {
                write!(f, "{iface}: back, membership held, after {:.3} s", after.as_secs_f64())
            }
            Notice::RejoinFailed { iface, error } => {
                write!(f, "{iface}: back, but rejoining failed ({error}); retrying")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_order_by_severity() {
        assert!(Cause::Removed > Cause::Down && Cause::Down > Cause::NoCarrier);
        assert_eq!(Cause::Removed.to_string(), "deleted");
    }

    #[test]
    fn notices_read_as_sentences() {
        let n = Notice::Rejoined { iface: "vb".into(), index: 9, old_index: 4, after: Duration::from_millis(1500) };
        assert_eq!(n.to_string(), "vb: back as index 9 (was 4), rejoined after 1.500 s");
        let n = Notice::Rejoined { iface: "vb".into(), index: 4, old_index: 4, after: Duration::from_millis(20) };
        assert_eq!(n.to_string(), "vb: back, membership held, after 0.020 s");
        let n = Notice::Lost { iface: "vb".into(), cause: Cause::Down };
        assert_eq!(n.to_string(), "vb: link down; waiting for it to come back");
    }
}

//! One error type for the whole crate: it says which call or option failed, on which group and interface,
//! and why.

use std::borrow::Cow;
use std::fmt;
use std::io;

/// What kind of failure an [`Error`] is; also decides the `errno` the C ABI reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A system call failed; [`Error::raw_os_error`] has the `errno`.
    Os,
    /// An address that is not multicast where a group was needed.
    NotMulticast,
    /// An address that no datagram can come from (multicast, unspecified, broadcast) where a source was
    /// needed.
    NotUnicast,
    /// No interface by that name, index or address.
    UnknownInterface,
    /// A group that is only meaningful on one interface (IPv6 link- or interface-local scope), given
    /// without one.
    NeedsInterface,
    /// A value outside the range an option accepts (a TTL of 300, a hop limit of -2).
    OutOfRange,
    /// Text that does not parse (`GROUP:PORT`, an address, a number).
    Parse,
    /// Arguments that do not fit together (an IPv6 group on an IPv4 socket).
    Mismatch,
    /// More than a documented limit allows, refused before anything is allocated or joined (a group list
    /// past [`crate::multi::MAX_GROUPS`]).
    TooMany,
}

/// An error with its context: which call or option failed, on which group and interface, and why.
///
/// `Display` says what failed ("IP_ADD_MEMBERSHIP 239.1.2.3 on eth1"); [`source`](std::error::Error::source)
/// is the cause (the kernel's `No such device (os error 19)`), so error reporters that walk the chain, such
/// as anyhow's `{:#}`, print each part once. The alternate form `{:#}` of this type prints both, joined by
/// `": "`, for a one-line message without a reporter.
///
/// ```
/// use std::io;
/// let e = mcast::Error::os("IP_ADD_MEMBERSHIP 239.1.2.3 on eth1", io::Error::from_raw_os_error(19));
/// assert_eq!(e.to_string(), "IP_ADD_MEMBERSHIP 239.1.2.3 on eth1");
/// assert!(format!("{e:#}").starts_with("IP_ADD_MEMBERSHIP 239.1.2.3 on eth1: "));
/// assert_eq!(e.raw_os_error(), Some(19));
/// assert_eq!(io::Error::from(e).raw_os_error(), Some(19));
/// ```
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    /// Most contexts are fixed words ("recvmsg"): they are kept without allocating, since a non-blocking
    /// read that finds nothing makes an error every time.
    context: Cow<'static, str>,
    source: Option<io::Error>,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` whose whole text is `message`.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error { kind, context: message.into(), source: None }
    }

    /// A failed system call or option: `context` names it (and the group and interface), `err` says why.
    pub fn os(context: impl Into<Cow<'static, str>>, err: io::Error) -> Self {
        Error { kind: ErrorKind::Os, context: context.into(), source: Some(err) }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The `errno` of a failed system call, if that is what this is.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.source.as_ref().and_then(io::Error::raw_os_error)
    }

    /// The `errno` value that best describes this error, for the C ABI.
    pub fn errno(&self) -> i32 {
        match self.kind {
            ErrorKind::Os => self.raw_os_error().unwrap_or(libc::EIO),
            ErrorKind::UnknownInterface | ErrorKind::NeedsInterface => libc::ENODEV,
            ErrorKind::Mismatch => libc::EAFNOSUPPORT,
            ErrorKind::NotMulticast | ErrorKind::NotUnicast | ErrorKind::OutOfRange | ErrorKind::Parse => libc::EINVAL,
            ErrorKind::TooMany => libc::ERANGE,
        }
    }

    /// Prefixes the context with more of it ("join 239.1.2.3 on eth1: " + ...).
    pub fn within(mut self, outer: impl fmt::Display) -> Self {
        self.context = format!("{outer}: {}", self.context).into();
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)?;
        match &self.source {
            Some(e) if f.alternate() => write!(f, ": {e}"),
            _ => Ok(()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

/// A failed system call becomes the `io::Error` of its `errno` (so `raw_os_error` and `kind` are the
/// kernel's; the context is dropped, as `io::Error` has no room for both); any other error keeps its
/// message under the closest `io::ErrorKind`.
impl From<Error> for io::Error {
    fn from(e: Error) -> io::Error {
        if let Some(errno) = e.raw_os_error() {
            return io::Error::from_raw_os_error(errno);
        }
        let kind = match e.kind {
            ErrorKind::Os => e.source.as_ref().map(io::Error::kind).unwrap_or(io::ErrorKind::Other),
            ErrorKind::UnknownInterface => io::ErrorKind::NotFound,
            _ => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, format!("{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_errors_name_the_call_and_keep_errno() {
        let e = Error::os("IP_ADD_MEMBERSHIP 239.1.2.3 on eth1", io::Error::from_raw_os_error(libc::ENODEV));
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
        assert_eq!(e.errno(), libc::ENODEV);
        assert_eq!(e.to_string(), "IP_ADD_MEMBERSHIP 239.1.2.3 on eth1");
        let text = format!("{e:#}");
        assert!(text.starts_with("IP_ADD_MEMBERSHIP 239.1.2.3 on eth1: "), "{text}");
        assert!(text.contains("No such device"), "{text}");
    }

    /// What anyhow's `{:#}` does: each error of the chain once, joined by ": ".
    fn chain(e: &dyn std::error::Error) -> String {
        let mut text = e.to_string();
        let mut next = e.source();
        while let Some(cause) = next {
            text.push_str(&format!(": {cause}"));
            next = cause.source();
        }
        text
    }

    #[test]
    fn a_chain_printer_shows_the_cause_once() {
        let e =
            Error::os("IP_ADD_MEMBERSHIP 239.1.2.3 on eth1", io::Error::from_raw_os_error(libc::ENODEV)).within("join");
        let text = chain(&e);
        assert_eq!(text.matches("No such device").count(), 1, "{text}");
        assert_eq!(text, format!("{e:#}"));
        assert!(text.starts_with("join: IP_ADD_MEMBERSHIP 239.1.2.3 on eth1: No such device"), "{text}");
        let plain = Error::new(ErrorKind::OutOfRange, "IP_MULTICAST_TTL 300 is out of range 0..=255");
        assert_eq!(chain(&plain), plain.to_string());
        assert_eq!(format!("{plain:#}"), plain.to_string());
    }

    #[test]
    fn io_errors_keep_the_errno() {
        let e = Error::os("IP_ADD_MEMBERSHIP 239.1.2.3 on eth1", io::Error::from_raw_os_error(libc::EADDRINUSE));
        let io: io::Error = e.into();
        assert_eq!(io.raw_os_error(), Some(libc::EADDRINUSE));
        assert_eq!(io.kind(), io::ErrorKind::AddrInUse);
        let io: io::Error = Error::new(ErrorKind::UnknownInterface, "unknown interface 'eth9'").into();
        assert_eq!((io.kind(), io.raw_os_error()), (io::ErrorKind::NotFound, None));
        assert_eq!(io.to_string(), "unknown interface 'eth9'");
    }

    #[test]
    fn input_errors_map_to_einval() {
        assert_eq!(Error::new(ErrorKind::OutOfRange, "ttl 300").errno(), libc::EINVAL);
        assert_eq!(Error::new(ErrorKind::UnknownInterface, "x").errno(), libc::ENODEV);
        assert_eq!(Error::new(ErrorKind::TooMany, "70000 groups").errno(), libc::ERANGE);
        assert_eq!(Error::new(ErrorKind::NotUnicast, "source 239.1.1.1").errno(), libc::EINVAL);
        let io: io::Error = Error::new(ErrorKind::NotUnicast, "source 239.1.1.1").into();
        assert_eq!(io.kind(), io::ErrorKind::InvalidInput);
    }
}

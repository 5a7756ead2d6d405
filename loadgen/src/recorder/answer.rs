//! How one request ended, as the recorder counts it: a complete exchange with its status, or a
//! failure of one [`ErrorKind`]. The client classifies; the recorder counts statuses of
//! complete exchanges only, so a broken response never counts as its status.

use super::Outcome;

/// Why a request got no complete response (or got one outside HTTP's status range); reports
/// count errors by these kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// The target refused the connection (nothing listening).
    Refused,
    /// The connection was reset or closed by the target before a response began.
    Reset,
    /// No complete response within `--timeout`.
    Timeout,
    /// The TLS handshake or a TLS record failed.
    Tls,
    /// A response arrived but is not valid HTTP, or its framing broke (a bad head or chunk, a
    /// body cut short).
    Malformed,
    /// Anything else: other connect or I/O errors, a status outside 200..=599.
    Other,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Refused,
        ErrorKind::Reset,
        ErrorKind::Timeout,
        ErrorKind::Tls,
        ErrorKind::Malformed,
        ErrorKind::Other,
    ];

    /// Short stable name, used in reports, SLO metrics (`errors_KIND`) and interval logs.
    pub fn tag(self) -> &'static str {
        match self {
            ErrorKind::Refused => "refused",
            ErrorKind::Reset => "reset",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Tls => "tls",
            ErrorKind::Malformed => "malformed",
            ErrorKind::Other => "other",
        }
    }

    /// The kind named by `tag`, the inverse of [`ErrorKind::tag`].
    pub fn from_tag(tag: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.tag() == tag)
    }

    /// Position in [`ErrorKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The outcome class of a request that failed this way.
    pub fn outcome(self) -> Outcome {
        match self {
            ErrorKind::Timeout => Outcome::Timeout,
            _ => Outcome::Error,
        }
    }
}

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A complete exchange: the whole response, framed correctly, with this status.
    Status(u16),
    /// No complete exchange.
    Failed(ErrorKind),
}

impl Answer {
    /// Its outcome class.
    pub fn outcome(self) -> Outcome {
        match self {
            Answer::Status(code) => Outcome::from_status(code),
            Answer::Failed(kind) => kind.outcome(),
        }
    }

    /// The status to count: only a complete exchange has one.
    pub fn status(self) -> Option<u16> {
        match self {
            Answer::Status(code) => Some(code),
            Answer::Failed(_) => None,
        }
    }

    /// The error kind it counts as: a failure's kind, [`ErrorKind::Other`] for a status outside
    /// 200..=599 (its class is `error`), none for an HTTP answer.
    pub fn kind(self) -> Option<ErrorKind> {
        match self {
            Answer::Failed(kind) => Some(kind),
            Answer::Status(code) if Outcome::from_status(code) == Outcome::Error => {
                Some(ErrorKind::Other)
            }
            Answer::Status(_) => None,
        }
    }
}

//! HTTP/1.1 response framing for the lean driver: the response head parsed with `httparse`,
//! then a body decoder (Content-Length, chunked with extensions and trailers, or until EOF)
//! that only counts body bytes, never copies them. Pure functions over byte slices, so split
//! reads are tested by feeding the same bytes in any pieces.

/// Largest response head (status line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most headers accepted in a head or a trailer section.
pub const MAX_HEADERS: usize = 100;
/// Longest chunk-size line (with extensions) or trailer section accepted.
pub const MAX_LINE: usize = 8 * 1024;

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The head is not valid HTTP/1.x.
    #[error("malformed response head: {0}")]
    Head(String),
    /// The head is longer than [`MAX_HEAD`] or has more than [`MAX_HEADERS`] headers.
    #[error("response head too large")]
    HeadTooLarge,
    /// Content-Length is not a number, or appears twice with different values.
    #[error("invalid content-length")]
    ContentLength,
    /// A chunk size line or trailer is malformed or too long.
    #[error("malformed chunked body")]
    Chunked,
}

/// How the body of a response is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304, or Content-Length: 0).
    Empty,
    /// Exactly this many more bytes.
    Length(u64),
    /// Chunked transfer coding, in this state.
    Chunked(Chunk),
    /// Everything until the server closes the connection.
    Eof,
}

/// Where a chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// After the last chunk: trailer fields up to an empty line.
    Trailers,
}

/// A parsed response head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Status code.
    pub status: u16,
    /// Bytes the head took in the buffer.
    pub len: usize,
    /// How the body is framed.
    pub framing: Framing,
    /// Whether the connection must close after this response.
    pub close: bool,
}

/// Parses a response head from the start of `buf`. `Ok(None)`: more bytes are needed (an
/// error instead once `buf` reached [`MAX_HEAD`]). `head_request`: the request was HEAD, so the
/// response has no body whatever its headers say.
pub fn parse_head(buf: &[u8], head_request: bool) -> Result<Option<Head>, ParseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            return Err(ParseError::HeadTooLarge);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::HeadTooLarge),
        Err(e) => return Err(ParseError::Head(e.to_string())),
    };
    if len > MAX_HEAD {
        return Err(ParseError::HeadTooLarge);
    }
    let status = resp
        .code
        .ok_or_else(|| ParseError::Head("no status".into()))?;
    let http10 = resp.version == Some(0);
    let (mut close, mut keep_alive, mut chunked, mut length) = (false, false, false, None);
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value)
                .ok()
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or(ParseError::ContentLength)?;
            if length.is_some_and(|l| l != v) {
                return Err(ParseError::ContentLength);
            }
            length = Some(v);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked when it is the last coding; any other final coding is read to EOF.
            chunked = last_token(h.value).is_some_and(|t| t.eq_ignore_ascii_case(b"chunked"));
            if !chunked {
                close = true;
            }
        } else if h.name.eq_ignore_ascii_case("connection") {
            for t in h.value.split(|&b| b == b',') {
                let t = t.trim_ascii();
                if t.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if t.eq_ignore_ascii_case(b"keep-alive") {
                    keep_alive = true;
                }
            }
        }
    }
    if http10 && !keep_alive {
        close = true;
    }
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304
    {
        Framing::Empty
    } else if chunked {
        // Transfer-Encoding overrides Content-Length (RFC 9112 6.3); such a response may be a
        // smuggling attempt, so the connection is not reused.
        if length.is_some() {
            close = true;
        }
        Framing::Chunked(Chunk::Size)
    } else if let Some(l) = length {
        if l == 0 {
            Framing::Empty
        } else {
            Framing::Length(l)
        }
    } else if close || status == 101 {
        Framing::Eof
    } else {
        // Neither length nor chunked: the body runs to EOF (RFC 9112 6.3 rule 8).
        close = true;
        Framing::Eof
    };
    if status == 101 {
        // Switching protocols: the connection is no longer HTTP/1.1.
        close = true;
    }
    Ok(Some(Head {
        status,
        len,
        framing,
        close,
    }))
}

fn last_token(v: &[u8]) -> Option<&[u8]> {
    v.rsplit(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .find(|t| !t.is_empty())
}

/// What [`Framing::consume`] did with the bytes it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumed {
    /// Bytes of the input that belong to the body (they can be dropped).
    pub used: usize,
    /// Whether the body is complete.
    pub done: bool,
}

impl Framing {
    /// Consumes body bytes from `buf`. When it stops early without `done`, the rest of `buf` is
    /// an incomplete line: keep it and call again with more bytes appended. `eof`: the peer
    /// closed the connection after these bytes.
    pub fn consume(&mut self, buf: &[u8], eof: bool) -> Result<Consumed, ParseError> {
        let mut used = 0;
        loop {
            let rest = &buf[used..];
            match self {
                Framing::Empty => return Ok(Consumed { used, done: true }),
                Framing::Eof => {
                    return Ok(Consumed {
                        used: buf.len(),
                        done: eof,
                    });
                }
                Framing::Length(left) => {
                    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(rest.len());
                    used += n;
                    *left -= n as u64;
                    if *left == 0 {
                        *self = Framing::Empty;
                        continue;
                    }
                    return Ok(Consumed { used, done: false });
                }
                Framing::Chunked(state) => match *state {
                    Chunk::Size => match httparse::parse_chunk_size(rest) {
                        Ok(httparse::Status::Complete((n, 0))) => {
                            used += n;
                            *state = Chunk::Trailers;
                        }
                        Ok(httparse::Status::Complete((n, size))) => {
                            used += n;
                            *state = Chunk::Data(size);
                        }
                        Ok(httparse::Status::Partial) if rest.len() < MAX_LINE => {
                            return Ok(Consumed { used, done: false });
                        }
                        _ => return Err(ParseError::Chunked),
                    },
                    Chunk::Data(left) => {
                        let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                        used += n;
                        let left = left - n as u64;
                        if left > 0 {
                            *state = Chunk::Data(left);
                            return Ok(Consumed { used, done: false });
                        }
                        *state = Chunk::DataEnd;
                    }
                    Chunk::DataEnd => match rest {
                        [b'\r', b'\n', ..] => {
                            used += 2;
                            *state = Chunk::Size;
                        }
                        [] | [b'\r'] => return Ok(Consumed { used, done: false }),
                        _ => return Err(ParseError::Chunked),
                    },
                    Chunk::Trailers => {
                        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                        match httparse::parse_headers(rest, &mut headers) {
                            Ok(httparse::Status::Complete((n, _))) => {
                                used += n;
                                *self = Framing::Empty;
                            }
                            Ok(httparse::Status::Partial) if rest.len() < MAX_LINE => {
                                return Ok(Consumed { used, done: false });
                            }
                            _ => return Err(ParseError::Chunked),
                        }
                    }
                },
            }
        }
    }
}

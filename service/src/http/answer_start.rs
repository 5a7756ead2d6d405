//! What a connection wrapper learns from the bytes it writes: [`deadline`](super::deadline) and
//! [`budget`](super::budget) both need to know whether a write starts an answer, which ends the
//! request they are watching, or an interim `1xx` (`100 Continue`, written before a body is
//! read), which does not.

use std::io::IoSlice;

/// The first non-empty buffer of a vectored write: where its first bytes come from.
#[inline]
pub fn first_buf<'a>(bufs: &'a [IoSlice<'_>]) -> &'a [u8] {
    bufs.iter()
        .find(|b| !b.is_empty())
        .map_or(&[][..], |b| &b[..])
}

/// Whether the bytes of a write start an interim `1xx` answer, not the answer to the request.
#[inline]
pub fn is_interim(first: &[u8]) -> bool {
    first.starts_with(b"HTTP/1.1 1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_bytes_come_from_the_first_non_empty_buffer() {
        let bufs = [
            IoSlice::new(b""),
            IoSlice::new(b"HTTP/1.1 100"),
            IoSlice::new(b"x"),
        ];
        assert_eq!(first_buf(&bufs), b"HTTP/1.1 100");
        assert_eq!(first_buf(&[IoSlice::new(b"")]), b"");
        assert_eq!(first_buf(&[]), b"");
    }

    #[test]
    fn interim_answers_are_told_from_answers() {
        assert!(is_interim(b"HTTP/1.1 100 Continue\r\n\r\n"));
        assert!(!is_interim(b"HTTP/1.1 413 Payload Too Large\r\n"));
        assert!(!is_interim(b"HTTP/1.1 200 OK\r\n"));
        assert!(!is_interim(b""));
    }
}

//! Reading a request body whole: within the size limit, within the body timeout, and without
//! copying the usual body.
//!
//! actix hands the body over as chunks that are slices of the connection's read buffer. A
//! body that came in one piece (a small JSON request almost always does) is kept as that one
//! chunk; only a body in several chunks is copied, into one buffer. (actix's own
//! `to_bytes_limited` copies every body into a fresh 32 KiB buffer.)

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::dev::Payload;
use actix_web::web::{Bytes, BytesMut};
use futures_core::Stream;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// More than the limit arrived.
    TooLarge,
    /// The connection failed or the framing was broken (actix's message).
    Broken(String),
    /// The body timeout passed before the body was complete.
    TimedOut,
}

/// The chunks read so far.
#[derive(Default)]
struct Collected {
    /// The only chunk, while there is only one.
    first: Option<Bytes>,
    /// All chunks, once a second one came.
    joined: Option<BytesMut>,
    len: usize,
}

impl Collected {
    fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        if let Some(joined) = &mut self.joined {
            joined.extend_from_slice(&chunk);
        } else if let Some(first) = self.first.take() {
            let mut joined = BytesMut::with_capacity(self.len);
            joined.extend_from_slice(&first);
            joined.extend_from_slice(&chunk);
            self.joined = Some(joined);
        } else {
            self.first = Some(chunk);
        }
    }

    fn finish(&mut self) -> Bytes {
        match (self.joined.take(), self.first.take()) {
            (Some(joined), _) => joined.freeze(),
            (None, Some(first)) => first,
            (None, None) => Bytes::new(),
        }
    }

    /// Reads chunks until the end of the body, the limit, an error, or `Pending`.
    fn poll_from(
        &mut self,
        payload: &mut Payload,
        limit: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Bytes, BodyError>> {
        loop {
            match Pin::new(&mut *payload).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(self.finish())),
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(BodyError::Broken(e.to_string())));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    if self.len.saturating_add(chunk.len()) > limit {
                        return Poll::Ready(Err(BodyError::TooLarge));
                    }
                    self.push(chunk);
                }
            }
        }
    }
}

/// Reads the whole body: at most `limit` bytes, complete within `timeout`.
pub async fn read(
    mut payload: Payload,
    limit: usize,
    timeout: std::time::Duration,
) -> Result<Bytes, BodyError> {
    let mut collected = Collected::default();
    // A body that came in the same packet as the headers is handed to the payload right after
    // actix has called the handler: the first poll finds it missing, the next one complete.
    // So the first `Pending` only asks to be polled again (waking this task itself, so that it
    // is polled again even when no byte follows), and only a body still missing then arms the
    // timer (a timer per request showed in the benchmark), and only then is the clock read:
    // the timeout counts from there, microseconds after the handler started.
    let mut polled = false;
    let now = std::future::poll_fn(|cx| match collected.poll_from(&mut payload, limit, cx) {
        Poll::Ready(done) => Poll::Ready(Some(done)),
        Poll::Pending if !polled => {
            polled = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
        Poll::Pending => Poll::Ready(None),
    })
    .await;
    if let Some(done) = now {
        return done;
    }
    let rest = std::future::poll_fn(|cx| collected.poll_from(&mut payload, limit, cx));
    match tokio::time::timeout(timeout, rest).await {
        Ok(done) => done,
        Err(_elapsed) => Err(BodyError::TimedOut),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::error::PayloadError;
    use std::future::Future;
    use std::time::Duration;

    /// A payload that yields `chunks` in turn, then ends (or, when `open`, never ends).
    struct Chunks {
        chunks: std::collections::VecDeque<Result<Bytes, PayloadError>>,
        open: bool,
    }

    impl Stream for Chunks {
        type Item = Result<Bytes, PayloadError>;

        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            match self.chunks.pop_front() {
                Some(item) => Poll::Ready(Some(item)),
                None if self.open => Poll::Pending,
                None => Poll::Ready(None),
            }
        }
    }

    fn payload(chunks: &[&'static [u8]], open: bool) -> Payload {
        let chunks = chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        stream(Chunks { chunks, open })
    }

    fn stream(chunks: Chunks) -> Payload {
        Payload::Stream {
            payload: Box::pin(chunks),
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        actix_web::rt::System::new().block_on(f)
    }

    #[test]
    fn a_body_in_one_chunk_is_the_chunk_itself() {
        let chunk: &'static [u8] = br#"{"numbers":[1,2]}"#;
        let body = block_on(read(payload(&[chunk], false), 1024, Duration::from_secs(1)));
        let body = body.expect("complete body");
        assert_eq!(&body[..], chunk);
        assert_eq!(body.as_ptr(), chunk.as_ptr(), "one chunk is not copied");
    }

    #[test]
    fn chunks_are_joined_in_order() {
        let chunks: [&'static [u8]; 3] = [b"{\"numbers\"", b":[1,", b"2]}"];
        let body = block_on(read(payload(&chunks, false), 1024, Duration::from_secs(1)));
        assert_eq!(&body.expect("complete body")[..], br#"{"numbers":[1,2]}"#);
    }

    #[test]
    fn an_empty_body_is_empty() {
        let body = block_on(read(payload(&[], false), 1024, Duration::from_secs(1)));
        assert!(body.expect("complete body").is_empty());
    }

    #[test]
    fn the_limit_counts_every_chunk() {
        let at_limit = block_on(read(
            payload(&[b"12345", b"67890"], false),
            10,
            Duration::from_secs(1),
        ));
        assert_eq!(
            &at_limit.expect("exactly the limit is allowed")[..],
            b"1234567890"
        );
        let over = block_on(read(
            payload(&[b"12345", b"678901"], false),
            10,
            Duration::from_secs(1),
        ));
        assert!(matches!(over, Err(BodyError::TooLarge)), "{over:?}");
        let one_big = block_on(read(
            payload(&[b"12345678901"], false),
            10,
            Duration::from_secs(1),
        ));
        assert!(matches!(one_big, Err(BodyError::TooLarge)), "{one_big:?}");
    }

    #[test]
    fn a_body_that_stops_coming_times_out() {
        let started = std::time::Instant::now();
        let body = block_on(read(
            payload(&[b"{\"num"], true),
            1024,
            Duration::from_millis(200),
        ));
        assert!(matches!(body, Err(BodyError::TimedOut)), "{body:?}");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
    }

    #[test]
    fn a_broken_body_says_why() {
        let chunks = [
            Ok(Bytes::from_static(b"{")),
            Err(PayloadError::Incomplete(None)),
        ];
        let broken = Chunks {
            chunks: chunks.into_iter().collect(),
            open: false,
        };
        match block_on(read(stream(broken), 1024, Duration::from_secs(1))) {
            Err(BodyError::Broken(why)) => assert!(why.contains("EOF"), "{why}"),
            other => panic!("{other:?}"),
        }
    }
}

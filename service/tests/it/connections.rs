//! What a connection takes and when it ends, over raw loopback sockets against the service as
//! `start` serves it: chunked framing is bounded by the byte budget (`--max-body`), a body too
//! large for the limit is refused before `100 Continue` invites it, and nothing pipelined
//! behind an answer that ends the connection (`Connection: close`, a body left unread,
//! `--keep-alive 0s`) is answered.

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;

/// Reads for at most `bound`: what came, and whether the service closed the connection (an
/// end of stream, or a reset, which may follow an answer given with the request unread).
async fn read_for(stream: &mut OwnedReadHalf, bound: Duration) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    let closed = tokio::time::timeout(bound, read).await.is_ok();
    (got, closed)
}

/// Reads everything until the service closes the connection; `None` if it is still open after
/// `bound`.
async fn read_until_closed(stream: &mut OwnedReadHalf, bound: Duration) -> Option<Vec<u8>> {
    let (got, closed) = read_for(stream, bound).await;
    closed.then_some(got)
}

/// The most a socket's receive buffer grows to (`tcp_rmem`'s maximum): bytes a client can
/// have sent that the service never read.
fn receive_buffer_max() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_rmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2).and_then(|v| v.parse().ok()))
        .unwrap_or(6 * 1024 * 1024)
}

/// How a hostile stream went: bytes the client got to send, whether and when the service
/// closed the connection, and what it answered.
struct Flood {
    sent: u64,
    closed_after: Option<Duration>,
    answer: Vec<u8>,
}

/// Sends `head`, then `filler` over and over, until the service closes the connection, more
/// than `cap` bytes went, or 10 s passed; reads all the while.
async fn flood(addr: SocketAddr, head: &[u8], filler: &[u8], cap: u64) -> Flood {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    // A small send buffer, so that what was sent is close to what the service took.
    socket.set_send_buffer_size(64 * 1024).expect("SO_SNDBUF");
    let stream = socket.connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    let reading =
        tokio::spawn(async move { read_until_closed(&mut reader, Duration::from_secs(12)).await });
    let piece = filler.repeat(64 * 1024 / filler.len());
    let mut sent = 0u64;
    let write = async {
        writer.write_all(head).await?;
        while sent <= cap {
            writer.write_all(&piece).await?;
            sent += piece.len() as u64;
        }
        Ok::<(), std::io::Error>(())
    };
    // A failed write: the service closed the connection.
    let written = tokio::time::timeout(Duration::from_secs(10), write).await;
    let closed_after = matches!(written, Ok(Err(_))).then(|| started.elapsed());
    drop(writer);
    let answer = reading.await.expect("reader").unwrap_or_default();
    Flood {
        sent,
        closed_after,
        answer,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_framing_counts_against_the_body_limit_and_ends_the_connection() {
    let max_body = 1024;
    let running = service::start(common::config(&["--max-body", "1024"]))
        .await
        .expect("service starts");
    let addr = running.addr();
    let budget = service::http::budget::for_body(max_body);
    // What may sit in the kernel's buffers on both sides, on top of what the service read.
    let bound = budget + receive_buffer_max() + 1024 * 1024;
    let sum = "POST /api/v1/sum HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let health = "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    // Before, each of these was read at full speed until the body timeout (10 s here): a
    // gigabyte and more, without one byte of body.
    let cases: [(&str, String, &[u8], u16); 4] = [
        ("zeros in a chunk-size line", sum.to_owned(), b"0", 413),
        (
            "an endless chunk extension",
            format!("{sum}1;"),
            b"ext",
            413,
        ),
        (
            "endless trailers",
            format!("{sum}2\r\n{{}}\r\n0\r\n"),
            b"X-Trailer: a\r\n",
            413,
        ),
        // Answered at once with the body unread: what actix reads while it lingers is
        // bounded too.
        ("zeros behind an early answer", health.to_owned(), b"0", 405),
    ];
    for (name, head, filler, status) in cases {
        let flood = flood(addr, head.as_bytes(), filler, bound).await;
        let answer = String::from_utf8_lossy(&flood.answer);
        let closed_after = flood.closed_after.unwrap_or_else(|| {
            panic!(
                "{name}: the service took {} bytes (bound {bound}) and did not close; answer: {answer}",
                flood.sent
            )
        });
        assert!(
            flood.sent <= bound,
            "{name}: {} bytes sent, bound {bound}",
            flood.sent
        );
        assert!(
            closed_after < Duration::from_secs(5),
            "{name}: closed after {closed_after:?}"
        );
        let res = testkit::raw::parse(&flood.answer);
        assert_eq!(res.status, status, "{name}: {answer}");
        assert_eq!(res.header("connection"), Some("close"), "{name}: {answer}");
        if status == 413 {
            let body = res.json();
            assert_eq!(body["code"], "PAYLOAD_TOO_LARGE", "{name}: {body}");
            assert!(
                body["details"]
                    .as_str()
                    .is_some_and(|d| d.contains("chunked framing")),
                "{name}: {body}"
            );
        }
    }
    // A chunked body within the limit, in chunks as small as they come, is still summed: the
    // framing allowance is the body limit again.
    let numbers = format!("{{\"numbers\":[{}]}}", vec!["1"; 100].join(","));
    let mut request = sum.as_bytes().to_vec();
    for byte in numbers.as_bytes() {
        request.extend_from_slice(format!("1\r\n{}\r\n", *byte as char).as_bytes());
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let res = testkit::raw::send(addr, &request).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["sum"], 100);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_refused_before_100_continue() {
    let running = service::start(common::config(&[]))
        .await
        .expect("service starts");
    let addr = running.addr();
    let expect = |length: usize| {
        format!(
            "POST /api/v1/sum HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
        )
    };
    // 100 MB announced: the 413 comes at once, no `100 Continue` before it, and the connection
    // closes.
    let (mut reader, mut writer) = TcpStream::connect(addr)
        .await
        .expect("connect")
        .into_split();
    writer
        .write_all(expect(100_000_000).as_bytes())
        .await
        .expect("head");
    let got = read_until_closed(&mut reader, Duration::from_secs(5))
        .await
        .expect("closed after the 413");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    let res = testkit::raw::parse(&got);
    assert_eq!(res.json()["code"], "PAYLOAD_TOO_LARGE");
    assert_eq!(res.header("connection"), Some("close"));
    assert_eq!(res.header("x-request-id").map(str::len), Some(32));
    // It went through the app like any answer: counted with its code.
    let series = format!(
        r#"{}{{code="PAYLOAD_TOO_LARGE"}}"#,
        service::metrics::HTTP_REQUESTS_REJECTED_TOTAL
    );
    assert_eq!(common::sample(running.metrics_addr(), &series).await, 1.0);
    // A body within the limit is still invited, and summed.
    let body = br#"{"numbers":[1,2]}"#;
    let (mut reader, mut writer) = TcpStream::connect(addr)
        .await
        .expect("connect")
        .into_split();
    writer
        .write_all(expect(body.len()).as_bytes())
        .await
        .expect("head");
    let mut interim = [0u8; 25];
    tokio::time::timeout(Duration::from_secs(5), reader.read_exact(&mut interim))
        .await
        .expect("100 Continue within 5 s")
        .expect("read");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    writer.write_all(body).await.expect("body");
    writer.shutdown().await.expect("half-close");
    let got = read_until_closed(&mut reader, Duration::from_secs(5))
        .await
        .expect("closed after the answer");
    let res = testkit::raw::parse(&got);
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["sum"], 3);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_pipelined_behind_an_answer_that_ends_the_connection_is_answered() {
    let running = service::start(common::config(&[]))
        .await
        .expect("service starts");
    let addr = running.addr();
    let next = "GET /healthz/live HTTP/1.1\r\nHost: t\r\n\r\n";
    let body = r#"{"numbers":[1,2]}"#;
    let sum = |extra: &str| {
        format!(
            "POST /api/v1/sum HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        )
    };
    let cases = [
        (
            "Connection: close",
            "GET /healthz/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".to_owned(),
            200,
        ),
        ("Connection: close on a sum", sum("Connection: close\r\n"), 200),
        (
            "HTTP/1.0 without keep-alive",
            "GET /healthz/live HTTP/1.0\r\nHost: t\r\n\r\n".to_owned(),
            200,
        ),
        (
            "a body left unread by a 404",
            "POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nabcde".to_owned(),
            404,
        ),
        (
            "a chunked body left unread by a 405",
            "POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n"
                .to_owned(),
            405,
        ),
        (
            "a body left unread by a 415",
            format!(
                "POST /api/v1/sum HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            415,
        ),
    ];
    for (name, first, status) in cases {
        let (mut reader, mut writer) = TcpStream::connect(addr)
            .await
            .expect("connect")
            .into_split();
        // One write: the next request is in the service's buffer with the first.
        writer
            .write_all(format!("{first}{next}").as_bytes())
            .await
            .expect("requests");
        let got = read_until_closed(&mut reader, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{name}: the connection is still open after 5 s"));
        let text = String::from_utf8_lossy(&got);
        assert_eq!(
            text.matches("HTTP/1.").count(),
            1,
            "{name}: more than the one answer: {text}"
        );
        let res = testkit::raw::parse(&got);
        assert_eq!(res.status, status, "{name}: {text}");
        assert_eq!(res.header("connection"), Some("close"), "{name}: {text}");
    }
    // Without either, pipelined requests are all answered and the connection stays open: a
    // sum whose body was read, then a health check.
    let (mut reader, mut writer) = TcpStream::connect(addr)
        .await
        .expect("connect")
        .into_split();
    writer
        .write_all(format!("{}{next}", sum("")).as_bytes())
        .await
        .expect("requests");
    let (mut got, closed) = read_for(&mut reader, Duration::from_secs(1)).await;
    assert!(!closed, "closed: {}", String::from_utf8_lossy(&got));
    writer
        .write_all(b"GET /healthz/live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .expect("last request");
    let rest = read_until_closed(&mut reader, Duration::from_secs(5))
        .await
        .expect("closed after the request that asked");
    got.extend_from_slice(&rest);
    let text = String::from_utf8_lossy(&got);
    assert_eq!(text.matches("HTTP/1.1 200 ").count(), 3, "{text}");
    assert!(text.contains(r#""sum":3"#), "{text}");
    running.shutdown().await;

    // `--keep-alive 0s`: every answer says `Connection: close` and is the connection's last.
    let running = service::start(common::config(&["--keep-alive", "0s"]))
        .await
        .expect("service starts");
    let (mut reader, mut writer) = TcpStream::connect(running.addr())
        .await
        .expect("connect")
        .into_split();
    writer
        .write_all(format!("{next}{next}").as_bytes())
        .await
        .expect("requests");
    let got = read_until_closed(&mut reader, Duration::from_secs(5))
        .await
        .expect("closed after the first answer");
    let text = String::from_utf8_lossy(&got);
    assert_eq!(text.matches("HTTP/1.").count(), 1, "{text}");
    assert_eq!(
        testkit::raw::parse(&got).header("connection"),
        Some("close")
    );
    running.shutdown().await;
}

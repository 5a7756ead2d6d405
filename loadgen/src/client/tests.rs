//! Edge cases of the lean HTTP/1.1 driver: framing over split reads, chunked extensions and
//! trailers, bodiless statuses, HEAD, oversized heads, garbage; and exchanges against scripted
//! loopback servers (outcome and reuse as the load loop sees them).

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Uri};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::lean::{LeanConn, serialize};
use super::parse::{Chunk, Framing, MAX_HEAD, ParseError, parse_head};

/// Parses `resp` fed in pieces of `step` bytes (as reads would deliver it): the status, whether
/// the connection closes, and how many bytes were left over after the response.
fn feed(resp: &[u8], step: usize, head_request: bool) -> Result<(u16, bool, usize), ParseError> {
    let mut buf: Vec<u8> = Vec::new();
    let mut pos = 0;
    let mut fed = 0;
    let head = loop {
        if let Some(h) = parse_head(&buf[pos..], head_request)? {
            break h;
        }
        assert!(fed < resp.len(), "head incomplete at end of input");
        let n = step.min(resp.len() - fed);
        buf.extend_from_slice(&resp[fed..fed + n]);
        fed += n;
    };
    pos += head.len;
    let mut framing = head.framing;
    loop {
        let eof = fed == resp.len();
        let c = framing.consume(&buf[pos..], eof)?;
        pos += c.used;
        if c.done {
            return Ok((head.status, head.close, buf.len() - pos + resp.len() - fed));
        }
        if eof {
            return Err(ParseError::Chunked);
        }
        let n = step.min(resp.len() - fed);
        buf.extend_from_slice(&resp[fed..fed + n]);
        fed += n;
    }
}

/// Every split size gives the same result as one read.
fn feed_all_splits(resp: &[u8], head_request: bool) -> Result<(u16, bool, usize), ParseError> {
    let whole = feed(resp, resp.len().max(1), head_request);
    for step in 1..resp.len().min(64) {
        assert_eq!(
            feed(resp, step, head_request),
            whole,
            "split reads of {step} bytes"
        );
    }
    whole
}

#[test]
fn content_length_body_over_split_reads() {
    let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
    assert_eq!(feed_all_splits(r, false), Ok((200, false, 0)));
    let r = b"HTTP/1.1 503 Busy\r\ncontent-length: 0\r\n\r\n";
    assert_eq!(feed_all_splits(r, false), Ok((503, false, 0)));
}

#[test]
fn chunked_with_extensions_and_trailers() {
    let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
              5;name=value;x=\"q\"\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n\
              0;last\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n";
    assert_eq!(feed_all_splits(r, false), Ok((200, false, 0)));
    let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(feed_all_splits(r, false), Ok((200, false, 0)));
}

#[test]
fn chunked_garbage_is_an_error() {
    for bad in [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    ] {
        assert!(
            feed(bad, bad.len(), false).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
        assert!(
            feed(bad, 3, false).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    // An endless chunk-size line is cut off instead of buffered without bound.
    let mut endless = b"5;".to_vec();
    endless.extend(std::iter::repeat_n(b'a', 20_000));
    let mut f = Framing::Chunked(Chunk::Size);
    assert_eq!(f.consume(&endless, false), Err(ParseError::Chunked));
}

#[test]
fn bodiless_statuses_and_head_requests() {
    // 1xx, 204 and 304 never have a body, whatever the headers say; neither has a HEAD response.
    for r in [
        &b"HTTP/1.1 100 Continue\r\n\r\n"[..],
        b"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
        b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let h = parse_head(r, false).expect("valid").expect("complete");
        assert_eq!(h.framing, Framing::Empty, "{}", String::from_utf8_lossy(r));
        assert_eq!(h.len, r.len());
    }
    let r = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    assert_eq!(feed_all_splits(r, true), Ok((200, false, 0)));
    let h = parse_head(r, false).expect("valid").expect("complete");
    assert_eq!(h.framing, Framing::Length(1000));
}

#[test]
fn connection_close_and_eof_framing() {
    let r = b"HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(feed_all_splits(r, false), Ok((200, true, 0)));
    // No length, no chunking: the body runs to EOF and the connection is done.
    let r = b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nthe body until close";
    assert_eq!(feed_all_splits(r, false), Ok((200, true, 0)));
    // HTTP/1.0 closes unless it asks to keep alive.
    let r = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(feed_all_splits(r, false), Ok((200, true, 0)));
    let r = b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(feed_all_splits(r, false), Ok((200, false, 0)));
    // Both Transfer-Encoding and Content-Length: chunked wins, and the connection is not reused.
    let r = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(feed_all_splits(r, false), Ok((200, true, 0)));
}

#[test]
fn oversized_and_malformed_heads_are_errors() {
    let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
    while big.len() <= MAX_HEAD {
        big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    assert!(matches!(
        parse_head(&big, false),
        Err(ParseError::HeadTooLarge)
    ));
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..200 {
        many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert!(matches!(
        parse_head(&many, false),
        Err(ParseError::HeadTooLarge)
    ));
    for bad in [
        &b"garbage\r\n\r\n"[..],
        b"\x00\x01\x02\x03 binary",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/2.0 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header Name: v\r\n\r\n",
    ] {
        assert!(
            parse_head(bad, false).is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    // A partial head is not an error yet.
    assert_eq!(parse_head(b"HTTP/1.1 200 O", false), Ok(None));
}

#[test]
fn request_is_serialized_once_with_host_and_length() {
    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, HeaderValue::from_static("h.test:81"));
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("content-length", HeaderValue::from_static("999"));
    let mut out = Vec::new();
    let path: Uri = "/api/v1/sum?x=1".parse().expect("valid");
    serialize(
        &mut out,
        &Method::POST,
        &path,
        &headers,
        None,
        &Bytes::from_static(b"{}"),
    );
    assert_eq!(
        String::from_utf8(out).expect("ascii"),
        "POST /api/v1/sum?x=1 HTTP/1.1\r\nhost: h.test:81\r\ncontent-type: application/json\r\n\
         content-length: 2\r\n\r\n{}"
    );
    let mut out = Vec::new();
    let tp = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    serialize(
        &mut out,
        &Method::POST,
        &path,
        &headers,
        Some(tp.as_slice()),
        &Bytes::from_static(b"{}"),
    );
    assert_eq!(
        String::from_utf8(out).expect("ascii"),
        "POST /api/v1/sum?x=1 HTTP/1.1\r\nhost: h.test:81\r\ncontent-type: application/json\r\n\
         traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\
         content-length: 2\r\n\r\n{}",
        "the traceparent goes with the other headers"
    );
    let mut out = Vec::new();
    serialize(
        &mut out,
        &Method::GET,
        &"/".parse().expect("valid"),
        &HeaderMap::new(),
        None,
        &Bytes::new(),
    );
    assert_eq!(out, b"GET / HTTP/1.1\r\n\r\n");
}

/// A server that answers each request (read up to the blank line) with the next of `replies`
/// (split into 1-byte writes when `trickle`), then closes.
async fn scripted(
    replies: Vec<&'static [u8]>,
    trickle: bool,
) -> (LeanConn, tokio::task::JoinHandle<()>) {
    let (addr, server) = serve(replies, trickle).await;
    let tcp = TcpStream::connect(addr).await.expect("connect");
    (LeanConn::new(tcp), server)
}

/// A connection to `addr` by the lean driver or hyper's (`lean`), and a `GET /x` target for it.
async fn driver_to(addr: std::net::SocketAddr, lean: bool) -> (super::Conn, crate::config::Target) {
    use super::Connector;
    use crate::config::{Endpoint, Target};
    let base: Uri = format!("http://{addr}").parse().expect("valid");
    let endpoint = Endpoint { base, https: false };
    let mut connector = Connector::new(&endpoint, false).expect("connector");
    connector.lean = lean;
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::HOST,
        HeaderValue::from_str(&addr.to_string()).expect("ascii"),
    );
    let target = Target {
        method: Method::GET,
        uri: format!("http://{addr}/x").parse().expect("valid"),
        path: "/x".parse().expect("valid"),
        headers,
        body: Bytes::new(),
        weight: 1,
    };
    (connector.connect().await.expect("connect"), target)
}

async fn serve(
    replies: Vec<&'static [u8]>,
    trickle: bool,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.expect("accept");
        for reply in replies {
            let mut req = Vec::new();
            let mut b = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => req.extend_from_slice(&b[..n]),
                }
            }
            if trickle {
                for byte in reply {
                    if s.write_all(std::slice::from_ref(byte)).await.is_err() {
                        return;
                    }
                    s.flush().await.ok();
                }
            } else if s.write_all(reply).await.is_err() {
                return;
            }
        }
    });
    (addr, server)
}

async fn get(c: &mut LeanConn, method: Method) -> Result<(u16, bool), Option<u16>> {
    c.exchange(
        &method,
        &"/".parse().expect("valid"),
        &HeaderMap::new(),
        None,
        &Bytes::new(),
    )
    .await
    .map_err(|f| f.status)
}

#[tokio::test]
async fn keep_alive_then_close_then_eof() {
    for trickle in [false, true] {
        let (mut c, server) = scripted(
            vec![
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
                b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            ],
            trickle,
        )
        .await;
        assert_eq!(get(&mut c, Method::GET).await, Ok((200, true)));
        assert!(c.ready().await);
        assert_eq!(get(&mut c, Method::GET).await, Ok((404, true)));
        assert!(c.ready().await);
        assert_eq!(get(&mut c, Method::HEAD).await, Ok((200, true)));
        assert!(c.ready().await);
        assert_eq!(get(&mut c, Method::GET).await, Ok((503, false)));
        assert!(
            !c.ready().await,
            "a Connection: close response ends the connection"
        );
        server.await.expect("server");
    }
}

#[tokio::test]
async fn eof_mid_body_and_garbage_are_errors_not_panics() {
    let (mut c, server) = scripted(
        vec![b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"],
        false,
    )
    .await;
    assert_eq!(get(&mut c, Method::GET).await, Err(Some(200)));
    assert!(!c.ready().await);
    server.await.expect("server");

    let (mut c, server) = scripted(vec![b"SSH-2.0-OpenSSH\r\n\r\n"], false).await;
    assert_eq!(get(&mut c, Method::GET).await, Err(None));
    server.await.expect("server");

    // The server closes without answering.
    let (mut c, server) = scripted(vec![], false).await;
    server.await.expect("server");
    assert_eq!(get(&mut c, Method::GET).await, Err(None));
}

#[tokio::test]
async fn idle_close_by_the_server_is_noticed_before_sending() {
    let (mut c, server) =
        scripted(vec![b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"], false).await;
    assert_eq!(get(&mut c, Method::GET).await, Ok((200, true)));
    server.await.expect("server");
    // The server has closed its end; give the FIN a moment to arrive (bounded).
    let mut noticed = false;
    for _ in 0..100 {
        if !c.ready().await {
            noticed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(noticed, "ready() never saw the server's close");
}

/// The lean driver and hyper's record the same outcome, status and reuse for the same replies.
#[tokio::test]
async fn lean_and_hyper_drivers_record_the_same_outcomes() {
    use super::{Exchange, build_request, exchange};
    let replies: Vec<&'static [u8]> = vec![
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 429 Too Many\r\nTransfer-Encoding: chunked\r\n\r\n2;x\r\nno\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx",
    ];
    let mut seen: Vec<Vec<(crate::recorder::Outcome, Option<u16>, bool)>> = Vec::new();
    for lean in [true, false] {
        let (addr, server) = serve(replies.clone(), false).await;
        let (mut conn, target) = driver_to(addr, lean).await;
        let mut got = Vec::new();
        for _ in 0..replies.len() {
            assert!(conn.ready().await, "lean={lean}");
            let Exchange {
                outcome,
                status,
                reusable,
                ..
            } = exchange(&mut conn, build_request(&target, false)).await;
            got.push((outcome, status, reusable));
        }
        // hyper notices the close when polled for readiness; both refuse another request.
        assert!(!conn.ready().await, "lean={lean}");
        server.await.expect("server");
        seen.push(got);
    }
    assert_eq!(seen[0][..3], seen[1][..3]);
    assert_eq!(seen[0][3].0, seen[1][3].0);
    assert_eq!(seen[0][3].1, Some(500));
    assert!(
        !seen[0][3].2,
        "the lean driver marks a Connection: close response final"
    );
}

/// Both drivers sort a broken exchange into the same error kind, and neither counts the
/// status of a response whose body broke.
#[tokio::test]
async fn lean_and_hyper_drivers_classify_broken_exchanges_alike() {
    use super::{build_request, exchange};
    use crate::recorder::{Answer, ErrorKind};
    let cases: Vec<(&'static [u8], Answer)> = vec![
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            Answer::Failed(ErrorKind::Malformed),
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial",
            Answer::Failed(ErrorKind::Malformed),
        ),
        (
            b"SSH-2.0-OpenSSH\r\n\r\n",
            Answer::Failed(ErrorKind::Malformed),
        ),
        // The server reads the request and closes without a byte of answer.
        (b"", Answer::Failed(ErrorKind::Reset)),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            Answer::Status(200),
        ),
    ];
    for (reply, want) in cases {
        for lean in [true, false] {
            let (addr, server) = serve(vec![reply], false).await;
            let (mut conn, target) = driver_to(addr, lean).await;
            let ex = exchange(&mut conn, build_request(&target, false)).await;
            let reply = String::from_utf8_lossy(reply);
            assert_eq!(ex.answer(), want, "lean={lean} reply={reply:?}");
            assert_eq!(ex.answer().status().is_some(), ex.error.is_none());
            drop(conn);
            server.await.expect("server");
        }
    }
}

#[tokio::test]
async fn a_refused_connection_is_of_kind_refused() {
    use super::Connector;
    use crate::config::Endpoint;
    use crate::recorder::ErrorKind;
    // A port that was just free: nothing listens there.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let base: Uri = format!("http://{addr}").parse().expect("valid");
    let connector = Connector::new(&Endpoint { base, https: false }, false).expect("connector");
    let Err(e) = connector.connect().await else {
        panic!("connected to a closed port");
    };
    assert_eq!(e.kind(), ErrorKind::Refused, "{e}");
}

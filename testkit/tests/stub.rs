//! The stub over real loopback sockets: what it records, what it writes back, and what it drops.

use std::time::{Duration, Instant};

use testkit::stub::{Reply, Request, Stub};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `bytes` on a fresh connection and returns everything the stub writes before closing.
async fn exchange(stub: &Stub, bytes: &[u8]) -> Vec<u8> {
    let mut sock = TcpStream::connect(stub.addr())
        .await
        .expect("the stub accepts");
    sock.write_all(bytes).await.expect("the request is sent");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut out))
        .await
        .expect("the stub answers within 10 s")
        .expect("the reply is readable");
    out
}

#[tokio::test]
async fn records_each_request_and_counts_earlier_ones_on_its_path() {
    let stub = Stub::start(|req, before| {
        Reply::json(
            if before < 1 { 503 } else { 200 },
            &format!(r#"{{"path":"{}","before":{before}}}"#, req.path),
        )
    })
    .await;
    assert_eq!(stub.url(), format!("http://{}", stub.addr()));

    let first = exchange(
        &stub,
        b"POST /a?x=1 HTTP/1.1\r\nHost: x\r\nX-Key:  v1 \r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    let body = r#"{"path":"/a?x=1","before":0}"#;
    assert_eq!(
        String::from_utf8(first).unwrap(),
        format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    );
    let second = exchange(&stub, b"GET /a?x=1 HTTP/1.1\r\n\r\n").await;
    assert!(second.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(second.ends_with(br#"{"path":"/a?x=1","before":1}"#));
    let other = exchange(&stub, b"GET /b HTTP/1.1\r\n\r\n").await;
    assert!(
        other.ends_with(br#"{"path":"/b","before":0}"#),
        "counts are per path"
    );

    assert_eq!(stub.hits("/a?x=1"), 2);
    assert_eq!(stub.hits("/b"), 1);
    assert_eq!(stub.hits("/never"), 0);
    let requests = stub.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[0],
        Request {
            method: "POST".into(),
            path: "/a?x=1".into(),
            headers: vec![
                ("host".into(), "x".into()),
                ("x-key".into(), "v1".into()),
                ("content-length".into(), "5".into()),
            ],
            body: b"hello".to_vec(),
        }
    );
    assert_eq!(requests[1].method, "GET");
    assert!(requests[1].body.is_empty());
}

#[tokio::test]
async fn reads_a_body_that_arrives_after_the_head() {
    let stub = Stub::start(|req, _| Reply::new(201, &[("x-len", "n")], req.body.clone())).await;
    let mut sock = TcpStream::connect(stub.addr()).await.unwrap();
    sock.write_all(b"PUT /p HTTP/1.1\r\ncontent-length: 6000\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    sock.write_all(&[b'7'; 6000]).await.unwrap();
    let mut out = Vec::new();
    sock.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 201 Created\r\nx-len: n\r\ncontent-length: 6000\r\n"),
        "{text}"
    );
    assert_eq!(stub.requests()[0].body, vec![b'7'; 6000]);
}

#[tokio::test]
async fn writes_raw_replies_verbatim_and_after_their_delay() {
    let stub = Stub::start(|req, _| match req.path.as_str() {
        "/garbage" => Reply::raw(b"\x00\xffnot http"),
        _ => Reply::json(200, "{}").delay(Duration::from_millis(300)),
    })
    .await;
    assert_eq!(
        exchange(&stub, b"GET /garbage HTTP/1.1\r\n\r\n").await,
        b"\x00\xffnot http"
    );
    let started = Instant::now();
    let slow = exchange(&stub, b"GET /slow HTTP/1.1\r\n\r\n").await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(slow.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(
        stub.hits("/slow"),
        1,
        "recorded before the delay, so a test can see it"
    );
}

#[tokio::test]
async fn drops_heads_that_never_end_unanswered_and_unrecorded() {
    let stub = Stub::start(|_, _| Reply::json(200, "{}")).await;
    // Cut short: the client closes its side before the blank line.
    let mut sock = TcpStream::connect(stub.addr()).await.unwrap();
    sock.write_all(b"GET /half HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    sock.shutdown().await.unwrap();
    let mut out = Vec::new();
    sock.read_to_end(&mut out).await.unwrap();
    assert!(out.is_empty());

    // Over 1 MiB of head: the stub gives up without answering.
    let mut sock = TcpStream::connect(stub.addr()).await.unwrap();
    let mut head = b"GET /big HTTP/1.1\r\nx: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', (1 << 20) + 10));
    // The stub may close while we are still writing; either way nothing comes back.
    let _ = sock.write_all(&head).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut out))
        .await
        .expect("the stub closes the connection");
    assert!(out.is_empty());
    assert!(stub.requests().is_empty());
}

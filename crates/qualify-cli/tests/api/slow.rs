//! Slow and abusive clients (issue 6, item 5): a client that sends its headers or its body one
//! byte at a time is cut off, idle connections are closed, a connection beyond the limit closes
//! the oldest one not in a request (and waits only when every one is in a request), event
//! streams have a bound of their own (issue 23), requests beyond the in-flight limit are refused at once,
//! oversized heads are refused, slow requests time out, and other clients are served normally
//! all the while. Over raw TCP, since no HTTP client library sends this slowly.

use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::figures;
use crate::helpers::*;

fn limits(flags: &[(&str, &str)]) -> Options {
    Options {
        extra: flags
            .iter()
            .flat_map(|(k, v)| [k.to_string(), v.to_string()])
            .collect(),
        ..Default::default()
    }
}

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_owned()
}

/// What a raw connection got: the bytes, whether the server closed it, and when.
struct Got {
    bytes: Vec<u8>,
    closed: bool,
    after: Duration,
}

impl Got {
    fn status(&self) -> Option<u16> {
        let text = String::from_utf8_lossy(&self.bytes);
        text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
    }

    fn body(&self) -> Value {
        let text = String::from_utf8_lossy(&self.bytes);
        text.split_once("\r\n\r\n")
            .and_then(|(_, b)| serde_json::from_str(b).ok())
            .unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.bytes);
        let head = text.split("\r\n\r\n").next()?;
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// Reads until the server closes the connection, or `within` passes.
async fn read_until_closed(stream: &mut TcpStream, started: Instant, within: Duration) -> Got {
    read_until(stream, started, within, |_| false).await
}

/// Reads until an answer's head is in (or the connection is closed, or `within` passes), without
/// waiting for a kept-alive connection to close.
async fn read_head(stream: &mut TcpStream, started: Instant, within: Duration) -> Got {
    read_until(stream, started, within, |b| {
        b.windows(4).any(|w| w == b"\r\n\r\n")
    })
    .await
}

/// Reads until `enough` says so of what arrived, the server closes the connection, or `within`
/// passes.
async fn read_until(
    stream: &mut TcpStream,
    started: Instant,
    within: Duration,
    enough: impl Fn(&[u8]) -> bool,
) -> Got {
    let mut bytes = vec![];
    let mut buf = [0u8; 4096];
    let deadline = started + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let closed = match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => true,
            Ok(Ok(n)) => {
                bytes.extend_from_slice(&buf[..n]);
                if !enough(&bytes) {
                    continue;
                }
                false
            }
            Err(_) => false,
        };
        return Got {
            bytes,
            closed,
            after: started.elapsed(),
        };
    }
}

/// A `GET /healthz` that keeps its connection open, and one that closes it.
const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
const HEALTHZ_CLOSE: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

/// A new connection that has sent `request`.
async fn send(s: &Server, request: &[u8]) -> TcpStream {
    let mut c = TcpStream::connect(addr(s)).await.unwrap();
    c.write_all(request).await.unwrap();
    c
}

/// A new connection that has asked for the event stream.
async fn ask_stream(s: &Server, admin: &str) -> TcpStream {
    let request = format!(
        "GET /admin/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\r\n"
    );
    send(s, request.as_bytes()).await
}

/// Sends `bytes` one at a time, `gap` apart (the slow client is slow in real time: the server's
/// read timeouts are wall-clock timeouts on a real socket), until the server stops reading (the
/// write fails). Tells `progress` how many bytes went out; returns that number.
async fn dribble(
    stream: &mut TcpStream,
    bytes: &[u8],
    gap: Duration,
    progress: watch::Sender<usize>,
) -> usize {
    for (i, b) in bytes.iter().enumerate() {
        if stream.write_all(&[*b]).await.is_err() {
            return i;
        }
        progress.send_replace(i + 1);
        tokio::time::sleep(gap).await;
    }
    bytes.len()
}

/// Normal requests while an abusive client is at it: one after each byte it sends, until it
/// stops (`progress` closed); all answered, each quickly. Returns how many, and the slowest.
async fn others_are_served(s: &Server, mut progress: watch::Receiver<usize>) -> (usize, Duration) {
    let p = s.partner();
    let (mut n, mut slowest) = (0, Duration::ZERO);
    while progress.changed().await.is_ok() {
        let t = Instant::now();
        let r = s.get("/v1/customers").token(&p.app_user).send().await;
        assert_eq!(r.status, 200, "{}", r.text);
        slowest = slowest.max(t.elapsed());
        n += 1;
    }
    assert!(
        n >= 3,
        "only {n} normal requests while the slow client was at it"
    );
    assert!(
        slowest < Duration::from_secs(2),
        "a normal request took {slowest:?} next to the slow client"
    );
    (n, slowest)
}

/// Sends `head` and the `first` bytes of its body on a connection of its own to a server
/// started with `--max-in-flight 1`, and returns that connection once its request is in flight
/// (holding the one slot): when a probe is refused. A probe that took the slot first may have
/// had the held request refused: then it is sent again.
async fn hold_in_flight(s: &Server, head: &str, first: &[u8]) -> TcpStream {
    let mut held: Option<TcpStream> = None;
    poll_until("a request held in flight", Duration::from_secs(10), async || {
        if held.is_none() {
            let mut c = TcpStream::connect(addr(s)).await.unwrap();
            c.write_all(head.as_bytes()).await.unwrap();
            c.write_all(first).await.unwrap();
            held = Some(c);
        }
        if s.get("/healthz").send().await.status == 503 {
            return held.take();
        }
        // Answered (refused) or closed while the probe held the slot: send it again.
        let mut buf = [0u8; 1];
        if held.as_ref().is_some_and(|c| !matches!(c.try_read(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)) {
            held = None;
        }
        None
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_its_headers_a_byte_at_a_time_is_cut_off_while_others_are_served() {
    let s = Server::start_with(limits(&[("--header-read-timeout", "2s")])).await;
    let mut slow = TcpStream::connect(addr(&s)).await.unwrap();
    let started = Instant::now();
    let head = format!(
        "GET /v1/customers HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(100)
    );
    let (progress, watching) = watch::channel(0);
    let sender = tokio::spawn(async move {
        let sent = dribble(
            &mut slow,
            head.as_bytes(),
            Duration::from_millis(100),
            progress,
        )
        .await;
        let got = read_until_closed(&mut slow, started, Duration::from_secs(15)).await;
        (sent, got)
    });
    let (served, slowest) = others_are_served(&s, watching).await;
    let (sent, got) = sender.await.unwrap();
    assert!(got.closed, "the slow client was never cut off");
    assert!(
        got.after < Duration::from_secs(8),
        "cut off only after {:?}",
        got.after
    );
    assert!(
        sent < 140,
        "the server read the whole slow head ({sent} bytes)"
    );
    // Cut off without an answer to a request it never finished sending.
    assert!(
        got.status().is_none_or(|s| s == 408),
        "{:?}",
        String::from_utf8_lossy(&got.bytes)
    );
    figures::record(&format!(
        "slow headers: a client sending 10 bytes/s was cut off after {:.1}s having sent {sent} bytes; \
         {served} normal requests meanwhile, slowest {:.0}ms",
        got.after.as_secs_f64(),
        slowest.as_secs_f64() * 1e3
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_sending_its_body_a_byte_at_a_time_gets_408_while_others_are_served() {
    let s = Server::start_with(limits(&[("--body-read-timeout", "2s")])).await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let body = br#"{"qualification": "StateOwnedEntity", "website": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
    let head = format!(
        "POST /v1/customers/{c}/qualifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nMS-RequestId: {}\r\n\r\n",
        p.app_user,
        body.len(),
        new_id()
    );
    let mut slow = TcpStream::connect(addr(&s)).await.unwrap();
    slow.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (progress, watching) = watch::channel(0);
    let sender = tokio::spawn(async move {
        let (mut reader, mut writer) = slow.into_split();
        let reading = tokio::spawn(async move {
            let mut bytes = vec![];
            let mut buf = [0u8; 4096];
            while let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_secs(15), reader.read(&mut buf)).await
            {
                if n == 0 {
                    break;
                }
                bytes.extend_from_slice(&buf[..n]);
            }
            Got {
                bytes,
                closed: true,
                after: started.elapsed(),
            }
        });
        let mut sent = 0;
        for b in body {
            if writer.write_all(&[*b]).await.is_err() || reading.is_finished() {
                break;
            }
            sent += 1;
            progress.send_replace(sent);
            // 10 bytes/s, in real time (the body read timeout is the server's wall clock).
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        drop(progress);
        (sent, reading.await.unwrap())
    });
    let (served, slowest) = others_are_served(&s, watching).await;
    let (sent, got) = sender.await.unwrap();
    assert_eq!(
        got.status(),
        Some(408),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    assert_eq!(
        got.body()["code"],
        900408,
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    assert!(got.header("ms-requestid").is_some());
    assert!(sent < body.len(), "the whole body went through");
    // Nothing was created from the half body.
    assert_eq!(s.qualifications(&p, &c).await, serde_json::json!([]));
    figures::record(&format!(
        "slow body: a client sending 10 bytes/s got 408 after {:.1}s having sent {sent} of {} bytes; \
         {served} normal requests meanwhile, slowest {:.0}ms",
        got.after.as_secs_f64(),
        body.len(),
        slowest.as_secs_f64() * 1e3
    ));
}

/// Opens an event stream on a connection of its own and returns it once the stream's 200 has
/// arrived: from then on the connection is in a request.
async fn open_stream(s: &Server, admin: &str) -> TcpStream {
    let mut c = ask_stream(s, admin).await;
    let got = read_head(&mut c, Instant::now(), Duration::from_secs(10)).await;
    assert_eq!(
        got.status(),
        Some(200),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    c
}

/// Whether the server has closed `c` (a read sees the end) rather than kept it open.
fn closed_by_server(c: &TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match c.try_read(&mut buf) {
            Ok(0) => return true,
            // What the stream sent (its `: live` comment): read on.
            Ok(_) => continue,
            Err(e) => return e.kind() != std::io::ErrorKind::WouldBlock,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_limit_the_oldest_connection_not_in_a_request_makes_room() {
    let s = Server::start_with(limits(&[
        ("--header-read-timeout", "5s"),
        ("--max-connections", "3"),
    ]))
    .await;
    let admin = s.admin_token();
    // One connection in a request (an event stream), one silent, one idle after a request.
    let stream = open_stream(&s, &admin).await;
    let mut silent = TcpStream::connect(addr(&s)).await.unwrap();
    let mut idle = send(&s, HEALTHZ).await;
    let got = read_head(&mut idle, Instant::now(), Duration::from_secs(10)).await;
    assert_eq!(got.status(), Some(200));

    // A fourth is served at once (not after the 5 s header timeout of the silent one): the
    // oldest connection not in a request, the silent one, is closed for it. It stays open.
    let asked = Instant::now();
    let mut fourth = send(&s, HEALTHZ).await;
    let got = read_head(&mut fourth, asked, Duration::from_secs(10)).await;
    assert_eq!(got.status(), Some(200));
    assert!(
        got.after < Duration::from_secs(4),
        "the fourth waited {:?}: it waited for the header timeout",
        got.after
    );
    let gone = read_until_closed(&mut silent, asked, Duration::from_secs(4)).await;
    assert!(
        gone.closed && gone.bytes.is_empty(),
        "the silent connection was kept"
    );
    // A fifth closes the next oldest not in a request: the idle one (older than the fourth);
    // never the stream.
    let mut fifth = send(&s, HEALTHZ_CLOSE).await;
    let got = read_until_closed(&mut fifth, Instant::now(), Duration::from_secs(10)).await;
    assert_eq!(got.status(), Some(200));
    let gone = read_until_closed(&mut idle, asked, Duration::from_secs(4)).await;
    assert!(gone.closed, "the idle connection was kept");
    assert!(
        !closed_by_server(&stream),
        "the event stream was closed for another"
    );
    figures::record(&format!(
        "connections: with 3 allowed (one an event stream), a 4th and a 5th closed the silent and the idle one and were served in {:.2}s",
        got.after.as_secs_f64()
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_connection_is_in_a_request_a_new_one_waits_its_turn() {
    let s = Server::start_with(limits(&[("--max-connections", "2")])).await;
    let admin = s.admin_token();
    let first = open_stream(&s, &admin).await;
    let _second = open_stream(&s, &admin).await;
    let mut third = send(&s, HEALTHZ_CLOSE).await;
    let asked = Instant::now();
    let early = read_until_closed(&mut third, asked, Duration::from_millis(500)).await;
    assert!(
        early.bytes.is_empty() && !early.closed,
        "served while both connections were in a request"
    );
    // One stream ends: the third is served.
    drop(first);
    let got = read_until_closed(&mut third, asked, Duration::from_secs(30)).await;
    assert_eq!(
        got.status(),
        Some(200),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_streams_past_their_bound_get_503_and_a_closed_connection() {
    let s = Server::start_with(limits(&[("--max-streams", "2")])).await;
    let admin = s.admin_token();
    let first = open_stream(&s, &admin).await;
    let _second = open_stream(&s, &admin).await;
    let mut third = ask_stream(&s, &admin).await;
    let got = read_until_closed(&mut third, Instant::now(), Duration::from_secs(10)).await;
    assert_eq!(
        got.status(),
        Some(503),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    assert_eq!(got.header("retry-after").as_deref(), Some("1"));
    assert_eq!(got.body()["code"], 900503);
    assert!(got.closed, "the refused stream's connection was kept open");
    // A stream that ends gives its place back.
    drop(first);
    poll_until(
        "a place for a stream again",
        Duration::from_secs(30),
        async || {
            let mut c = ask_stream(&s, &admin).await;
            let got = read_head(&mut c, Instant::now(), Duration::from_secs(10)).await;
            (got.status() == Some(200)).then_some(())
        },
    )
    .await;
}

/// The acceptance of issue 23 at the default limits: 1,100 held sockets (silent, stopped in the
/// middle of their head, idle after a request) and then 2,000 event streams asked for leave
/// `/healthz` answering within a second on new connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_sockets_and_two_thousand_streams_leave_healthz_answering() {
    let s = Server::start().await;
    let admin = s.admin_token();
    let healthz_on_a_new_connection = async || {
        let asked = Instant::now();
        let mut c = send(&s, HEALTHZ_CLOSE).await;
        let got = read_until_closed(&mut c, asked, Duration::from_secs(30)).await;
        assert_eq!(
            got.status(),
            Some(200),
            "{}",
            String::from_utf8_lossy(&got.bytes)
        );
        got.after
    };
    let slowest_healthz = async || {
        let mut slowest = Duration::ZERO;
        for _ in 0..20 {
            slowest = slowest.max(healthz_on_a_new_connection().await);
        }
        slowest
    };
    let mut held = Vec::new();
    for i in 0..1_100 {
        let c = match i % 3 {
            0 => TcpStream::connect(addr(&s)).await.unwrap(),
            1 => send(&s, b"GET /healthz HTTP/1.1\r\nHo").await,
            _ => {
                let mut c = send(&s, HEALTHZ).await;
                // Its answer, or nothing: closed for a newer connection before it was served.
                let got = read_head(&mut c, Instant::now(), Duration::from_secs(10)).await;
                assert!(got.closed || got.status() == Some(200));
                c
            }
        };
        held.push(c);
    }
    let slowest = slowest_healthz().await;
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz took {slowest:?} next to 1,100 held sockets"
    );
    drop(held);

    let mut streams = Vec::new();
    let (mut open, mut refused) = (0, 0);
    for _ in 0..2_000 {
        let mut c = ask_stream(&s, &admin).await;
        let got = read_head(&mut c, Instant::now(), Duration::from_secs(10)).await;
        match got.status() {
            Some(200) => open += 1,
            Some(503) => refused += 1,
            _ => panic!("{:?}", String::from_utf8_lossy(&got.bytes)),
        }
        streams.push(c);
    }
    assert_eq!((open, refused), (256, 2_000 - 256));
    let slowest = slowest_healthz().await;
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz took {slowest:?} next to 256 streams and 1,744 refused"
    );
    figures::record(&format!(
        "connections: 1,100 held sockets, then 2,000 event streams asked for (256 served, 1,744 refused): /healthz answered in at most {:.0} ms",
        slowest.as_secs_f64() * 1000.0
    ));
}

/// `--max-header-bytes` is exact (issue 23): a head of exactly the limit is served, one byte more
/// gets 431 and a closed connection, whether the head arrives in one write, in 1,000-byte pieces
/// or a few bytes first and then the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_head_limit_is_exact_however_the_bytes_arrive() {
    // The default limit, 64 KiB: hyper's read buffer grows by whole reads, so on its own it let
    // some heads of 70-100 KB through and refused others, by how they arrived.
    const LIMIT: usize = 64 * 1024;
    let s = Server::start().await;
    let head_of = |size: usize| {
        let fixed =
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: \r\n\r\n".len();
        let head = format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: {}\r\n\r\n",
            "p".repeat(size - fixed)
        );
        assert_eq!(head.len(), size);
        head.into_bytes()
    };
    for (size, want) in [
        (LIMIT, 200),
        (LIMIT + 1, 431),
        (70_000, 431),
        (80_000, 431),
        (100_000, 431),
    ] {
        let head = head_of(size);
        let splits: [&[usize]; 3] = [&[], &[1_000], &[10]];
        for split in splits {
            let mut c = TcpStream::connect(addr(&s)).await.unwrap();
            match split {
                [] => c.write_all(&head).await.unwrap(),
                [1_000] => {
                    for piece in head.chunks(1_000) {
                        c.write_all(piece).await.unwrap();
                        c.flush().await.unwrap();
                    }
                }
                _ => {
                    c.write_all(&head[..10]).await.unwrap();
                    c.flush().await.unwrap();
                    tokio::task::yield_now().await;
                    let _ = c.write_all(&head[10..]).await;
                }
            }
            let got = read_until_closed(&mut c, Instant::now(), Duration::from_secs(10)).await;
            assert_eq!(
                got.status(),
                Some(want),
                "a head of {size} bytes sent as {split:?}"
            );
            assert!(got.closed);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_in_flight_limit_get_503_with_retry_after_and_nothing_happens() {
    let s = Server::start_with(limits(&[
        ("--max-in-flight", "1"),
        ("--body-read-timeout", "10s"),
    ]))
    .await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    // One request holds the only slot while its body trickles in.
    let body = br#"{"qualification": "StateOwnedEntity"}"#;
    let head = format!(
        "POST /v1/customers/{c}/qualifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        p.app_user,
        body.len()
    );
    let mut held = hold_in_flight(&s, &head, &body[..5]).await;

    let rid = new_id();
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .request_id(&rid)
        .json(serde_json::json!({"qualification": "Education", "educationSegment": "K12"}))
        .send()
        .await;
    r.assert_error(503, 900503);
    assert_eq!(r.header("ms-requestid"), Some(rid.as_str()));
    assert!(
        r.header("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|v| v >= 1)
    );
    // The slot holder finishes and is answered; then the slot is free again.
    held.write_all(&body[5..]).await.unwrap();
    let got = read_until_closed(&mut held, Instant::now(), Duration::from_secs(10)).await;
    assert_eq!(
        got.status(),
        Some(201),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    let list = s.qualifications(&p, &c).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        list[0]["qualification"], "StateOwnedEntity",
        "the refused create had no effect"
    );
    // The refused request was not executed, so its retry with the same MS-RequestId runs now.
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .request_id(&rid)
        .json(serde_json::json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await;
    r.assert_error(409, 900306);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_are_refused_and_slow_requests_time_out() {
    let s = Server::start_with(limits(&[
        ("--max-header-bytes", "8192"),
        ("--request-timeout", "1s"),
        ("--body-read-timeout", "10s"),
    ]))
    .await;
    let p = s.partner();
    // A head over the limit: refused by the HTTP layer (431) and the connection closed.
    let mut big = TcpStream::connect(addr(&s)).await.unwrap();
    let head = format!(
        "GET /v1/customers HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nX-Big: {}\r\n\r\n",
        p.app_user,
        "b".repeat(16 * 1024)
    );
    let _ = big.write_all(head.as_bytes()).await;
    let got = read_until_closed(&mut big, Instant::now(), Duration::from_secs(10)).await;
    assert!(got.closed);
    assert!(
        got.status().is_none_or(|s| s == 431),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    // Many headers within the limit are fine.
    let mut req = s.get("/v1/customers").token(&p.app_user);
    for i in 0..40 {
        req = req.header(&format!("X-Extra-{i}"), &"v".repeat(100));
    }
    assert_eq!(req.send().await.status, 200);

    // A request whose body never finishes is answered 503 when the request timeout passes.
    let c = s.create_customer(&p).await;
    let mut stuck = TcpStream::connect(addr(&s)).await.unwrap();
    let head = format!(
        "POST /v1/customers/{c}/qualifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{",
        p.app_user
    );
    stuck.write_all(head.as_bytes()).await.unwrap();
    let got = read_until_closed(&mut stuck, Instant::now(), Duration::from_secs(10)).await;
    assert_eq!(
        got.status(),
        Some(503),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    assert_eq!(got.body()["code"], 900503);
    assert!(got.header("retry-after").is_some());
    assert!(got.after < Duration::from_secs(5), "{:?}", got.after);
    assert_eq!(s.qualifications(&p, &c).await, serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_request_in_flight_finish_and_refuses_new_connections() {
    // One request in flight at most: a refused probe shows when the test's own one is.
    let mut s = Server::start_with(limits(&[
        ("--body-read-timeout", "10s"),
        ("--max-in-flight", "1"),
    ]))
    .await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let body = br#"{"qualification": "StateOwnedEntity"}"#;
    let head = format!(
        "POST /v1/customers/{c}/qualifications HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        p.app_user,
        body.len()
    );
    let mut in_flight = hold_in_flight(&s, &head, &body[..5]).await;
    s.signal_term();
    // No new connections once shutting down (the listener closes when the signal is handled).
    poll_until(
        "new connections refused after SIGTERM",
        Duration::from_secs(5),
        async || TcpStream::connect(addr(&s)).await.is_err().then_some(()),
    )
    .await;
    // The request in flight completes and is answered.
    in_flight.write_all(&body[5..]).await.unwrap();
    let got = read_until_closed(&mut in_flight, Instant::now(), Duration::from_secs(10)).await;
    assert_eq!(
        got.status(),
        Some(201),
        "{}",
        String::from_utf8_lossy(&got.bytes)
    );
    let status = s.terminate();
    assert!(status.success(), "{status:?}\n{}", s.logs());
    s.restart().await;
    assert_eq!(
        s.qualifications(&p, &c).await[0]["qualification"],
        "StateOwnedEntity"
    );
}

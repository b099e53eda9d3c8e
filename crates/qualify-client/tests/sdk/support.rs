//! The harness: a real qualify server in-process on `127.0.0.1:0` with a fresh SQLite file per
//! test, stub servers that answer what a test scripts, and a TCP proxy that breaks connections.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};
use qualify_client::{Client, ClientBuilder};
use qualify_core::PartnerId;
use qualify_core::policy::{VettingMode, VettingPolicy};
use qualify_server::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use qualify_server::{AppState, DevToken, Secret, ServerConfig, mint_dev_token};
use qualify_store::SqliteStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// A qualify server running inside the test process.
pub struct TestServer {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Copy, Default)]
pub struct Settings {
    pub auto_vetting: bool,
    /// 0: no throttling.
    pub rate_limit_per_minute: u32,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Settings::default()).await
    }

    pub async fn start_with(settings: Settings) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("qualify.db").display());
        let store = SqliteStore::open(&url).await.expect("open store");
        let config = ServerConfig {
            policy: VettingPolicy {
                mode: if settings.auto_vetting {
                    VettingMode::Auto
                } else {
                    VettingMode::Manual
                },
                ..VettingPolicy::default()
            },
            rate_limit_per_minute: settings.rate_limit_per_minute,
            ..ServerConfig::default()
        };
        let state = AppState::new(Arc::new(store), config)
            .await
            .expect("app state");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(qualify_server::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Self {
            base,
            stop: Some(stop),
            _dir: dir,
        }
    }

    /// A client of a new partner (App+User token) against this server.
    pub fn partner(&self) -> TestPartner {
        let id = PartnerId::new_random();
        let app_user = token(id, false, false);
        TestPartner {
            id: id.to_string(),
            client: client(&self.base, &app_user),
            token: app_user,
            app_only: client(&self.base, &token(id, true, false)),
        }
    }

    /// A client with the operator role.
    pub fn admin(&self) -> Client {
        client(&self.base, &token(PartnerId::new_random(), true, true))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub struct TestPartner {
    pub id: String,
    /// The App+User token.
    pub token: String,
    pub client: Client,
    pub app_only: Client,
}

pub fn token(tenant: PartnerId, app_only: bool, admin: bool) -> String {
    mint_dev_token(
        &DevToken {
            tenant,
            app_only,
            admin,
            upn: Some("dev@partner.example".into()),
            ttl: Duration::from_secs(3600),
            audience: DEFAULT_AUDIENCE.into(),
        },
        &Secret::new(DEFAULT_DEV_SECRET),
    )
}

pub fn partner_token() -> String {
    token(PartnerId::new_random(), false, false)
}

/// Fast retries, so tests that exercise them stay short.
pub fn fast(base: &str, token: &str) -> ClientBuilder {
    Client::builder()
        .base_url(base)
        .token(token)
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
        .timeout(Duration::from_secs(10))
}

pub fn client(base: &str, token: &str) -> Client {
    fast(base, token).build().expect("client")
}

/// One request as a stub server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer a stub server gives.
#[derive(Debug, Clone)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub delay: Duration,
}

impl Canned {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![],
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// The Partner Center error body.
    pub fn error(status: u16, code: u64) -> Self {
        Self::json(
            status,
            serde_json::json!({"code": code, "description": format!("stub error {code}"), "data": [], "source": "PartnerFD"}),
        )
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// A stub HTTP server (axum) that answers from a script, in order; the last answer repeats.
pub struct Stub {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Stub {
    pub async fn start(script: Vec<Canned>) -> Self {
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (script2, seen2) = (script.clone(), seen.clone());
        let app = Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: String| {
                let (script, seen) = (script2.clone(), seen2.clone());
                async move {
                    seen.lock().unwrap().push(Seen {
                        method,
                        uri,
                        headers,
                        body,
                    });
                    let canned = {
                        let mut s = script.lock().unwrap();
                        if s.len() > 1 {
                            s.pop_front().unwrap()
                        } else {
                            s.front().cloned().expect("a scripted answer")
                        }
                    };
                    tokio::time::sleep(canned.delay).await;
                    let mut r = Response::builder()
                        .status(StatusCode::from_u16(canned.status).unwrap())
                        .header("content-type", "application/json; charset=utf-8");
                    for (k, v) in &canned.headers {
                        r = r.header(*k, v);
                    }
                    r.body(Body::from(canned.body)).unwrap()
                }
            },
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// What the proxy does with one of the first connections it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Reads the request, then closes the connection without forwarding it.
    DropRequest,
    /// Forwards the request, waits for the upstream's answer, and closes the client's
    /// connection instead of passing the answer on: the request took effect, the client
    /// cannot know.
    DropResponse,
}

/// A TCP proxy to `upstream` whose first connections suffer `faults`, in order; later
/// connections are passed through untouched.
pub struct FaultyProxy {
    pub base: String,
    connections: Arc<AtomicUsize>,
}

impl FaultyProxy {
    pub async fn start(upstream: &str, faults: Vec<Fault>) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .parse()
            .expect("upstream address");
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let faults = Arc::new(Mutex::new(VecDeque::from(faults)));
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let fault = faults.lock().unwrap().pop_front();
                tokio::spawn(async move {
                    match fault {
                        None => {
                            if let Ok(mut server) = TcpStream::connect(upstream).await {
                                let _ =
                                    tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        }
                        Some(Fault::DropRequest) => {
                            let mut buf = [0u8; 4096];
                            let _ = client.read(&mut buf).await;
                            drop(client);
                        }
                        Some(Fault::DropResponse) => {
                            let Ok(mut server) = TcpStream::connect(upstream).await else {
                                return;
                            };
                            let mut up = vec![0u8; 64 * 1024];
                            let mut down = vec![0u8; 64 * 1024];
                            // The request (headers and a small JSON body) arrives in one or
                            // two reads; pass on what comes until the upstream answers.
                            loop {
                                tokio::select! {
                                    n = client.read(&mut up) => {
                                        match n {
                                            Ok(0) | Err(_) => return,
                                            Ok(n) => { let _ = server.write_all(&up[..n]).await; }
                                        }
                                    }
                                    n = server.read(&mut down) => {
                                        // The upstream answered: the request was processed.
                                        let _ = n;
                                        drop(client);
                                        return;
                                    }
                                }
                            }
                        }
                    }
                });
            }
        });
        Self { base, connections }
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// An address nothing listens on.
pub async fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

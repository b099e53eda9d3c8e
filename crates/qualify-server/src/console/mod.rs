//! The reviewer console (console.md): a web page served at `/console`, a client of the operator
//! API with no powers of its own. Its assets (plain HTML, CSS and JavaScript in
//! `crates/qualify-server/console/`) are compiled into the binary; the page loads nothing from
//! another origin.
//!
//! Every console response carries a strict Content-Security-Policy (scripts and styles from this
//! origin only, no inline script, `connect-src 'self'`, no framing) and `X-Frame-Options: DENY`.
//! The page keeps the admin token in `sessionStorage` and sends it as a bearer token; it never
//! puts it in a URL. In dev auth mode, `POST /console/dev-token` mints an operator token for a
//! browser on this machine (anyone on it can mint dev tokens anyway); it does not exist in oidc
//! mode.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRef, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use qualify_core::{ErrorKind, PartnerId};
use serde_json::json;

use crate::http::auth::{AuthConfig, DevToken, Secret, mint_dev_token};
use crate::http::body::ok;
use crate::http::error::ApiError;

const INDEX: &str = include_str!("../../console/index.html");
/// The scripts, in the order index.html loads them: the shared part, one per view, the start.
const SCRIPTS: [(&str, &str); 5] = [
    ("console.js", include_str!("../../console/console.js")),
    ("queue.js", include_str!("../../console/queue.js")),
    ("request.js", include_str!("../../console/request.js")),
    ("partner.js", include_str!("../../console/partner.js")),
    ("start.js", include_str!("../../console/start.js")),
];
const STYLE: &str = include_str!("../../console/console.css");

/// The policy of every console response: nothing but this origin, no inline code, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// How long a console dev token lasts.
const DEV_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(8 * 3600);

/// What the console needs of the server: in dev auth mode, how to mint an operator token.
#[derive(Clone)]
pub struct Console {
    /// The dev secret and audience; `None` in oidc mode.
    dev: Option<(Secret, String)>,
}

impl Console {
    pub fn new(auth: &AuthConfig) -> Self {
        Self {
            dev: match auth {
                AuthConfig::Dev { secret, audience } => Some((secret.clone(), audience.clone())),
                AuthConfig::Oidc { .. } => None,
            },
        }
    }
}

/// The console's routes (outside the OpenAPI document: they serve a page, not the API).
pub fn router<S>(console: &Console) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Console: FromRef<S>,
{
    let mut router = Router::new()
        .route("/console", get(page))
        .route("/console/", get(page))
        .route("/console/config.json", get(config))
        .route("/console/assets/{file}", get(asset))
        .route("/console/{*view}", get(page));
    if console.dev.is_some() {
        router = router.route("/console/dev-token", post(dev_token));
    }
    router.layer(middleware::from_fn(security_headers))
}

/// The headers of every console response (errors included).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Every view is the same page: the script reads the view from the URL (bookmarkable).
async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX).into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    let script = SCRIPTS.iter().find(|(name, _)| *name == file);
    let (content_type, body) = match (file.as_str(), script) {
        (_, Some((_, body))) => ("text/javascript; charset=utf-8", *body),
        ("console.css", None) => ("text/css; charset=utf-8", STYLE),
        _ => {
            return ApiError::new(ErrorKind::NotFound, "The console has no such asset.")
                .into_response();
        }
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// Whether this request may mint a dev token: dev auth, a peer on this machine, and a `Host`
/// that names this machine (a page on another site whose name resolves to 127.0.0.1 — DNS
/// rebinding — gets nothing).
fn may_mint(console: &Console, peer: Option<SocketAddr>, headers: &HeaderMap) -> bool {
    if console.dev.is_none() {
        return false;
    }
    // The in-process test harness has no socket; the transport always records the peer.
    if peer.is_some_and(|p| !p.ip().is_loopback()) {
        return false;
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    loopback_host(host)
}

fn loopback_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn peer(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// `GET /console/config.json`: what the sign-in page offers.
async fn config(State(console): State<Console>, req: Request) -> Response {
    let dev = may_mint(&console, peer(&req), req.headers());
    ok(json!({ "devTokens": dev })).into_response()
}

/// `POST /console/dev-token` (dev auth only): an operator token for the browser that asks.
async fn dev_token(State(console): State<Console>, req: Request) -> Response {
    let headers = req.headers();
    if !may_mint(&console, peer(&req), headers) {
        return ApiError::new(
            ErrorKind::Forbidden,
            "Development tokens are given only to a browser on this machine (loopback).",
        )
        .into_response();
    }
    // A browser form cannot send this header across origins without a preflight, which this
    // server never answers: another site cannot make a visitor's browser mint one.
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return ApiError::new(
            ErrorKind::UnsupportedMediaType,
            "POST /console/dev-token takes Content-Type: application/json.",
        )
        .into_response();
    }
    let Some((secret, audience)) = &console.dev else {
        return ApiError::of(ErrorKind::NotFound).into_response();
    };
    let token = mint_dev_token(
        &DevToken {
            tenant: PartnerId(uuid::Uuid::nil()),
            app_only: false,
            admin: true,
            upn: Some("console@qualify.local".into()),
            ttl: DEV_TOKEN_TTL,
            audience: audience.clone(),
        },
        secret,
    );
    tracing::info!("console dev token minted");
    (StatusCode::OK, ok(json!({ "token": token }))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_of_this_machine_are_loopback_hosts() {
        for host in [
            "localhost",
            "localhost:8080",
            "127.0.0.1:1",
            "127.0.0.2",
            "[::1]:8080",
            "LOCALHOST",
        ] {
            assert!(loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:8080",
            "10.0.0.1:80",
            "[2001:db8::1]:80",
            "localhost.evil.example",
        ] {
            assert!(!loopback_host(host), "{host}");
        }
    }

    /// The denial reasons the console suggests are the ones docs/vetting.md lists.
    #[test]
    fn the_suggested_reasons_are_the_documented_ones() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let script =
            std::fs::read_to_string(format!("{root}/crates/qualify-server/console/console.js"))
                .unwrap();
        let list = script
            .split_once("const REASONS = [")
            .and_then(|(_, rest)| rest.split_once("];"))
            .expect("REASONS in console.js")
            .0;
        let suggested: Vec<&str> = list
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\","))
            .collect();
        let docs = std::fs::read_to_string(format!("{root}/docs/vetting.md")).unwrap();
        // The paragraph that lists them, its lines joined.
        let documented = docs
            .split_once("the console suggests the reasons")
            .and_then(|(_, rest)| rest.split_once(".\n"))
            .expect("the reasons in docs/vetting.md")
            .0
            .replace('\n', " ");
        assert_eq!(suggested.len(), 7, "{suggested:?}");
        for reason in &suggested {
            assert!(
                documented.contains(&format!("`{reason}`")),
                "{reason} is suggested but not in docs/vetting.md"
            );
        }
        assert_eq!(documented.matches('`').count(), 2 * suggested.len());
    }
}

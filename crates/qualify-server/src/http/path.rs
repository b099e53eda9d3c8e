//! Empty path segments are absent (api.md 1): `/v1//customers` and `/v1/customers/` are
//! `/v1/customers`. Microsoft's Java SDK builds the first when it follows a `links.next.uri`
//! (which starts with `/`) by appending it to `.../v1/`.
//!
//! The request's URI is rewritten before the router sees it, so routing, the extractors (the
//! operator API's `/admin/` prefix), the request log and the idempotency fingerprint all see
//! the one normalised path: a retry of `POST /v1//customers` as `POST /v1/customers` with the
//! same `MS-RequestId` is the same request. What the client sent stays in the request's
//! extensions ([`SentPath`]) for the journal.
//!
//! Only slashes are removed. The path is not percent-decoded (`%2F` stays a character of its
//! segment, not a separator) and dot segments are not resolved (`..` stays a literal segment,
//! which no route matches, rather than addressing a different resource than the one sent).

use axum::Router;
use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;

/// The one service every request goes through (`serve`, and any in-process test): the
/// router behind the path normalisation, which must run before routing.
pub type App = tower::util::MapRequest<Router, fn(Request) -> Request>;

/// `router` behind [`normalize`].
pub fn normalized(router: Router) -> App {
    tower::ServiceExt::map_request(router, normalize as fn(Request) -> Request)
}

/// In the request's extensions when its path was normalised: the path exactly as the client
/// sent it, for the journal (a client's `//` is worth seeing).
#[derive(Debug, Clone)]
pub struct SentPath(pub Box<str>);

/// `req` with the empty segments of its path removed; the query is kept as sent.
pub fn normalize(mut req: Request) -> Request {
    if let Some(uri) = without_empty_segments(req.uri()) {
        let sent = SentPath(req.uri().path().into());
        req.extensions_mut().insert(sent);
        *req.uri_mut() = uri;
    }
    req
}

/// The URI without empty path segments, or `None` when it has none (the usual case: no
/// allocation).
fn without_empty_segments(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    // `*` (OPTIONS *) and anything not starting with `/` are left to the router.
    if !path.starts_with('/') || !(path.contains("//") || (path.len() > 1 && path.ends_with('/'))) {
        return None;
    }
    let mut clean = String::with_capacity(
        uri.path_and_query()
            .map_or(path.len(), |p| p.as_str().len()),
    );
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        clean.push('/');
        clean.push_str(segment);
    }
    if clean.is_empty() {
        clean.push('/');
    }
    if let Some(query) = uri.query() {
        clean.push('?');
        clean.push_str(query);
    }
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(clean).ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let uri: Uri = s.parse().unwrap();
        without_empty_segments(&uri).map_or_else(|| s.to_owned(), |u| u.to_string())
    }

    #[test]
    fn empty_segments_are_removed_and_the_query_kept() {
        assert_eq!(
            norm("/v1//customers?size=1&seekOperation=Next"),
            "/v1/customers?size=1&seekOperation=Next"
        );
        assert_eq!(norm("//v1///customers//"), "/v1/customers");
        assert_eq!(norm("/v1/customers/"), "/v1/customers");
        assert_eq!(norm("/v1/customers/?size=2"), "/v1/customers?size=2");
        assert_eq!(norm("//"), "/");
        assert_eq!(norm("/"), "/");
        assert_eq!(norm("/healthz"), "/healthz");
        // The query is not a path: its slashes stay.
        assert_eq!(norm("/v1//x?next=//a//b/"), "/v1/x?next=//a//b/");
        // Absolute-form request targets keep their scheme and authority.
        assert_eq!(
            norm("http://h:1/v1//customers?a=b"),
            "http://h:1/v1/customers?a=b"
        );
    }

    #[test]
    fn nothing_else_is_rewritten() {
        let uri: Uri = "/v1/customers?x=1".parse().unwrap();
        assert!(without_empty_segments(&uri).is_none());
        // Encoded slashes and dot segments are characters of a segment, not structure.
        assert_eq!(norm("/v1/customers/%2F%2F/x"), "/v1/customers/%2F%2F/x");
        assert_eq!(
            norm("/v1//customers/../admin/v1"),
            "/v1/customers/../admin/v1"
        );
        assert_eq!(norm("/v1/./customers//"), "/v1/./customers");
        assert_eq!(norm("*"), "*");
    }
}

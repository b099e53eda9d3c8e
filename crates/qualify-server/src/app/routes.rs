//! The router: every operation and the console, behind the middleware every response goes
//! through. Outermost first: the request context (ids, the request span, the one log line of
//! the request, JSON errors only), `catch_panic`, the request timeout, the auth layer, the
//! traffic layer (`/v1` only: faults and the journal), the body limit.

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use qualify_core::ErrorKind;

use super::openapi::operations_and_document;
use super::state::AppState;
use crate::console::{self, Console};
use crate::http::auth::{Authenticator, authenticate};
use crate::http::body::BODY_LIMIT;
use crate::http::context::request_context;
use crate::http::error::ApiError;
pub use crate::http::path::App;
use crate::http::path::normalized;
use crate::traffic::layer::layer as traffic_layer;
use crate::traffic::service::Traffic;

/// The router behind the path normalisation ([`crate::http::path`]): what `serve` runs. Use
/// this rather than [`router`].
pub fn app(state: AppState) -> App {
    normalized(router(state))
}

/// The routes and their middleware, without the path normalisation in front ([`app`] adds it).
pub fn router(state: AppState) -> Router {
    use axum::extract::FromRef;
    let timeout = state.config().request_timeout;
    let (routes, _) = operations_and_document().split_for_parts();
    routes
        .merge(console::router(&Console::from_ref(&state)))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Inside the auth layer: faults and the journal know the caller.
        .layer(middleware::from_fn_with_state(
            Traffic::from_ref(&state),
            traffic_layer,
        ))
        .layer(middleware::from_fn_with_state(
            std::sync::Arc::<Authenticator>::from_ref(&state),
            authenticate,
        ))
        .layer(middleware::from_fn(move |req, next| {
            bounded(timeout, req, next)
        }))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            ApiError::of(ErrorKind::Internal)
                .caused_by(Failed("a handler panicked"))
                .into_response()
        }))
        .layer(middleware::from_fn(request_context))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        "The requested route or resource was not found.",
    )
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        format!("The method {method} is not allowed on this resource."),
    )
}

/// Every wait is bounded: a request that takes longer than the timeout is answered with 503.
async fn bounded(timeout: Duration, req: axum::extract::Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::unavailable(
            "The request took too long; retry it with the same MS-RequestId.",
            1,
        )
        .caused_by(Failed(format!(
            "the request timed out after {}",
            humantime::format_duration(timeout)
        )))
        .into_response(),
    }
}

/// Why the router answered 500 or 503 itself.
#[derive(Debug)]
struct Failed<T>(T);

impl<T: std::fmt::Display> std::fmt::Display for Failed<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: std::fmt::Debug + std::fmt::Display> std::error::Error for Failed<T> {}

#[cfg(test)]
mod tests {
    use axum::http::header;

    use super::*;
    use crate::app::openapi::json;
    use crate::http::error::JSON_CONTENT_TYPE;

    /// The running router serves the document without a token, and keeps its JSON 404 and
    /// 405 for what the document does not list.
    #[tokio::test]
    async fn openapi_is_served_without_a_token() {
        use axum::body::{Body, to_bytes};
        use axum::http::{Method, Request, StatusCode};
        use tower::ServiceExt;

        let store = qualify_store::SqliteStore::open("sqlite::memory:")
            .await
            .unwrap();
        let state = AppState::new(std::sync::Arc::new(store), Default::default())
            .await
            .unwrap();
        let app = app(state);
        let call = |method: Method, uri: &str| {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap();
            app.clone().oneshot(request)
        };

        let r = call(Method::GET, "/openapi.json").await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], JSON_CONTENT_TYPE);
        let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
        assert_eq!(std::str::from_utf8(&body).unwrap(), json());

        for (method, uri, status, code) in [
            (Method::GET, "/nowhere", StatusCode::NOT_FOUND, 1000),
            (
                Method::DELETE,
                "/openapi.json",
                StatusCode::METHOD_NOT_ALLOWED,
                900406,
            ),
            (
                Method::GET,
                "/v1/customers",
                StatusCode::UNAUTHORIZED,
                800001,
            ),
        ] {
            let r = call(method.clone(), uri).await.unwrap();
            assert_eq!(r.status(), status, "{method} {uri}");
            let body = to_bytes(r.into_body(), usize::MAX).await.unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["code"], code, "{method} {uri}");
        }
    }
}

//! `qualify-bare`: a bare axum server whose `/healthz` does nothing but answer qualify's body,
//! the framework's ceiling on this machine, measured in the same `bench/run` as qualify.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

async fn healthz() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        r#"{"status":"ok"}"#,
    )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, Router::new().route("/healthz", get(healthz))).await
}

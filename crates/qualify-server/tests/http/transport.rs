//! The contract bodies of `tests/common/wire.rs` that are not run elsewhere in this suite, in
//! process (the black-box suite runs them all over a socket).

use crate::support::*;
use crate::wire;

#[tokio::test]
async fn education_request_is_in_review_then_decided_by_an_operator() {
    let app = TestApp::new().await;
    wire::education_request_is_in_review_then_decided_by_an_operator(&app).await;
}

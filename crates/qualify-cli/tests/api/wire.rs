//! The contract bodies of `crates/qualify-server/tests/common/wire.rs` against the real process:
//! the same bodies the in-process suite runs, here through the real transport (hyper, the
//! connection and in-flight limits, the body deadline).

use crate::helpers::*;
use crate::wire_contract as contract;

#[tokio::test]
async fn every_response_echoes_the_callers_ids_and_is_json_utf8() {
    let s = Server::start().await;
    contract::every_response_echoes_the_callers_ids_and_is_json_utf8(&s).await;
}

#[tokio::test]
async fn a_body_over_one_mib_is_413_json() {
    let s = Server::start().await;
    contract::a_body_over_one_mib_is_413_json(&s).await;
}

#[tokio::test]
async fn education_request_is_in_review_then_decided_by_an_operator() {
    let s = Server::start().await;
    contract::education_request_is_in_review_then_decided_by_an_operator(&s).await;
}

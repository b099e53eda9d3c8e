//! Customers and their profiles (api.md 4.4).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use qualify_core::customer::{BillingProfile, NewCustomer};
use qualify_core::{DomainError, ErrorKind};

use super::{WriteRequest, owned_customer, query_map, write_context};
use crate::AppState;
use crate::auth::Caller;
use crate::body::{Json, JsonBody, ok};
use crate::context::{IDEMPOTENT_REPLAYED, MS_CONTINUATION_TOKEN, RequestIds, if_match};
use crate::dto::input::{BillingProfileIn, CustomerIn};
use crate::dto::output::{
    Attributes, BillingProfileOut, CollectionOut, CompanyProfileOut, CustomerOut, Header, Link,
    Links,
};
use crate::error::{ApiError, ApiResult};

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 500;

/// Marks a replayed idempotent response.
pub fn replayed(mut r: Response, replayed: bool) -> Response {
    if replayed {
        r.headers_mut().insert(
            IDEMPOTENT_REPLAYED,
            axum::http::HeaderValue::from_static("true"),
        );
    }
    r
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ids: RequestIds,
    method: Method,
    uri: Uri,
    body: JsonBody<CustomerIn>,
) -> ApiResult<Response> {
    let new = NewCustomer::try_from(body.value)?;
    let ctx = write_context(
        &state,
        &caller,
        &ids,
        Some(WriteRequest {
            method: &method,
            uri: &uri,
            canonical_body: &body.canonical,
        }),
    );
    let created = state
        .store
        .create_customer(&ctx, caller.partner, new, &state.config.default_gdap_roles)
        .await?;
    Ok(replayed(
        Json(StatusCode::CREATED, CustomerOut::from(&created.value)).into_response(),
        created.replayed,
    ))
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let customer = owned_customer(&state, &caller, &id).await?;
    Ok(ok(CustomerOut::from(&customer)).into_response())
}

fn encode_token(seq: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("c1:{seq}"))
}

fn decode_token(token: &str) -> Option<i64> {
    let raw = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("c1:")?
        .parse()
        .ok()
        .filter(|n: &i64| *n >= 0)
}

/// `GET /v1/customers?size=N`, and the next page with `seekOperation=Next` and the
/// `MS-ContinuationToken` header from `links.next`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let query = query_map(&uri)?;
    let size = match query.get("size").map(|s| s.trim()) {
        None | Some("") | Some("0") => DEFAULT_PAGE_SIZE,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= MAX_PAGE_SIZE)
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "size must be an integer from 0 to {MAX_PAGE_SIZE}."
                ))
            })?,
    };
    let after = match query.get("seekoperation") {
        None => None,
        Some(op) if op.eq_ignore_ascii_case("next") => {
            let token = headers
                .get(MS_CONTINUATION_TOKEN)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "seekOperation=Next requires the MS-ContinuationToken header.",
                    )
                })?;
            Some(
                decode_token(token)
                    .ok_or_else(|| ApiError::invalid("The MS-ContinuationToken is not valid."))?,
            )
        }
        Some(op) => {
            return Err(DomainError::new(
                ErrorKind::InvalidInput,
                format!("seekOperation {op:?} is not supported; use Next."),
            )
            .into());
        }
    };
    let page = state
        .store
        .list_customers(caller.partner, after, size)
        .await?;
    let token = page.next.map(encode_token);
    let out = CollectionOut {
        total_count: page.items.len(),
        items: page.items.iter().map(CustomerOut::from).collect(),
        links: Links {
            self_: Link::get(format!("/customers?size={size}")),
            next: token.clone().map(|t| Link {
                uri: format!("/customers?size={size}&seekOperation=Next"),
                method: "GET",
                headers: vec![Header {
                    key: "MS-ContinuationToken",
                    value: t,
                }],
            }),
        },
        continuation_token: token,
        attributes: Attributes {
            etag: None,
            object_type: "Collection",
        },
    };
    Ok(ok(out).into_response())
}

pub async fn company_profile(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let customer = owned_customer(&state, &caller, &id).await?;
    Ok(ok(CompanyProfileOut::new(&customer)).into_response())
}

pub async fn billing_profile(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let customer = owned_customer(&state, &caller, &id).await?;
    Ok(ok(BillingProfileOut::new(&customer)).into_response())
}

/// `PUT .../profiles/billing` with `If-Match: <etag>` (412 on mismatch, 428 without).
#[allow(clippy::too_many_arguments)]
pub async fn update_billing_profile(
    State(state): State<AppState>,
    caller: Caller,
    ids: RequestIds,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: JsonBody<BillingProfileIn>,
) -> ApiResult<Response> {
    let customer = owned_customer(&state, &caller, &id).await?;
    let body_etag = body.value.attributes.as_ref().and_then(|a| a.etag.clone());
    let etag = if_match(&headers)
        .or(body_etag)
        .ok_or_else(|| ApiError::of(ErrorKind::PreconditionRequired))?;
    let profile = BillingProfile::try_from(body.value)?;
    let ctx = write_context(
        &state,
        &caller,
        &ids,
        Some(WriteRequest {
            method: &method,
            uri: &uri,
            canonical_body: &body.canonical,
        }),
    );
    let updated = state
        .store
        .update_billing_profile(&ctx, customer.id, &etag, profile)
        .await?;
    Ok(replayed(
        ok(BillingProfileOut::new(&updated.value)).into_response(),
        updated.replayed,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_tokens_round_trip_and_reject_garbage() {
        assert_eq!(decode_token(&encode_token(42)), Some(42));
        assert_eq!(decode_token("not-a-token"), None);
        assert_eq!(decode_token(&URL_SAFE_NO_PAD.encode("c1:-5")), None);
    }
}

//! Customers and their profiles (api.md 4.4).

pub mod address;
pub mod wire;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use qualify_core::customer::{BillingProfile, NewCustomer};
use qualify_core::{DomainError, ErrorKind};

use self::wire::{
    Attributes, BillingProfileIn, BillingProfileOut, CollectionOut, CompanyProfileOut, CustomerIn,
    CustomerOut, Header, Link, Links,
};
use super::service::{EtagFrom, PartnerApi};
use crate::http::auth::AnyPartner;
use crate::http::body::{Json, ok, replayed};
use crate::http::context::IfMatch;
use crate::http::error::{ApiError, ApiResult};
use crate::http::headers::MS_CONTINUATION_TOKEN;
use crate::http::params::{CustomerPath, WithBody};
use crate::http::query::query_map;
use crate::http::responses::{
    Conflict, Forbidden, NotFound, PreconditionFailed, PreconditionRequired,
};
use crate::http::write::Write;

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 500;

/// `POST /v1/customers`: a new customer of the calling partner.
#[utoipa::path(
    post,
    path = "/v1/customers",
    tag = "customers",
    operation_id = "createCustomer",
    summary = "Create a customer for the calling partner",
    request_body(
        content = CustomerIn,
        description = "The company profile (what vetting reads) and the billing profile.",
        example = json!({
            "companyProfile": {"domain": "contoso.onmicrosoft.com", "companyName": "Contoso"},
            "billingProfile": {
                "email": "it@contoso.com", "culture": "en-US", "language": "en",
                "defaultAddress": {"country": "US", "city": "Redmond", "addressLine1": "1 Microsoft Way"}
            }
        }),
    ),
    responses(
        (status = 201, description = "The new customer (`id` is its new tenant id).", body = CustomerOut,
            headers(("Idempotent-Replayed" = String, description = "`true` on a replay of the same MS-RequestId.")),
            links(
                ("GetCustomer" = (operation_id = "getCustomer", parameters(("customer_id" = "$response.body#/id")))),
                ("CreateQualification" = (operation_id = "createQualification", parameters(("customer_id" = "$response.body#/id")))),
                ("ListQualifications" = (operation_id = "listQualifications", parameters(("customer_id" = "$response.body#/id")))),
                ("GetBillingProfile" = (operation_id = "getBillingProfile", parameters(("customer_id" = "$response.body#/id")))),
                ("UpdateBillingProfile" = (operation_id = "updateBillingProfile", parameters(
                    ("customer_id" = "$response.body#/id"),
                    ("header.If-Match" = "$response.body#/billingProfile/attributes/etag"),
                ))),
            ),
        ),
        (status = 409, response = Conflict),
    ),
)]
pub async fn create(
    State(api): State<PartnerApi>,
    write: Write<AnyPartner, CustomerIn>,
) -> ApiResult<Response> {
    let new = NewCustomer::try_from(write.body)?;
    let created = api
        .create_customer(&write.ctx, write.caller.partner, new)
        .await?;
    Ok(replayed(
        Json(StatusCode::CREATED, CustomerOut::from(&created.value)).into_response(),
        created.replayed,
    ))
}

/// `GET /v1/customers/{id}`.
#[utoipa::path(
    get,
    path = "/v1/customers/{customer_id}",
    tag = "customers",
    operation_id = "getCustomer",
    summary = "Get a customer of the calling partner",
    params(CustomerPath),
    responses(
        (status = 200, description = "The customer.", body = CustomerOut),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub async fn get(
    State(api): State<PartnerApi>,
    AnyPartner(caller): AnyPartner,
    CustomerPath { customer_id }: CustomerPath,
) -> ApiResult<Response> {
    let customer = api.customer(&caller, customer_id).await?;
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

#[utoipa::path(
    get,
    path = "/v1/customers",
    tag = "customers",
    operation_id = "listCustomers",
    summary = "List the calling partner's customers, a page at a time",
    params(
        ("size" = Option<u32>, Query, minimum = 0, maximum = 500,
            description = "Page size, 1 to 500 (0 or absent: 100)."),
        ("seekOperation" = Option<String>, Query, pattern = "^[Nn][Ee][Xx][Tt]$",
            description = "`Next` for the page after the one whose `links.next` gave the MS-ContinuationToken."),
        ("MS-ContinuationToken" = Option<String>, Header, nullable = false,
            description = "With `seekOperation=Next`: the token from the previous page's `links.next`."),
    ),
    responses(
        (status = 200, description = "A page of customers.", body = CollectionOut<CustomerOut>),
    ),
)]
/// `GET /v1/customers?size=N`, and the next page with `seekOperation=Next` and the
/// `MS-ContinuationToken` header from `links.next`.
pub async fn list(
    State(api): State<PartnerApi>,
    AnyPartner(caller): AnyPartner,
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
    let page = api.customers(caller.partner, after, size).await?;
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

/// `GET /v1/customers/{id}/profiles/company`.
#[utoipa::path(
    get,
    path = "/v1/customers/{customer_id}/profiles/company",
    tag = "customers",
    operation_id = "getCompanyProfile",
    summary = "Get a customer's company profile (what vetting reads)",
    params(CustomerPath),
    responses(
        (status = 200, description = "The company profile.", body = CompanyProfileOut),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub async fn company_profile(
    State(api): State<PartnerApi>,
    AnyPartner(caller): AnyPartner,
    CustomerPath { customer_id }: CustomerPath,
) -> ApiResult<Response> {
    let customer = api.customer(&caller, customer_id).await?;
    Ok(ok(CompanyProfileOut::new(&customer)).into_response())
}

/// `GET /v1/customers/{id}/profiles/billing`.
#[utoipa::path(
    get,
    path = "/v1/customers/{customer_id}/profiles/billing",
    tag = "customers",
    operation_id = "getBillingProfile",
    summary = "Get a customer's billing profile",
    params(CustomerPath),
    responses(
        (status = 200, description = "The billing profile; `attributes.etag` is the If-Match of an update.", body = BillingProfileOut,
            links(("UpdateBillingProfile" = (operation_id = "updateBillingProfile", parameters(
                ("customer_id" = "$request.path.customer_id"),
                ("header.If-Match" = "$response.body#/attributes/etag"),
            ))))),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    ),
)]
pub async fn billing_profile(
    State(api): State<PartnerApi>,
    AnyPartner(caller): AnyPartner,
    CustomerPath { customer_id }: CustomerPath,
) -> ApiResult<Response> {
    let customer = api.customer(&caller, customer_id).await?;
    Ok(ok(BillingProfileOut::new(&customer)).into_response())
}

/// `PUT .../profiles/billing` with `If-Match: <etag>` (412 on mismatch, 428 without).
#[utoipa::path(
    put,
    path = "/v1/customers/{customer_id}/profiles/billing",
    tag = "customers",
    operation_id = "updateBillingProfile",
    summary = "Replace a customer's billing profile",
    params(
        CustomerPath,
        ("If-Match" = String, Header, pattern = "^(W/)?\"?[!#-~]+\"?$",
            description = "The profile's etag (`attributes.etag`). A client that sends the profile back whole may leave it out and send `attributes.etag` in the body instead; without either the answer is 428."),
    ),
    request_body(
        content = BillingProfileIn,
        example = json!({
            "firstName": "Ada", "lastName": "Lovelace", "email": "ada@contoso.com",
            "culture": "en-US", "language": "en", "companyName": "Contoso",
            "defaultAddress": {"country": "US", "city": "Redmond", "addressLine1": "1 Microsoft Way"}
        }),
    ),
    responses(
        (status = 200, description = "The updated profile, with its new etag.", body = BillingProfileOut,
            headers(("Idempotent-Replayed" = String, description = "`true` on a replay of the same MS-RequestId."))),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
        (status = 428, response = PreconditionRequired),
    ),
)]
pub async fn update_billing_profile(
    State(api): State<PartnerApi>,
    IfMatch(if_match): IfMatch,
    WithBody(CustomerPath { customer_id }, write): WithBody<
        CustomerPath,
        Write<AnyPartner, BillingProfileIn>,
    >,
) -> ApiResult<Response> {
    let customer = api.customer(&write.caller, customer_id).await?;
    let body_etag = write.body.attributes.as_ref().and_then(|a| a.etag.clone());
    let etag = match (if_match, body_etag) {
        (Some(etag), _) => (etag, EtagFrom::IfMatch),
        (None, Some(etag)) => (etag, EtagFrom::Body),
        (None, None) => return Err(ApiError::of(ErrorKind::PreconditionRequired)),
    };
    let profile = BillingProfile::try_from(write.body)?;
    let updated = api
        .update_billing_profile(&write.ctx, customer.id, etag, profile)
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

#[cfg(test)]
mod update_tests {
    use serde_json::json;

    use crate::testing::TestApp;

    /// A 412 says which etag did not match: the If-Match header's, or `attributes.etag` of a
    /// profile sent back whole.
    #[tokio::test]
    async fn a_stale_etag_is_412_naming_where_it_was_sent() {
        let app = TestApp::new().await;
        let p = app.partner();
        let c = app.create_customer(&p).await;
        let path = format!("/v1/customers/{c}/profiles/billing");
        let profile = |etag: Option<&str>| {
            let mut body = json!({"firstName": "Ada", "email": "ada@contoso.com"});
            if let Some(etag) = etag {
                body["attributes"] = json!({"etag": etag});
            }
            body
        };
        let r = app
            .put(&path)
            .token(&p.app_user)
            .json(profile(Some("stale")))
            .send()
            .await;
        r.assert_error(412, 900312);
        assert!(
            r.body["description"]
                .as_str()
                .unwrap()
                .contains("attributes.etag"),
            "{}",
            r.text
        );
        let r = app
            .put(&path)
            .token(&p.app_user)
            .header("If-Match", "\"stale\"")
            .json(profile(None))
            .send()
            .await;
        r.assert_error(412, 900312);
        assert!(
            r.body["description"].as_str().unwrap().contains("If-Match"),
            "{}",
            r.text
        );
    }
}

//! Empty path segments are absent on every route (api.md 1): `/v1//customers` is
//! `/v1/customers`.

use std::collections::HashSet;

use serde_json::json;

use crate::support::*;

/// Microsoft's Java SDK pages customers by appending `links.next.uri` (which starts with `/`)
/// to the API root and `/v1/`: the next page is asked for as `/v1//customers?...`.
#[tokio::test]
async fn customers_page_like_the_java_sdk() {
    let s = TestApp::new().await;
    let p = s.partner();
    let mut created = HashSet::new();
    for _ in 0..3 {
        created.insert(s.create_customer(&p).await);
    }
    let first = s
        .get("/v1/customers?size=1")
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let mut page = first.body;
    let mut seen = vec![];
    for pages in 1.. {
        assert!(pages <= 4, "paging does not end");
        for item in page["items"].as_array().unwrap() {
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        let Some(next) = page["links"].get("next") else {
            break;
        };
        let uri = next["uri"].as_str().expect("links.next.uri");
        assert!(uri.starts_with('/'), "{uri}");
        let token = next["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["key"] == "MS-ContinuationToken")
            .and_then(|h| h["value"].as_str())
            .unwrap_or_else(|| panic!("no MS-ContinuationToken in {next}"))
            .to_owned();
        let path = format!("/v1/{uri}");
        assert!(path.starts_with("/v1//customers?"), "{path}");
        let r = s
            .get(&path)
            .token(&p.app_user)
            .header("MS-ContinuationToken", &token)
            .send()
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        page = r.body;
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), created);
}

/// A write through `//` is the same request as through the clean path: a retry with the same
/// `MS-RequestId` is replayed, not a conflict, and creates nothing twice.
#[tokio::test]
async fn writes_and_their_retries_see_the_normalised_path() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let key = new_id();
    let body = json!({"qualification": "StateOwnedEntity"});
    let first = s
        .post(&format!("/v1//customers//{c}/qualifications/"))
        .token(&p.app_user)
        .request_id(&key)
        .json(body.clone())
        .send()
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["qualification"], "StateOwnedEntity");
    let retry = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .request_id(&key)
        .json(body)
        .send()
        .await;
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(retry.header("Idempotent-Replayed"), Some("true"));
    assert_eq!(retry.body, first.body);
    let list = s.qualifications(&p, &c).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");

    // Reads and the legacy route too, with a trailing slash.
    let r = s
        .get(&format!("//v1/customers/{c}//qualification/"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.get("/healthz/").send().await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// The operator API through `//`: served to an operator, and still closed to a partner (the
/// operator check sees the normalised path, so `//admin` is no way around it).
#[tokio::test]
async fn operator_routes_with_empty_segments() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let created = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.text);

    let r = s
        .get("//admin//v1/reviews/?status=InReview")
        .token(&s.admin_token())
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.body
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["customerId"] == c.as_str()),
        "{}",
        r.text
    );
    s.get("//admin/v1/reviews?status=InReview")
        .token(&p.app_user)
        .send()
        .await
        .assert_error(403, 900150);
    let code = s
        .post(&format!("/admin/v1//partners/{}/validations", p.id))
        .token(&s.admin_token())
        .json(json!({"organizationName": "Contoso Gov", "maxCreates": 1}))
        .send()
        .await;
    assert_eq!(code.status, 201, "{}", code.text);
}

//! Customers, their profiles, paging and the account validation status (api.md 4.4, 4.6).

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::support::*;

fn is_guid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

async fn list_ids(s: &Api, p: &Partner) -> Vec<String> {
    let r = s.get("/v1/customers").token(&p.app_user).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn create_returns_the_customer_shape_without_nulls() {
    let s = TestApp::new().await;
    let p = s.partner();
    let r = s
        .post("/v1/customers")
        .token(&p.app_user)
        .json(customer_body("contoso.onmicrosoft.com"))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("application/json"),
        "{:?}",
        r.headers
    );
    let c = &r.body;
    assert_no_nulls(c);
    let id = c["id"].as_str().expect("id");
    assert!(is_guid(id), "{id}");
    assert_eq!(c["companyProfile"]["tenantId"], id);
    assert_eq!(c["companyProfile"]["domain"], "contoso.onmicrosoft.com");
    assert_eq!(c["companyProfile"]["companyName"], "Contoso");
    let billing = &c["billingProfile"];
    assert!(
        billing["attributes"]["etag"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{c}"
    );
    assert_eq!(
        billing["attributes"]["objectType"],
        "CustomerBillingProfile"
    );
    assert_eq!(billing["firstName"], "Ada");
    assert_eq!(billing["lastName"], "Lovelace");
    assert_eq!(billing["email"], "ada@contoso.com");
    assert_eq!(billing["defaultAddress"]["country"], "US");
    assert_eq!(billing["defaultAddress"]["addressLine1"], "1 Microsoft Way");
    assert_eq!(c["relationshipToPartner"], "reseller");
    assert_eq!(c["attributes"]["objectType"], "Customer");

    // The same customer by id.
    let g = s
        .get(&format!("/v1/customers/{id}"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(g.status, 200, "{}", g.text);
    assert_no_nulls(&g.body);
    assert_eq!(g.body["id"], id);
    assert_eq!(g.body["companyProfile"], c["companyProfile"]);
    assert_eq!(g.body["billingProfile"], c["billingProfile"]);
    assert_eq!(g.body["relationshipToPartner"], "reseller");
    assert_eq!(g.body["attributes"]["objectType"], "Customer");
    // App-only tokens may read customers.
    let g = s
        .get(&format!("/v1/customers/{id}"))
        .token(&p.app_only)
        .send()
        .await;
    assert_eq!(g.status, 200, "{}", g.text);
}

#[tokio::test]
async fn get_unknown_foreign_and_malformed_customer_ids() {
    let s = TestApp::new().await;
    let p = s.partner();
    let other = s.partner();
    let c = s.create_customer(&p).await;
    s.get(&format!("/v1/customers/{}", new_id()))
        .token(&p.app_user)
        .send()
        .await
        .assert_error(404, 1000);
    s.get(&format!("/v1/customers/{c}"))
        .token(&other.app_user)
        .send()
        .await
        .assert_error(403, 20002);
    s.get("/v1/customers/not-a-guid")
        .token(&p.app_user)
        .send()
        .await
        .assert_error(400, 900118);
}

#[tokio::test]
async fn invalid_addresses_are_rejected_and_nothing_is_created() {
    let s = TestApp::new().await;
    let p = s.partner();
    let kept = s.create_customer(&p).await;
    let before = list_ids(&s, &p).await;
    assert_eq!(before, vec![kept.clone()]);

    let with_default_address = |address: Value| {
        let mut b = customer_body("contoso.onmicrosoft.com");
        b["billingProfile"]["defaultAddress"] = address;
        b
    };
    let long = "x".repeat(201);
    let bad_addresses = [
        json!({"country": "USA", "city": "Redmond", "addressLine1": "1 Microsoft Way"}),
        json!({"country": "US", "city": "Redmond", "postalCode": "98052"}),
        json!({"country": "US", "city": "Redmond", "addressLine1": long}),
        json!({"city": "Redmond", "addressLine1": "1 Microsoft Way"}),
    ];
    for address in &bad_addresses {
        let r = s
            .post("/v1/customers")
            .token(&p.app_user)
            .json(with_default_address(address.clone()))
            .send()
            .await;
        r.assert_error(400, 800002);
        // The same rules for the company profile's address.
        let mut b = customer_body("contoso.onmicrosoft.com");
        b["companyProfile"]["address"] = address.clone();
        let r = s
            .post("/v1/customers")
            .token(&p.app_user)
            .json(b)
            .send()
            .await;
        r.assert_error(400, 800002);
    }
    assert_eq!(
        list_ids(&s, &p).await,
        before,
        "a rejected create stored a customer"
    );

    // The boundary: 200 characters is fine.
    let ok = s
        .post("/v1/customers")
        .token(&p.app_user)
        .json(with_default_address(
            json!({"country": "us", "addressLine1": "y".repeat(200)}),
        ))
        .send()
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    assert_eq!(ok.body["billingProfile"]["defaultAddress"]["country"], "US");
}

#[tokio::test]
async fn list_pages_with_continuation_tokens() {
    let s = TestApp::new().await;
    let p = s.partner();
    let other = s.partner();
    s.create_customer(&other).await;
    let mut created = HashSet::new();
    for _ in 0..5 {
        created.insert(s.create_customer(&p).await);
    }

    let first = s
        .get("/v1/customers?size=2")
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_no_nulls(&first.body);
    assert_eq!(first.body["totalCount"], 2, "{}", first.text);
    assert_eq!(first.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(first.body["attributes"]["objectType"], "Collection");

    let mut seen: Vec<String> = vec![];
    let mut page = first.body;
    let mut pages = 1;
    loop {
        let items = page["items"].as_array().unwrap();
        assert_eq!(
            page["totalCount"].as_u64(),
            Some(items.len() as u64),
            "{page}"
        );
        for item in items {
            assert_eq!(item["relationshipToPartner"], "reseller");
            seen.push(item["id"].as_str().unwrap().to_owned());
        }
        let Some(next) = page["links"].get("next") else {
            break;
        };
        let uri = next["uri"].as_str().expect("links.next.uri");
        assert!(uri.contains("seekOperation=Next"), "{uri}");
        let headers = next["headers"].as_array().expect("links.next.headers");
        let token = headers
            .iter()
            .find(|h| h["key"] == "MS-ContinuationToken")
            .and_then(|h| h["value"].as_str())
            .unwrap_or_else(|| panic!("no MS-ContinuationToken in {next}"))
            .to_owned();
        let path = if uri.starts_with("/v1/") {
            uri.to_owned()
        } else {
            format!("/v1{uri}")
        };
        let r = s
            .get(&path)
            .token(&p.app_user)
            .header("MS-ContinuationToken", &token)
            .send()
            .await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        assert_no_nulls(&r.body);
        page = r.body;
        pages += 1;
        assert!(pages <= 5, "paging does not end");
    }
    assert_eq!(pages, 3, "5 customers by 2 are 3 pages");
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(
        seen.iter().cloned().collect::<HashSet<_>>(),
        created,
        "each customer exactly once"
    );
}

#[tokio::test]
async fn a_bad_continuation_token_is_rejected() {
    let s = TestApp::new().await;
    let p = s.partner();
    s.create_customer(&p).await;
    for token in ["not a token", "!!!", "AAAA"] {
        let r = s
            .get("/v1/customers?size=2&seekOperation=Next")
            .token(&p.app_user)
            .header("MS-ContinuationToken", token)
            .send()
            .await;
        r.assert_error(400, 800002);
    }
    // Next without the header.
    s.get("/v1/customers?size=2&seekOperation=Next")
        .token(&p.app_user)
        .send()
        .await
        .assert_error(400, 800002);
    s.get("/v1/customers?size=abc")
        .token(&p.app_user)
        .send()
        .await
        .assert_error(400, 800002);
}

#[tokio::test]
async fn company_profile_shape() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let r = s
        .get(&format!("/v1/customers/{c}/profiles/company"))
        .token(&p.app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_no_nulls(&r.body);
    assert_eq!(r.body["tenantId"], c.as_str());
    assert_eq!(r.body["domain"], "contoso.onmicrosoft.com");
    assert_eq!(r.body["companyName"], "Contoso");
    assert_eq!(r.body["attributes"]["objectType"], "CustomerCompanyProfile");
    let other = s.partner();
    s.get(&format!("/v1/customers/{c}/profiles/company"))
        .token(&other.app_user)
        .send()
        .await
        .assert_error(403, 20002);
    s.get(&format!("/v1/customers/{}/profiles/company", new_id()))
        .token(&p.app_user)
        .send()
        .await
        .assert_error(404, 1000);
}

#[tokio::test]
async fn billing_profile_updates_are_guarded_by_the_etag() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let path = format!("/v1/customers/{c}/profiles/billing");
    let g = s.get(&path).token(&p.app_user).send().await;
    assert_eq!(g.status, 200, "{}", g.text);
    assert_no_nulls(&g.body);
    assert_eq!(g.body["attributes"]["objectType"], "CustomerBillingProfile");
    let etag = g.body["attributes"]["etag"]
        .as_str()
        .expect("etag")
        .to_owned();

    let update = |first: &str| {
        json!({
            "firstName": first, "lastName": "Hopper", "email": "grace@contoso.com", "culture": "en-US", "language": "en",
            "companyName": "Contoso",
            "defaultAddress": {"country": "US", "city": "Arlington", "addressLine1": "2 Navy Way", "postalCode": "22202"}
        })
    };

    // Without If-Match: 428, nothing changes.
    s.put(&path)
        .token(&p.app_user)
        .json(update("Nobody"))
        .send()
        .await
        .assert_error(428, 900428);
    assert_eq!(s.get(&path).token(&p.app_user).send().await.body, g.body);

    let u = s
        .put(&path)
        .token(&p.app_user)
        .header("If-Match", &etag)
        .json(update("Grace"))
        .send()
        .await;
    assert_eq!(u.status, 200, "{}", u.text);
    assert_no_nulls(&u.body);
    assert_eq!(u.body["firstName"], "Grace");
    assert_eq!(u.body["defaultAddress"]["city"], "Arlington");
    let new_etag = u.body["attributes"]["etag"]
        .as_str()
        .expect("new etag")
        .to_owned();
    assert_ne!(new_etag, etag);
    let after = s.get(&path).token(&p.app_user).send().await;
    assert_eq!(after.body, u.body);

    // The stale etag: 412 PreconditionFailed, and the profile stays as it is.
    let stale = s
        .put(&path)
        .token(&p.app_user)
        .header("If-Match", &etag)
        .json(update("Mallory"))
        .send()
        .await;
    stale.assert_error(412, 900312);
    let unchanged = s.get(&path).token(&p.app_user).send().await;
    assert_eq!(unchanged.body, after.body);
    assert_eq!(unchanged.body["firstName"], "Grace");

    // An invalid address with the right etag: 400, nothing changes.
    let mut bad = update("Eve");
    bad["defaultAddress"]["country"] = json!("USA");
    s.put(&path)
        .token(&p.app_user)
        .header("If-Match", &new_etag)
        .json(bad)
        .send()
        .await
        .assert_error(400, 800002);
    assert_eq!(
        s.get(&path).token(&p.app_user).send().await.body,
        after.body
    );
    // Another partner's customer.
    let other = s.partner();
    s.put(&path)
        .token(&other.app_user)
        .header("If-Match", &new_etag)
        .json(update("Eve"))
        .send()
        .await
        .assert_error(403, 20002);
    assert_eq!(
        s.get(&path).token(&p.app_user).send().await.body,
        after.body
    );

    // The quoted form of the current etag is accepted.
    let q = s
        .put(&path)
        .token(&p.app_user)
        .header("If-Match", &format!("\"{new_etag}\""))
        .json(update("Ada"))
        .send()
        .await;
    assert_eq!(q.status, 200, "{}", q.text);
    assert_eq!(q.body["firstName"], "Ada");
}

#[tokio::test]
async fn account_validation_status_is_set_by_an_operator() {
    let s = TestApp::new().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let path = format!("/v1/customers/{c}/validationStatus?type=account");
    s.get(&path)
        .token(&p.app_user)
        .send()
        .await
        .assert_error(404, 600074);

    let admin_path = format!("/admin/v1/customers/{c}/validationStatus");
    let set = s
        .put(&admin_path)
        .token(&s.admin_token())
        .json(json!({"status": "Allowed"}))
        .send()
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.body["type"], "account");
    assert_eq!(set.body["status"], "Allowed");
    assert!(
        set.body["lastUpdateDateTime"]
            .as_str()
            .is_some_and(is_wire_date),
        "{}",
        set.text
    );

    for query in ["type=account", "type=Account", "type=ACCOUNT"] {
        let g = s
            .get(&format!("/v1/customers/{c}/validationStatus?{query}"))
            .token(&p.app_user)
            .send()
            .await;
        assert_eq!(g.status, 200, "{query}: {}", g.text);
        assert_no_nulls(&g.body);
        assert_eq!(g.body, set.body, "{query}");
    }

    let nr = s
        .put(&admin_path)
        .token(&s.admin_token())
        .json(json!({"status": "Not Ready"}))
        .send()
        .await;
    assert_eq!(nr.status, 200, "{}", nr.text);
    assert_eq!(nr.body["status"], "Not Ready");
    let g = s.get(&path).token(&p.app_user).send().await;
    assert_eq!(g.body["status"], "Not Ready", "{}", g.text);

    // Invalid status: 400, the stored one stays.
    for bad in [
        json!({"status": "Maybe"}),
        json!({"status": ""}),
        json!({}),
        json!({"status": 5}),
    ] {
        s.put(&admin_path)
            .token(&s.admin_token())
            .json(bad)
            .send()
            .await
            .assert_error(400, 800002);
    }
    assert_eq!(
        s.get(&path).token(&p.app_user).send().await.body["status"],
        "Not Ready"
    );

    // Missing or unknown type: 400.
    s.get(&format!("/v1/customers/{c}/validationStatus"))
        .token(&p.app_user)
        .send()
        .await
        .assert_error(400, 800002);
    s.get(&format!("/v1/customers/{c}/validationStatus?type=billing"))
        .token(&p.app_user)
        .send()
        .await
        .assert_error(400, 800002);

    // App+User only; the operator API needs the admin role.
    s.get(&path)
        .token(&p.app_only)
        .send()
        .await
        .assert_error(403, 900150);
    s.put(&admin_path)
        .token(&p.app_user)
        .json(json!({"status": "Allowed"}))
        .send()
        .await
        .assert_error(403, 900150);
}

//! Every SDK method against a real qualify server.

use std::time::Duration;

use qualify_client::{
    AccountStatus, Address, BillingProfile, CompanyProfile, EducationSegment, ErrorCategory,
    GdapRole, LegacyQualification, NewCustomer, NewValidationCode, Qualification,
    QualificationRequest, ValidationType, VettingDecision, VettingStatus, WaitOptions,
};

use crate::support::*;

pub fn new_customer(domain: &str) -> NewCustomer {
    let address = Address {
        country: "US".into(),
        address_line1: "1 Microsoft Way".into(),
        city: Some("Redmond".into()),
        state: Some("WA".into()),
        postal_code: Some("98052".into()),
        ..Address::default()
    };
    NewCustomer {
        company_profile: Some(CompanyProfile {
            domain: Some(domain.into()),
            company_name: Some("Contoso".into()),
            address: Some(address.clone()),
            ..CompanyProfile::default()
        }),
        billing_profile: Some(BillingProfile {
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            email: Some("ada@contoso.com".into()),
            culture: Some("en-US".into()),
            language: Some("en".into()),
            default_address: Some(address),
            ..BillingProfile::default()
        }),
    }
}

#[tokio::test]
async fn customers_create_get_list_and_page() {
    let s = TestServer::start().await;
    let p = s.partner();
    let mut ids = vec![];
    for i in 0..3 {
        let c = p
            .client
            .customers()
            .create(&new_customer(&format!("c{i}.onmicrosoft.com")))
            .await
            .unwrap();
        assert_eq!(c.relationship_to_partner.as_deref(), Some("reseller"));
        assert_eq!(
            c.attributes.as_ref().unwrap().object_type.as_deref(),
            Some("Customer")
        );
        ids.push(c.id);
    }
    let got = p.client.customers().by_id(&ids[1]).get().await.unwrap();
    assert_eq!(got.id, ids[1]);
    let company = got.company_profile.unwrap();
    assert_eq!(company.domain.as_deref(), Some("c1.onmicrosoft.com"));
    assert_eq!(company.address.unwrap().city.as_deref(), Some("Redmond"));

    let first = p.client.customers().list().await.unwrap();
    assert_eq!(first.items.len(), 3);
    assert!(first.continuation().is_none());
    assert!(
        p.client
            .customers()
            .next_page(&first)
            .await
            .unwrap()
            .is_none()
    );

    let page = p.client.customers().list_with_size(2).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.continuation().is_some(), "{page:?}");
    let next = p
        .client
        .customers()
        .next_page(&page)
        .await
        .unwrap()
        .expect("a second page");
    assert_eq!(next.items.len(), 1);
    let mut paged: Vec<String> = page
        .items
        .iter()
        .chain(&next.items)
        .map(|c| c.id.clone())
        .collect();
    paged.sort();
    let mut all: Vec<String> = p
        .client
        .customers()
        .list_all()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    all.sort();
    ids.sort();
    assert_eq!(paged, ids);
    assert_eq!(all, ids);

    // Another partner sees none of them.
    let other = s.partner();
    assert!(
        other
            .client
            .customers()
            .list()
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn profiles_are_read_and_the_billing_profile_updated_with_its_etag() {
    let s = TestServer::start().await;
    let p = s.partner();
    let c = p
        .client
        .customers()
        .create(&new_customer("contoso.onmicrosoft.com"))
        .await
        .unwrap();
    let customer = p.client.customers().by_id(&c.id);
    let company = customer.profiles().company().get().await.unwrap();
    assert_eq!(company.domain.as_deref(), Some("contoso.onmicrosoft.com"));
    assert!(company.etag().is_some());

    let billing = customer.profiles().billing().get().await.unwrap();
    let etag = billing.etag().unwrap().to_owned();
    let mut changed = billing.clone();
    changed.first_name = Some("Grace".into());
    changed.attributes = None;
    let updated = customer
        .profiles()
        .billing()
        .update(&changed, &etag)
        .await
        .unwrap();
    assert_eq!(updated.first_name.as_deref(), Some("Grace"));
    assert_ne!(updated.etag(), Some(etag.as_str()));
    assert_eq!(
        customer
            .profiles()
            .billing()
            .get()
            .await
            .unwrap()
            .first_name
            .as_deref(),
        Some("Grace")
    );

    // The old etag is stale now.
    let e = customer
        .profiles()
        .billing()
        .update(&changed, &etag)
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::PreconditionFailed);
    assert_eq!(e.status(), Some(412));
}

#[tokio::test]
async fn qualifications_create_list_latest_and_the_legacy_contract() {
    let s = TestServer::start().await;
    let p = s.partner();
    let c = p
        .client
        .customers()
        .create(&new_customer("contoso.onmicrosoft.com"))
        .await
        .unwrap();
    let customer = p.client.customers().by_id(&c.id);
    assert_eq!(
        customer.qualification().get().await.unwrap(),
        LegacyQualification::None
    );
    assert!(customer.qualifications().list().await.unwrap().is_empty());

    let created = customer
        .qualifications()
        .create(&QualificationRequest::education(
            EducationSegment::HigherEducation,
            Some("contoso.edu"),
        ))
        .await
        .unwrap();
    assert_eq!(created.qualification, Qualification::Education);
    assert_eq!(created.vetting_status, VettingStatus::InReview);
    assert!(created.vetting_create_date.is_some());

    let list = customer.qualifications().list().await.unwrap();
    assert_eq!(list, vec![created.clone()]);
    assert_eq!(
        customer
            .qualifications()
            .latest(&Qualification::Education)
            .await
            .unwrap(),
        Some(created)
    );
    assert_eq!(
        customer
            .qualifications()
            .latest(&Qualification::StateOwnedEntity)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        customer.qualification().get().await.unwrap(),
        LegacyQualification::Education
    );

    // The legacy PUT on another customer.
    let c2 = p
        .client
        .customers()
        .create(&new_customer("fabrikam.onmicrosoft.com"))
        .await
        .unwrap();
    let legacy = p.client.customers().by_id(&c2.id).qualification();
    assert_eq!(
        legacy
            .update(&LegacyQualification::StateOwnedEntity, None)
            .await
            .unwrap(),
        LegacyQualification::StateOwnedEntity
    );
    assert_eq!(
        legacy.get().await.unwrap(),
        LegacyQualification::StateOwnedEntity
    );
}

#[tokio::test]
async fn gcc_with_a_validation_code_and_the_partners_codes() {
    let s = TestServer::start().await;
    let p = s.partner();
    let admin = s.admin();
    assert!(p.client.validation_codes().list().await.unwrap().is_empty());
    let code = admin
        .admin()
        .partner(&p.id)
        .validation_codes()
        .issue(&NewValidationCode {
            organization_name: "Contoso Gov".into(),
            max_creates: 2,
        })
        .await
        .unwrap();
    assert_eq!(code.partner_id, p.id);
    assert_eq!(code.remaining_creates, 2);
    let listed = admin
        .admin()
        .partner(&p.id)
        .validation_codes()
        .list()
        .await
        .unwrap();
    assert_eq!(listed, vec![code.clone()]);

    let c = p
        .client
        .customers()
        .create(&new_customer("contosogov.onmicrosoft.com"))
        .await
        .unwrap();
    let created = p
        .client
        .customers()
        .by_id(&c.id)
        .qualifications()
        .create(&QualificationRequest::government_community_cloud(
            &code.validation_id,
        ))
        .await
        .unwrap();
    assert_eq!(
        created.qualification,
        Qualification::GovernmentCommunityCloud
    );
    let mine = p.client.validation_codes().list().await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].validation_id, code.validation_id);
    assert_eq!(mine[0].remaining_creates, 1);

    // The legacy contract takes the code as the query parameter `code`.
    let c2 = p
        .client
        .customers()
        .create(&new_customer("fabrikamgov.onmicrosoft.com"))
        .await
        .unwrap();
    let legacy = p.client.customers().by_id(&c2.id).qualification();
    assert_eq!(
        legacy
            .update(
                &LegacyQualification::GovernmentCommunityCloud,
                Some(&code.validation_id)
            )
            .await
            .unwrap(),
        LegacyQualification::GovernmentCommunityCloud
    );
    assert_eq!(
        p.client.validation_codes().list().await.unwrap()[0].remaining_creates,
        0
    );
}

#[tokio::test]
async fn validation_status_gdap_reviews_decisions_and_history() {
    let s = TestServer::start().await;
    let p = s.partner();
    let admin = s.admin();
    let c = p
        .client
        .customers()
        .create(&new_customer("contoso.onmicrosoft.com"))
        .await
        .unwrap();
    let customer = p.client.customers().by_id(&c.id);

    // Account validation status: none, then set by the operator.
    let none = customer
        .validation_status(ValidationType::Account)
        .get()
        .await
        .unwrap_err();
    assert_eq!(none.category(), ErrorCategory::NotFound);
    assert_eq!(none.code(), Some(600074));
    let set = admin
        .admin()
        .customer(&c.id)
        .validation_status()
        .set(&AccountStatus::NotReady)
        .await
        .unwrap();
    assert_eq!(set.status, AccountStatus::NotReady);
    let got = customer
        .validation_status(ValidationType::Account)
        .get()
        .await
        .unwrap();
    assert_eq!(got.kind, ValidationType::Account);
    assert_eq!(got.status, AccountStatus::NotReady);
    assert!(got.last_update_date_time.is_some());

    // GDAP: the default grant, then replaced.
    let gdap = admin.admin().customer(&c.id).gdap();
    assert_eq!(
        gdap.get().await.unwrap().roles,
        vec![GdapRole::DirectoryReader]
    );
    let grant = gdap
        .set(&[GdapRole::LicenseAdministrator, GdapRole::UserAdministrator])
        .await
        .unwrap();
    assert_eq!(grant.customer_id, c.id);
    assert_eq!(grant.partner_id, p.id);
    assert_eq!(grant.roles.len(), 2);
    assert_eq!(gdap.get().await.unwrap().roles, grant.roles);

    // Review queue, a decision with the etag, the history.
    customer
        .qualifications()
        .create(&QualificationRequest::state_owned_entity())
        .await
        .unwrap();
    let queue = admin.admin().reviews().list().await.unwrap();
    let item = queue
        .iter()
        .find(|r| r.customer_id == c.id)
        .expect("in review");
    assert_eq!(item.partner_id, p.id);
    assert_eq!(item.qualification, Qualification::StateOwnedEntity);
    let decided = admin
        .admin()
        .customer(&c.id)
        .qualification(Qualification::StateOwnedEntity)
        .decide(
            &VettingDecision::deny("Not a state-owned entity"),
            &item.etag,
        )
        .await
        .unwrap();
    assert_eq!(decided.vetting_status, VettingStatus::Denied);
    assert_eq!(
        decided.vetting_reason.as_deref(),
        Some("Not a state-owned entity")
    );
    let denied = admin
        .admin()
        .reviews()
        .list_by_status(&VettingStatus::Denied)
        .await
        .unwrap();
    assert!(denied.iter().any(|r| r.customer_id == c.id));
    assert!(
        !admin
            .admin()
            .reviews()
            .list()
            .await
            .unwrap()
            .iter()
            .any(|r| r.customer_id == c.id)
    );

    // A second decision on the same etag: already decided (409), never applied twice.
    let again = admin
        .admin()
        .customer(&c.id)
        .qualification(Qualification::StateOwnedEntity)
        .decide(&VettingDecision::approve(), &item.etag)
        .await
        .unwrap_err();
    assert!(
        matches!(
            again.category(),
            ErrorCategory::Conflict | ErrorCategory::PreconditionFailed
        ),
        "{again}"
    );

    let history = admin
        .admin()
        .customer(&c.id)
        .qualification(Qualification::StateOwnedEntity)
        .history()
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history[0].from, None);
    assert_eq!(history[0].to, VettingStatus::InReview);
    assert_eq!(history[1].from, Some(VettingStatus::InReview));
    assert_eq!(history[1].to, VettingStatus::Denied);
    assert_eq!(
        history[1].reason.as_deref(),
        Some("Not a state-owned entity")
    );
}

#[tokio::test]
async fn wait_returns_the_decision_under_auto_vetting() {
    let s = TestServer::start_with(Settings {
        auto_vetting: true,
        ..Settings::default()
    })
    .await;
    let p = s.partner();
    let c = p
        .client
        .customers()
        .create(&new_customer("contoso.onmicrosoft.com"))
        .await
        .unwrap();
    let q = p.client.customers().by_id(&c.id).qualifications();
    q.create(&QualificationRequest::education(
        EducationSegment::K12,
        Some("contoso.com"),
    ))
    .await
    .unwrap();
    let mut seen = vec![];
    let decided = q
        .wait_with_progress(
            &Qualification::Education,
            WaitOptions {
                timeout: Duration::from_secs(20),
                interval: Duration::from_millis(50),
            },
            |q, _| seen.push(q.vetting_status.clone()),
        )
        .await
        .unwrap();
    assert_eq!(decided.vetting_status, VettingStatus::Denied);
    assert_eq!(
        decided.vetting_reason.as_deref(),
        Some("Not an Academic Domain")
    );
    assert_eq!(seen.last(), Some(&VettingStatus::Denied));

    // Waiting for a qualification the customer never asked for is an error, not a hang.
    let e = q
        .wait(&Qualification::StateOwnedEntity, WaitOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::NotFound);
}

#[tokio::test]
async fn wait_times_out_while_vetting_is_manual() {
    let s = TestServer::start().await;
    let p = s.partner();
    let c = p
        .client
        .customers()
        .create(&new_customer("contoso.onmicrosoft.com"))
        .await
        .unwrap();
    let q = p.client.customers().by_id(&c.id).qualifications();
    q.create(&QualificationRequest::state_owned_entity())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let e = q
        .wait(
            &Qualification::StateOwnedEntity,
            WaitOptions {
                timeout: Duration::from_millis(600),
                interval: Duration::from_millis(100),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.category(), ErrorCategory::WaitTimedOut);
    assert!(e.description().contains("InReview"), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(600));
}

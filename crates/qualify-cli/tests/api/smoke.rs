use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn education_request_is_in_review_then_decided_by_an_operator() {
    let s = Server::start().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let r = s
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "Education", "educationSegment": "HigherEducation", "website": "contoso.edu"}))
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["vettingStatus"], "InReview");
    let etag = s.review_etag(&c, "Education").await;
    let d = s
        .post(&format!(
            "/admin/v1/customers/{c}/qualifications/Education/decision"
        ))
        .token(&s.admin_token())
        .header("If-Match", &etag)
        .json(json!({"vettingStatus": "Approved"}))
        .send()
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(
        s.qualifications(&p, &c).await[0]["vettingStatus"],
        "Approved"
    );
}

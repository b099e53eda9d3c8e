//! Request the Education qualification for a new customer.
//!
//! ```sh
//! qualify serve &                                   # in another terminal
//! export QUALIFY_TOKEN=$(qualify token --tenant 9daaeb1c-4195-4db5-9f1d-509eb70c8c2d)
//! cargo run -p qualify-client --example education
//! ```

use qualify_client::{Client, CompanyProfile, EducationSegment, NewCustomer, QualificationRequest};

#[tokio::main]
async fn main() -> Result<(), qualify_client::Error> {
    let client = Client::builder()
        .base_url(
            std::env::var("QUALIFY_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into()),
        )
        .token(std::env::var("QUALIFY_TOKEN").unwrap_or_default())
        .application_name("education-example")
        .build()?;

    let customer = client
        .customers()
        .create(&NewCustomer {
            company_profile: Some(CompanyProfile {
                domain: Some("contoso-university.onmicrosoft.com".into()),
                company_name: Some("Contoso University".into()),
                ..CompanyProfile::default()
            }),
            billing_profile: None,
        })
        .await?;
    println!("customer {}", customer.id);

    // Education needs the segment; the website is what vetting looks at.
    let request =
        QualificationRequest::education(EducationSegment::HigherEducation, Some("contoso.edu"));
    let created = client
        .customers()
        .by_id(&customer.id)
        .qualifications()
        .create(&request)
        .await?;
    println!(
        "{} requested: {} (vetting happens asynchronously)",
        created.qualification, created.vetting_status
    );

    for q in client
        .customers()
        .by_id(&customer.id)
        .qualifications()
        .list()
        .await?
    {
        println!("  {} {}", q.qualification, q.vetting_status);
    }
    Ok(())
}

//! Handle a denied Education request: read the reason, fix what vetting looked at, ask again.
//!
//! Under `qualify serve --vetting auto`, Education is denied ("Not an Academic Domain") unless
//! the website or the company domain is academic.
//! ```sh
//! export QUALIFY_TOKEN=$(qualify token --tenant 9daaeb1c-4195-4db5-9f1d-509eb70c8c2d)
//! cargo run -p qualify-client --example denial
//! ```

use std::time::Duration;

use qualify_client::{
    Client, CompanyProfile, EducationSegment, ErrorCategory, NewCustomer, Qualification,
    QualificationRequest, VettingStatus, WaitOptions,
};

#[tokio::main]
async fn main() -> Result<(), qualify_client::Error> {
    let client = Client::builder()
        .base_url(
            std::env::var("QUALIFY_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into()),
        )
        .token(std::env::var("QUALIFY_TOKEN").unwrap_or_default())
        .build()?;
    let customer = client
        .customers()
        .create(&NewCustomer {
            company_profile: Some(CompanyProfile {
                domain: Some("fabrikam.onmicrosoft.com".into()),
                company_name: Some("Fabrikam School".into()),
                ..CompanyProfile::default()
            }),
            billing_profile: None,
        })
        .await?;
    let qualifications = client.customers().by_id(&customer.id).qualifications();
    let wait = WaitOptions {
        timeout: Duration::from_secs(60),
        interval: Duration::from_secs(1),
    };

    // Microsoft allows three Education requests per customer.
    for website in ["fabrikam.com", "fabrikam.edu"] {
        let request = QualificationRequest::education(EducationSegment::K12, Some(website));
        match qualifications.create(&request).await {
            Ok(_) => {}
            Err(e) if e.category() == ErrorCategory::Conflict => {
                // Already in review or approved, or the limit of three was reached.
                eprintln!("cannot ask again: {}", e.description());
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        let decided = qualifications.wait(&Qualification::Education, wait).await?;
        match decided.vetting_status {
            VettingStatus::Approved => {
                println!("approved with {website}");
                return Ok(());
            }
            VettingStatus::Denied => println!(
                "denied with {website}: {}",
                decided
                    .vetting_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            ),
            // A value this SDK does not know yet: kept, not an error.
            other => println!("vetting says {other}; check with the service"),
        }
    }
    Ok(())
}

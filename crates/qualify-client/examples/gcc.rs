//! Request Government Community Cloud with one of the partner's validation codes.
//!
//! An operator issues codes to a partner first:
//! ```sh
//! qualify admin validation-codes issue --partner $PARTNER --organization "Contoso Gov" --max-creates 3
//! export QUALIFY_TOKEN=$(qualify token --tenant $PARTNER)
//! cargo run -p qualify-client --example gcc
//! ```

use qualify_client::{Client, CompanyProfile, ErrorCategory, NewCustomer, QualificationRequest};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder()
        .base_url(
            std::env::var("QUALIFY_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into()),
        )
        .token(std::env::var("QUALIFY_TOKEN").unwrap_or_default())
        .build()?;

    // The partner's codes, with how many creates each has left.
    let codes = client.validation_codes().list().await?;
    let Some(code) = codes.iter().find(|c| c.remaining_creates > 0) else {
        eprintln!("no validation code with remaining creates: ask an operator to issue one");
        std::process::exit(1);
    };
    println!(
        "using code {} of {} ({} of {} left)",
        code.validation_id, code.organization_name, code.remaining_creates, code.max_creates
    );

    let customer = client
        .customers()
        .create(&NewCustomer {
            company_profile: Some(CompanyProfile {
                domain: Some("contoso-gov.onmicrosoft.com".into()),
                company_name: Some("Contoso Government".into()),
                ..CompanyProfile::default()
            }),
            billing_profile: None,
        })
        .await?;

    // The SDK retries this POST with the same MS-RequestId, so a retry after a timeout cannot
    // spend the code twice.
    let request = QualificationRequest::government_community_cloud(&code.validation_id);
    match client
        .customers()
        .by_id(&customer.id)
        .qualifications()
        .create(&request)
        .await
    {
        Ok(q) => println!(
            "{} for {}: {}",
            q.qualification, customer.id, q.vetting_status
        ),
        // A GDAP role (Directory Reader, ...) over the customer is required for GCC.
        Err(e) if e.category() == ErrorCategory::Forbidden => {
            eprintln!("not allowed: {} (code {:?})", e.description(), e.code());
            std::process::exit(1);
        }
        // 900304: not this partner's code; 900305: no creates left.
        Err(e) if e.category() == ErrorCategory::BadInput => {
            eprintln!("the code was refused: {e}");
            std::process::exit(1);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

//! Wait for vetting of a customer's latest qualification request to finish.
//!
//! ```sh
//! cargo run -p qualify-client --example wait_for_vetting -- <customer-id> [Education]
//! ```

use std::time::Duration;

use qualify_client::{Client, ErrorCategory, Qualification, WaitOptions};

#[tokio::main]
async fn main() -> Result<(), qualify_client::Error> {
    let mut args = std::env::args().skip(1);
    let Some(customer_id) = args.next() else {
        eprintln!("usage: wait_for_vetting <customer-id> [qualification]");
        std::process::exit(2);
    };
    let qualification = Qualification::parse(&args.next().unwrap_or_else(|| "Education".into()));

    let client = Client::builder()
        .base_url(
            std::env::var("QUALIFY_BASE_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into()),
        )
        .token(std::env::var("QUALIFY_TOKEN").unwrap_or_default())
        .build()?;
    let options = WaitOptions {
        timeout: Duration::from_secs(600),
        interval: Duration::from_secs(5),
    };
    let result = client
        .customers()
        .by_id(&customer_id)
        .qualifications()
        .wait_with_progress(&qualification, options, |q, waited| {
            eprintln!(
                "{:>4}s  {} {}",
                waited.as_secs(),
                q.qualification,
                q.vetting_status
            );
        })
        .await;
    match result {
        Ok(q) => {
            println!(
                "{}: {}{}",
                q.qualification,
                q.vetting_status,
                q.vetting_reason
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        Err(e) if e.category() == ErrorCategory::WaitTimedOut => {
            eprintln!("{e}");
            std::process::exit(4);
        }
        Err(e) => Err(e),
    }
}

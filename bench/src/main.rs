//! `qualify-load`: the load generator of `bench/run`. It drives one running qualify server over
//! loopback with a fixed number of concurrent connections (or a fixed rate), records every
//! request's latency in an HDR histogram and prints one JSON line per scenario.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use qualify_core::PartnerId;
use qualify_server::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use qualify_server::{DevToken, Secret, mint_dev_token};
use serde_json::{Value, json};

mod control;
mod events;

use self::control::control;
use self::events::{vetting, webhooks};

#[derive(Parser)]
struct Cli {
    /// Base URL of the server under test
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base: String,
    /// Appended to the scenario's name in the JSON line (e.g. `bare`, `journal_off`)
    #[arg(long)]
    tag: Option<String>,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// GET /healthz: the ceiling of machine and framework
    Healthz {
        #[arg(long)]
        concurrency: usize,
        #[arg(long, default_value = "10")]
        seconds: u64,
    },
    /// POST /v1/customers
    Customers {
        #[arg(long)]
        concurrency: usize,
        #[arg(long, default_value = "10")]
        seconds: u64,
    },
    /// POST /v1/customers/{id}/qualifications, one pre-created customer per request
    Qualifications {
        #[arg(long)]
        concurrency: usize,
        #[arg(long, default_value = "10")]
        seconds: u64,
        /// Customers created beforehand (the most requests the run can make)
        #[arg(long)]
        customers: usize,
    },
    /// GET /v1/customers/{id}/qualifications over many customers
    List {
        #[arg(long)]
        concurrency: usize,
        #[arg(long, default_value = "10")]
        seconds: u64,
        #[arg(long, default_value = "2000")]
        customers: usize,
    },
    /// Creates at a fixed rate under --vetting auto, then reads 201->decision times from the
    /// database file (server-side millisecond timestamps)
    Vetting {
        #[arg(long)]
        rate: u64,
        #[arg(long, default_value = "10")]
        seconds: u64,
        /// The server's SQLite file
        #[arg(long)]
        sqlite: String,
    },
    /// Webhooks (events.md 2): a receiver in this process, registered by `partners` partner
    /// tenants for created events; creates at a fixed rate (open loop, round robin over the
    /// partners), then a burst of `burst` creates: create->delivery latency and deliveries per
    /// second (one partner's deliveries are sequential by contract)
    Webhooks {
        #[arg(long)]
        rate: u64,
        #[arg(long, default_value = "5")]
        seconds: u64,
        #[arg(long, default_value = "2000")]
        burst: usize,
        #[arg(long, default_value = "32")]
        partners: usize,
    },
    /// The test control plane (control.md 1-4): seed N customers with a qualification each,
    /// snapshot them, advance the clock over their N vetting jobs, then reset that partner
    /// while another partner's creates run at full speed
    Control {
        #[arg(long, default_value = "10000")]
        customers: usize,
        /// Connections of the other partner's creates during the reset
        #[arg(long, default_value = "16")]
        concurrency: usize,
    },
    /// Fills a fresh SQLite file (migrated by a server start) with N customers + qualifications
    Fill {
        #[arg(long)]
        sqlite: String,
        #[arg(long)]
        qualifications: usize,
    },
}

struct Run {
    requests: u64,
    errors: u64,
    seconds: f64,
    latency: Histogram<u64>,
}

impl Run {
    fn json(&self, scenario: &str, concurrency: usize) -> Value {
        let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1000.0;
        json!({
            "scenario": scenario,
            "concurrency": concurrency,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": (self.seconds * 100.0).round() / 100.0,
            "rps": (self.requests as f64 / self.seconds).round(),
            "p50_ms": ms(0.50),
            "p99_ms": ms(0.99),
        })
    }
}

fn token(tenant: PartnerId) -> String {
    mint_dev_token(
        &DevToken {
            tenant,
            app_only: false,
            admin: false,
            upn: Some("bench@partner.example".into()),
            ttl: Duration::from_secs(3600),
            audience: DEFAULT_AUDIENCE.into(),
        },
        &Secret::new(DEFAULT_DEV_SECRET),
    )
}

fn client(concurrency: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency.max(1))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Runs `concurrency` workers, each issuing requests back to back until `seconds` pass or
/// `next` says there is nothing left to send. Latency is measured per request.
async fn closed_loop<F, Fut>(concurrency: usize, seconds: u64, next: F) -> Run
where
    F: Fn(usize) -> Option<Fut> + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let next = Arc::new(next);
    let counter = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let workers = (0..concurrency).map(|_| {
        let next = next.clone();
        let counter = counter.clone();
        tokio::spawn(async move {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let (mut ok, mut err) = (0u64, 0u64);
            while Instant::now() < deadline {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let Some(request) = next(i) else { break };
                let t = Instant::now();
                let success = request.await;
                h.record(t.elapsed().as_micros().max(1) as u64).ok();
                if success { ok += 1 } else { err += 1 }
            }
            (h, ok, err)
        })
    });
    let mut run = Run {
        requests: 0,
        errors: 0,
        seconds: 0.0,
        latency: Histogram::new_with_bounds(1, 60_000_000, 3).unwrap(),
    };
    for w in futures::future::join_all(workers).await {
        let (h, ok, err) = w.expect("worker");
        run.latency.add(h).ok();
        run.requests += ok;
        run.errors += err;
    }
    run.seconds = start.elapsed().as_secs_f64();
    run
}

fn customer_body(domain: &str) -> Value {
    json!({"companyProfile": {"domain": domain, "companyName": "Bench"},
           "billingProfile": {"email": "it@bench.example", "culture": "en-US", "language": "en",
             "defaultAddress": {"country": "US", "city": "Redmond", "addressLine1": "1 Microsoft Way"}}})
}

/// Creates `n` customers of the partner (64 at a time) and returns their ids.
async fn create_customers(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
    domain: &str,
) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    let body = customer_body(domain);
    let mut left = n;
    while left > 0 {
        let k = left.min(64);
        let batch = (0..k).map(|_| async {
            let r = http
                .post(format!("{base}/v1/customers"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await?;
            let v: Value = r.error_for_status()?.json().await?;
            anyhow::Ok(v["id"].as_str().context("customer id")?.to_owned())
        });
        for id in futures::future::join_all(batch).await {
            ids.push(id?);
        }
        left -= k;
    }
    Ok(ids)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let base = cli.base.trim_end_matches('/').to_owned();
    let tag = cli.tag.clone();
    let name = |scenario: &str| match &tag {
        Some(t) => format!("{scenario}_{t}"),
        None => scenario.to_owned(),
    };
    let partner = PartnerId::new_random();
    let tok = Arc::new(token(partner));
    match cli.scenario {
        Scenario::Healthz {
            concurrency,
            seconds,
        } => {
            let http = client(concurrency);
            let url = Arc::new(format!("{base}/healthz"));
            let run = closed_loop(concurrency, seconds, move |_| {
                let (http, url) = (http.clone(), url.clone());
                Some(async move {
                    http.get(url.as_str())
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                })
            })
            .await;
            println!("{}", run.json(&name("healthz"), concurrency));
        }
        Scenario::Customers {
            concurrency,
            seconds,
        } => {
            let http = client(concurrency);
            let url = Arc::new(format!("{base}/v1/customers"));
            let body = Arc::new(serde_json::to_vec(&customer_body(
                "contoso.onmicrosoft.com",
            ))?);
            let run = closed_loop(concurrency, seconds, move |_| {
                let (http, url, body, tok) = (http.clone(), url.clone(), body.clone(), tok.clone());
                Some(async move {
                    http.post(url.as_str())
                        .bearer_auth(tok.as_str())
                        .header("content-type", "application/json")
                        .body(body.to_vec())
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 201)
                })
            })
            .await;
            println!("{}", run.json(&name("create_customer"), concurrency));
        }
        Scenario::Qualifications {
            concurrency,
            seconds,
            customers,
        } => {
            let http = client(concurrency);
            let ids = Arc::new(
                create_customers(&http, &base, &tok, customers, "contoso.onmicrosoft.com").await?,
            );
            let body = Arc::new(serde_json::to_vec(
                &json!({"qualification": "StateOwnedEntity"}),
            )?);
            let base = Arc::new(base);
            let run = closed_loop(concurrency, seconds, move |i| {
                let id = ids.get(i)?.clone();
                let (http, base, body, tok) =
                    (http.clone(), base.clone(), body.clone(), tok.clone());
                Some(async move {
                    http.post(format!("{base}/v1/customers/{id}/qualifications"))
                        .bearer_auth(tok.as_str())
                        .header("content-type", "application/json")
                        .header("MS-RequestId", uuid::Uuid::new_v4().to_string())
                        .body(body.to_vec())
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 201)
                })
            })
            .await;
            let mut out = run.json(&name("create_qualification"), concurrency);
            out["customers_prepared"] = json!(customers);
            println!("{out}");
        }
        Scenario::List {
            concurrency,
            seconds,
            customers,
        } => {
            let http = client(concurrency);
            let ids =
                create_customers(&http, &base, &tok, customers, "contoso.onmicrosoft.com").await?;
            for chunk in ids.chunks(64) {
                let made = chunk.iter().map(|id| {
                    http.post(format!("{base}/v1/customers/{id}/qualifications"))
                        .bearer_auth(tok.as_str())
                        .json(&json!({"qualification": "StateOwnedEntity"}))
                        .send()
                });
                for r in futures::future::join_all(made).await {
                    r?.error_for_status()?;
                }
            }
            let ids = Arc::new(ids);
            let base = Arc::new(base);
            let run = closed_loop(concurrency, seconds, move |i| {
                let id = ids[i % ids.len()].clone();
                let (http, base, tok) = (http.clone(), base.clone(), tok.clone());
                Some(async move {
                    http.get(format!("{base}/v1/customers/{id}/qualifications"))
                        .bearer_auth(tok.as_str())
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200)
                })
            })
            .await;
            println!("{}", run.json(&name("list_qualifications"), concurrency));
        }
        Scenario::Webhooks {
            rate,
            seconds,
            burst,
            partners,
        } => webhooks(&base, rate, seconds, burst, partners).await?,
        Scenario::Vetting {
            rate,
            seconds,
            sqlite,
        } => vetting(&base, &tok, rate, seconds, &sqlite).await?,
        Scenario::Fill {
            sqlite,
            qualifications,
        } => fill(&sqlite, qualifications).await?,
        Scenario::Control {
            customers,
            concurrency,
        } => control(&base, customers, concurrency).await?,
    }
    Ok(())
}

/// Bulk-loads a migrated SQLite file: customers, one decided qualification each, its job and
/// its audit events, in large transactions.
/// Writes `n` decided qualifications (with customer, job and audit events) straight into the
/// database file, as fast as SQLite takes them: a fixture for the start-up measurement.
async fn fill(sqlite: &str, n: usize) -> anyhow::Result<()> {
    let path = sqlite.to_owned();
    tokio::task::spawn_blocking(move || fill_blocking(&path, n)).await??;
    println!("{}", json!({"filled_qualifications": n}));
    Ok(())
}

fn fill_blocking(sqlite: &str, n: usize) -> anyhow::Result<()> {
    let mut conn = rusqlite::Connection::open(sqlite)?;
    conn.pragma_update(None, "synchronous", "off")?;
    let partner = PartnerId::new_random().to_string();
    let now = qualify_core::time_fmt::to_millis(time_now());
    let profile = r#"{"domain":"uni.edu","company_name":"Bench","email":null,"address":null,"organization_registration_number":null}"#;
    let billing = r#"{"first_name":null,"last_name":null,"email":null,"culture":null,"language":null,"company_name":null,"default_address":null}"#;
    let mut done = 0;
    while done < n {
        let k = (n - done).min(50_000);
        let tx = conn.transaction()?;
        {
            let mut customer_insert = tx.prepare(
                "INSERT INTO customers (id, partner_id, company_profile, company_etag, billing_profile, billing_etag, created_at) \
                 VALUES (?, ?, ?, 'e', ?, 'e', ?)",
            )?;
            let mut qualification_insert = tx.prepare(
                "INSERT INTO qualifications (customer_id, partner_id, qualification, vetting_status, vetting_create_date, \
                 education_segment, etag, decided_at) VALUES (?, ?, 'Education', 'Approved', ?, 'K12', 'e', ?) RETURNING id",
            )?;
            let mut job_insert = tx.prepare(
                "INSERT INTO jobs (kind, qualification_id, partner_id, run_at, attempts, done_at, outcome) \
                 VALUES ('vet', ?, ?, ?, 1, ?, 'Approved')",
            )?;
            let mut event_insert = tx.prepare(
                "INSERT INTO audit_events (qualification_id, customer_id, partner_id, qualification, at, actor, from_status, \
                 to_status) VALUES (?, ?, ?, 'Education', ?, 'bench', ?, ?)",
            )?;
            for _ in 0..k {
                let customer = uuid::Uuid::new_v4().to_string();
                customer_insert
                    .execute(rusqlite::params![customer, partner, profile, billing, now])?;
                let q: i64 = qualification_insert
                    .query_row(rusqlite::params![customer, partner, now, now], |r| r.get(0))?;
                job_insert.execute(rusqlite::params![q, partner, now, now])?;
                for (from, to) in [(None, "InReview"), (Some("InReview"), "Approved")] {
                    event_insert.execute(rusqlite::params![q, customer, partner, now, from, to])?;
                }
            }
        }
        tx.commit()?;
        done += k;
    }
    Ok(())
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

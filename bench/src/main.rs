//! `qualify-load`: the load generator of `bench/run`. It drives one running qualify server over
//! loopback with a fixed number of concurrent connections (or a fixed rate), records every
//! request's latency in an HDR histogram and prints one JSON line per scenario.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use futures::StreamExt;
use hdrhistogram::Histogram;
use qualify_core::PartnerId;
use qualify_server::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use qualify_server::{DevToken, Secret, mint_dev_token};
use serde_json::{Value, json};

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

fn admin_token() -> String {
    mint_dev_token(
        &DevToken {
            tenant: PartnerId::new_random(),
            app_only: true,
            admin: true,
            upn: None,
            ttl: Duration::from_secs(3600),
            audience: DEFAULT_AUDIENCE.into(),
        },
        &Secret::new(DEFAULT_DEV_SECRET),
    )
}

/// A fixture of `n` customers of `partner`, each with one InReview request that its scenario
/// approves an hour later; the partner's clock frozen.
fn control_fixture(partner: PartnerId, n: usize) -> Value {
    let customers: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": uuid::Uuid::new_v4().to_string(),
                "companyProfile": {"domain": format!("school{i}.example"), "companyName": format!("School {i}")},
                "billingProfile": {"email": "it@bench.example", "defaultAddress": {"country": "US", "city": "Redmond", "addressLine1": "1 Microsoft Way"}},
                "gdapRoles": ["Directory Reader"],
                "qualifications": [{"qualification": "StateOwnedEntity", "vettingStatus": "InReview"}]
            })
        })
        .collect();
    json!({"version": 1, "partners": [{
        "id": partner.to_string(),
        "customers": customers,
        "vetting": {"rules": [{"outcome": "Approved", "after": "1h"}]},
        "clock": {"mode": "frozen", "now": "2030-01-01T00:00:00Z"}
    }]})
}

/// Sends one control request and returns (milliseconds, status, body).
async fn timed(req: reqwest::RequestBuilder) -> anyhow::Result<(f64, u16, Value)> {
    let t = Instant::now();
    let r = req.send().await?;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    Ok((t.elapsed().as_secs_f64() * 1e3, status, body))
}

async fn control(base: &str, n: usize, concurrency: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()?;
    let admin = admin_token();
    let a = PartnerId::new_random();
    let doc = control_fixture(a, n);
    let (seed_ms, status, body) = timed(
        http.post(format!("{base}/admin/v1/seed"))
            .bearer_auth(&admin)
            .json(&doc),
    )
    .await?;
    if status != 200 {
        bail!("seed answered {status}: {body}");
    }
    let round = |ms: f64| (ms * 10.0).round() / 10.0;
    println!(
        "{}",
        json!({"scenario": "control_seed", "customers": n, "ms": round(seed_ms)})
    );
    let (snapshot_ms, status, snapshot) = timed(
        http.get(format!("{base}/admin/v1/partners/{a}/snapshot"))
            .bearer_auth(&admin),
    )
    .await?;
    let listed = snapshot["partners"][0]["customers"]
        .as_array()
        .map_or(0, Vec::len);
    if status != 200 || listed != n {
        bail!("snapshot answered {status} with {listed} customers");
    }
    println!(
        "{}",
        json!({"scenario": "control_snapshot", "customers": n, "ms": round(snapshot_ms)})
    );
    let (advance_ms, status, advanced) = timed(
        http.post(format!("{base}/admin/v1/partners/{a}/clock/advance"))
            .bearer_auth(&admin)
            .json(&json!({"by": "1h"})),
    )
    .await?;
    let applied = advanced["applied"].as_array().map_or(0, Vec::len);
    if status != 200 || applied != n {
        bail!("advance answered {status} with {applied} transitions");
    }
    println!(
        "{}",
        json!({"scenario": "control_advance", "jobs": n, "ms": round(advance_ms)})
    );

    // The reset of partner A while partner B creates qualifications as fast as it can.
    let b = PartnerId::new_random();
    let b_token = Arc::new(token(b));
    let load = client(concurrency);
    let ids =
        Arc::new(create_customers(&load, base, &b_token, 40_000, "contoso.onmicrosoft.com").await?);
    let body = Arc::new(serde_json::to_vec(
        &json!({"qualification": "StateOwnedEntity"}),
    )?);
    let started = Instant::now();
    let samples = Arc::new(std::sync::Mutex::new(Vec::<(f64, f64)>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (load, ids, body, tok, samples, stop, next, base) = (
                load.clone(),
                ids.clone(),
                body.clone(),
                b_token.clone(),
                samples.clone(),
                stop.clone(),
                next.clone(),
                base.to_owned(),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Some(id) = ids.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let t0 = started.elapsed().as_secs_f64();
                    let ok = load
                        .post(format!("{base}/v1/customers/{id}/qualifications"))
                        .bearer_auth(tok.as_str())
                        .header("content-type", "application/json")
                        .header("MS-RequestId", uuid::Uuid::new_v4().to_string())
                        .body(body.to_vec())
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 201);
                    if ok {
                        let t1 = started.elapsed().as_secs_f64();
                        samples.lock().unwrap().push((t0, t1));
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let reset_from = started.elapsed().as_secs_f64();
    let (reset_ms, status, removed) = timed(
        http.post(format!("{base}/admin/v1/partners/{a}/reset"))
            .bearer_auth(&admin),
    )
    .await?;
    let reset_to = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await?;
    }
    if status != 200 || removed["customers"].as_u64() != Some(n as u64) {
        bail!("reset answered {status}: {removed}");
    }
    let samples = samples.lock().unwrap().clone();
    let stats = |from: f64, to: f64| {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        let mut count = 0u64;
        for (t0, t1) in &samples {
            // A request that overlapped the window.
            if *t1 >= from && *t0 <= to {
                h.record(((t1 - t0) * 1e6).max(1.0) as u64).ok();
                count += 1;
            }
        }
        let span = (to - from).max(1e-3);
        (
            count as f64 / span,
            h.value_at_quantile(0.99) as f64 / 1000.0,
        )
    };
    let (before_rps, before_p99) = stats(0.5, reset_from);
    let (during_rps, during_p99) = stats(reset_from, reset_to);
    println!(
        "{}",
        json!({
            "scenario": "control_reset",
            "customers": n,
            "ms": round(reset_ms),
            "other_concurrency": concurrency,
            "other_rps_before": before_rps.round(),
            "other_p99_ms_before": before_p99,
            "other_rps_during": during_rps.round(),
            "other_p99_ms_during": during_p99,
        })
    );
    Ok(())
}

/// Open loop at a fixed rate: a request is sent every 1/rate seconds whatever the latency.
async fn vetting(
    base: &str,
    tok: &str,
    rate: u64,
    seconds: u64,
    sqlite: &str,
) -> anyhow::Result<()> {
    if rate == 0 {
        bail!("--rate must be positive");
    }
    let total = (rate * seconds) as usize;
    let http = client(256);
    let ids = create_customers(&http, base, tok, total, "uni.edu").await?;
    let body = json!({"qualification": "Education", "educationSegment": "HigherEducation"});
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut sent = Vec::with_capacity(total);
    for id in &ids {
        tick.tick().await;
        let req = http
            .post(format!("{base}/v1/customers/{id}/qualifications"))
            .bearer_auth(tok)
            .json(&body)
            .send();
        sent.push(tokio::spawn(req));
    }
    let mut created = 0;
    for s in sent {
        if s.await?.is_ok_and(|r| r.status() == 201) {
            created += 1;
        }
    }
    let create_phase = start.elapsed().as_secs_f64();
    // Wait for the queue to drain (bounded), then read the server-side times.
    let db =
        rusqlite::Connection::open_with_flags(sqlite, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let drain_start = Instant::now();
    loop {
        let open: i64 =
            db.query_row("SELECT count(*) FROM jobs WHERE done_at IS NULL", [], |r| {
                r.get(0)
            })?;
        if open == 0 || drain_start.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drained_after = drain_start.elapsed().as_secs_f64();
    let gaps: Vec<i64> = db
        .prepare(
            "SELECT d.at - c.at FROM audit_events c JOIN audit_events d ON d.qualification_id = c.qualification_id \
             WHERE c.from_status IS NULL AND d.from_status IS NOT NULL",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000, 3)?;
    for g in &gaps {
        h.record((*g).max(1) as u64).ok();
    }
    println!(
        "{}",
        json!({
            "scenario": "auto_vetting",
            "rate": rate,
            "created": created,
            "decided": gaps.len(),
            "create_phase_seconds": (create_phase * 100.0).round() / 100.0,
            "queue_drained_seconds_after_last_create": (drained_after * 1000.0).round() / 1000.0,
            "to_terminal_p50_ms": h.value_at_quantile(0.5),
            "to_terminal_p99_ms": h.value_at_quantile(0.99),
            "to_terminal_max_ms": h.max(),
        })
    );
    Ok(())
}

/// Arrival times of the created events, by customer id.
type Arrivals = Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>>;

async fn receiver(arrivals: Arrivals) -> anyhow::Result<String> {
    let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
        let arrivals = arrivals.clone();
        async move {
            let now = Instant::now();
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
                && let Some(c) = v["ResourceUri"]
                    .as_str()
                    .and_then(|u| u.split("/v1/customers/").nth(1))
                    .and_then(|r| r.split('/').next())
            {
                arrivals.lock().unwrap().entry(c.to_owned()).or_insert(now);
            }
            axum::http::StatusCode::NO_CONTENT
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hooks", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

/// Waits (bounded) until every id in `ids` has arrived.
async fn await_arrivals(arrivals: &Arrivals, ids: &[String], limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        let all_in = {
            let got = arrivals.lock().unwrap();
            ids.iter().all(|i| got.contains_key(i))
        };
        if all_in {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn webhooks(
    base: &str,
    rate: u64,
    seconds: u64,
    burst: usize,
    partners: usize,
) -> anyhow::Result<()> {
    if rate == 0 || partners == 0 {
        bail!("--rate and --partners must be positive");
    }
    let arrivals: Arrivals = Arc::default();
    let url = receiver(arrivals.clone()).await?;
    let http = client(64);
    let total = (rate * seconds) as usize;
    let per_partner = (total + burst).div_ceil(partners);
    // (token, customer) pairs, round robin over the partners.
    let mut by_partner = Vec::with_capacity(partners);
    for _ in 0..partners {
        let tok = token(PartnerId::new_random());
        let r = http
            .post(format!("{base}/webhooks/v1/registration"))
            .bearer_auth(&tok)
            .json(&json!({"WebhookUrl": url, "WebhookEvents": ["customer-qualification-created"]}))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("registering the receiver: {}", r.text().await?);
        }
        let ids = create_customers(&http, base, &tok, per_partner, "bench.example").await?;
        by_partner.push((tok, ids));
    }
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(per_partner * partners);
    for i in 0..per_partner {
        for (tok, ids) in &by_partner {
            pairs.push((tok.clone(), ids[i].clone()));
        }
    }
    let body = json!({"qualification": "StateOwnedEntity"});
    // Open loop at `rate`: latency from sending the create to the event's arrival.
    let (paced, rest) = pairs.split_at(total);
    let bursty = &rest[..burst.min(rest.len())];
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = Vec::with_capacity(total);
    for (tok, id) in paced {
        tick.tick().await;
        let req = http
            .post(format!("{base}/v1/customers/{id}/qualifications"))
            .bearer_auth(tok)
            .json(&body)
            .send();
        sent.push((id.clone(), Instant::now(), tokio::spawn(req)));
    }
    let mut created = vec![];
    for (id, at, s) in sent {
        if s.await?.is_ok_and(|r| r.status() == 201) {
            created.push((id, at));
        }
    }
    let ids: Vec<String> = created.iter().map(|(i, _)| i.clone()).collect();
    await_arrivals(&arrivals, &ids, Duration::from_secs(60)).await;
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    let mut delivered = 0;
    {
        let got = arrivals.lock().unwrap();
        for (id, at) in &created {
            if let Some(arrived) = got.get(id) {
                delivered += 1;
                h.record(arrived.duration_since(*at).as_micros().max(1) as u64)
                    .ok();
            }
        }
    }
    // A burst: deliveries per second while the queue holds many.
    let start = Instant::now();
    let runs = futures::stream::iter(bursty.iter().map(|(tok, id)| {
        let http = http.clone();
        let (url, body, tok) = (
            format!("{base}/v1/customers/{id}/qualifications"),
            body.clone(),
            tok.to_owned(),
        );
        async move { http.post(url).bearer_auth(tok).json(&body).send().await }
    }))
    .buffer_unordered(32)
    .collect::<Vec<_>>()
    .await;
    let burst_created = runs
        .iter()
        .filter(|r| r.as_ref().is_ok_and(|r| r.status() == 201))
        .count();
    let bursty: Vec<String> = bursty.iter().map(|(_, id)| id.clone()).collect();
    await_arrivals(&arrivals, &bursty, Duration::from_secs(120)).await;
    let (first, last, burst_delivered) = {
        let got = arrivals.lock().unwrap();
        let times: Vec<Instant> = bursty.iter().filter_map(|i| got.get(i).copied()).collect();
        (
            times.iter().min().copied(),
            times.iter().max().copied(),
            times.len(),
        )
    };
    let span = match (first, last) {
        (Some(f), Some(l)) => l.duration_since(f).as_secs_f64().max(1e-3),
        _ => f64::NAN,
    };
    let ms = |q: f64| (h.value_at_quantile(q) as f64 / 10.0).round() / 100.0;
    println!(
        "{}",
        json!({
            "scenario": "webhooks",
            "rate": rate,
            "partners": partners,
            "created": created.len(),
            "delivered": delivered,
            "create_to_delivery_p50_ms": ms(0.5),
            "create_to_delivery_p99_ms": ms(0.99),
            "create_to_delivery_max_ms": (h.max() as f64 / 10.0).round() / 100.0,
            "burst_created": burst_created,
            "burst_delivered": burst_delivered,
            "burst_seconds_total": (start.elapsed().as_secs_f64() * 100.0).round() / 100.0,
            "deliveries_per_second": (burst_delivered as f64 / span).round(),
        })
    );
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

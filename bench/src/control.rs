//! `qualify-load control`: seed, snapshot, advance and reset of N customers, and another
//! partner's creates while a reset runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use hdrhistogram::Histogram;
use qualify_core::PartnerId;
use qualify_server::auth::{DEFAULT_AUDIENCE, DEFAULT_DEV_SECRET};
use qualify_server::{DevToken, Secret, mint_dev_token};
use serde_json::{Value, json};

use crate::{client, create_customers, token};

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

pub(crate) async fn control(base: &str, n: usize, concurrency: usize) -> anyhow::Result<()> {
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

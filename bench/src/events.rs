//! `qualify-load vetting` and `webhooks`: decisions and deliveries at a fixed rate, open loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use futures::StreamExt;
use hdrhistogram::Histogram;
use qualify_core::PartnerId;
use serde_json::json;

use crate::{client, create_customers, token};

/// Open loop at a fixed rate: a request is sent every 1/rate seconds whatever the latency.
pub(crate) async fn vetting(
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

pub(crate) async fn webhooks(
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

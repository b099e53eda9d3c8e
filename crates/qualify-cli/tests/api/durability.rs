//! Group commit keeps every guarantee: SIGKILL in the middle of a write load loses no
//! acknowledged write, checked row by row after restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::sync::Mutex;

use crate::helpers::*;

#[tokio::test]
async fn sigkill_under_load_loses_no_acknowledged_write() {
    let mut s = Server::start().await;
    let p = s.partner();
    let mut customers = vec![];
    for _ in 0..30 {
        let batch = futures::future::join_all((0..50).map(|_| s.create_customer(&p))).await;
        customers.extend(batch);
    }
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let customers = Arc::new(customers);
    let base = s.base.clone();
    let workers: Vec<_> = (0..32)
        .map(|_| {
            let (acknowledged, stop, next, customers, base, token) = (
                acknowledged.clone(),
                stop.clone(),
                next.clone(),
                customers.clone(),
                base.clone(),
                p.app_user.clone(),
            );
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap();
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(c) = customers.get(i) else { break };
                    let r = http
                        .post(format!("{base}/v1/customers/{c}/qualifications"))
                        .bearer_auth(&token)
                        .json(&json!({"qualification": "StateOwnedEntity"}))
                        .send()
                        .await;
                    if let Ok(r) = r
                        && r.status() == 201
                    {
                        acknowledged.lock().await.push(c.clone());
                    }
                }
            })
        })
        .collect();
    // Let the load run, then kill the server in the middle of it.
    poll_until(
        "200 acknowledged creates",
        Duration::from_secs(30),
        async || (acknowledged.lock().await.len() >= 200).then_some(()),
    )
    .await;
    s.kill9();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let acknowledged = acknowledged.lock().await.clone();
    assert!(
        acknowledged.len() < customers.len(),
        "the kill came after the load had finished"
    );
    s.restart().await;
    for c in &acknowledged {
        let list = s.qualifications(&p, c).await;
        assert_eq!(
            list.as_array().map(Vec::len),
            Some(1),
            "acknowledged create of {c} lost: {list}"
        );
        assert_eq!(list[0]["qualification"], "StateOwnedEntity");
        let history = s.history(c, "StateOwnedEntity").await;
        assert_eq!(
            history.as_array().map(Vec::len),
            Some(1),
            "audit event of {c}: {history}"
        );
    }
    // Nothing is half-present: every customer has either nothing or a complete request.
    for c in customers.iter() {
        let list = s.qualifications(&p, c).await;
        let history = s.history(c, "StateOwnedEntity").await;
        assert_eq!(
            list.as_array().unwrap().len(),
            history.as_array().unwrap().len(),
            "customer {c}"
        );
    }
    eprintln!(
        "{} acknowledged writes checked after SIGKILL",
        acknowledged.len()
    );
}

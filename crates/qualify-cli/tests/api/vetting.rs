//! Vetting across a process's life: a pending job survives kill -9, and graceful shutdown
//! keeps the data. The HTTP behaviour of vetting (decisions, the auto policy, the history, the
//! delay) is tested in process, with a manual clock: `crates/qualify-server/tests/http/vetting.rs`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::db::Db;
use crate::helpers::*;
use crate::workload;

async fn only(s: &Server, p: &Partner, c: &str) -> Value {
    let list = s.qualifications(p, c).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    list[0].clone()
}

/// Waits for the customer's only qualification to be decided.
async fn decided(s: &Server, p: &Partner, c: &str) -> Value {
    s.wait_terminal(p, c, Duration::from_secs(15)).await
}

#[tokio::test]
async fn a_pending_vetting_job_survives_kill_9() {
    let mut s = Server::start_with(Options {
        vetting: "auto",
        // Due a second after the create: still pending when the process is killed right after
        // the 201.
        delay: "1s",
        ..Default::default()
    })
    .await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    let created = s
        .create_qualification(&p, &c, education_at(Some("contoso.edu")))
        .await;
    assert_created(&created, "Education");
    s.kill9();
    s.restart().await;
    let q = decided(&s, &p, &c).await;
    assert_eq!(q["vettingStatus"], "Approved", "{q}");
    assert_eq!(q["vettingCreateDate"], created.body["vettingCreateDate"]);
    // Its job is done (none left unfinished): no second decision can come.
    let db = Db::open(&s.database).await;
    workload::wait_for_drain(&db, Duration::from_secs(15)).await;
    db.close().await;
    let h = s.history(&c, "Education").await;
    let decisions = h
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["to"] != "InReview")
        .count();
    assert_eq!(decisions, 1, "{h}");
    assert_eq!(h.as_array().unwrap().len(), 2, "{h}");
    assert_eq!(only(&s, &p, &c).await["vettingStatus"], "Approved");
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly_and_keeps_the_data() {
    let mut s = Server::start().await;
    let p = s.partner();
    let c = s.create_customer(&p).await;
    assert_created(
        &s.create_qualification(&p, &c, education()).await,
        "Education",
    );
    let status = s.terminate();
    assert!(
        status.success(),
        "qualify serve exited with {status:?}\n{}",
        s.logs()
    );
    s.restart().await;
    let q = only(&s, &p, &c).await;
    assert_eq!(
        (q["qualification"].clone(), q["vettingStatus"].clone()),
        (json!("Education"), json!("InReview"))
    );
    s.decide(&c, "Education", "Approved", None).await;
    assert_eq!(only(&s, &p, &c).await["vettingStatus"], "Approved");
}

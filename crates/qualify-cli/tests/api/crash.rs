//! Crash consistency under load (issue 6, item 1): writers and a reviewer run against the server
//! while it is killed with SIGKILL at random moments, again and again. After each kill, before
//! the restart, the database is read directly (the crash image): everything acknowledged is
//! there and nothing is half there. After each restart every unanswered create is retried with
//! its `MS-RequestId`. At the end the queue drains and the whole log is checked once more,
//! through the database and through the API.
//!
//! Runs on the backend of the suite (SQLite, or PostgreSQL with `QUALIFY_TEST_BACKEND=postgres`).
//! `QUALIFY_CRASH_KILLS` sets the number of kills (default 10); the long form is documented in
//! docs/security.md.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::db::Db;
use crate::figures;
use crate::helpers::*;
use crate::workload::{self, Expect, Workload};

fn kills() -> usize {
    std::env::var("QUALIFY_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_write_and_leaves_nothing_half_done() {
    let kills = kills();
    let started = Instant::now();
    let mut s = Server::start_with(Options {
        vetting: "auto",
        delay: "300ms",
        extra: vec!["--job-lease".into(), "1s".into()],
        ..Default::default()
    })
    .await;
    let backend = if s.database.starts_with("postgres") {
        "postgres"
    } else {
        "sqlite"
    };
    // Enough creates per code that some codes run out during a long run.
    let w = Workload::setup(&s.base, 2, 25 + 2 * kills as i64).await;
    let mut unknown = 0;
    let mut crash_image_writes = 0;
    for round in 0..kills {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = w.start(&s.base, round, 4, true, &stop);
        // A random moment of the load: after a random number of answered requests.
        w.until_answered(round, rand::random_range(20..200)).await;
        // Requests in flight now get no answer.
        stop.store(true, Ordering::SeqCst);
        s.kill9();
        for t in tasks {
            t.await.unwrap();
        }
        // The crash image, before anything recovers it.
        let db = Db::open(&s.database).await;
        crash_image_writes += workload::check(&db, &w, Expect::CrashImage).await.writes();
        s.restart().await;
        unknown += w.settle_unknowns(&s.base, &db).await;
        db.close().await;
    }
    // A last stretch without a kill, then the queue drains.
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = w.start(&s.base, kills, 4, true, &stop);
    w.until_answered(kills, 100).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    let db = Db::open(&s.database).await;
    workload::wait_for_drain(&db, Duration::from_secs(60)).await;
    let checked = workload::check(&db, &w, Expect::Settled).await;
    let jobs = workload::check_jobs_done(&db, &w).await;
    let reads = workload::check_through_api(&s.base, &w).await;
    db.close().await;
    assert!(w.server_errors().is_empty(), "{:?}", w.server_errors());
    let requests = w.entries().len();
    assert!(
        checked.qualifications >= kills,
        "too little load to mean anything: {checked:?}"
    );
    let line = format!(
        "crash ({backend}): {kills} SIGKILLs survived, {requests} requests, {} acknowledged writes checked \
         ({} customers, {} qualifications, {} decisions), {} refusals checked absent, {unknown} unanswered \
         requests settled by retry, {jobs} vetting jobs finished once, {} GCC codes balanced, {reads} API reads, \
         {crash_image_writes} write checks on crash images, {:.0}s",
        checked.writes(),
        checked.customers,
        checked.qualifications,
        checked.decisions,
        checked.rejections,
        checked.gcc_codes,
        started.elapsed().as_secs_f64()
    );
    figures::record(&line);
}

//! Backup and restore without stopping the service (issue 6, item 2): `qualify admin backup`
//! runs while writers keep the server busy; the backup is restored into a new database with
//! `qualify admin restore`; a server on the restored database has every write acknowledged
//! before the backup began, and nothing half there. SQLite in the default run; PostgreSQL
//! (pg_dump / pg_restore) with `QUALIFY_TEST_BACKEND=postgres`.

use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::db::Db;
use crate::figures;
use crate::helpers::*;
use crate::workload::{self, Expect, Kind, Outcome, Workload};

async fn qualify(args: &[&str]) -> Output {
    tokio::process::Command::new(BIN)
        .args(args)
        .env_remove("QUALIFY_DATABASE_URL")
        .output()
        .await
        .expect("running qualify")
}

fn shown(o: &Output) -> String {
    format!(
        "{}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn pg_tools_present() -> bool {
    ["pg_dump", "pg_restore"].iter().all(|t| {
        std::process::Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// A new, empty database of the suite's backend for the restore.
async fn new_database(dir: &std::path::Path) -> String {
    match std::env::var("QUALIFY_TEST_BACKEND").as_deref() {
        Ok("postgres") => qualify_store::testing::fresh_postgres_database()
            .await
            .expect("QUALIFY_TEST_POSTGRES_URL"),
        _ => format!("sqlite://{}", dir.join("restored.db").display()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_write_acknowledged_before_it() {
    let s = Server::start_with(Options {
        vetting: "auto",
        delay: "200ms",
        ..Default::default()
    })
    .await;
    let postgres = s.database.starts_with("postgres");
    if postgres && !pg_tools_present() {
        eprintln!("skipped: pg_dump/pg_restore are not on the PATH");
        return;
    }
    let w = Workload::setup(&s.base, 2, 200).await;
    let stop = Arc::new(AtomicBool::new(false));
    let tasks = w.start(&s.base, 0, 4, true, &stop);
    // Writes before the backup ...
    w.until_answered(0, 300).await;

    let file = s.dir.path().join("qualify.backup");
    let began = Instant::now();
    let out = qualify(&[
        "admin",
        "backup",
        "--database",
        &s.database,
        "--to",
        file.to_str().unwrap(),
    ])
    .await;
    let ended = Instant::now();
    assert!(out.status.success(), "{}", shown(&out));
    // ... and after it.
    let answered = w.answered_in(0);
    w.until_answered(0, answered + 100).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        t.await.unwrap();
    }
    // The service did not stop: every request got an answer, none a 5xx, and some were
    // answered while the backup ran.
    let log = w.entries();
    assert!(w.server_errors().is_empty(), "{:?}", w.server_errors());
    assert!(
        log.iter().all(|e| !matches!(e.outcome, Outcome::Unknown)),
        "a request got no answer during the backup"
    );
    let during = log
        .iter()
        .filter(|e| e.acked() && e.answered > began && e.answered < ended)
        .count();
    let before = log
        .iter()
        .filter(|e| e.acked() && e.answered < began)
        .count();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(
        report["backend"],
        if postgres { "postgres" } else { "sqlite" }
    );

    // A backup never overwrites.
    let again = qualify(&[
        "admin",
        "backup",
        "--database",
        &s.database,
        "--to",
        file.to_str().unwrap(),
    ])
    .await;
    assert!(!again.status.success(), "{}", shown(&again));

    let restored = new_database(s.dir.path()).await;
    let out = qualify(&[
        "admin",
        "restore",
        "--from",
        file.to_str().unwrap(),
        "--database",
        &restored,
    ])
    .await;
    assert!(out.status.success(), "{}", shown(&out));
    // Restore only ever goes into a new database: not into the live one, not twice.
    for target in [&s.database, &restored] {
        let out = qualify(&[
            "admin",
            "restore",
            "--from",
            file.to_str().unwrap(),
            "--database",
            target,
        ])
        .await;
        assert!(
            !out.status.success(),
            "restore into {target}: {}",
            shown(&out)
        );
    }

    let db = Db::open(&restored).await;
    let checked = workload::check(&db, &w, Expect::BackupAt(began)).await;
    db.close().await;
    assert_eq!(
        checked.writes(),
        before,
        "every write acknowledged before the backup was checked"
    );
    assert!(before > 0 && checked.qualifications > 0, "{checked:?}");

    // A server runs on the restored database: it reads it, and its worker finishes the jobs
    // that were open in the copy.
    let started = Instant::now();
    let r2 = Server::start_on(&restored, s.options.clone()).await;
    let some_customer = log
        .iter()
        .find_map(|e| match (&e.kind, &e.outcome) {
            (Kind::Customer { partner, .. }, Outcome::Acked { body, .. }) if e.answered < began => {
                Some((*partner, body["id"].as_str().unwrap().to_owned()))
            }
            _ => None,
        })
        .unwrap();
    let r = r2
        .get(&format!("/v1/customers/{}", some_customer.1))
        .token(&w.tenants[some_customer.0].app_user)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let db = Db::open(&restored).await;
    workload::wait_for_drain(&db, Duration::from_secs(30)).await;
    db.close().await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the restored jobs waited for leases of a server that is gone"
    );
    figures::record(&format!(
        "backup ({}): taken in {}ms under load ({during} requests answered while it ran, no 5xx); \
         restored copy holds all {before} writes acknowledged before it began",
        if postgres { "postgres" } else { "sqlite" },
        (ended - began).as_millis()
    ));
}

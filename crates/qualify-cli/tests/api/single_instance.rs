//! One `qualify serve` per SQLite file (product.md, CLI contract): a second one refuses to start
//! and names the process that holds the database; the lock dies with its process.

use std::time::Duration;

use crate::helpers::*;

/// The second `serve`'s exit status and stderr (it must exit on its own).
async fn second_serve(database: &str) -> (std::process::ExitStatus, String, String) {
    let run = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
        .args(["--rate-limit-per-minute", "0"])
        .env_remove("QUALIFY_CONFIG")
        .env("QUALIFY_LOG", "info,sqlx=warn")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the second serve kept running")
        .expect("running qualify serve");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_second_serve_on_one_sqlite_file_is_refused_and_a_crash_frees_it() {
    let mut s = Server::start().await;
    if s.database.starts_with("postgres") {
        eprintln!("skipped: the lock is for SQLite files (PostgreSQL takes several instances)");
        return;
    }
    let file = s.dir.path().join("qualify.db");
    let lock = std::fs::read_to_string(s.dir.path().join("qualify.db.lock"))
        .expect("serve writes its pid into qualify.db.lock");
    let pid = lock.trim().to_owned();
    // The pid in the lock is the running server's.
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("the holder is alive");
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    assert!(
        cmdline.contains("serve") && cmdline.contains(&s.database),
        "pid {pid} is {cmdline:?}"
    );

    let (status, stdout, stderr) = second_serve(&s.database).await;
    assert!(!status.success(), "the second serve started: {stderr}");
    assert!(!stdout.contains("listening on"), "{stdout}");
    assert!(stderr.contains(&format!("process {pid}")), "{stderr}");
    assert!(
        stderr.contains(&file.display().to_string()) && stderr.contains("qualify.db.lock"),
        "{stderr}"
    );

    // The first is unharmed and keeps serving.
    let r = s.get("/readyz").send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = s.partner();
    s.create_customer(&p).await;

    // kill -9 leaves the file behind but not the lock: a new serve starts.
    s.kill9();
    s.restart().await;
    let r = s.get("/readyz").send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    let again = std::fs::read_to_string(s.dir.path().join("qualify.db.lock")).unwrap();
    assert_ne!(
        again.trim(),
        pid,
        "the new holder's pid replaces the old one"
    );
    let (status, _, stderr) = second_serve(&s.database).await;
    assert!(
        !status.success(),
        "a second serve beside the restarted one: {stderr}"
    );
    assert!(
        stderr.contains(&format!("process {}", again.trim())),
        "{stderr}"
    );
}

/// In-memory databases are private to their process: any number of them may run.
#[tokio::test]
async fn in_memory_databases_take_no_lock() {
    let a = Server::start_on("sqlite::memory:", Options::default()).await;
    let b = Server::start_on("sqlite::memory:", Options::default()).await;
    for s in [&a, &b] {
        let r = s.get("/readyz").send().await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}

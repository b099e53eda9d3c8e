//! `qualify healthcheck` (the container image's HEALTHCHECK) and `qualify --version`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

/// `qualify healthcheck ARGS` with `QUALIFY_LISTEN` set to `listen` (or unset).
fn healthcheck(args: &[&str], listen: Option<&str>) -> CliOut {
    let mut cmd = Command::new(BIN);
    cmd.arg("healthcheck")
        .args(args)
        .env_remove("QUALIFY_LISTEN");
    if let Some(l) = listen {
        cmd.env("QUALIFY_LISTEN", l);
    }
    let out = cmd.output().expect("running qualify healthcheck");
    CliOut {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Kills the server if the test fails before stopping it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn healthy_on_a_ready_server_found_through_qualify_listen_as_the_image_sets_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    // What the image runs: all interfaces, dev auth with the explicit allowance.
    let child = Command::new(BIN)
        .args(["serve", "--database", "sqlite::memory:"])
        .env("QUALIFY_LISTEN", "0.0.0.0:0")
        .env("QUALIFY_ALLOW_DEV_AUTH_ON_NETWORK", "true")
        .env_remove("QUALIFY_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut child = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .strip_prefix("listening on http://0.0.0.0:")
        .unwrap_or_else(|| panic!("first line {line:?}"))
        .to_owned();
    let listen = format!("0.0.0.0:{port}");
    // Ready within a bounded number of checks (each one is a process run).
    let ok = poll_until_blocking("a passing healthcheck", Duration::from_secs(20), || {
        let out = healthcheck(&[], Some(&listen));
        (out.code == 0).then_some(out)
    });
    assert!(
        ok.stdout
            .contains(&format!("http://127.0.0.1:{port}/readyz")),
        "{}",
        ok.stdout
    );
    // An explicit base URL (with a trailing slash) wins over QUALIFY_LISTEN.
    let base = format!("http://127.0.0.1:{port}/");
    let out = healthcheck(&["--base-url", &base], Some("127.0.0.1:1"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    // A graceful stop, so the log thread writes out what it queued.
    let term = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(child.0.wait().unwrap().success());
    // The log says that dev auth listens on the network by the operator's choice.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("dev auth on a non-loopback address (--allow-dev-auth-on-network true)"),
        "{logged}"
    );
}

#[test]
fn unhealthy_when_nothing_listens() {
    let out = healthcheck(&["--base-url", &closed_port_url()], None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("not ready"), "{}", out.stderr);
}

#[tokio::test]
async fn unhealthy_when_readyz_is_not_200() {
    let app = axum::Router::new().route(
        "/readyz",
        axum::routing::get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "starting") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let out = tokio::task::spawn_blocking(move || healthcheck(&["--base-url", &base], None))
        .await
        .unwrap();
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("503"), "{}", out.stderr);
}

#[test]
fn unhealthy_within_its_timeout_when_the_server_never_answers() {
    // Accepts connections (the kernel's backlog) and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", silent.local_addr().unwrap());
    let started = Instant::now();
    let out = healthcheck(&["--base-url", &base, "--timeout", "500ms"], None);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn version_prints_the_package_version() {
    let out = run_cli(&["--version"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.trim(),
        format!("qualify {}", env!("CARGO_PKG_VERSION"))
    );
}

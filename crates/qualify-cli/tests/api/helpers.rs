//! The black-box harness: each test starts the real `qualify` binary on `127.0.0.1:0` with a
//! fresh database and talks HTTP to it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use qualify_server::auth::DEFAULT_DEV_SECRET;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_qualify");

#[derive(Debug, Clone)]
pub struct Options {
    pub vetting: &'static str,
    pub delay: &'static str,
    pub rate_limit: u32,
    pub extra: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            vetting: "manual",
            delay: "0s",
            rate_limit: 0,
            extra: vec![],
        }
    }
}

pub struct Server {
    child: Option<Child>,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub database: String,
    pub options: Options,
    /// The test interface over this process's socket (`Server` derefs to it).
    api: Api,
    starts: usize,
}

impl std::ops::Deref for Server {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

pub fn spawn(database: &str, options: &Options, log: PathBuf) -> (Child, String) {
    spawn_with_env(database, options, log, &[])
}

pub fn spawn_with_env(
    database: &str,
    options: &Options,
    log: PathBuf,
    env: &[(&str, &str)],
) -> (Child, String) {
    let log = std::fs::File::create(log).expect("log file");
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
        .args([
            "--vetting",
            options.vetting,
            "--vetting-delay",
            options.delay,
        ])
        .args(["--rate-limit-per-minute", &options.rate_limit.to_string()])
        .args(&options.extra)
        .env_remove("QUALIFY_CONFIG")
        .env("QUALIFY_LOG", "info,sqlx=warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawning qualify serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let mut reader = BufReader::new(stdout);
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep draining so the server never blocks on a full pipe.
        let mut sink = String::new();
        while reader.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("qualify serve printed nothing within 30s");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first stdout line was {line:?}"))
        .to_owned();
    (child, base)
}

impl Server {
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// The CPU time (user and system) the server process has used so far, from
    /// `/proc/PID/stat`: a figure the machine's other load barely moves.
    pub fn cpu_time(&self) -> Duration {
        let pid = self.child.as_ref().expect("a running server").id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
        // The fields after the command name (which may hold spaces) in parentheses.
        let after = &stat[stat.rfind(')').expect("a stat line") + 2..];
        let fields: Vec<&str> = after.split_whitespace().collect();
        // utime and stime: fields 14 and 15 of the line, 12 and 13 after the name and state.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        // Linux reports them in clock ticks of 1/100 s (USER_HZ).
        Duration::from_millis(ticks * 10)
    }

    pub async fn start_with(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = test_database(&dir).await;
        Self::start_in(dir, database, options).await
    }

    /// Another instance on an existing database (several instances on one PostgreSQL).
    pub async fn start_on(database: &str, options: Options) -> Self {
        Self::start_in(
            tempfile::tempdir().expect("temp dir"),
            database.to_owned(),
            options,
        )
        .await
    }

    /// Like `start_on`, with extra environment for the process (fault injection).
    pub async fn start_on_with_env(database: &str, options: Options, env: &[(&str, &str)]) -> Self {
        Self::start_in_env(
            tempfile::tempdir().expect("temp dir"),
            database.to_owned(),
            options,
            env,
        )
        .await
    }

    async fn start_in(dir: tempfile::TempDir, database: String, options: Options) -> Self {
        Self::start_in_env(dir, database, options, &[]).await
    }

    async fn start_in_env(
        dir: tempfile::TempDir,
        database: String,
        options: Options,
        env: &[(&str, &str)],
    ) -> Self {
        let (child, base) =
            spawn_with_env(&database, &options, dir.path().join("server-0.log"), env);
        let server = Self {
            child: Some(child),
            api: Api::over_http(&base),
            base,
            dir,
            database,
            options,
            starts: 1,
        };
        server.wait_ready().await;
        server
    }

    /// Waits (at most 30 s) until `/readyz` answers 200. Its connections are closed when it
    /// returns (none stays open to count against `--max-connections`).
    pub async fn wait_ready(&self) {
        let ready = format!("{}/readyz", self.base);
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client");
        poll_until("the server ready", Duration::from_secs(30), async || {
            let r = http.get(&ready).send().await.ok()?;
            (r.status() == 200).then_some(())
        })
        .await;
    }

    /// Sends SIGTERM without waiting for the process to exit.
    pub fn signal_term(&self) {
        let pid = self.child.as_ref().expect("running").id();
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill -TERM");
    }

    /// SIGKILL: no shutdown, no released leases.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for the process to exit; returns its exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .expect("kill -TERM");
        c.wait().expect("wait")
    }

    /// Starts a new process on the same database (after `kill9` or `terminate`).
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server first");
        let (child, base) = spawn(
            &self.database,
            &self.options,
            self.dir.path().join(format!("server-{}.log", self.starts)),
        );
        self.starts += 1;
        self.child = Some(child);
        self.api = Api::over_http(&base);
        self.base = base;
        self.wait_ready().await;
    }

    pub fn logs(&self) -> String {
        (0..self.starts)
            .map(|i| {
                std::fs::read_to_string(self.dir.path().join(format!("server-{i}.log")))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        // Every test server's log is checked for secrets (docs/security.md), unless the test
        // failed already.
        if !std::thread::panicking() {
            let mut secrets: Vec<String> = self
                .options
                .extra
                .windows(2)
                .filter(|w| w[0] == "--dev-secret")
                .map(|w| w[1].clone())
                .collect();
            secrets.extend(password_of(&self.database));
            let found = leaks(&self.logs(), &secrets);
            assert!(found.is_empty(), "secrets in the server log: {found:?}");
        }
    }
}

/// The password of a database URL, if it has one.
fn password_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let creds = &rest[..rest.find('@')?];
    let (_, password) = creds.split_once(':')?;
    (!password.is_empty()).then(|| password.to_owned())
}

/// The log line around byte `at`, shortened.
fn line_at(log: &str, at: usize) -> String {
    let start = log[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = log[at..].find('\n').map_or(log.len(), |i| at + i);
    log[start..end].chars().take(300).collect()
}

/// What of `secrets` (and of any token, and of the well-known dev secret) appears in `log`: a
/// JWT is recognised by its first two segments (base64url JSON objects start with `eyJ`), a
/// known token also by its signature alone.
pub fn leaks(log: &str, secrets: &[String]) -> Vec<String> {
    let mut found = vec![];
    if let Some(at) = log.find(DEFAULT_DEV_SECRET) {
        found.push(format!(
            "the well-known dev secret in: {}",
            line_at(log, at)
        ));
    }
    for s in secrets.iter().filter(|s| s.len() >= 8) {
        let signature = s.rsplit('.').next().unwrap_or(s);
        let at = log.find(s.as_str()).or_else(|| {
            (signature.len() >= 16)
                .then(|| log.find(signature))
                .flatten()
        });
        if let Some(at) = at {
            found.push(format!("{}... in: {}", &s[..8], line_at(log, at)));
        }
    }
    let jwt_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut rest = log;
    while let Some(at) = rest.find("eyJ") {
        let run: &str = &rest[at..];
        let first = run.find(|c: char| !jwt_char(c)).unwrap_or(run.len());
        if run[first..].starts_with(".eyJ") {
            found.push(format!("a token in: {}", line_at(rest, at)));
        }
        rest = &rest[at + 3..];
    }
    found
}

/// The database of a test server: a fresh SQLite file, or a fresh PostgreSQL database when
/// `QUALIFY_TEST_BACKEND=postgres` (the same suite, run a second time by `.ci/run`).
pub async fn test_database(dir: &tempfile::TempDir) -> String {
    test_database_url(dir.path()).await
}

pub use qualify_server::testing::{
    Api, Partner, Resp, assert_created, customer_body, education, education_at, new_id, poll_until,
    state_owned, test_database_url, token,
};

/// [`poll_until`] for a test without a runtime of its own.
pub fn poll_until_blocking<T>(
    what: &str,
    within: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime")
        .block_on(poll_until(what, within, async || check()))
}

/// Waits for `child` to exit, at most for `within` (then kills it): its output, and whether it
/// exited by itself.
pub fn output_within(child: Child, within: Duration) -> (std::process::Output, bool) {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(within) {
        Ok(out) => (out.expect("waiting for qualify"), true),
        Err(_) => {
            Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .expect("kill -KILL");
            let out = rx.recv().expect("the waiting thread");
            (out.expect("waiting for qualify"), false)
        }
    }
}

/// What a run of the `qualify` binary left: its exit code and its two streams.
pub struct CliOut {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOut {
    /// stdout as JSON, after asserting exit 0.
    #[track_caller]
    pub fn json(&self) -> Value {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// The error object `--json` prints on stderr.
    #[track_caller]
    pub fn error_json(&self) -> Value {
        serde_json::from_str(self.stderr.trim())
            .unwrap_or_else(|e| panic!("stderr is not JSON ({e}): {}", self.stderr))
    }
}

/// Runs `qualify ARGS` as a script would, with only `env` of qualify's own variables set (none
/// leaks in from the environment of the test run).
pub fn run_cli(args: &[&str], env: &[(&str, &str)]) -> CliOut {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for var in [
        "QUALIFY_TOKEN",
        "QUALIFY_ADMIN_TOKEN",
        "QUALIFY_BASE_URL",
        "QUALIFY_CONFIG",
        "QUALIFY_DEV_SECRET",
        "QUALIFY_OIDC_AUDIENCE",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("running qualify");
    CliOut {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A base URL nothing listens on (a port just freed).
pub fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    format!("http://{}", l.local_addr().expect("its address"))
}

/// Like [`run_cli`], with `stdin` written to the process's standard input.
pub fn run_cli_with_stdin(args: &[&str], env: &[(&str, &str)], stdin: &str) -> CliOut {
    use std::io::Write;
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for var in [
        "QUALIFY_TOKEN",
        "QUALIFY_ADMIN_TOKEN",
        "QUALIFY_BASE_URL",
        "QUALIFY_CONFIG",
        "QUALIFY_DEV_SECRET",
        "QUALIFY_OIDC_AUDIENCE",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("running qualify");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("writing stdin");
    drop(input);
    let out = child.wait_with_output().expect("waiting for qualify");
    CliOut {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

//! The command line as a new user meets it (issue 18): a bad value is a usage error (exit 2)
//! that says what is wrong and what is accepted; a command whose reader goes away ends quietly;
//! a fault that is not there is not "removed"; a database that cannot be opened is named in
//! words, its password hidden and nothing else.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{Server, output_within};

const QUALIFY: &str = env!("CARGO_BIN_EXE_qualify");
const TENANT: &str = "9daaeb1c-4d6c-4bb0-9d4b-5d63dc3e0f3a";

/// What a run of `qualify` left.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `qualify ARGS` with only `env` of qualify's variables set (none leaks in from the test
/// run's environment); with `closed_stdout`, its stdout is a pipe whose reader has gone away.
/// Killed after 60 s (a `serve` that should have refused to start).
fn qualify_with(args: &[&str], env: &[(&str, &str)], closed_stdout: bool) -> Run {
    let mut cmd = Command::new(QUALIFY);
    cmd.args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("QUALIFY_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied())
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    if closed_stdout {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        cmd.stdout(writer);
    } else {
        cmd.stdout(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("running qualify");
    // `cmd` holds the pipe's writer too: dropped, so that only the child has it.
    drop(cmd);
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let (out, exited) = output_within(child, Duration::from_secs(60));
    assert!(exited, "qualify {args:?} still ran after 60 s");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn qualify(args: &[&str], env: &[(&str, &str)]) -> Run {
    qualify_with(args, env, false)
}

#[test]
fn bad_durations_and_guids_are_usage_errors_that_say_what_is_accepted() {
    for (args, flag, says) in [
        (
            &["token", "--tenant", TENANT, "--ttl", "1x"][..],
            "--ttl",
            "`1x` is not a duration (e.g. 250ms, 30s, 5m, 1h)",
        ),
        (
            &["token", "--tenant", "notaguid"],
            "--tenant",
            "`notaguid` is not a GUID",
        ),
        (
            &["customers", "list", "--request-timeout", "1x"],
            "--request-timeout",
            "`1x` is not a duration",
        ),
        (
            &["admin", "journal", "--interval", "1x"],
            "--interval",
            "`1x` is not a duration",
        ),
        (
            &[
                "qualifications",
                "wait",
                "--customer",
                TENANT,
                "--timeout",
                "soon",
            ],
            "--timeout",
            "`soon` is not a duration",
        ),
    ] {
        let run = qualify(args, &[]);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(
            run.stderr.contains(flag) && run.stderr.contains(says),
            "{args:?}: {}",
            run.stderr
        );
        // Not humantime's own message, which offers units such as months.
        assert!(!run.stderr.contains("time unit"), "{}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
}

#[test]
fn serve_refuses_a_missing_seed_document_or_database_folder_as_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("missing.json").display().to_string();
    let serve = ["serve", "--listen", "127.0.0.1:0"];
    let run = qualify(
        &[
            &serve[..],
            &["--database", "sqlite::memory:", "--seed", &seed],
        ]
        .concat(),
        &[],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "the fixture document {seed} (--seed, from the command line) does not exist"
        )),
        "{}",
        run.stderr
    );
    let run = qualify(
        &[&serve[..], &["--database", "sqlite::memory:"]].concat(),
        &[("QUALIFY_SEED", &seed)],
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("(--seed, from the environment variable QUALIFY_SEED) does not exist"),
        "{}",
        run.stderr
    );

    let folder = dir.path().join("missing-dir").display().to_string();
    let database = format!("sqlite://{folder}/q.db");
    let run = qualify(&[&serve[..], &["--database", &database]].concat(), &[]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains(&format!(
            "the folder {folder} of the database file {folder}/q.db (--database, from the \
             command line) does not exist"
        )),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(".lock"), "{}", run.stderr);
    assert!(!std::path::Path::new(&folder).exists());
}

/// Every kind of printing (a JSON line per entry, text lines, a table, a JSON document, the
/// token, clap's help) into a pipe nobody reads any more: exit 0, nothing on stderr (no panic,
/// no "Broken pipe").
#[tokio::test]
async fn a_command_whose_reader_went_away_ends_quietly() {
    let s = Server::start().await;
    let partner = s.partner();
    // A /v1 request: a customer to list, an entry in the journal.
    s.create_customer(&partner).await;
    let (admin, id) = (s.admin_token(), partner.id.to_string());
    let env = [
        ("QUALIFY_BASE_URL", s.base.as_str()),
        ("QUALIFY_ADMIN_TOKEN", admin.as_str()),
        ("QUALIFY_TOKEN", partner.app_user.as_str()),
    ];
    for args in [
        &["admin", "journal", "--json"][..],
        &["admin", "journal", "--partner", &id],
        &["admin", "faults", "list"],
        &["admin", "fixtures", "snapshot", "--partner", &id],
        &["admin", "checks", "--partner", &id, "--json"],
        &["customers", "list"],
        &["customers", "list", "--json"],
        &["token", "--tenant", &id],
        &["admin", "--help"],
    ] {
        // Printed with a reader, the same command has something to print.
        let read = qualify(args, &env);
        assert!(!read.stdout.is_empty(), "{args:?}: {read:?}");
        let run = qualify_with(args, &env, true);
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr, "", "{args:?}");
    }
}

#[tokio::test]
async fn removing_a_fault_that_is_not_there_says_so_and_exits_1() {
    let s = Server::start().await;
    let admin = s.admin_token();
    let env = [
        ("QUALIFY_BASE_URL", s.base.as_str()),
        ("QUALIFY_ADMIN_TOKEN", admin.as_str()),
    ];
    let run = qualify(&["admin", "faults", "remove", "no-such-id"], &env);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("fault no-such-id not found"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("removed"), "{}", run.stderr);
    let run = qualify(&["admin", "faults", "remove", "no-such-id", "--json"], &env);
    assert_eq!(run.code, 1, "{run:?}");
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).expect(&run.stderr);
    assert_eq!(error["exitCode"], 1, "{error}");

    let add = [
        "admin",
        "faults",
        "add",
        "--path",
        "/v1/customers",
        "--status",
        "503",
        "--json",
    ];
    let added = qualify(&add, &env);
    assert_eq!(added.code, 0, "{added:?}");
    let fault: serde_json::Value = serde_json::from_str(&added.stdout).expect(&added.stdout);
    let id = fault["id"].as_str().expect("the fault's id");
    let run = qualify(&["admin", "faults", "remove", id], &env);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr.contains(&format!("removed fault {id}")),
        "{}",
        run.stderr
    );
    let run = qualify(&["admin", "faults", "remove", id], &env);
    assert_eq!(run.code, 1, "a second time: {run:?}");
    assert!(
        run.stderr.contains(&format!("fault {id} not found")),
        "{}",
        run.stderr
    );
}

/// The test run's PostgreSQL with a database that does not exist: the error names the database
/// and the server in words (not the driver's `... at line 948`), shows the URL with its user and
/// without a password, and says how to create it.
#[test]
fn a_missing_postgres_database_is_named_in_words() {
    let Ok(given) = std::env::var("QUALIFY_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipped: QUALIFY_TEST_POSTGRES_URL is not set, so the PostgreSQL variant of this \
             test did not run"
        );
        return;
    };
    let mut url = url::Url::parse(&given).expect("QUALIFY_TEST_POSTGRES_URL is a URL");
    let name = format!("qualify_missing_{}", std::process::id());
    url.set_path(&format!("/{name}"));
    let password = url.password().map(str::to_owned);
    let shown = match &password {
        Some(_) => {
            let mut shown = url.clone();
            shown.set_password(Some("***")).unwrap();
            shown.to_string()
        }
        None => url.to_string(),
    };
    let (host, port) = (
        url.host_str().expect("a host").to_owned(),
        url.port().unwrap_or(5432),
    );
    let run = qualify(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            url.as_str(),
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{run:?}");
    let e = &run.stderr;
    assert!(
        e.contains(&format!(
            "error: opening the database {shown}: database `{name}` does not exist on \
             {host}:{port} (create it: `createdb -h {host} -p {port} -U {} {name}`)",
            url.username()
        )),
        "{e}"
    );
    assert!(!e.contains("at line"), "{e}");
    if let Some(password) = password {
        assert!(!e.contains(&password), "{e}");
    }
}

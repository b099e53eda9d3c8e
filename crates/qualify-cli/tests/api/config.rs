//! `qualify serve`'s configuration, run as an operator runs it: a bad value from a flag, the
//! environment or the config file is a usage error (exit 2) that names the flag and where the
//! value came from; precedence is flag > environment > file > default.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{BIN, output_within};

/// Where a case puts its value.
#[derive(Debug, Clone, Copy)]
enum From {
    Flag,
    Env,
    File,
}

/// `qualify serve` with no `QUALIFY_*` variable of the caller's environment, only `env`.
fn serve(args: &[String], env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    // A database URL taken for a file path (as `redis:x` once was) lands outside the repository.
    cmd.arg("serve")
        .args(args)
        .current_dir(std::env::temp_dir());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("QUALIFY_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .env("QUALIFY_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs to exit (a server that starts is killed after 15 s): the exit code and stderr.
fn run_to_exit(mut cmd: Command) -> (Option<i32>, String) {
    let child = cmd.spawn().expect("spawning qualify serve");
    let (out, exited) = output_within(child, Duration::from_secs(15));
    (
        exited.then(|| out.status.code()).flatten(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// One bad setting given three ways.
struct Bad {
    /// The file key (= the flag's name with underscores).
    key: &'static str,
    /// What the file holds, as TOML (a string needs its quotes).
    toml: &'static str,
    /// What the flag and the environment variable hold.
    text: &'static str,
    env: &'static str,
    /// Further words the message must hold (what a good value looks like).
    says: &'static [&'static str],
}

const BAD: &[Bad] = &[
    Bad {
        key: "vetting_delay",
        toml: "\"soon\"",
        text: "soon",
        env: "QUALIFY_VETTING_DELAY",
        says: &["soon", "duration"],
    },
    Bad {
        key: "request_timeout",
        toml: "\"10ms\"",
        text: "10ms",
        env: "QUALIFY_REQUEST_TIMEOUT",
        says: &["10ms", "100ms"],
    },
    Bad {
        key: "job_lease",
        toml: "\"5ms\"",
        text: "5ms",
        env: "QUALIFY_JOB_LEASE",
        says: &["5ms", "100ms"],
    },
    Bad {
        key: "vetting",
        toml: "\"sometimes\"",
        text: "sometimes",
        env: "QUALIFY_VETTING",
        says: &["sometimes", "manual", "auto"],
    },
    Bad {
        key: "auth",
        toml: "\"none\"",
        text: "none",
        env: "QUALIFY_AUTH",
        says: &["none", "dev", "oidc"],
    },
    Bad {
        key: "log_format",
        toml: "\"xml\"",
        text: "xml",
        env: "QUALIFY_LOG_FORMAT",
        says: &["xml", "text", "json"],
    },
    Bad {
        key: "max_header_bytes",
        toml: "100",
        text: "100",
        env: "QUALIFY_MAX_HEADER_BYTES",
        says: &["100", "8192"],
    },
    Bad {
        key: "rate_limit_per_minute",
        toml: "\"lots\"",
        text: "lots",
        env: "QUALIFY_RATE_LIMIT_PER_MINUTE",
        says: &["lots"],
    },
    Bad {
        key: "max_in_flight",
        toml: "0",
        text: "0",
        env: "QUALIFY_MAX_IN_FLIGHT",
        says: &["at least 1"],
    },
    Bad {
        key: "default_gdap_roles",
        toml: "[\"Global Admin\"]",
        text: "Global Admin",
        env: "QUALIFY_DEFAULT_GDAP_ROLES",
        says: &["Global Admin", "Directory Reader"],
    },
    Bad {
        key: "listen",
        toml: "\"nowhere\"",
        text: "nowhere",
        env: "QUALIFY_LISTEN",
        says: &["nowhere", "127.0.0.1:8080"],
    },
    Bad {
        key: "database",
        toml: "\"mysql://x\"",
        text: "mysql://x",
        env: "QUALIFY_DATABASE_URL",
        says: &["mysql://x", "sqlite://", "sqlite::memory:", "postgres://"],
    },
    Bad {
        key: "database",
        toml: "\"redis:x\"",
        text: "redis:x",
        env: "QUALIFY_DATABASE_URL",
        says: &["redis:x", "sqlite://"],
    },
];

/// The flags every case starts with, without the one the case is about (a flag beats the
/// environment and the file).
fn base_args(key: &str) -> Vec<String> {
    let mut args = vec![];
    if key != "listen" {
        args.extend(["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
    }
    if key != "database" {
        args.extend(["--database".to_owned(), "sqlite::memory:".to_owned()]);
    }
    args
}

fn flag_of(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

#[test]
fn a_bad_value_from_a_flag_the_environment_or_the_file_exits_2_and_says_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = vec![];
    for (i, bad) in BAD.iter().enumerate() {
        for from in [From::Flag, From::Env, From::File] {
            let flag = flag_of(bad.key);
            let mut args = base_args(bad.key);
            let mut env = vec![];
            let file = dir.path().join(format!("case-{i}.toml"));
            let source: Vec<String> = match from {
                From::Flag => {
                    args.extend([flag.clone(), bad.text.to_owned()]);
                    vec!["command line".into()]
                }
                From::Env => {
                    env.push((bad.env.to_owned(), bad.text.to_owned()));
                    vec![bad.env.to_owned()]
                }
                From::File => {
                    std::fs::write(&file, format!("{} = {}\n", bad.key, bad.toml)).unwrap();
                    args.extend(["--config".to_owned(), file.display().to_string()]);
                    vec![file.display().to_string(), bad.key.to_owned()]
                }
            };
            let (code, stderr) = run_to_exit(serve(&args, &env));
            let mut wanted: Vec<String> = vec![flag.clone()];
            wanted.extend(source);
            wanted.extend(bad.says.iter().map(|s| s.to_string()));
            let missing: Vec<&String> = wanted.iter().filter(|w| !stderr.contains(*w)).collect();
            if code != Some(2) || !missing.is_empty() {
                failures.push(format!(
                    "{} {:?} from {from:?}: exit {code:?} (want 2), missing {missing:?} in:\n{stderr}",
                    bad.key, bad.text
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        BAD.len() * 3,
        failures.join("\n")
    );
}

/// Flags, environment, and the words the message must hold.
type Case = (Vec<String>, Vec<(String, String)>, Vec<String>);

/// The errors of the file itself and of combinations of settings.
#[test]
fn file_and_combination_errors_exit_2_and_name_the_file_key_or_flag() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let unknown = write("unknown.toml", "vetting = \"auto\"\nno_such_key = 1\n");
    let broken = write("broken.toml", "listen = \n");
    let oidc = write("oidc.toml", "auth = \"oidc\"\n");
    let missing = dir.path().join("missing.toml").display().to_string();
    let s = |x: &str| x.to_owned();
    let cases: Vec<Case> = vec![
        (
            vec![s("--config"), unknown.clone()],
            vec![],
            vec![s("no_such_key"), unknown.clone()],
        ),
        (
            vec![s("--config"), broken.clone()],
            vec![],
            vec![broken.clone()],
        ),
        (
            vec![s("--config"), missing.clone()],
            vec![],
            vec![missing.clone(), s("--config"), s("command line")],
        ),
        (
            vec![],
            vec![(s("QUALIFY_CONFIG"), missing.clone())],
            vec![missing.clone(), s("QUALIFY_CONFIG")],
        ),
        (
            vec![s("--auth"), s("oidc")],
            vec![],
            vec![s("--oidc-jwks"), s("--auth oidc"), s("command line")],
        ),
        (
            vec![s("--config"), oidc.clone()],
            vec![],
            vec![s("--oidc-jwks"), s("--auth oidc"), oidc.clone()],
        ),
        (
            vec![s("--auth"), s("oidc"), s("--oidc-jwks"), s("/x/jwks.json")],
            vec![(s("QUALIFY_AUTH"), s("oidc"))],
            vec![s("--oidc-issuer")],
        ),
    ];
    let mut failures = vec![];
    for (extra, env, wanted) in &cases {
        let mut args = base_args("");
        args.extend(extra.iter().cloned());
        let (code, stderr) = run_to_exit(serve(&args, env));
        let missing: Vec<&String> = wanted.iter().filter(|w| !stderr.contains(*w)).collect();
        if code != Some(2) || !missing.is_empty() {
            failures.push(format!(
                "{extra:?} {env:?}: exit {code:?} (want 2), missing {missing:?} in:\n{stderr}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Starts `serve` and returns the address it says it listens on.
fn listening_on(args: &[String], env: &[(String, String)]) -> String {
    let mut child = serve(args, env).spawn().expect("spawning qualify serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first stdout line {line:?}; stderr:\n{stderr}"));
    addr.rsplit_once(':').unwrap().0.to_owned()
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.toml");
    // The file also sets a value whose default differs, to see that it is read at all.
    std::fs::write(
        &file,
        "listen = \"127.0.0.3:0\"\ndatabase = \"sqlite::memory:\"\n",
    )
    .unwrap();
    let config = vec!["--config".to_owned(), file.display().to_string()];
    let env = vec![("QUALIFY_LISTEN".to_owned(), "127.0.0.2:0".to_owned())];
    assert_eq!(
        listening_on(&config, &[]),
        "127.0.0.3",
        "the file beats the default"
    );
    assert_eq!(
        listening_on(&config, &env),
        "127.0.0.2",
        "env beats the file"
    );
    let mut flagged = config.clone();
    flagged.extend(["--listen".to_owned(), "127.0.0.1:0".to_owned()]);
    assert_eq!(
        listening_on(&flagged, &env),
        "127.0.0.1",
        "the flag beats env"
    );
    // A bad value that a higher layer overrides is never read.
    std::fs::write(&file, "vetting_delay = \"soon\"\n").unwrap();
    let env = vec![("QUALIFY_VETTING_DELAY".to_owned(), "1s".to_owned())];
    let mut args = base_args("");
    args.extend(config.iter().cloned());
    assert_eq!(listening_on(&args, &env), "127.0.0.1");
}

#[test]
fn a_bare_file_path_and_every_sqlite_form_still_open_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    for database in [
        at("bare.db"),
        format!("sqlite://{}", at("slashes.db")),
        format!("sqlite:{}", at("colon.db")),
        "sqlite::memory:".to_owned(),
    ] {
        let args = vec![
            "--listen".to_owned(),
            "127.0.0.1:0".to_owned(),
            "--database".to_owned(),
            database.clone(),
        ];
        assert_eq!(listening_on(&args, &[]), "127.0.0.1", "{database}");
    }
    for name in ["bare.db", "slashes.db", "colon.db"] {
        assert!(Path::new(&at(name)).exists(), "{name} was not created");
    }
}

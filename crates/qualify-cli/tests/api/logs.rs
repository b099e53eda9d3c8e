//! Log lines read well (issue 10, item 8), in both formats: durations rounded (`elapsed_ms=5.59`)
//! or in humantime (`delay=0s`), a header the client did not send is no field at all (not an
//! empty one), enums as their flag spells them.

use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;

const APPLICATION: &str = "Contoso Billing";
const CLIENT: &str = "Partner Center .NET SDK";
const SDK_VERSION: &str = "3.4.0";

/// A server logging in `format`, after one request without and one with the
/// `MS-PartnerCenter-*` headers; returns the server and the two requests' ids.
async fn two_requests(format: &str) -> (Server, String, String) {
    let s = Server::start_with(Options {
        extra: vec!["--log-format".into(), format.into()],
        ..Default::default()
    })
    .await;
    let bare = new_id();
    let r = s.get("/healthz").request_id(&bare).send().await;
    assert_eq!(r.status, 200);
    let informed = new_id();
    let r = s
        .get("/healthz")
        .request_id(&informed)
        .header("MS-PartnerCenter-Application", APPLICATION)
        .header("MS-PartnerCenter-Client", CLIENT)
        .header("MS-SdkVersion", SDK_VERSION)
        .send()
        .await;
    assert_eq!(r.status, 200);
    (s, bare, informed)
}

/// The log line that contains all of `needles`, waiting for the log thread to write it.
async fn line_with(s: &Server, needles: &[&str]) -> String {
    let what = format!("a log line with {needles:?}");
    poll_until(&what, Duration::from_secs(5), async || {
        s.logs()
            .lines()
            .find(|l| needles.iter().all(|n| l.contains(n)))
            .map(str::to_owned)
    })
    .await
}

/// At most two decimals: `5.59`, `12`, `0.1`.
#[track_caller]
fn assert_rounded(millis: &str, line: &str) {
    assert!(
        millis.parse::<f64>().is_ok(),
        "elapsed_ms={millis:?} in {line}"
    );
    let decimals = millis.split_once('.').map_or(0, |(_, d)| d.len());
    assert!(decimals <= 2, "elapsed_ms={millis} in {line}");
}

/// `key=value` of a text line, the value up to the next space (or quoted).
fn text_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[at..];
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.split('"').next();
    }
    Some(rest.split([' ', '}']).next().unwrap_or(rest))
}

#[tokio::test]
async fn text_lines_read_well() {
    let (s, bare, informed) = two_requests("text").await;

    let start = line_with(&s, &["qualify serving"]).await;
    assert_eq!(text_field(&start, "vetting"), Some("manual"), "{start}");
    assert_eq!(text_field(&start, "delay"), Some("0s"), "{start}");
    assert_eq!(text_field(&start, "job_lease"), Some("30s"), "{start}");

    let line = line_with(&s, &[&bare, "request finished"]).await;
    assert_eq!(text_field(&line, "status"), Some("200"), "{line}");
    assert_rounded(text_field(&line, "elapsed_ms").expect(&line), &line);
    for absent in ["application", "client", "sdk_version"] {
        assert!(text_field(&line, absent).is_none(), "{absent} in {line}");
    }

    let line = line_with(&s, &[&informed, "request finished"]).await;
    assert_rounded(text_field(&line, "elapsed_ms").expect(&line), &line);
    assert_eq!(
        text_field(&line, "application"),
        Some(APPLICATION),
        "{line}"
    );
    assert_eq!(text_field(&line, "client"), Some(CLIENT), "{line}");
    assert_eq!(
        text_field(&line, "sdk_version"),
        Some(SDK_VERSION),
        "{line}"
    );

    // No field anywhere is empty, and no duration is in nanoseconds. (The vetting worker's
    // own lines, `mode=Manual delay=0ns`, are left to its rewrite.)
    for line in s
        .logs()
        .lines()
        .filter(|l| !l.contains("qualify_server::worker"))
    {
        assert!(
            !line.contains("= ") && !line.ends_with('=') && !line.contains("=\"\""),
            "an empty field in {line}"
        );
        assert!(!line.contains("=0ns"), "{line}");
    }
}

/// Every string value in `v` (recursively) is non-empty.
fn assert_no_empty_strings(v: &Value, line: &str) {
    match v {
        Value::String(s) => assert!(!s.is_empty(), "an empty field in {line}"),
        Value::Object(m) => m.values().for_each(|x| assert_no_empty_strings(x, line)),
        Value::Array(a) => a.iter().for_each(|x| assert_no_empty_strings(x, line)),
        _ => {}
    }
}

#[tokio::test]
async fn json_lines_read_well() {
    let (s, bare, informed) = two_requests("json").await;
    let parse = |line: &str| -> Value {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };

    let start = parse(&line_with(&s, &["qualify serving"]).await);
    assert_eq!(start["fields"]["vetting"], "manual", "{start}");
    assert_eq!(start["fields"]["delay"], "0s", "{start}");
    assert_eq!(start["fields"]["job_lease"], "30s", "{start}");

    let raw = line_with(&s, &[&bare, "request finished"]).await;
    let line = parse(&raw);
    let fields = &line["fields"];
    assert_eq!(fields["status"], 200, "{raw}");
    assert!(fields["elapsed_ms"].is_number(), "{raw}");
    assert_rounded(&fields["elapsed_ms"].to_string(), &raw);
    for absent in ["application", "client", "sdk_version"] {
        assert!(fields.get(absent).is_none(), "{absent} in {raw}");
    }

    let raw = line_with(&s, &[&informed, "request finished"]).await;
    let fields = &parse(&raw)["fields"];
    assert_rounded(&fields["elapsed_ms"].to_string(), &raw);
    assert_eq!(fields["application"], APPLICATION, "{raw}");
    assert_eq!(fields["client"], CLIENT, "{raw}");
    assert_eq!(fields["sdk_version"], SDK_VERSION, "{raw}");

    for raw in s.logs().lines().filter(|l| !l.trim().is_empty()) {
        assert_no_empty_strings(&parse(raw), raw);
    }
}

/// Whatever a client sends, the log stays bounded and never holds its token (issue 23): a flood
/// of unauthenticated requests with a 40,000-byte path and a JWT in the informational headers
/// costs at most 2 KiB of log a request (most of them none: rejection lines are rate-bounded),
/// no line over 2 KiB, the path cut, the JWT redacted, in both formats.
#[tokio::test]
async fn a_flood_of_long_paths_with_tokens_in_client_headers_leaves_a_bounded_log_without_them() {
    const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJ0aWQiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
    const REQUESTS: usize = 150;
    let long = format!("/v1/customers/{}", "a".repeat(40_000));
    for format in ["text", "json"] {
        let s = Server::start_with(Options {
            extra: vec!["--log-format".into(), format.into()],
            ..Default::default()
        })
        .await;
        line_with(&s, &["qualify serving"]).await;
        let before = s.logs().len();
        let started = std::time::Instant::now();
        for _ in 0..REQUESTS {
            let r = s
                .get(&long)
                .header("MS-PartnerCenter-Client", JWT)
                .header("MS-PartnerCenter-Application", &format!("Bearer {JWT}"))
                .header("MS-SdkVersion", &"9".repeat(5_000))
                .send()
                .await;
            assert!((400..500).contains(&r.status), "{format}: {}", r.status);
        }
        let seconds = started.elapsed().as_secs() + 1;
        // A request that is logged, written after the flood's lines.
        let marker = new_id();
        assert_eq!(
            s.get("/healthz").request_id(&marker).send().await.status,
            200
        );
        line_with(&s, &[&marker, "request finished"]).await;

        let logs = s.logs();
        let grown = logs.len() - before;
        assert!(
            grown <= REQUESTS * 2048,
            "{format}: {grown} bytes of log for {REQUESTS} requests"
        );
        let longest = logs.lines().map(str::len).max().unwrap_or(0);
        assert!(longest <= 2048, "{format}: a line of {longest} bytes");
        assert!(!logs.contains(JWT), "{format}: the JWT is in the log");
        assert!(
            !logs.contains(&"a".repeat(257)) && logs.contains(&"a".repeat(200)),
            "{format}: the path is not cut to 256 bytes"
        );
        assert!(
            !logs.contains(&"9".repeat(129)),
            "{format}: a header not cut"
        );
        // Rejection lines: at most 50 a second while the flood lasted.
        let rejected = logs
            .lines()
            .filter(|l| l.contains("request finished") && l.contains("aaaa"))
            .count() as u64;
        assert!(
            rejected <= 50 * seconds,
            "{format}: {rejected} rejection lines in {seconds} s"
        );
        assert!(rejected > 0, "{format}: no rejection line at all");
    }
}

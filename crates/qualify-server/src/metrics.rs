//! Prometheus metrics (events.md 4): every series name, its help text and buckets, and the small
//! functions the rest of the server records with — nothing else names a metric.
//!
//! The `metrics` facade has one recorder per process, so [`install`] sets it once (the store's
//! commit observer and the webhook code record without a handle to the state); `serve` installs
//! it unless `--metrics false`, and then every recording function returns at its first
//! instruction. Labels are bounded: route templates, methods, statuses, qualifications,
//! outcomes — never a partner or customer id.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use qualify_core::jobs::{JobType, Vetting};
use qualify_core::qualification::{SettableQualification, VettingStatus};
use qualify_store::Store;

pub const HTTP_REQUESTS: &str = "qualify_http_requests_total";
pub const HTTP_DURATION: &str = "qualify_http_request_duration_seconds";
pub const QUALIFICATIONS_CREATED: &str = "qualify_qualifications_created_total";
pub const VETTING_DECISIONS: &str = "qualify_vetting_decisions_total";
pub const VETTING_QUEUE_DEPTH: &str = "qualify_vetting_queue_depth";
pub const VETTING_OLDEST_DUE: &str = "qualify_vetting_oldest_due_seconds";
pub const WEBHOOK_DELIVERIES: &str = "qualify_webhook_deliveries_total";
pub const WEBHOOK_DEAD: &str = "qualify_webhook_dead_total";
pub const STORE_COMMIT_BATCH: &str = "qualify_store_commit_batch_size";
pub const STORE_COMMIT_SECONDS: &str = "qualify_store_commit_seconds";
pub const FAULTS_FIRED: &str = "qualify_faults_fired_total";
/// Written by `metrics-process` (its names, listed here so that docs and dashboard are checked).
pub const PROCESS_RESIDENT_MEMORY: &str = "process_resident_memory_bytes";
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
pub const PROCESS_START_TIME: &str = "process_start_time_seconds";

/// The `route` of a request that matched no route: one value, so cardinality stays bounded.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// A family's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    Counter,
    Gauge,
    Histogram,
}

/// Every family `/metrics` shows, with its type: what the docs list and the dashboard may use.
pub const FAMILIES: &[(&str, Type)] = &[
    (HTTP_REQUESTS, Type::Counter),
    (HTTP_DURATION, Type::Histogram),
    (QUALIFICATIONS_CREATED, Type::Counter),
    (VETTING_DECISIONS, Type::Counter),
    (VETTING_QUEUE_DEPTH, Type::Gauge),
    (VETTING_OLDEST_DUE, Type::Gauge),
    (WEBHOOK_DELIVERIES, Type::Counter),
    (WEBHOOK_DEAD, Type::Counter),
    (STORE_COMMIT_BATCH, Type::Histogram),
    (STORE_COMMIT_SECONDS, Type::Histogram),
    (FAULTS_FIRED, Type::Counter),
    (PROCESS_RESIDENT_MEMORY, Type::Gauge),
    (PROCESS_OPEN_FDS, Type::Gauge),
    (PROCESS_START_TIME, Type::Gauge),
    ("process_cpu_seconds_total", Type::Counter),
    ("process_max_fds", Type::Gauge),
    ("process_virtual_memory_bytes", Type::Gauge),
    ("process_virtual_memory_max_bytes", Type::Gauge),
    ("process_threads", Type::Gauge),
];

const DURATION_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0,
];
const COMMIT_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];
/// How often histograms are folded into their buckets when nobody scrapes (bounds memory).
const UPKEEP: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static ON: AtomicBool = AtomicBool::new(false);

/// Whether this process records (the recorder is installed).
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Installs the process's recorder (once; later calls return the same handle): describes every
/// family, shows the ones without labels or with a fixed set of them at zero from the start,
/// hooks the store's commits and folds histograms every few seconds.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let buckets = [
            (HTTP_DURATION, DURATION_BUCKETS),
            (STORE_COMMIT_SECONDS, COMMIT_BUCKETS),
            (STORE_COMMIT_BATCH, BATCH_BUCKETS),
        ];
        let recorder = buckets
            .into_iter()
            .fold(PrometheusBuilder::new(), |b, (name, buckets)| {
                b.set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
                    .expect("non-empty buckets")
            })
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics shows nothing");
        }
        describe();
        zero_series();
        qualify_store::observe_commits(store_commit);
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP);
                    upkeep.run_upkeep();
                }
            })
            .expect("spawning the metrics upkeep thread");
        ON.store(true, Ordering::Relaxed);
        handle
    })
}

fn process() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route template, method and status."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from a request's arrival in the router to its answer, by route template and method."
    );
    describe_counter!(
        QUALIFICATIONS_CREATED,
        "Qualification requests recorded (201; idempotent replays are not counted)."
    );
    describe_counter!(
        VETTING_DECISIONS,
        "Requests decided Approved or Denied, by qualification, outcome and who decided: \
         worker (the job worker), clock (a clock advance), reviewer (the operator API), \
         scenario (a read completing afterReads)."
    );
    describe_gauge!(VETTING_QUEUE_DEPTH, "Vetting jobs not done yet.");
    describe_gauge!(
        VETTING_OLDEST_DUE,
        Unit::Seconds,
        "How long the oldest due vetting job has been due, by its partner's clock (0 when none)."
    );
    describe_counter!(
        WEBHOOK_DELIVERIES,
        "Webhook delivery attempts, by result: succeeded, failed, timeout, refused, disabled."
    );
    describe_counter!(
        WEBHOOK_DEAD,
        "Webhook deliveries given up after their last attempt."
    );
    describe_histogram!(
        STORE_COMMIT_BATCH,
        "Write requests per database commit (SQLite group commit; 1 on PostgreSQL)."
    );
    describe_histogram!(
        STORE_COMMIT_SECONDS,
        Unit::Seconds,
        "Time a database COMMIT took."
    );
    describe_counter!(FAULTS_FIRED, "Injected faults that fired on /v1 requests.");
    process().describe();
}

/// The families whose series are known in advance are shown from the start, at zero.
fn zero_series() {
    for q in SettableQualification::ALL {
        counter!(QUALIFICATIONS_CREATED, "qualification" => q.name()).absolute(0);
        for outcome in [VettingStatus::Approved, VettingStatus::Denied] {
            for actor in ActorKind::ALL {
                counter!(
                    VETTING_DECISIONS,
                    "qualification" => q.name(),
                    "outcome" => outcome.name(),
                    "actor_kind" => actor.label(),
                )
                .absolute(0);
            }
        }
    }
    for result in WebhookResult::ALL {
        counter!(WEBHOOK_DELIVERIES, "result" => result.label()).absolute(0);
    }
    counter!(WEBHOOK_DEAD).absolute(0);
    counter!(FAULTS_FIRED).absolute(0);
    gauge!(VETTING_QUEUE_DEPTH).set(0.0);
    gauge!(VETTING_OLDEST_DUE).set(0.0);
    // Registered: shown with empty buckets until the first commit.
    let _ = histogram!(STORE_COMMIT_BATCH);
    let _ = histogram!(STORE_COMMIT_SECONDS);
}

/// A request answered (recorded by `context::request_context`, which times every request).
/// `route` is the matched route template, `None` when no route matched.
pub fn http_request(route: Option<&str>, method: &Method, status: StatusCode, took: Duration) {
    if !enabled() {
        return;
    }
    let (route, method, status) = (
        route.unwrap_or(UNMATCHED_ROUTE),
        method_label(method),
        status.as_u16(),
    );
    let record = |(requests, duration): &HttpSeries| {
        requests.increment(1);
        duration.record(took.as_secs_f64());
    };
    // The handles of a route's series are looked up by its template, without building a
    // `Key` (labels, allocations, the recorder's map) per request: a tenth of the cost.
    let known = HTTP_SERIES.read().unwrap_or_else(PoisonError::into_inner);
    if let Some(series) = known.get(route).and_then(|m| m.get(&(method, status))) {
        return record(series);
    }
    drop(known);
    let series = (
        counter!(
            HTTP_REQUESTS,
            "route" => route.to_owned(),
            "method" => method,
            "status" => status.to_string(),
        ),
        histogram!(HTTP_DURATION, "route" => route.to_owned(), "method" => method),
    );
    record(&series);
    HTTP_SERIES
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(route.to_owned())
        .or_default()
        .insert((method, status), series);
}

/// A request's counter and histogram.
type HttpSeries = (metrics::Counter, metrics::Histogram);

/// A route's series by method and status.
type RouteSeries = HashMap<(&'static str, u16), HttpSeries>;

/// The HTTP series recorded so far, by route template (bounded like their labels).
static HTTP_SERIES: LazyLock<RwLock<HashMap<String, RouteSeries>>> =
    LazyLock::new(Default::default);

/// Standard methods by name; anything else is one value (a client chooses the method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// A qualification request was recorded (not on an idempotent replay).
pub fn qualification_created(qualification: SettableQualification) {
    if enabled() {
        counter!(QUALIFICATIONS_CREATED, "qualification" => qualification.name()).increment(1);
    }
}

/// Who took a vetting decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// The background job worker ran the vetting job.
    Worker,
    /// A clock advance ran the vetting job.
    Clock,
    /// An operator decided through the reviewer API.
    Reviewer,
    /// A read completed a scenario's `afterReads` count.
    Scenario,
}

impl ActorKind {
    pub const ALL: [ActorKind; 4] = [Self::Worker, Self::Clock, Self::Reviewer, Self::Scenario];

    pub fn label(self) -> &'static str {
        match self {
            Self::Worker => "worker",
            Self::Clock => "clock",
            Self::Reviewer => "reviewer",
            Self::Scenario => "scenario",
        }
    }
}

/// A request moved to `status`: counted when that is a decision (Approved or Denied).
pub fn vetting_decision(
    qualification: SettableQualification,
    status: VettingStatus,
    actor: ActorKind,
) {
    if enabled() && matches!(status, VettingStatus::Approved | VettingStatus::Denied) {
        counter!(
            VETTING_DECISIONS,
            "qualification" => qualification.name(),
            "outcome" => status.name(),
            "actor_kind" => actor.label(),
        )
        .increment(1);
    }
}

/// How one webhook delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookResult {
    /// The receiver answered 2xx.
    Succeeded,
    /// The receiver answered another status (410 aside), or the connection failed.
    Failed,
    /// The receiver did not answer in time.
    Timeout,
    /// Not sent: the target was refused (SSRF checks after DNS resolution).
    Refused,
    /// The receiver answered 410 Gone: the registration is disabled now.
    Disabled,
}

impl WebhookResult {
    pub const ALL: [WebhookResult; 5] = [
        Self::Succeeded,
        Self::Failed,
        Self::Timeout,
        Self::Refused,
        Self::Disabled,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Refused => "refused",
            Self::Disabled => "disabled",
        }
    }
}

/// One webhook delivery attempt ended with `result`.
pub fn webhook_attempt(result: WebhookResult) {
    if enabled() {
        counter!(WEBHOOK_DELIVERIES, "result" => result.label()).increment(1);
    }
}

/// A webhook delivery was given up after its last attempt.
pub fn webhook_dead() {
    if enabled() {
        counter!(WEBHOOK_DEAD).increment(1);
    }
}

/// The traffic layer fired a fault.
pub fn fault_fired() {
    if enabled() {
        counter!(FAULTS_FIRED).increment(1);
    }
}

/// The store's commit observer.
fn store_commit(batch: usize, took: Duration) {
    static HANDLES: OnceLock<(metrics::Histogram, metrics::Histogram)> = OnceLock::new();
    if enabled() {
        let (size, seconds) = HANDLES.get_or_init(|| {
            (
                histogram!(STORE_COMMIT_BATCH),
                histogram!(STORE_COMMIT_SECONDS),
            )
        });
        size.record(batch as f64);
        seconds.record(took.as_secs_f64());
    }
}

/// The text `/metrics` answers, `None` when this process does not record: the gauges read
/// now (the queue of `store` at wall time `now`, the process from `/proc`), then every family.
pub async fn render(store: &dyn Store, now: time::OffsetDateTime) -> Option<String> {
    let handle = HANDLE.get()?;
    let queue = store.queue_stats(Vetting::KIND, now).await;
    // One scrape at a time sets the gauges and renders them (tests scrape several stores of
    // one process concurrently: each sees its own queue).
    static SCRAPE: Mutex<()> = Mutex::new(());
    let _one = SCRAPE.lock().unwrap_or_else(PoisonError::into_inner);
    match queue {
        Ok(q) => {
            gauge!(VETTING_QUEUE_DEPTH).set(q.pending as f64);
            gauge!(VETTING_OLDEST_DUE).set(q.oldest_due.as_secs_f64());
        }
        Err(e) => tracing::warn!(
            error = %crate::chain::Chain(&e),
            "reading the vetting queue for metrics failed"
        ),
    }
    process().collect();
    Some(handle.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value of the series `name{labels}` in `text` (0 when absent).
    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    #[test]
    fn webhook_series_are_described_from_the_start_and_move() {
        let handle = install();
        let text = handle.render();
        assert!(text.contains(&format!("# TYPE {WEBHOOK_DELIVERIES} counter")));
        assert!(text.contains(&format!("# HELP {WEBHOOK_DEAD} ")));
        for r in WebhookResult::ALL {
            let series = format!("{WEBHOOK_DELIVERIES}{{result=\"{}\"}}", r.label());
            assert!(text.contains(&series), "{series} missing:\n{text}");
        }
        let timeout = format!("{WEBHOOK_DELIVERIES}{{result=\"timeout\"}}");
        let (before, dead) = (value(&text, &timeout), value(&text, WEBHOOK_DEAD));
        webhook_attempt(WebhookResult::Timeout);
        webhook_dead();
        let text = handle.render();
        assert!(value(&text, &timeout) >= before + 1.0);
        assert!(value(&text, WEBHOOK_DEAD) >= dead + 1.0);
    }

    #[test]
    fn histograms_have_buckets_and_decisions_count_only_decisions() {
        let handle = install();
        store_commit(3, Duration::from_micros(700));
        let text = handle.render();
        assert!(text.contains(&format!("# TYPE {STORE_COMMIT_BATCH} histogram")));
        assert!(text.contains(&format!("{STORE_COMMIT_BATCH}_bucket{{le=\"4\"}}")));
        assert!(text.contains(&format!("{STORE_COMMIT_SECONDS}_bucket{{le=\"+Inf\"}}")));
        let series = format!(
            "{VETTING_DECISIONS}{{qualification=\"StateOwnedEntity\",outcome=\"Denied\",actor_kind=\"scenario\"}}"
        );
        let before = value(&text, &series);
        let soe = SettableQualification::StateOwnedEntity;
        vetting_decision(soe, VettingStatus::InReview, ActorKind::Scenario);
        vetting_decision(soe, VettingStatus::Denied, ActorKind::Scenario);
        let after = value(&handle.render(), &series);
        // Only this test decides StateOwnedEntity by scenario in this binary.
        assert_eq!(after, before + 1.0);
    }

    /// The dashboard only queries families the server exports (histograms by their series).
    #[test]
    fn the_dashboard_uses_only_exported_names() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/grafana/qualify.json")).unwrap();
        let mut exprs = vec![];
        collect_exprs(&dashboard, &mut exprs);
        assert!(exprs.len() >= 10, "{exprs:?}");
        let known = |name: &str| {
            FAMILIES.iter().any(|(family, kind)| {
                name == *family
                    || (*kind == Type::Histogram
                        && ["_bucket", "_sum", "_count"]
                            .iter()
                            .any(|s| name.strip_suffix(s) == Some(family)))
            })
        };
        for expr in &exprs {
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("qualify_") || w.starts_with("process_"))
                .collect();
            assert!(!names.is_empty(), "{expr} uses no metric");
            for name in names {
                assert!(
                    known(name),
                    "the dashboard's {expr:?} uses {name}, not exported"
                );
            }
        }
    }

    fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v.as_str()) {
                        ("expr", Some(e)) => out.push(e.to_owned()),
                        _ => collect_exprs(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| collect_exprs(v, out)),
            _ => {}
        }
    }
}

//! A client workload for the reliability tests, and the checks that hold a database against the
//! client's own log of it.
//!
//! Writers create customers and qualifications (Education on academic and other domains,
//! StateOwnedEntity, GovernmentCommunityCloud with the partners' validation codes), sometimes a
//! second time (a conflict); a reviewer decides whatever is in the review queue. Every request
//! carries its own `MS-RequestId` and goes into the log with what the client learnt: an answer
//! (2xx or 4xx) or none (the server died under it). After a restart, each unanswered create is
//! sent again with the same `MS-RequestId`, as a client would: the answer must be the stored
//! one exactly when the first attempt had committed.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qualify_core::PartnerId;
use serde_json::{Value, json};

use crate::db::Db;
use crate::helpers::{customer_body, new_id, poll_until, token};

/// A partner of the workload, with its tokens.
#[derive(Clone)]
pub struct Tenant {
    pub id: PartnerId,
    pub app_user: String,
}

#[derive(Clone, Debug)]
pub struct Code {
    pub partner: usize,
    pub id: String,
    pub max: i64,
}

#[derive(Clone, Debug)]
pub enum Kind {
    Customer {
        partner: usize,
        plan: Plan,
        body: Value,
    },
    Qualification {
        partner: usize,
        customer: String,
        qualification: &'static str,
        code: Option<String>,
        body: Value,
    },
    Decision {
        customer: String,
        qualification: String,
        status: &'static str,
        etag: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Plan {
    Education { academic: bool },
    StateOwned,
    Gcc,
}

#[derive(Clone, Debug)]
pub enum Outcome {
    /// A 2xx answer.
    Acked {
        status: u16,
        body: Value,
        replayed: bool,
    },
    /// A 4xx answer: refused, so it must have had no effect.
    Rejected { status: u16, code: Option<u64> },
    /// A 5xx answer: no request of this workload may cause one.
    ServerError { status: u16, text: String },
    /// No answer: the server died under the request.
    Unknown,
    /// An unanswered decision that, as the database shows, was not applied.
    NotApplied,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub request_id: String,
    pub kind: Kind,
    pub outcome: Outcome,
    pub sent: Instant,
    pub answered: Instant,
    pub round: usize,
    /// The first attempt got no answer; `outcome` is the retry's.
    pub retried: bool,
}

impl Entry {
    pub fn acked(&self) -> bool {
        matches!(self.outcome, Outcome::Acked { .. })
    }
}

struct Customer {
    partner: usize,
    id: String,
    plan: Plan,
    attempts: u32,
}

pub struct Workload {
    pub tenants: Vec<Tenant>,
    pub codes: Vec<Code>,
    pub admin: String,
    pub log: Mutex<Vec<Entry>>,
    customers: Mutex<Vec<Customer>>,
    http: reqwest::Client,
    /// Told of each acknowledged qualification request: new work for the reviewer.
    created: tokio::sync::Notify,
}

/// What the checks looked at.
#[derive(Debug, Default, Clone, Copy)]
pub struct Checked {
    pub customers: usize,
    pub qualifications: usize,
    pub decisions: usize,
    pub rejections: usize,
    pub gcc_codes: usize,
}

impl Checked {
    pub fn writes(&self) -> usize {
        self.customers + self.qualifications + self.decisions
    }
}

impl Workload {
    /// Two partners with two validation codes each, issued through `base`.
    pub async fn setup(base: &str, codes_per_partner: usize, max_creates: i64) -> Arc<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let admin = token(PartnerId::new_random(), true, true);
        let tenants: Vec<Tenant> = (0..2)
            .map(|_| {
                let id = PartnerId::new_random();
                Tenant {
                    id,
                    app_user: token(id, false, false),
                }
            })
            .collect();
        let mut codes = vec![];
        for (i, t) in tenants.iter().enumerate() {
            for _ in 0..codes_per_partner {
                let r = http
                    .post(format!("{base}/admin/v1/partners/{}/validations", t.id))
                    .bearer_auth(&admin)
                    .json(&json!({"organizationName": "Contoso Gov", "maxCreates": max_creates}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                let v: Value = r.json().await.unwrap();
                codes.push(Code {
                    partner: i,
                    id: v["validationId"].as_str().unwrap().to_owned(),
                    max: max_creates,
                });
            }
        }
        Arc::new(Self {
            tenants,
            codes,
            admin,
            log: Mutex::new(vec![]),
            customers: Mutex::new(vec![]),
            http,
            created: tokio::sync::Notify::new(),
        })
    }

    /// Starts `writers` writer tasks and, if asked, one reviewer, against `base` until `stop`.
    pub fn start(
        self: &Arc<Self>,
        base: &str,
        round: usize,
        writers: usize,
        reviewer: bool,
        stop: &Arc<AtomicBool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = vec![];
        for _ in 0..writers {
            let (w, base, stop) = (self.clone(), base.to_owned(), stop.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    w.write_once(&base, round).await;
                }
            }));
        }
        if reviewer {
            let (w, base, stop) = (self.clone(), base.to_owned(), stop.clone());
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    w.review_once(&base, round, &stop).await;
                    // Until a writer's request is acknowledged (bounded, to see `stop`).
                    let _ = tokio::time::timeout(Duration::from_millis(100), w.created.notified())
                        .await;
                }
            }));
        }
        tasks
    }

    async fn write_once(&self, base: &str, round: usize) {
        let pick = {
            let customers = self.customers.lock().unwrap();
            let open: Vec<usize> = (0..customers.len())
                .filter(|&i| customers[i].attempts < 2)
                .collect();
            if open.is_empty() || rand::random_bool(0.3) {
                None
            } else {
                let c = &customers[open[rand::random_range(0..open.len())]];
                Some((c.partner, c.id.clone(), c.plan))
            }
        };
        match pick {
            None => {
                let partner = rand::random_range(0..self.tenants.len());
                let plan = match rand::random_range(0..4) {
                    0 => Plan::Education { academic: true },
                    1 => Plan::Education { academic: false },
                    2 => Plan::StateOwned,
                    _ => Plan::Gcc,
                };
                let domain = match plan {
                    Plan::Education { academic: true } => {
                        format!("u{}.edu", rand::random_range(0..1_000_000))
                    }
                    _ => "contoso.onmicrosoft.com".to_owned(),
                };
                let kind = Kind::Customer {
                    partner,
                    plan,
                    body: customer_body(&domain),
                };
                let entry = self.send(base, round, new_id(), kind).await;
                self.learn(&entry);
                self.log.lock().unwrap().push(entry);
            }
            Some((partner, customer, plan)) => {
                let (qualification, code, body) = match plan {
                    Plan::Education { .. } => (
                        "Education",
                        None,
                        json!({"qualification": "Education", "educationSegment": "HigherEducation"}),
                    ),
                    Plan::StateOwned => (
                        "StateOwnedEntity",
                        None,
                        json!({"qualification": "StateOwnedEntity"}),
                    ),
                    Plan::Gcc => {
                        let mine: Vec<&Code> =
                            self.codes.iter().filter(|c| c.partner == partner).collect();
                        let code = mine[rand::random_range(0..mine.len())].id.clone();
                        (
                            "GovernmentCommunityCloud",
                            Some(code.clone()),
                            json!({"qualification": "GovernmentCommunityCloud", "validationCode": code}),
                        )
                    }
                };
                {
                    let mut customers = self.customers.lock().unwrap();
                    if let Some(c) = customers.iter_mut().find(|c| c.id == customer) {
                        c.attempts += 1;
                    }
                }
                let kind = Kind::Qualification {
                    partner,
                    customer,
                    qualification,
                    code,
                    body,
                };
                let entry = self.send(base, round, new_id(), kind).await;
                if entry.acked() {
                    self.created.notify_one();
                }
                self.log.lock().unwrap().push(entry);
            }
        }
    }

    /// How many requests of `round` got an answer.
    pub fn answered_in(&self, round: usize) -> usize {
        let log = self.log.lock().unwrap();
        log.iter()
            .filter(|e| e.round == round && !matches!(e.outcome, Outcome::Unknown))
            .count()
    }

    /// Waits until `n` requests of `round` got an answer (the load is under way).
    pub async fn until_answered(&self, round: usize, n: usize) {
        let what = format!("{n} answered requests in round {round}");
        poll_until(&what, Duration::from_secs(60), async || {
            (self.answered_in(round) >= n).then_some(())
        })
        .await;
    }

    async fn review_once(&self, base: &str, round: usize, stop: &AtomicBool) {
        let Ok(r) = self
            .http
            .get(format!("{base}/admin/v1/reviews?status=InReview"))
            .bearer_auth(&self.admin)
            .send()
            .await
        else {
            return;
        };
        let Ok(queue) = r.json::<Value>().await else {
            return;
        };
        let items = queue.as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            return;
        }
        for _ in 0..2 {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let item = &items[rand::random_range(0..items.len())];
            let kind = Kind::Decision {
                customer: item["customerId"].as_str().unwrap_or_default().to_owned(),
                qualification: item["qualification"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                status: if rand::random_bool(0.5) {
                    "Approved"
                } else {
                    "Denied"
                },
                etag: item["etag"].as_str().unwrap_or_default().to_owned(),
            };
            let entry = self.send(base, round, new_id(), kind).await;
            self.log.lock().unwrap().push(entry);
        }
    }

    /// Remembers an acknowledged customer for later qualification requests.
    fn learn(&self, entry: &Entry) {
        if let (Kind::Customer { partner, plan, .. }, Outcome::Acked { body, .. }) =
            (&entry.kind, &entry.outcome)
        {
            let id = body["id"].as_str().unwrap().to_owned();
            let mut customers = self.customers.lock().unwrap();
            if !customers.iter().any(|c| c.id == id) {
                customers.push(Customer {
                    partner: *partner,
                    id,
                    plan: *plan,
                    attempts: 0,
                });
            }
        }
    }

    /// Sends one request of `kind` with `request_id` and logs nothing (the caller does).
    pub async fn send(&self, base: &str, round: usize, request_id: String, kind: Kind) -> Entry {
        let (method, path, token, body, if_match) = match &kind {
            Kind::Customer { partner, body, .. } => (
                reqwest::Method::POST,
                "/v1/customers".to_owned(),
                &self.tenants[*partner].app_user,
                body.clone(),
                None,
            ),
            Kind::Qualification {
                partner,
                customer,
                body,
                ..
            } => (
                reqwest::Method::POST,
                format!("/v1/customers/{customer}/qualifications"),
                &self.tenants[*partner].app_user,
                body.clone(),
                None,
            ),
            Kind::Decision {
                customer,
                qualification,
                status,
                etag,
            } => (
                reqwest::Method::POST,
                format!("/admin/v1/customers/{customer}/qualifications/{qualification}/decision"),
                &self.admin,
                json!({"vettingStatus": status, "vettingReason": "crash test"}),
                Some(etag.clone()),
            ),
        };
        let sent = Instant::now();
        let mut req = self
            .http
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
            .header("MS-RequestId", &request_id)
            .header("MS-CorrelationId", new_id())
            .json(&body);
        if let Some(e) = if_match {
            req = req.header("If-Match", e);
        }
        let outcome = match req.send().await {
            Err(_) => Outcome::Unknown,
            Ok(r) => {
                let status = r.status().as_u16();
                let replayed = r
                    .headers()
                    .get("idempotent-replayed")
                    .is_some_and(|v| v == "true");
                match r.text().await {
                    Err(_) => Outcome::Unknown,
                    Ok(text) => {
                        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                        match status {
                            200..=299 => Outcome::Acked {
                                status,
                                body,
                                replayed,
                            },
                            400..=499 => Outcome::Rejected {
                                status,
                                code: body["code"].as_u64(),
                            },
                            _ => Outcome::ServerError { status, text },
                        }
                    }
                }
            }
        };
        Entry {
            request_id,
            kind,
            outcome,
            sent,
            answered: Instant::now(),
            round,
            retried: false,
        }
    }

    /// Settles every unanswered request after a restart: creates are sent again with the same
    /// `MS-RequestId` (the answer must be the stored one exactly when the first attempt had
    /// committed), decisions are looked up in the audit trail. Returns how many were settled.
    pub async fn settle_unknowns(&self, base: &str, db: &Db) -> usize {
        let unknown: Vec<usize> = {
            let log = self.log.lock().unwrap();
            (0..log.len())
                .filter(|&i| matches!(log[i].outcome, Outcome::Unknown))
                .collect()
        };
        for &i in &unknown {
            let entry = self.log.lock().unwrap()[i].clone();
            let rid = &entry.request_id;
            let created = db
                .number(&format!(
                    "SELECT CAST(count(*) AS TEXT) FROM audit_events WHERE request_id = '{rid}' AND from_status IS NULL"
                ))
                .await;
            let settled = match &entry.kind {
                Kind::Decision { status, .. } => {
                    let applied = db
                        .rows(&format!(
                            "SELECT to_status FROM audit_events WHERE request_id = '{rid}' AND from_status IS NOT NULL"
                        ))
                        .await;
                    assert!(
                        applied.len() <= 1,
                        "decision {rid} applied {} times",
                        applied.len()
                    );
                    let mut e = entry.clone();
                    e.outcome = match applied.first() {
                        Some(row) => {
                            assert_eq!(row[0].as_deref(), Some(*status), "decision {rid}");
                            Outcome::Acked {
                                status: 200,
                                body: Value::Null,
                                replayed: false,
                            }
                        }
                        None => Outcome::NotApplied,
                    };
                    e
                }
                _ => {
                    assert!(created <= 1, "{rid} created {created} qualifications");
                    let mut e = self
                        .send(base, entry.round, rid.clone(), entry.kind.clone())
                        .await;
                    match (&e.kind, &e.outcome) {
                        (_, Outcome::Unknown) => panic!("the retry of {rid} got no answer"),
                        (_, Outcome::ServerError { status, text }) => {
                            panic!("the retry of {rid} got {status}: {text}")
                        }
                        (Kind::Qualification { .. }, Outcome::Acked { replayed, body, .. }) => {
                            assert_eq!(
                                *replayed,
                                created == 1,
                                "{rid}: committed before the kill: {}, but the retry was {}replayed: {body}",
                                created == 1,
                                if *replayed { "" } else { "not " }
                            );
                        }
                        (Kind::Qualification { .. }, Outcome::Rejected { .. }) => {
                            assert_eq!(created, 0, "{rid} was created but its retry was refused");
                        }
                        (Kind::Customer { .. }, Outcome::Acked { replayed, body, .. }) => {
                            let id = body["id"].as_str().unwrap();
                            let exists = db
                                .number(&format!(
                                    "SELECT CAST(count(*) AS TEXT) FROM customers WHERE CAST(id AS TEXT) = '{id}'"
                                ))
                                .await;
                            assert_eq!(exists, 1, "customer {id} of {rid} (replayed: {replayed})");
                        }
                        _ => {}
                    }
                    e.retried = true;
                    self.learn(&e);
                    e
                }
            };
            self.log.lock().unwrap()[i] = settled;
        }
        unknown.len()
    }

    /// Any answer no request of the workload should get.
    pub fn server_errors(&self) -> Vec<Entry> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::ServerError { .. }))
            .cloned()
            .collect()
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.log.lock().unwrap().clone()
    }
}

/// What a check expects of the database.
#[derive(Clone, Copy, Debug)]
pub enum Expect {
    /// Right after a crash: what was acknowledged is there; what got no answer may or may not be.
    CrashImage,
    /// After every unanswered request was settled: the database holds exactly what the client
    /// was told.
    Settled,
    /// A backup taken at this instant: what was acknowledged before it is there.
    BackupAt(Instant),
}

/// Checks the database against itself (nothing half-present) and against the log.
pub async fn check(db: &Db, workload: &Workload, expect: Expect) -> Checked {
    let log = workload.entries();
    let mut checked = Checked::default();

    // The stored state.
    let quals: HashMap<String, (String, String, String, Option<String>, i64)> = db
        .rows(
            "SELECT CAST(id AS TEXT), CAST(customer_id AS TEXT), qualification, vetting_status, validation_code, \
             CAST(vetting_create_date AS TEXT) FROM qualifications",
        )
        .await
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap(),
                (
                    r[1].clone().unwrap(),
                    r[2].clone().unwrap(),
                    r[3].clone().unwrap(),
                    r[4].clone(),
                    r[5].as_deref().unwrap().parse().unwrap(),
                ),
            )
        })
        .collect();
    let audit = db
        .rows(
            "SELECT CAST(qualification_id AS TEXT), from_status, to_status, request_id, actor FROM audit_events",
        )
        .await;
    let jobs = db
        .rows("SELECT CAST(qualification_id AS TEXT), CAST(done_at AS TEXT), outcome FROM jobs")
        .await;
    let mut created_by: HashMap<String, Vec<String>> = HashMap::new();
    let mut creations: HashMap<&str, usize> = HashMap::new();
    let mut decisions: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    let mut decided_by: HashMap<String, String> = HashMap::new();
    for r in &audit {
        let q = r[0].as_deref().unwrap();
        assert!(
            quals.contains_key(q),
            "an audit event of the missing qualification {q}"
        );
        match r[1].as_deref() {
            None => {
                assert_eq!(r[2].as_deref(), Some("InReview"), "{r:?}");
                *creations.entry(q).or_default() += 1;
                if let Some(rid) = &r[3] {
                    created_by
                        .entry(rid.clone())
                        .or_default()
                        .push(q.to_owned());
                }
            }
            Some(from) => {
                decisions
                    .entry(q)
                    .or_default()
                    .push((from, r[2].as_deref().unwrap()));
                if let Some(rid) = &r[3] {
                    decided_by.insert(rid.clone(), r[2].clone().unwrap());
                }
            }
        }
    }
    let mut job_count: HashMap<&str, usize> = HashMap::new();
    for j in &jobs {
        let q = j[0].as_deref().unwrap();
        assert!(
            quals.contains_key(q),
            "a job of the missing qualification {q}"
        );
        *job_count.entry(q).or_default() += 1;
    }

    // Nothing half-present: each qualification has its creation event and its one job, and at
    // most one decision, which is its status.
    for (id, (_, qualification, status, _, _)) in &quals {
        assert_eq!(
            creations.get(id.as_str()).copied().unwrap_or(0),
            1,
            "qualification {id} ({qualification}) has not exactly one creation event"
        );
        assert_eq!(
            job_count.get(id.as_str()).copied().unwrap_or(0),
            1,
            "qualification {id} ({qualification}) has not exactly one vetting job"
        );
        let d = decisions.get(id.as_str()).cloned().unwrap_or_default();
        assert!(
            d.len() <= 1,
            "qualification {id} was decided {} times: {d:?}",
            d.len()
        );
        match d.first() {
            None => assert_eq!(
                status, "InReview",
                "qualification {id} changed without an audit event"
            ),
            Some((from, to)) => {
                assert_eq!(*from, "InReview", "{id}");
                assert_eq!(
                    to, status,
                    "qualification {id}: audit says {to}, row says {status}"
                );
            }
        }
    }
    // GCC counters: every use has its qualification and every GCC qualification its use.
    let codes = db
        .rows(
            "SELECT validation_id, CAST(max_creates AS TEXT), CAST(remaining_creates AS TEXT) FROM validation_codes",
        )
        .await;
    let mut uses: HashMap<&str, i64> = HashMap::new();
    for (_, _, _, code, _) in quals.values() {
        if let Some(c) = code {
            *uses.entry(c.as_str()).or_default() += 1;
        }
    }
    for c in &codes {
        let id = c[0].as_deref().unwrap();
        let max: i64 = c[1].as_deref().unwrap().parse().unwrap();
        let remaining: i64 = c[2].as_deref().unwrap().parse().unwrap();
        assert!(remaining >= 0, "code {id} remaining {remaining}");
        assert_eq!(
            max - remaining,
            uses.get(id).copied().unwrap_or(0),
            "code {id}: {max} - {remaining} uses counted, but {} GCC qualifications use it",
            uses.get(id).copied().unwrap_or(0)
        );
        checked.gcc_codes += 1;
    }
    let customers: HashSet<String> = db
        .rows("SELECT CAST(id AS TEXT) FROM customers")
        .await
        .into_iter()
        .map(|r| r[0].clone().unwrap())
        .collect();

    // Against the log.
    let must_hold = |e: &Entry| match expect {
        Expect::CrashImage | Expect::Settled => true,
        Expect::BackupAt(t) => e.answered < t,
    };
    let mut sent_ids: HashSet<&str> = HashSet::new();
    let mut acked_customers: HashSet<String> = HashSet::new();
    let mut acked_gcc: BTreeMap<&str, i64> = BTreeMap::new();
    for e in &log {
        sent_ids.insert(&e.request_id);
        if let Outcome::ServerError { status, text } = &e.outcome {
            panic!("{} got {status}: {text}", e.request_id);
        }
        match (&e.kind, &e.outcome) {
            (Kind::Customer { .. }, Outcome::Acked { body, .. }) => {
                let id = body["id"].as_str().unwrap().to_owned();
                if must_hold(e) {
                    assert!(
                        customers.contains(&id),
                        "acknowledged customer {id} ({}) is missing",
                        e.request_id
                    );
                    checked.customers += 1;
                }
                acked_customers.insert(id);
            }
            (
                Kind::Qualification {
                    customer,
                    qualification,
                    code,
                    ..
                },
                Outcome::Acked { body, .. },
            ) => {
                if let Some(c) = code {
                    *acked_gcc.entry(c).or_default() += 1;
                }
                if !must_hold(e) {
                    continue;
                }
                let ids = created_by.get(&e.request_id).cloned().unwrap_or_default();
                assert_eq!(
                    ids.len(),
                    1,
                    "acknowledged {qualification} {} of {customer} is stored {} times",
                    e.request_id,
                    ids.len()
                );
                let (c, q, _, stored_code, created_ms) = &quals[&ids[0]];
                assert_eq!(
                    (c, q.as_str()),
                    (customer, *qualification),
                    "{}",
                    e.request_id
                );
                assert_eq!(stored_code, code, "{}", e.request_id);
                let date = body["vettingCreateDate"].as_str().unwrap();
                let acked_secs = time::OffsetDateTime::parse(
                    date,
                    &time::format_description::well_known::Rfc3339,
                )
                .unwrap()
                .unix_timestamp();
                assert_eq!(
                    acked_secs,
                    created_ms.div_euclid(1000),
                    "{} date",
                    e.request_id
                );
                checked.qualifications += 1;
            }
            (Kind::Qualification { .. }, Outcome::Rejected { .. }) => {
                assert!(
                    !created_by.contains_key(&e.request_id),
                    "refused request {} was stored",
                    e.request_id
                );
                checked.rejections += 1;
            }
            (Kind::Decision { status, .. }, Outcome::Acked { .. }) if must_hold(e) => {
                assert_eq!(
                    decided_by.get(&e.request_id).map(String::as_str),
                    Some(*status),
                    "acknowledged decision {} is missing",
                    e.request_id
                );
                checked.decisions += 1;
            }
            (Kind::Decision { .. }, Outcome::Rejected { .. } | Outcome::NotApplied) => {
                assert!(
                    !decided_by.contains_key(&e.request_id),
                    "refused decision {} was applied",
                    e.request_id
                );
                checked.rejections += 1;
            }
            _ => {}
        }
    }
    // Nothing stored that no request asked for; once settled, nothing the client was not told.
    for rid in created_by.keys().chain(decided_by.keys()) {
        assert!(
            sent_ids.contains(rid.as_str()),
            "{rid} was stored but never sent"
        );
    }
    if let Expect::Settled = expect {
        let acked: HashSet<&str> = log
            .iter()
            .filter(|e| e.acked())
            .map(|e| e.request_id.as_str())
            .collect();
        for rid in created_by.keys().chain(decided_by.keys()) {
            assert!(
                acked.contains(rid.as_str()),
                "{rid} is stored but its client was told otherwise"
            );
        }
        let ours: HashSet<String> = db
            .rows(&format!(
                "SELECT CAST(id AS TEXT) FROM customers WHERE CAST(partner_id AS TEXT) IN ('{}')",
                workload
                    .tenants
                    .iter()
                    .map(|t| t.id.to_string())
                    .collect::<Vec<_>>()
                    .join("', '")
            ))
            .await
            .into_iter()
            .map(|r| r[0].clone().unwrap())
            .collect();
        assert_eq!(
            ours, acked_customers,
            "stored customers differ from the acknowledged ones"
        );
        for code in &workload.codes {
            assert_eq!(
                uses.get(code.id.as_str()).copied().unwrap_or(0),
                acked_gcc.get(code.id.as_str()).copied().unwrap_or(0),
                "code {}: uses differ from acknowledged GCC creates",
                code.id
            );
        }
    }
    checked
}

/// After the queue has drained: every job finished, each decision taken once, and each taken by
/// the policy is the policy's (Education on an academic domain approved, any other denied; GCC
/// approved). Returns the number of jobs.
pub async fn check_jobs_done(db: &Db, workload: &Workload) -> usize {
    let rows = db
        .rows(
            "SELECT CAST(q.id AS TEXT), q.qualification, q.vetting_status, CAST(j.done_at AS TEXT), j.outcome, \
             CAST(q.customer_id AS TEXT), \
             (SELECT a.actor FROM audit_events a WHERE a.qualification_id = q.id AND a.from_status IS NOT NULL) \
             FROM qualifications q JOIN jobs j ON j.qualification_id = q.id",
        )
        .await;
    let academic: HashSet<String> = workload
        .entries()
        .iter()
        .filter_map(|e| match (&e.kind, &e.outcome) {
            (
                Kind::Customer {
                    plan: Plan::Education { academic: true },
                    ..
                },
                Outcome::Acked { body, .. },
            ) => body["id"].as_str().map(str::to_owned),
            _ => None,
        })
        .collect();
    for r in &rows {
        let (id, q, status) = (
            r[0].as_deref().unwrap(),
            r[1].as_deref().unwrap(),
            r[2].as_deref().unwrap(),
        );
        assert!(
            r[3].is_some(),
            "the job of qualification {id} ({q}) never finished: {r:?}"
        );
        if r[6].as_deref() == Some("vetting-policy") {
            let expected = match q {
                "Education" if academic.contains(r[5].as_deref().unwrap()) => "Approved",
                "Education" => "Denied",
                "GovernmentCommunityCloud" => "Approved",
                other => panic!("the policy decided {other} {id}"),
            };
            assert_eq!(status, expected, "{r:?}");
            assert_eq!(
                r[4].as_deref(),
                Some(expected),
                "job outcome of {id}: {r:?}"
            );
        } else if q != "StateOwnedEntity" {
            // Decided by a reviewer first (or still open only for StateOwnedEntity).
            assert_ne!(
                status, "InReview",
                "{q} {id} is still InReview after its job: {r:?}"
            );
        }
    }
    rows.len()
}

/// Waits until no job is left unfinished, or panics after `within`.
pub async fn wait_for_drain(db: &Db, within: Duration) {
    poll_until("every job finished", within, async || {
        let open = db
            .number("SELECT CAST(count(*) AS TEXT) FROM jobs WHERE done_at IS NULL")
            .await;
        (open == 0).then_some(())
    })
    .await;
}

/// The same state through the API: every acknowledged customer and qualification visible to its
/// partner, the codes' remaining creates equal to their acknowledged uses, the creation event in
/// the operator's history. Returns the number of API reads.
pub async fn check_through_api(base: &str, workload: &Workload) -> usize {
    let http = &workload.http;
    let mut reads = 0;
    let log = workload.entries();
    let mut by_customer: HashMap<&str, Vec<&Entry>> = HashMap::new();
    for e in &log {
        if let (Kind::Qualification { customer, .. }, Outcome::Acked { .. }) = (&e.kind, &e.outcome)
        {
            by_customer.entry(customer).or_default().push(e);
        }
    }
    for (customer, entries) in &by_customer {
        let Kind::Qualification { partner, .. } = &entries[0].kind else {
            unreachable!()
        };
        let list: Value = http
            .get(format!("{base}/v1/customers/{customer}/qualifications"))
            .bearer_auth(&workload.tenants[*partner].app_user)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        reads += 1;
        for e in entries {
            let (Kind::Qualification { qualification, .. }, Outcome::Acked { body, .. }) =
                (&e.kind, &e.outcome)
            else {
                unreachable!()
            };
            assert!(
                list.as_array()
                    .unwrap()
                    .iter()
                    .any(|q| q["qualification"] == *qualification
                        && q["vettingCreateDate"] == body["vettingCreateDate"]),
                "{} of {customer} missing from {list}",
                e.request_id
            );
        }
        let q = match &entries[0].kind {
            Kind::Qualification { qualification, .. } => *qualification,
            _ => unreachable!(),
        };
        let history: Value = http
            .get(format!(
                "{base}/admin/v1/customers/{customer}/qualifications/{q}/history"
            ))
            .bearer_auth(&workload.admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        reads += 1;
        for e in entries.iter().filter(
            |e| matches!(&e.kind, Kind::Qualification { qualification, .. } if *qualification == q),
        ) {
            assert!(
                history
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|h| h["requestId"] == e.request_id.as_str()),
                "creation of {} missing from the history {history}",
                e.request_id
            );
        }
    }
    for (i, t) in workload.tenants.iter().enumerate() {
        let codes: Value = http
            .get(format!("{base}/v1/customers/all/validations"))
            .bearer_auth(&t.app_user)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        reads += 1;
        for code in workload.codes.iter().filter(|c| c.partner == i) {
            let acked = log
                .iter()
                .filter(|e| {
                    e.acked()
                        && matches!(&e.kind, Kind::Qualification { code: Some(c), .. } if *c == code.id)
                })
                .count() as i64;
            let listed = codes
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["validationId"] == code.id.as_str())
                .unwrap_or_else(|| panic!("code {} missing from {codes}", code.id));
            assert_eq!(
                listed["remainingCreates"].as_i64(),
                Some(code.max - acked),
                "code {}: {acked} acknowledged GCC creates of {}",
                code.id,
                code.max
            );
        }
    }
    reads
}

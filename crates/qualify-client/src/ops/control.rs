//! The traffic part of qualify's test control plane (control.md sections 5-7): fault
//! injection (`client.admin().faults()`), the request journal (`client.admin().journal()`) and
//! client checks (`client.admin().partner(p).checks()`). Operator token needed.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Client;
use crate::error::Result;
use crate::http::Call;
use crate::ops::admin::{Admin, AdminPartner};

impl<'a> Admin<'a> {
    /// Fault rules (every instance on one database applies the same).
    pub fn faults(&self) -> Faults<'a> {
        Faults {
            client: self.client(),
        }
    }

    /// The request journal of the instance the client talks to.
    pub fn journal(&self) -> Journal<'a> {
        Journal {
            client: self.client(),
        }
    }
}

impl<'a> AdminPartner<'a> {
    /// Checks of the partner's recorded traffic.
    pub fn checks(&self) -> Checks<'a> {
        Checks {
            client: self.client(),
            partner: self.id().to_owned(),
        }
    }
}

/// Which `/v1` requests a fault applies to; every field given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `*` = one segment, `**` = any number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
}

/// What a fault answers.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAnswer {
    /// The Partner Center error body (`code` and `description` default from the status; 429
    /// and 503 carry `Retry-After`, default 1).
    Error {
        status: u16,
        code: Option<u32>,
        description: Option<String>,
        retry_after: Option<u64>,
    },
    /// Exactly these bytes.
    Raw {
        status: u16,
        raw_body: String,
        content_type: Option<String>,
    },
    /// Close the connection without an answer.
    Drop,
    /// The real answer with this JSON merge patch applied (to each element of an array).
    Patch(Value),
}

impl FaultAnswer {
    /// An error answer with the catalogue's code and description for `status`.
    pub fn status(status: u16) -> Self {
        Self::Error {
            status,
            code: None,
            description: None,
            retry_after: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut v = serde_json::Map::new();
        let mut put = |k: &str, x: Option<Value>| {
            if let Some(x) = x {
                v.insert(k.to_owned(), x);
            }
        };
        match self {
            Self::Error {
                status,
                code,
                description,
                retry_after,
            } => {
                put("status", Some((*status).into()));
                put("code", code.map(Into::into));
                put("description", description.clone().map(Into::into));
                put("retryAfter", retry_after.map(Into::into));
            }
            Self::Raw {
                status,
                raw_body,
                content_type,
            } => {
                put("status", Some((*status).into()));
                put("rawBody", Some(raw_body.clone().into()));
                put("contentType", content_type.clone().map(Into::into));
            }
            Self::Drop => put("drop", Some(true.into())),
            Self::Patch(p) => put("patch", Some(p.clone())),
        }
        Value::Object(v)
    }
}

/// A new fault (`POST /admin/v1/faults`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewFault {
    pub matches: FaultMatch,
    /// `before` (default) or `after`.
    pub phase: Option<String>,
    /// `None` with a `latency`: the real answer, late.
    pub response: Option<FaultAnswer>,
    /// `250ms`, `2s`, `PT0.25S`.
    pub latency: Option<String>,
    pub nth: Option<Vec<u64>>,
    pub times: Option<u64>,
    pub probability: Option<f64>,
    pub seed: Option<u64>,
}

impl NewFault {
    /// The request body.
    pub fn to_json(&self) -> Value {
        let mut v = serde_json::json!({ "match": self.matches });
        let o = v.as_object_mut().expect("an object");
        if let Some(p) = &self.phase {
            o.insert("phase".into(), p.clone().into());
        }
        if let Some(r) = &self.response {
            o.insert("response".into(), r.to_json());
        }
        if let Some(l) = &self.latency {
            o.insert("latency".into(), l.clone().into());
        }
        if let Some(n) = &self.nth {
            o.insert("nth".into(), n.clone().into());
        }
        if let Some(t) = self.times {
            o.insert("times".into(), t.into());
        }
        if let Some(p) = self.probability {
            o.insert("probability".into(), p.into());
        }
        if let Some(s) = self.seed {
            o.insert("seed".into(), s.into());
        }
        v
    }
}

/// A stored fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    pub id: String,
    #[serde(rename = "match")]
    pub matches: FaultMatch,
    pub phase: String,
    /// The answer as the API shows it (`None`: latency only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nth: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    pub probability: f64,
    pub seed: u64,
    /// Requests that reached it and matched.
    pub hits: u64,
    /// Firings left (`None`: unbounded).
    pub remaining: Option<u64>,
}

/// `client.admin().faults()`.
#[derive(Debug, Clone, Copy)]
pub struct Faults<'a> {
    client: &'a Client,
}

impl Faults<'_> {
    /// Adds a fault, last in evaluation order. Not retried after an unknown outcome (it is not
    /// deduplicated): list the faults before adding again.
    pub async fn add(&self, fault: &NewFault) -> Result<Fault> {
        self.add_json(&fault.to_json()).await
    }

    /// Adds a fault given as the API's JSON body.
    pub async fn add_json(&self, body: &Value) -> Result<Fault> {
        let call = Call::new(Method::POST, &["admin", "v1", "faults"])
            .json(body)?
            .replay(crate::http::Replay::OnlyUnprocessed);
        self.client.send(call).await
    }

    /// Every fault, in evaluation order.
    pub async fn list(&self) -> Result<Vec<Fault>> {
        self.client
            .send(Call::get(&["admin", "v1", "faults"]))
            .await
    }

    /// The faults whose `match.partner` is `partner`.
    pub async fn list_for_partner(&self, partner: impl std::fmt::Display) -> Result<Vec<Fault>> {
        let call = Call::get(&["admin", "v1", "faults"]).query("partner", partner.to_string());
        self.client.send(call).await
    }

    /// Removes one fault (also fine when it is already gone).
    pub async fn remove(&self, id: &str) -> Result<()> {
        let call = Call::new(Method::DELETE, &["admin", "v1", "faults", id]);
        self.client.send_empty(call).await
    }

    /// Removes every fault, or with `partner` only those whose `match.partner` is it.
    pub async fn clear(&self, partner: Option<&str>) -> Result<()> {
        let mut call = Call::new(Method::DELETE, &["admin", "v1", "faults"]);
        if let Some(p) = partner {
            call = call.query("partner", p);
        }
        self.client.send_empty(call).await
    }
}

/// What the token of a recorded request said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenSummary {
    pub tid: String,
    pub app_only: bool,
    pub admin: bool,
}

/// One recorded `/v1` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalEntry {
    pub seq: u64,
    pub at: String,
    pub partner: Option<String>,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub request_id: String,
    pub correlation_id: String,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    pub auth: Option<TokenSummary>,
    pub body: Option<String>,
    #[serde(default)]
    pub body_truncated: bool,
    pub status: Option<u16>,
    pub code: Option<u32>,
    #[serde(default)]
    pub retry_after: Option<u64>,
    #[serde(default)]
    pub replayed: bool,
    pub fault_id: Option<String>,
    pub duration_ms: f64,
}

/// A page of the journal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalPage {
    pub entries: Vec<JournalEntry>,
    /// Entries of the scope evicted since it was last cleared.
    pub evicted: u64,
}

/// What `find` and `count` look for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalPattern {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
}

/// An entry close to a pattern that nothing matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearMiss {
    pub entry: JournalEntry,
    /// The pattern's fields it did not satisfy.
    pub differences: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JournalFound {
    pub entries: Vec<JournalEntry>,
    pub near_misses: Vec<NearMiss>,
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalCount {
    pub count: u64,
    /// `false` when entries that might have matched were evicted.
    pub complete: bool,
}

/// `client.admin().journal()`.
#[derive(Debug, Clone, Copy)]
pub struct Journal<'a> {
    client: &'a Client,
}

impl Journal<'_> {
    /// Entries (of `partner`, or all) with `seq > after`, oldest first, at most `limit`.
    pub async fn list(&self, partner: Option<&str>, after: u64, limit: u32) -> Result<JournalPage> {
        let mut call = Call::get(&["admin", "v1", "journal"])
            .query("after", after.to_string())
            .query("limit", limit.to_string());
        if let Some(p) = partner {
            call = call.query("partner", p);
        }
        self.client.send(call).await
    }

    pub async fn find(&self, pattern: &JournalPattern) -> Result<JournalFound> {
        let call = Call::new(Method::POST, &["admin", "v1", "journal", "find"]).json(pattern)?;
        self.client.send(call).await
    }

    pub async fn count(&self, pattern: &JournalPattern) -> Result<JournalCount> {
        let call = Call::new(Method::POST, &["admin", "v1", "journal", "count"]).json(pattern)?;
        self.client.send(call).await
    }

    /// Forgets the entries (of `partner`, or all).
    pub async fn clear(&self, partner: Option<&str>) -> Result<()> {
        let mut call = Call::new(Method::DELETE, &["admin", "v1", "journal"]);
        if let Some(p) = partner {
            call = call.query("partner", p);
        }
        self.client.send_empty(call).await
    }
}

/// One thing the partner's code did wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// `retry-after-ignored`, `write-retried-without-request-id`, `write-without-request-id`,
    /// `legacy-endpoint`, `tight-polling`.
    pub check: String,
    /// The journal entries involved.
    pub seq: Vec<u64>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    pub violations: Vec<Violation>,
    /// The partner's requests judged.
    pub requests: u64,
    /// false when some of the partner's requests left the server's journal (it was full) before
    /// they were judged: the report covers only part of the traffic.
    #[serde(default = "complete_by_default")]
    pub complete: bool,
    /// How many of the partner's requests left the journal unjudged.
    #[serde(default)]
    pub evicted: u64,
}

/// A server that does not say (before qualify 0.1's per-partner journal) judged all it had.
fn complete_by_default() -> bool {
    true
}

/// `client.admin().partner(p).checks()`.
#[derive(Debug, Clone)]
pub struct Checks<'a> {
    client: &'a Client,
    partner: String,
}

impl Checks<'_> {
    pub async fn get(&self) -> Result<CheckReport> {
        let call = Call::get(&["admin", "v1", "partners", &self.partner, "checks"]);
        self.client.send(call).await
    }

    /// The same as JUnit XML (one test case per check).
    pub async fn junit(&self) -> Result<String> {
        let call = Call::get(&["admin", "v1", "partners", &self.partner, "checks"])
            .query("format", "junit");
        self.client.send_text(call).await
    }
}

//! Bearer tokens (api.md section 2): validating them, and minting development ones.
//!
//! `dev` mode: HS256 with a well-known secret that `qualify token` shares. `oidc` mode: RS256 or
//! ES256 against a JWKS (file or URL) with a configured issuer and audience; the dev secret is
//! never accepted there. The algorithm is pinned per key; `alg: none` and anything else are
//! refused.

use std::fmt;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use qualify_core::{ErrorKind, PartnerId};
use serde::{Deserialize, Serialize};

use super::caller::{ADMIN_ROLE, Caller, Credential};
use crate::http::error::ApiError;

/// The audience of Partner Center tokens, the default of `--oidc-audience`.
pub const DEFAULT_AUDIENCE: &str = "https://api.partnercenter.microsoft.com";
/// The well-known development secret (dev mode only; never accepted in `oidc` mode).
pub const DEFAULT_DEV_SECRET: &str = "qualify-dev-secret-do-not-use-in-production";
/// Clock skew tolerated on `exp`/`nbf`, and the furthest in the future `iat` may lie.
const LEEWAY_SECS: u64 = 30;
const MAX_IAT_SKEW_SECS: i64 = 300;
/// An unknown `kid` triggers a JWKS refresh at most this often (or at most once per
/// `jwks_refresh`, when that is shorter).
const JWKS_REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(30);
/// The default of `--oidc-jwks-refresh`: how old the cached JWKS may grow before it is fetched
/// again, so that a key removed from it (rotated out, or compromised) stops being accepted.
pub const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(3600);

/// A secret whose `Debug` prints nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub enum AuthConfig {
    Dev {
        secret: Secret,
        audience: String,
    },
    Oidc {
        jwks: String,
        issuer: String,
        audience: String,
        /// The JWKS is fetched again when the cached copy is older than this.
        jwks_refresh: Duration,
    },
}

#[derive(Debug, Deserialize)]
struct Claims {
    /// Checked by `jsonwebtoken`; kept to know how long a verified token may be remembered.
    exp: Option<f64>,
    tid: Option<String>,
    iss: Option<String>,
    iat: Option<i64>,
    scp: Option<String>,
    upn: Option<String>,
    unique_name: Option<String>,
    idtyp: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

struct Key {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

enum Mode {
    Dev {
        key: DecodingKey,
    },
    Oidc {
        source: String,
        issuer: String,
        keys: RwLock<Vec<Key>>,
        /// When the JWKS was last fetched (or a fetch last failed).
        last_refresh: std::sync::Mutex<Instant>,
        /// The cached keys are fetched again once they are this old.
        max_age: Duration,
        /// One fetch at a time; the others wait for its result.
        fetching: tokio::sync::Mutex<()>,
    },
}

pub struct Authenticator {
    mode: Mode,
    audience: String,
    verified: VerifiedTokens,
}

/// How many verified tokens are remembered.
const VERIFIED_TOKENS: usize = 1024;

/// Tokens that passed every check, by their exact text, with the caller they yielded. A client
/// sends the same token with every request until it expires, and checking a signature (HMAC in
/// dev mode, RSA or ECDSA in oidc mode) is most of what authentication costs. Only tokens that
/// passed enter, so forged tokens cannot fill it; `exp` is checked again on every use; a JWKS
/// fetch empties it, so a key removed from the JWKS stops being accepted as before.
struct VerifiedTokens {
    entries: std::sync::Mutex<std::collections::HashMap<Box<str>, (Caller, i64)>>,
}

impl VerifiedTokens {
    fn new() -> Self {
        Self {
            entries: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<Box<str>, (Caller, i64)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The caller of a remembered token that has not expired at `now` (Unix seconds).
    fn get(&self, token: &str, now: i64) -> Option<Caller> {
        let entries = self.lock();
        let (caller, exp) = entries.get(token)?;
        not_expired(*exp, now).then(|| caller.clone())
    }

    fn insert(&self, token: &str, caller: &Caller, exp: i64, now: i64) {
        let mut entries = self.lock();
        if entries.len() >= VERIFIED_TOKENS {
            entries.retain(|_, (_, exp)| not_expired(*exp, now));
            if entries.len() >= VERIFIED_TOKENS {
                entries.clear();
            }
        }
        entries.insert(token.into(), (caller.clone(), exp));
    }

    fn clear(&self) {
        self.lock().clear();
    }
}

/// `jsonwebtoken`'s rule: a token is expired once `exp` lies more than the leeway in the past.
fn not_expired(exp: i64, now: i64) -> bool {
    exp >= now - LEEWAY_SECS as i64
}

fn failed(description: &str) -> ApiError {
    ApiError::new(ErrorKind::AuthorizationFailed, description)
}

impl Authenticator {
    pub async fn new(config: &AuthConfig) -> Result<Self, String> {
        Ok(match config {
            AuthConfig::Dev { secret, audience } => Self {
                mode: Mode::Dev {
                    key: DecodingKey::from_secret(secret.expose().as_bytes()),
                },
                audience: audience.clone(),
                verified: VerifiedTokens::new(),
            },
            AuthConfig::Oidc {
                jwks,
                issuer,
                audience,
                jwks_refresh,
            } => {
                if issuer.trim().is_empty() {
                    return Err("--oidc-issuer is required in oidc mode".into());
                }
                let keys = load_jwks(jwks).await?;
                if keys.is_empty() {
                    return Err(format!(
                        "the JWKS at {jwks} has no RS256/ES256 signing keys"
                    ));
                }
                Self {
                    mode: Mode::Oidc {
                        source: jwks.clone(),
                        issuer: issuer.clone(),
                        keys: RwLock::new(keys),
                        last_refresh: std::sync::Mutex::new(Instant::now()),
                        max_age: (*jwks_refresh).max(Duration::from_millis(100)),
                        fetching: tokio::sync::Mutex::new(()),
                    },
                    audience: audience.clone(),
                    verified: VerifiedTokens::new(),
                }
            }
        })
    }

    pub fn is_dev(&self) -> bool {
        matches!(self.mode, Mode::Dev { .. })
    }

    /// Validates an `Authorization` header value.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, ApiError> {
        let Some(value) = authorization.map(str::trim).filter(|v| !v.is_empty()) else {
            return Err(ApiError::of(ErrorKind::TokenMissing));
        };
        let token = match value.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
                t.trim()
            }
            _ => return Err(failed("The Authorization header must be 'Bearer <token>'.")),
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if let Mode::Oidc { max_age, .. } = &self.mode {
            // Keys older than the refresh interval are fetched again first: a key removed from
            // the JWKS stops being accepted within that interval.
            self.refresh_jwks(*max_age).await;
        }
        if let Some(caller) = self.verified.get(token, now) {
            return Ok(caller);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| {
            failed("The token is malformed or uses an algorithm that is not accepted.")
        })?;
        let claims = match &self.mode {
            Mode::Dev { key } => {
                if header.alg != Algorithm::HS256 {
                    return Err(failed("The token algorithm is not accepted."));
                }
                self.decode(token, key, Algorithm::HS256)?
            }
            Mode::Oidc {
                issuer,
                keys,
                max_age,
                ..
            } => {
                if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
                    return Err(failed("The token algorithm is not accepted."));
                }
                let mut attempt = 0;
                let claims = loop {
                    let found = {
                        let keys = keys.read().unwrap_or_else(|p| p.into_inner());
                        let candidates: Vec<&Key> = keys
                            .iter()
                            .filter(|k| match &header.kid {
                                Some(kid) => k.kid.as_deref() == Some(kid.as_str()),
                                None => true,
                            })
                            .collect();
                        match candidates.as_slice() {
                            [k] if k.alg == header.alg => Some(self.decode(token, &k.key, k.alg)),
                            [_] => Some(Err(failed("The token algorithm does not match its key."))),
                            [] => None,
                            _ => Some(Err(failed(
                                "The token has no kid and the JWKS has several keys.",
                            ))),
                        }
                    };
                    match found {
                        Some(result) => break result?,
                        // An unknown kid may be a key published since the last fetch.
                        None if attempt == 0
                            && self
                                .refresh_jwks(JWKS_REFRESH_MIN_INTERVAL.min(*max_age))
                                .await =>
                        {
                            attempt += 1;
                        }
                        None => return Err(failed("The token's signing key is not known.")),
                    }
                };
                let tid = claims.tid.as_deref().unwrap_or_default();
                let expected = issuer.replace("{tenantid}", tid);
                if claims.iss.as_deref() != Some(expected.as_str()) {
                    return Err(failed("The token issuer is not accepted."));
                }
                claims
            }
        };
        if claims.iat.is_some_and(|iat| iat > now + MAX_IAT_SKEW_SECS) {
            return Err(failed("The token was issued in the future."));
        }
        let partner: PartnerId = claims
            .tid
            .as_deref()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| failed("The token has no valid tenant id (tid)."))?;
        let user = claims.upn.or(claims.unique_name).filter(|u| !u.is_empty());
        let app_user = claims.idtyp.as_deref() != Some("app")
            && claims.scp.as_deref().is_some_and(|s| !s.trim().is_empty())
            && user.is_some();
        let user = user.filter(|_| app_user);
        let credential = if claims.roles.iter().any(|r| r == ADMIN_ROLE) {
            Credential::Operator { user }
        } else {
            match user {
                Some(user) => Credential::AppUser { user },
                None => Credential::AppOnly,
            }
        };
        let caller = Caller {
            partner,
            credential,
        };
        if let Some(exp) = claims.exp {
            self.verified.insert(token, &caller, exp as i64, now);
        }
        Ok(caller)
    }

    /// Fetches the JWKS again when the last fetch is at least `older_than` ago; returns whether
    /// a fetch was attempted. A failed fetch keeps the keys that were there (the identity
    /// provider being briefly unreachable must not lock everyone out) and is retried after
    /// `older_than` again.
    async fn refresh_jwks(&self, older_than: Duration) -> bool {
        let Mode::Oidc {
            source,
            keys,
            last_refresh,
            fetching,
            ..
        } = &self.mode
        else {
            return false;
        };
        let due = || {
            last_refresh
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .elapsed()
                >= older_than
        };
        if !due() {
            return false;
        }
        let _one_at_a_time = fetching.lock().await;
        // Another request may have fetched while this one waited.
        if !due() {
            return true;
        }
        match load_jwks(source).await {
            Ok(fresh) => {
                tracing::info!(keys = fresh.len(), "JWKS fetched");
                *keys.write().unwrap_or_else(|p| p.into_inner()) = fresh;
                self.verified.clear();
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching the JWKS failed; keeping the keys cached")
            }
        }
        *last_refresh.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        true
    }

    fn decode(&self, token: &str, key: &DecodingKey, alg: Algorithm) -> Result<Claims, ApiError> {
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_SECS;
        v.validate_nbf = true;
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "aud"]);
        jsonwebtoken::decode::<Claims>(token, key, &v)
            .map(|d| d.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                failed(match e.kind() {
                    K::ExpiredSignature => "The token has expired.",
                    K::ImmatureSignature => "The token is not valid yet (nbf).",
                    K::InvalidAudience => "The token audience is not accepted.",
                    K::InvalidSignature => "The token signature is invalid.",
                    K::MissingRequiredClaim(_) => "The token lacks a required claim (exp, aud).",
                    K::InvalidAlgorithm | K::InvalidAlgorithmName => {
                        "The token algorithm is not accepted."
                    }
                    _ => "The token is invalid.",
                })
            })
    }
}

/// Reads a JWKS from a file path or an http(s) URL and keeps its RS256/ES256 signing keys,
/// each pinned to its algorithm.
async fn load_jwks(source: &str) -> Result<Vec<Key>, String> {
    let text = if source.starts_with("http://") || source.starts_with("https://") {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        client
            .get(source)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("fetching the JWKS from {source}: {e}"))?
            .text()
            .await
            .map_err(|e| format!("reading the JWKS from {source}: {e}"))?
    } else {
        tokio::fs::read_to_string(source)
            .await
            .map_err(|e| format!("reading the JWKS file {source}: {e}"))?
    };
    let set: JwkSet = serde_json::from_str(&text)
        .map_err(|e| format!("the JWKS at {source} is not valid: {e}"))?;
    let mut keys = Vec::new();
    for jwk in &set.keys {
        let alg = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                Algorithm::ES256
            }
            _ => continue,
        };
        // A key that declares another algorithm is not used for this one.
        if let Some(declared) = jwk.common.key_algorithm
            && declared.to_string() != format!("{alg:?}")
        {
            continue;
        }
        if let Ok(key) = DecodingKey::from_jwk(jwk) {
            keys.push(Key {
                kid: jwk.common.key_id.clone(),
                alg,
                key,
            });
        }
    }
    Ok(keys)
}

/// The claims of a development token.
#[derive(Debug, Clone, Serialize)]
struct DevClaims {
    aud: String,
    iss: String,
    tid: String,
    oid: String,
    appid: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    scp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    idtyp: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
}

/// What `qualify token` mints.
#[derive(Debug, Clone)]
pub struct DevToken {
    pub tenant: PartnerId,
    pub app_only: bool,
    pub admin: bool,
    pub upn: Option<String>,
    pub ttl: Duration,
    pub audience: String,
}

/// Mints an HS256 development token shaped like an Entra ID access token.
pub fn mint_dev_token(t: &DevToken, secret: &Secret) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = DevClaims {
        aud: t.audience.clone(),
        iss: format!("https://sts.windows.net/{}/", t.tenant),
        tid: t.tenant.to_string(),
        oid: uuid::Uuid::new_v4().to_string(),
        appid: "qualify-dev".into(),
        iat: now,
        nbf: now,
        exp: now + t.ttl.as_secs() as i64,
        scp: (!t.app_only).then(|| "user_impersonation".into()),
        upn: (!t.app_only).then(|| {
            t.upn
                .clone()
                .unwrap_or_else(|| "admin@partner.example".into())
        }),
        idtyp: t.app_only.then(|| "app".into()),
        roles: if t.admin {
            vec![ADMIN_ROLE.into()]
        } else {
            vec![]
        },
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.expose().as_bytes()),
    )
    .expect("HS256 encoding with a byte secret cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> AuthConfig {
        AuthConfig::Dev {
            secret: Secret::new("unit-test-secret"),
            audience: DEFAULT_AUDIENCE.into(),
        }
    }

    fn token(tenant: PartnerId, secret: &str) -> String {
        mint_dev_token(
            &DevToken {
                tenant,
                app_only: false,
                admin: false,
                upn: None,
                ttl: Duration::from_secs(600),
                audience: DEFAULT_AUDIENCE.into(),
            },
            &Secret::new(secret),
        )
    }

    fn caller(tenant: PartnerId) -> Caller {
        Caller {
            partner: tenant,
            credential: Credential::AppUser { user: "u".into() },
        }
    }

    #[tokio::test]
    async fn a_remembered_token_yields_the_same_caller_and_forgeries_stay_refused() {
        let auth = Authenticator::new(&dev()).await.unwrap();
        let tenant = PartnerId::new_random();
        let good = token(tenant, "unit-test-secret");
        let bearer = format!("Bearer {good}");
        let first = auth.authenticate(Some(&bearer)).await.unwrap();
        let again = auth.authenticate(Some(&bearer)).await.unwrap();
        assert_eq!(first.partner, tenant);
        assert_eq!(again, first);
        // The same claims with another signature, and a token signed with another secret.
        // (A character in the middle of the signature: the last one carries padding bits.)
        let at = good.len() - 10;
        let swapped = if &good[at..=at] == "A" { "B" } else { "A" };
        let tampered = format!("{}{swapped}{}", &good[..at], &good[at + 1..]);
        let forged = token(tenant, "another-secret");
        for bad in [tampered, forged] {
            assert!(
                auth.authenticate(Some(&format!("Bearer {bad}")))
                    .await
                    .is_err(),
                "refused after the real token was remembered"
            );
        }
    }

    #[test]
    fn remembered_tokens_expire_with_their_exp_and_stay_bounded() {
        let cache = VerifiedTokens::new();
        let tenant = PartnerId::new_random();
        let now = 1_800_000_000;
        cache.insert("t", &caller(tenant), now + 60, now);
        assert!(cache.get("t", now).is_some());
        assert!(cache.get("t", now + 60 + LEEWAY_SECS as i64).is_some());
        assert!(
            cache.get("t", now + 61 + LEEWAY_SECS as i64).is_none(),
            "expired past the leeway"
        );
        assert!(cache.get("other", now).is_none());
        for i in 0..VERIFIED_TOKENS * 3 {
            cache.insert(&format!("t{i}"), &caller(tenant), now + 60, now);
            assert!(cache.lock().len() <= VERIFIED_TOKENS);
        }
        cache.clear();
        assert!(cache.get("t1", now).is_none());
    }
}

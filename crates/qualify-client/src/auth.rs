//! Where the bearer token of each request comes from.

use std::fmt;
use std::future::Future;

/// What a token provider may fail with (it is wrapped in an [`Error`](crate::Error) of category
/// [`Credentials`](crate::ErrorCategory::Credentials)).
pub type TokenError = Box<dyn std::error::Error + Send + Sync>;

/// Supplies the bearer token for a request; asked before **every attempt**, so a provider that
/// refreshes an expiring token is honoured on retries too.
///
/// The trait is **async** on purpose: real Partner Center tokens come from Microsoft Entra ID,
/// and getting or refreshing one is itself an HTTP call (client credentials, refresh token,
/// managed identity). A synchronous trait would force such a provider to block a runtime worker
/// thread or to refresh on a side task and hand out possibly-stale tokens; an async one lets it
/// await the refresh in place. A provider that already has its token (a [`StaticToken`], a
/// cache hit) simply returns a ready future, which costs nothing.
#[async_trait::async_trait]
pub trait TokenProvider: Send + Sync {
    async fn token(&self) -> Result<String, TokenError>;
}

/// A fixed token (tests, scripts, short-lived tools).
#[derive(Clone)]
pub struct StaticToken(String);

impl StaticToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
}

/// Never prints the token.
impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken(..)")
    }
}

#[async_trait::async_trait]
impl TokenProvider for StaticToken {
    async fn token(&self) -> Result<String, TokenError> {
        Ok(self.0.clone())
    }
}

/// A provider made from an async closure, e.g. one that asks a token cache:
///
/// ```
/// use qualify_client::{Client, TokenFn};
/// let client = Client::builder()
///     .base_url("http://127.0.0.1:8080")
///     .token_provider(TokenFn::new(|| async {
///         Ok::<_, qualify_client::TokenError>(std::env::var("QUALIFY_TOKEN")?)
///     }))
///     .build()
///     .unwrap();
/// ```
pub struct TokenFn<F>(F);

impl<F, Fut> TokenFn<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<String, TokenError>> + Send,
{
    pub fn new(f: F) -> Self {
        Self(f)
    }
}

impl<F> fmt::Debug for TokenFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenFn(..)")
    }
}

#[async_trait::async_trait]
impl<F, Fut> TokenProvider for TokenFn<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<String, TokenError>> + Send,
{
    async fn token(&self) -> Result<String, TokenError> {
        (self.0)().await
    }
}

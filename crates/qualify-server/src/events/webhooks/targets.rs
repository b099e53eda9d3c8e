//! Where a webhook may go (events.md 2): an absolute http(s) URL without credentials, and —
//! unless private targets are allowed — a host that is not and does not resolve to a loopback,
//! private, link-local or metadata address ([`qualify_core::webhooks::forbidden_address`]). The
//! rule is checked when a registration is made and again by the outbound client's resolver on
//! the addresses it then connects to.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use futures::future::BoxFuture;
use qualify_core::webhooks::forbidden_address;

/// Resolves host names for deliveries (the system resolver; tests inject their own).
pub trait Resolver: Send + Sync + 'static {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>>;
}

pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn lookup(&self, host: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// Why a target URL is refused: not an absolute http(s) URL, or (unless private targets are
/// allowed) a host that is or resolves to a forbidden address.
pub async fn check_target(
    url: &str,
    allow_private: bool,
    resolver: &dyn Resolver,
) -> Result<(), String> {
    let parsed = parse_url(url)?;
    if allow_private {
        return Ok(());
    }
    match parsed.host() {
        Some(url::Host::Domain(name)) => {
            let found = resolver
                .lookup(name.to_owned())
                .await
                .map_err(|e| format!("the host {name} does not resolve: {e}"))?;
            judge_addresses(&found).map_err(|e| format!("the host {name} {e}"))
        }
        _ => check_literal(&parsed),
    }
}

/// The SSRF rule for a URL whose host is an IP literal (which the client connects to without
/// asking its resolver); names are judged by [`Guarded`] on the addresses it connects to.
fn check_literal(url: &url::Url) -> Result<(), String> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => judge_addresses(&[IpAddr::V4(ip)]),
        Some(url::Host::Ipv6(ip)) => judge_addresses(&[IpAddr::V6(ip)]),
        Some(url::Host::Domain(_)) => Ok(()),
        None => Err("the URL has no host".into()),
    }
}

/// A refusal by the SSRF rule inside the client's resolver, found again in its error chain.
#[derive(Debug)]
pub(super) struct Refusal(String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// An absolute http(s) URL with a host.
pub fn parse_url(url: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not an absolute URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme must be http or https, not {}",
            parsed.scheme()
        ));
    }
    if parsed.host().is_none() {
        return Err("the URL has no host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the URL must not carry credentials".into());
    }
    Ok(parsed)
}

fn judge_addresses(found: &[IpAddr]) -> Result<(), String> {
    if found.is_empty() {
        return Err("resolves to no address".into());
    }
    for ip in found {
        if let Some(why) = forbidden_address(*ip) {
            return Err(format!("is {why} ({ip}); webhooks may not target it"));
        }
    }
    Ok(())
}

/// The HTTP client's resolver: the injected one, with the SSRF rule applied to what it returns
/// (so the connection goes only to addresses that were checked).
pub(super) struct Guarded {
    pub(super) inner: Arc<dyn Resolver>,
    pub(super) allow_private: bool,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let lookup = self.inner.lookup(name.as_str().to_owned());
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = lookup.await?;
            if !allow_private && let Err(e) = judge_addresses(&found) {
                let refusal: Box<dyn std::error::Error + Send + Sync> =
                    Box::new(Refusal(format!("the host {host} {e}")));
                return Err(refusal);
            }
            let addrs: reqwest::dns::Addrs =
                Box::new(found.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// The SSRF refusal that made a request fail, if one did.
pub(super) fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<Refusal>() {
            return Some(r.0.clone());
        }
        cause = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http_without_credentials() {
        assert!(parse_url("https://example.com/hook").is_ok());
        assert!(parse_url("http://127.0.0.1:8080/").is_ok());
        for bad in [
            "/hook",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "example.com",
            "",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    struct Fixed(Vec<IpAddr>);
    impl Resolver for Fixed {
        fn lookup(&self, _: String) -> BoxFuture<'static, std::io::Result<Vec<IpAddr>>> {
            let found = self.0.clone();
            Box::pin(async move { Ok(found) })
        }
    }

    #[tokio::test]
    async fn targets_are_checked_after_resolution() {
        let loopback = Fixed(vec!["127.0.0.1".parse().unwrap()]);
        let public = Fixed(vec!["93.184.215.14".parse().unwrap()]);
        let e = check_target("https://hooks.example.com/x", false, &loopback)
            .await
            .unwrap_err();
        assert!(e.contains("loopback"), "{e}");
        assert!(
            check_target("https://hooks.example.com/x", false, &public)
                .await
                .is_ok()
        );
        assert!(
            check_target("https://hooks.example.com/x", true, &loopback)
                .await
                .is_ok()
        );
        for literal in [
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest",
            "http://10.0.0.1/",
        ] {
            assert!(
                check_target(literal, false, &public).await.is_err(),
                "{literal}"
            );
        }
    }
}

//! `qualify healthcheck`: exit 0 when the server's `GET /readyz` answers 200, 1 otherwise.
//!
//! The container image's `HEALTHCHECK` runs it (the image has no curl). Docker and podman read
//! exit 0 as healthy and 1 as unhealthy (other codes are reserved there), so every failure —
//! refused, timed out, any status but 200 — is exit 1, with the reason on stderr.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The server's base URL [default: from QUALIFY_LISTEN (an unspecified address such as
    /// 0.0.0.0 becomes loopback), else http://127.0.0.1:8080]
    #[arg(long)]
    pub base_url: Option<String>,
    /// How long the check may take in all, e.g. 3s
    #[arg(long, default_value = "3s", value_parser = crate::flags::duration)]
    pub timeout: std::time::Duration,
}

/// The base URL to check when `--base-url` is not given: the address `serve` listens on
/// according to `QUALIFY_LISTEN` (what the image sets), reached through loopback when it is an
/// unspecified address.
pub fn default_base_url(listen: Option<&str>) -> String {
    let Some(addr) = listen.and_then(|l| l.trim().parse::<SocketAddr>().ok()) else {
        return qualify_client::DEFAULT_BASE_URL.to_owned();
    };
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

pub async fn run(args: HealthcheckArgs) -> anyhow::Result<ExitCode> {
    let timeout = args.timeout;
    let base = args
        .base_url
        .unwrap_or_else(|| default_base_url(std::env::var("QUALIFY_LISTEN").ok().as_deref()));
    let url = format!("{}/readyz", base.trim_end_matches('/'));
    let client = reqwest::Client::builder().timeout(timeout).build()?;
    match client.get(&url).send().await {
        Ok(r) if r.status() == reqwest::StatusCode::OK => {
            outln!("ready: {url}")?;
            Ok(ExitCode::SUCCESS)
        }
        Ok(r) => {
            errln!("not ready: {url} answered {}", r.status());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            errln!("not ready: {url}: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::default_base_url;

    #[test]
    fn the_default_follows_qualify_listen_through_loopback() {
        assert_eq!(default_base_url(None), "http://127.0.0.1:8080");
        assert_eq!(default_base_url(Some("nonsense")), "http://127.0.0.1:8080");
        assert_eq!(
            default_base_url(Some("0.0.0.0:8080")),
            "http://127.0.0.1:8080"
        );
        assert_eq!(default_base_url(Some("[::]:9000")), "http://[::1]:9000");
        assert_eq!(
            default_base_url(Some("10.1.2.3:7000")),
            "http://10.1.2.3:7000"
        );
    }
}

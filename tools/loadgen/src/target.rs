//! Where load may go: loopback only (127.0.0.0/8, ::1, `localhost`). Anything else is refused
//! before a single request is sent.
use std::net::{IpAddr, SocketAddr};

use anyhow::{bail, Context, Result};

/// Checks that `base` is an `http://` URL whose host is a loopback address; returns it without a
/// trailing slash.
pub fn loopback_base(base: &str) -> Result<String> {
    let url = reqwest::Url::parse(base).with_context(|| format!("{base:?} is not a URL"))?;
    if url.scheme() != "http" {
        bail!("{base:?}: only http:// targets are supported");
    }
    let host = url.host_str().with_context(|| format!("{base:?} has no host"))?;
    if !is_loopback_host(host) {
        bail!("refusing to send load to {host:?}: only loopback targets (127.0.0.0/8, ::1, localhost) are allowed");
    }
    if url.path() != "/" || url.query().is_some() {
        bail!("{base:?}: give the shop's base URL only, e.g. http://127.0.0.1:3000");
    }
    Ok(base.trim_end_matches('/').to_string())
}

/// True for `localhost`, 127.0.0.0/8 and ::1 (with or without IPv6 brackets).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A listen address for our own servers: loopback only as well.
pub fn loopback_listen(addr: SocketAddr) -> Result<SocketAddr> {
    if !addr.ip().is_loopback() {
        bail!("refusing to listen on {addr}: loopback addresses only");
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets() {
        assert_eq!(loopback_base("http://127.0.0.1:3000/").unwrap(), "http://127.0.0.1:3000");
        assert!(loopback_base("http://127.1.2.3:80").is_ok());
        assert!(loopback_base("http://localhost:3000").is_ok());
        assert!(loopback_base("http://[::1]:3000").is_ok());
        for bad in [
            "http://10.0.0.1:3000",
            "http://192.168.1.2",
            "http://example.com",
            "http://0.0.0.0:3000",
            "https://127.0.0.1",
            "http://127.0.0.1:3000/shop",
            "127.0.0.1:3000",
        ] {
            assert!(loopback_base(bad).is_err(), "{bad} must be refused");
        }
        assert!(loopback_listen("127.0.0.1:0".parse().unwrap()).is_ok());
        assert!(loopback_listen("0.0.0.0:0".parse().unwrap()).is_err());
    }
}

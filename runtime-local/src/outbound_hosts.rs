//! `allowed_outbound_hosts` parsing and matching, with Spin's rules.
//!
//! Entries are `<scheme>://<host>[:<port>]`:
//! * scheme `*` or alphabetic; host `*`, `self`/`self.alt` (relative requests), `*.domain`
//!   (any subdomain, domains only), an IP or CIDR, or a literal domain; port omitted (the scheme's
//!   well-known port: http 80, https 443, redis 6379, postgres 5432, mysql 3306, mqtt 1883), `*`,
//!   `N` or an end-exclusive range `A..B`.
//! * `{{ var }}` templates are resolved with application variables.
//! * `*.spin.internal` expands to one entry per component of the app.
//!
//! Nothing is allowed by default.

use std::net::IpAddr;
use std::ops::Range;

use anyhow::{bail, ensure, Context, Result};
use url::Host;

use crate::variables::{Resolver, Template};

/// The service-chaining domain.
pub const SERVICE_CHAINING_DOMAIN: &str = "spin.internal";
const SERVICE_CHAINING_SUFFIX: &str = ".spin.internal";

/// One parsed `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    original: String,
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    AnySubdomain(String),
    ToSelf,
    Literal(Host),
    Cidr(IpAddr, u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Port(u16),
    Range(Range<u16>),
}

/// The well-known port of a scheme, as Spin knows it.
pub fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl AllowedHost {
    /// Parses one (already template-resolved) entry.
    pub fn parse(entry: &str) -> Result<Self> {
        let original = entry.to_string();
        let url = entry.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            match url {
                "*" | ":" | "" | "?" => bail!(
                    "{url:?} is not an allowed outbound host format.\nHosts must be in the form <scheme>://<host>[:<port>], with '*' wildcards allowed for each.\nIf you intended to allow all outbound networking, you can use '*://*:*' - this will obviate all network sandboxing."
                ),
                _ => bail!("{url:?} does not contain a scheme (e.g., 'http://' or '*://')"),
            }
        };
        let (host, rest) = rest.rsplit_once(':').unwrap_or((rest, ""));
        let port = match rest.split_once('/') {
            Some((port, path)) => {
                if !path.is_empty() {
                    bail!("{url:?} has a path but is not allowed to");
                }
                port
            }
            None => rest,
        };
        let port = parse_port(port, scheme).with_context(|| format!("Invalid allowed host port {port:?}"))?;
        let scheme_pat = if scheme == "*" {
            None
        } else if scheme.starts_with('{') {
            bail!("Invalid allowed host scheme {scheme:?}: scheme lists are not supported")
        } else if scheme.chars().any(|c| !c.is_alphabetic()) {
            bail!("Invalid allowed host scheme {scheme:?}: only alphabetic characters are allowed")
        } else {
            Some(scheme.to_string())
        };
        let host = parse_host(host).with_context(|| format!("Invalid allowed host {host:?}"))?;
        Ok(AllowedHost { original, scheme: scheme_pat, host, port })
    }

    fn allows(&self, url: &OutboundUrl) -> bool {
        self.scheme.as_ref().is_none_or(|s| *s == url.scheme)
            && host_allows(&self.host, &url.host)
            && match &self.port {
                PortPattern::Any => true,
                p => match url.port.or_else(|| well_known_port(&url.scheme)) {
                    Some(port) => match p {
                        PortPattern::Port(x) => *x == port,
                        PortPattern::Range(r) => r.contains(&port),
                        PortPattern::Any => true,
                    },
                    None => false,
                },
            }
    }

    fn allows_relative(&self, schemes: &[&str]) -> bool {
        schemes.iter().any(|s| self.scheme.as_ref().is_none_or(|x| x == s))
            && matches!(self.host, HostPattern::Any | HostPattern::ToSelf)
    }
}

impl std::fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.original)
    }
}

fn parse_port(port: &str, scheme: &str) -> Result<PortPattern> {
    if port.is_empty() {
        return well_known_port(scheme).map(PortPattern::Port).with_context(|| {
            format!("no port was provided and the scheme {scheme:?} does not have a known default port number")
        });
    }
    if port == "*" {
        return Ok(PortPattern::Any);
    }
    if port.starts_with('{') {
        bail!("port lists are not yet supported");
    }
    if let Some((start, end)) = port.split_once("..") {
        let start = start.parse().with_context(|| format!("port range {port:?} contains non-number"))?;
        let end = end.parse().with_context(|| format!("port range {port:?} contains non-number"))?;
        return Ok(PortPattern::Range(start..end));
    }
    Ok(PortPattern::Port(port.parse().with_context(|| format!("port {port:?} is not a number"))?))
}

fn parse_host(host: &str) -> Result<HostPattern> {
    let mut host = host.trim();
    if host == "*" {
        return Ok(HostPattern::Any);
    }
    if host == "self" || host == "self.alt" {
        return Ok(HostPattern::ToSelf);
    }
    if host.starts_with('{') {
        ensure!(host.ends_with('}'));
        bail!("host lists are not yet supported");
    }
    if let Some(net) = parse_cidr(host) {
        return Ok(net);
    }
    host = host.trim_end_matches('/');
    if host.contains('/') {
        bail!("must not include a path");
    }
    if let Some(domain) = host.strip_prefix("*.") {
        if domain.contains('*') {
            bail!("wildcards are allowed only as prefixes");
        }
        return Ok(HostPattern::AnySubdomain(format!(".{domain}")));
    }
    if host.contains('*') {
        bail!("wildcards are allowed only as subdomains");
    }
    Ok(HostPattern::Literal(Host::parse(host)?))
}

/// Parses `ip` or `ip/prefix` (host bits truncated), like `ip_network::IpNetwork::from_str_truncate`.
fn parse_cidr(s: &str) -> Option<HostPattern> {
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip.parse::<IpAddr>().ok()?, len.parse::<u8>().ok()?),
        None => {
            let ip = s.parse::<IpAddr>().ok()?;
            (ip, if ip.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if len > max {
        return None;
    }
    Some(HostPattern::Cidr(mask(ip, len), len))
}

fn mask(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len as u32) };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let m = if len == 0 { 0 } else { u128::MAX << (128 - len as u32) };
            IpAddr::V6((bits & m).into())
        }
    }
}

fn host_allows(pattern: &HostPattern, host: &str) -> bool {
    let Ok(host) = Host::parse(host) else {
        return false;
    };
    match (pattern, host) {
        (HostPattern::Any, _) => true,
        (HostPattern::AnySubdomain(suffix), Host::Domain(d)) => d.ends_with(suffix.as_str()),
        (HostPattern::Literal(l), h) => h == *l,
        (HostPattern::Cidr(net, len), Host::Ipv4(ip)) => net.is_ipv4() && mask(IpAddr::V4(ip), *len) == *net,
        (HostPattern::Cidr(net, len), Host::Ipv6(ip)) => net.is_ipv6() && mask(IpAddr::V6(ip), *len) == *net,
        _ => false,
    }
}

/// A guest-supplied destination, parsed the way Spin parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundUrl {
    /// Scheme.
    pub scheme: String,
    /// Host (as `url` reports it).
    pub host: String,
    /// Explicit port, if any (default ports of special schemes are dropped by `url`).
    pub port: Option<u16>,
}

impl OutboundUrl {
    /// Parses `url`; if it does not parse or has no host, retries as `<default_scheme>://<url>`.
    /// User info is percent-encoded first so passwords with odd characters parse.
    pub fn parse(url: &str, default_scheme: &str) -> Result<Self> {
        let mut url = url.to_string();
        if let Some(at) = url.find('@') {
            let scheme_end = url.find("://").map(|e| e + 3).unwrap_or(0);
            let path_start = url[scheme_end..].find('/').map(|e| e + scheme_end).unwrap_or(usize::MAX);
            if at < path_start {
                let userinfo = &url[scheme_end..at];
                let encoded = percent_encode(userinfo);
                url = format!("{}{}{}", &url[..scheme_end], encoded, &url[at..]);
            }
        }
        let parsed = match url::Url::parse(&url) {
            Ok(u) if u.has_host() => u,
            first => match url::Url::parse(&format!("{default_scheme}://{url}")) {
                Ok(u) => u,
                Err(e) => return Err(first.err().map(anyhow::Error::from).unwrap_or_else(|| e.into())),
            },
        };
        Ok(OutboundUrl {
            scheme: parsed.scheme().to_string(),
            host: parsed.host_str().with_context(|| format!("{url:?} does not have a host component"))?.to_string(),
            port: parsed.port(),
        })
    }

    /// `host[:port]` as Spin prints it in denial messages.
    pub fn authority(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The resolved allowed hosts of one component.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    /// `Err` when a template could not be resolved: every check is then denied (like Spin).
    hosts: std::result::Result<Vec<AllowedHost>, String>,
}

impl AllowedHosts {
    /// Parses a component's list. Templates are validated (with defaults) and resolved with
    /// app variables; `component_ids` expands `*.spin.internal`.
    pub fn parse(entries: &[String], resolver: &Resolver, component_ids: &[String]) -> Result<Self> {
        if entries.len() == 1 && entries[0] == "insecure:allow-all" {
            bail!("'insecure:allow-all' is not allowed - use '*://*:*' instead if you really want to allow all outbound traffic'");
        }
        let mut hosts = Vec::new();
        let mut failure = None;
        for entry in entries {
            let template = Template::parse(entry)?;
            let resolved = if template.is_literal() {
                entry.clone()
            } else {
                // Validate that referenced variables exist, then resolve.
                let template = resolver.validate_template(entry)?;
                match resolver.resolve_template(&template) {
                    Ok(v) => v,
                    Err(e) => {
                        failure = Some(format!("failed to resolve allowed host template {entry:?}: {e}"));
                        continue;
                    }
                }
            };
            let host = AllowedHost::parse(&resolved)
                .with_context(|| {
                    if template.is_literal() {
                        format!("invalid allowed_outbound_hosts entry {entry:?}")
                    } else {
                        format!("allowed_outbound_hosts template {entry:?} results in invalid config {resolved:?}")
                    }
                })?;
            hosts.push(host);
        }
        if let Some(f) = failure {
            return Ok(AllowedHosts { hosts: Err(f) });
        }
        // Expand `*.spin.internal`.
        let hosts = hosts
            .into_iter()
            .flat_map(|h| match &h.host {
                HostPattern::AnySubdomain(s) if s == SERVICE_CHAINING_SUFFIX => component_ids
                    .iter()
                    .filter_map(|id| {
                        let mut hh = h.clone();
                        hh.host = HostPattern::Literal(Host::parse(&format!("{id}{SERVICE_CHAINING_SUFFIX}")).ok()?);
                        Some(hh)
                    })
                    .collect::<Vec<_>>(),
                _ => vec![h],
            })
            .collect();
        Ok(AllowedHosts { hosts: Ok(hosts) })
    }

    /// Allows nothing.
    pub fn none() -> Self {
        AllowedHosts { hosts: Ok(Vec::new()) }
    }

    /// Checks an absolute destination (`default_scheme` is used when `url` has none).
    pub fn check_url(&self, url: &str, default_scheme: &str) -> bool {
        let Ok(hosts) = &self.hosts else { return false };
        match OutboundUrl::parse(url, default_scheme) {
            Ok(u) => {
                let ok = hosts.iter().any(|h| h.allows(&u));
                if !ok {
                    report_denied(&u.scheme, &u.authority());
                }
                ok
            }
            Err(e) => {
                tracing::warn!("A component tried to make a request to a url that could not be parsed: {url}: {e}");
                false
            }
        }
    }

    /// Checks a relative ("self") request for any of `schemes`.
    pub fn check_relative(&self, schemes: &[&str]) -> bool {
        let Ok(hosts) = &self.hosts else { return false };
        let ok = hosts.iter().any(|h| h.allows_relative(schemes));
        if !ok {
            report_denied(schemes.first().copied().unwrap_or(""), "self");
        }
        ok
    }
}

fn report_denied(scheme: &str, authority: &str) {
    tracing::warn!(
        "A component tried to make an outbound network connection to disallowed destination '{scheme}://{authority}'. \
         To allow this request, add 'allowed_outbound_hosts = [\"{scheme}://{authority}\"]' to the manifest component section."
    );
}

/// If `host` (optionally with `:port`) is `<id>.spin.internal`, returns `id`.
pub fn service_chaining_target(host: &str) -> Option<String> {
    let host = host.trim();
    let (host, _) = host.rsplit_once(':').unwrap_or((host, ""));
    let (first, rest) = host.split_once('.')?;
    (rest == SERVICE_CHAINING_DOMAIN).then(|| first.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::VariableDecl;
    use indexmap::IndexMap;
    use std::collections::HashMap;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        let mut decls = IndexMap::new();
        decls.insert("pg_host".to_string(), VariableDecl { default: Some("db.local".into()), ..Default::default() });
        decls.insert("redis_host".to_string(), VariableDecl { required: true, ..Default::default() });
        let mut ov = HashMap::new();
        ov.insert("redis_host".to_string(), "cache:7000".to_string());
        let r = Resolver::new(decls, ov, HashMap::new()).unwrap();
        let entries: Vec<String> = entries.iter().map(|s| s.to_string()).collect();
        AllowedHosts::parse(&entries, &r, &["carts".into(), "products".into()]).unwrap()
    }

    #[test]
    fn default_ports() {
        let h = hosts(&["http://example.com", "postgres://localhost", "redis://localhost", "https://secure.com"]);
        assert!(h.check_url("http://example.com/x", "https"));
        assert!(h.check_url("http://example.com:80/x", "https"));
        assert!(!h.check_url("http://example.com:8080/x", "https"));
        assert!(!h.check_url("https://example.com/x", "https"));
        assert!(h.check_url("https://secure.com/", "https"));
        assert!(h.check_url("postgres://user:p@ss@localhost/db", "postgres"));
        // Like Spin, a '/' inside the password confuses the user-info detection (denied).
        assert!(!h.check_url("postgres://user:p@ss/w@localhost/db", "postgres"));
        assert!(h.check_url("postgres://localhost:5432/db", "postgres"));
        assert!(!h.check_url("postgres://localhost:5433/db", "postgres"));
        assert!(h.check_url("redis://localhost", "redis"));
        assert!(h.check_url("localhost:6379", "redis"));
        assert!(!h.check_url("redis://other:6379", "redis"));
    }

    #[test]
    fn wildcards_ports_and_cidr() {
        let h = hosts(&["https://*.example.com", "http://localhost:*", "tcp://10.0.0.0/8:5000..5002", "*://any.org:1234"]);
        assert!(h.check_url("https://a.b.example.com", "https"));
        assert!(!h.check_url("https://example.com", "https"));
        assert!(h.check_url("http://localhost:9999", "https"));
        assert!(h.check_url("tcp://10.1.2.3:5001", "tcp"));
        assert!(!h.check_url("tcp://10.1.2.3:5002", "tcp"), "ranges are end-exclusive");
        assert!(!h.check_url("tcp://11.1.2.3:5001", "tcp"));
        assert!(h.check_url("redis://any.org:1234", "redis"));
        let all = hosts(&["*://*:*"]);
        assert!(all.check_url("redis://x:1", "redis"));
        assert!(all.check_relative(&["http", "https"]));
        assert!(all.check_url("http://carts.spin.internal/x", "https"));
    }

    #[test]
    fn templates_and_chaining() {
        let h = hosts(&["postgres://{{ pg_host }}", "redis://{{ redis_host }}", "http://*.spin.internal"]);
        assert!(h.check_url("postgres://db.local/shop", "postgres"));
        assert!(!h.check_url("postgres://other/shop", "postgres"));
        assert!(h.check_url("redis://cache:7000", "redis"));
        assert!(!h.check_url("redis://cache", "redis"));
        assert!(h.check_url("http://carts.spin.internal/api", "https"));
        assert!(h.check_url("http://products.spin.internal/api", "https"));
        assert!(!h.check_url("http://unknown.spin.internal/api", "https"));
        assert!(!h.check_url("https://carts.spin.internal/api", "https"));
        assert!(!h.check_relative(&["http", "https"]));
        assert!(hosts(&["http://self"]).check_relative(&["http", "https"]));
    }

    #[test]
    fn parse_errors() {
        for bad in ["*", "example.com", "http://example.com/path", "tcp://host", "{http,https}://x", "http://a.*.com", "insecure:allow-all"] {
            let r = Resolver::new(IndexMap::new(), HashMap::new(), HashMap::new()).unwrap();
            assert!(AllowedHosts::parse(&[bad.to_string()], &r, &[]).is_err(), "{bad} should be refused");
        }
        assert!(AllowedHost::parse("http://example.com/").is_ok());
    }

    #[test]
    fn chaining_target() {
        assert_eq!(service_chaining_target("carts.spin.internal"), Some("carts".into()));
        assert_eq!(service_chaining_target("carts.spin.internal:80"), Some("carts".into()));
        assert_eq!(service_chaining_target("a.b.spin.internal"), None);
        assert_eq!(service_chaining_target("example.com"), None);
    }
}

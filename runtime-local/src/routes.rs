//! HTTP trigger routing, with Spin's semantics.
//!
//! Spin 3.x routes with the `routefinder` crate (0.5.x); runtime-local uses the same crate so
//! that matching and precedence are identical: exact routes beat wildcards, the longest
//! wildcard prefix wins, literal segments beat `:param` segments, trailing slashes are ignored
//! when matching, duplicates (same raw route string) are resolved "last one wins" with an error
//! log, and private routes are never routable (only reachable by service chaining).

use std::collections::HashMap;
use std::net::SocketAddr;

use anyhow::{anyhow, Result};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

/// The prefix of the routes that Spin itself answers.
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/spin/";

/// A `route = ...` value of a `[[trigger.http]]`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum RouteConfig {
    /// A routable pattern such as `/api/...`, `/users/:id` or `/`.
    Route(String),
    /// `{ private = true }`: only reachable through service chaining.
    Private {
        /// Must be `true`.
        private: bool,
    },
}

/// What a route leads to (trigger index into the manifest's HTTP triggers).
#[derive(Clone, Debug)]
struct Handler {
    trigger: usize,
    based_route: String,
    raw_route: String,
}

/// The router built from the HTTP triggers.
pub struct Router {
    inner: routefinder::Router<Handler>,
    /// Routes in routing-table order: (display route, trigger index).
    listing: Vec<(String, usize)>,
}

/// A duplicate route that will never be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateRoute {
    /// The raw route.
    pub route: String,
    /// Trigger index that was replaced.
    pub replaced: usize,
    /// Trigger index that wins.
    pub effective: usize,
}

/// A successful route match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMatch {
    /// Index of the matched trigger.
    pub trigger: usize,
    /// Route with base, as written (e.g. `/static/...`; `/` becomes empty).
    pub based_route: String,
    /// Route exactly as written in the manifest.
    pub raw_route: String,
    /// Trailing wildcard part of the path (Spin's `spin-path-info`).
    pub path_info: String,
    /// Named `:param` captures, in pattern order.
    pub named_wildcards: Vec<(String, String)>,
}

impl RouteMatch {
    /// A synthetic match used for service chaining: as if the whole path matched `/...`.
    pub fn synthetic(trigger: usize, path: &str) -> Self {
        RouteMatch {
            trigger,
            based_route: "/...".into(),
            raw_route: "/...".into(),
            path_info: path.to_string(),
            named_wildcards: Vec::new(),
        }
    }

    /// The raw route without a trailing `/...` (Spin's `spin-component-route`).
    pub fn raw_route_or_prefix(&self) -> &str {
        self.raw_route.strip_suffix("/...").unwrap_or(&self.raw_route)
    }

    /// Appends the `spin-*` headers Spin adds to the request for this match to `map`, in Spin's
    /// order, after the client's (`full_url` is `<scheme>://<host><path-and-query>`, with
    /// `localhost` for a missing `Host`). A value that is not a valid header value is skipped,
    /// as is a `spin-path-match-*` name that is not a valid header name.
    pub fn append_spin_headers(&self, map: &mut HeaderMap, full_url: String, client_addr: SocketAddr) {
        fn value(v: &str) -> Option<HeaderValue> {
            HeaderValue::from_bytes(v.as_bytes()).ok()
        }
        let fixed = [
            (SPIN_PATH_INFO, value(&self.path_info)),
            (SPIN_FULL_URL, HeaderValue::from_maybe_shared(bytes::Bytes::from(full_url)).ok()),
            (SPIN_MATCHED_ROUTE, value(&self.based_route)),
            (SPIN_BASE_PATH, Some(HeaderValue::from_static("/"))),
            (SPIN_RAW_COMPONENT_ROUTE, value(&self.raw_route)),
            (SPIN_COMPONENT_ROUTE, value(self.raw_route_or_prefix())),
            (SPIN_CLIENT_ADDR, value(&client_addr.to_string())),
        ];
        map.reserve(fixed.len() + self.named_wildcards.len());
        for (name, v) in fixed {
            if let Some(v) = v {
                map.append(HeaderName::from_static(name), v);
            }
        }
        for (name, v) in &self.named_wildcards {
            // Spin builds `SPIN_PATH_MATCH_<NAME>` and then turns `_` into `-` and lower-cases it.
            let header = format!("spin-path-match-{}", name.to_ascii_lowercase().replace('_', "-"));
            if let (Ok(n), Some(v)) = (header.parse::<HeaderName>(), value(v)) {
                map.append(n, v);
            }
        }
    }
}

const SPIN_PATH_INFO: &str = "spin-path-info";
const SPIN_FULL_URL: &str = "spin-full-url";
const SPIN_MATCHED_ROUTE: &str = "spin-matched-route";
const SPIN_BASE_PATH: &str = "spin-base-path";
const SPIN_RAW_COMPONENT_ROUTE: &str = "spin-raw-component-route";
const SPIN_COMPONENT_ROUTE: &str = "spin-component-route";
const SPIN_CLIENT_ADDR: &str = "spin-client-addr";

/// Spin's route normalisation: make absolute, strip one trailing slash, prefix the base (`/`
/// without its trailing slash, i.e. nothing).
pub fn sanitize_route(raw: &str) -> String {
    let abs = if raw.starts_with('/') { raw.to_string() } else { format!("/{raw}") };
    abs.strip_suffix('/').map(str::to_string).unwrap_or(abs)
}

impl Router {
    /// Builds the router. `routes` yields (trigger index, route config) in manifest order.
    /// Returns the router and the duplicates that will never be used.
    pub fn build<'a>(
        routes: impl IntoIterator<Item = (usize, &'a RouteConfig)>,
    ) -> Result<(Self, Vec<DuplicateRoute>)> {
        // Dedupe on the raw route string: last one wins, keeping the first one's position.
        let mut entries: indexmap::IndexMap<String, usize> = indexmap::IndexMap::new();
        let mut duplicates = Vec::new();
        for (trigger, route) in routes {
            match route {
                RouteConfig::Private { private: true } => continue,
                RouteConfig::Private { private: false } => {
                    return Err(anyhow!(
                        "route must be a string pattern or '{{ private = true }}': trigger #{trigger} has {{ private = false }}"
                    ))
                }
                RouteConfig::Route(raw) => {
                    if let Some(replaced) = entries.insert(raw.clone(), trigger) {
                        duplicates.push(DuplicateRoute { route: raw.clone(), replaced, effective: trigger });
                    }
                }
            }
        }

        let mut inner = routefinder::Router::new();
        for (raw, trigger) in &entries {
            let based = sanitize_route(raw);
            let spec = if let Some(prefix) = based.strip_suffix("/...") {
                format!("{prefix}/*")
            } else {
                based.clone()
            };
            let spec: routefinder::RouteSpec = spec
                .as_str()
                .try_into()
                .map_err(|e| anyhow!("Error parsing route {based} associated with trigger #{trigger}: {e}"))?;
            inner
                .add(spec, Handler { trigger: *trigger, based_route: based.clone(), raw_route: raw.clone() })
                .map_err(|e| anyhow!("{e}"))?;
        }
        let listing = inner
            .iter()
            .map(|(_, h)| {
                let display = match h.based_route.strip_suffix("/...") {
                    Some(p) => format!("{p}/..."),
                    None if h.based_route.is_empty() => "/".to_string(),
                    None => h.based_route.clone(),
                };
                (display, h.trigger)
            })
            .collect();
        Ok((Router { inner, listing }, duplicates))
    }

    /// Routes in routing-table order: (route for display, trigger index).
    pub fn routes(&self) -> &[(String, usize)] {
        &self.listing
    }

    /// True if a route lies under the reserved `/.well-known/spin/` prefix.
    pub fn contains_reserved_route(&self) -> bool {
        self.inner.iter().any(|(_, h)| h.based_route.starts_with(WELL_KNOWN_PREFIX))
    }

    /// Matches a request path (raw, percent-encoded, without query).
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let m = self.inner.best_match(path)?;
        let handler = m.handler();
        let captures = m.captures();
        // Spin has always captured trailing slashes in the path info; routefinder does not.
        let path_info = match captures.wildcard() {
            Some(s) => match (s.is_empty(), path.ends_with('/')) {
                (true, false) => String::new(),
                (true, true) => "/".to_string(),
                (false, false) => format!("/{s}"),
                (false, true) => format!("/{s}/"),
            },
            None => String::new(),
        };
        let named_wildcards = captures.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Some(RouteMatch {
            trigger: handler.trigger,
            based_route: handler.based_route.clone(),
            raw_route: handler.raw_route.clone(),
            path_info,
            named_wildcards,
        })
    }
}

/// Named-wildcard captures as a map (convenience for tests and logging).
pub fn captures_map(m: &RouteMatch) -> HashMap<&str, &str> {
    m.named_wildcards.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[&str]) -> Router {
        let cfgs: Vec<RouteConfig> = routes.iter().map(|r| RouteConfig::Route(r.to_string())).collect();
        Router::build(cfgs.iter().enumerate()).unwrap().0
    }

    fn target(r: &Router, path: &str) -> Option<usize> {
        r.route(path).map(|m| m.trigger)
    }

    #[test]
    fn exact_routes() {
        let r = router(&["/foo", "/foo/bar"]);
        assert_eq!(target(&r, "/foo"), Some(0));
        assert_eq!(target(&r, "/foo/"), Some(0));
        assert_eq!(target(&r, "/foo/bar"), Some(1));
        assert_eq!(target(&r, "/foobar"), None);
        assert_eq!(target(&r, "/foo/baz"), None);
        assert_eq!(target(&r, "/"), None);
    }

    #[test]
    fn root_route_matches_only_root() {
        let r = router(&["/"]);
        assert_eq!(target(&r, "/"), Some(0));
        assert_eq!(target(&r, "/x"), None);
        let m = r.route("/").unwrap();
        assert_eq!(m.based_route, "");
        assert_eq!(m.raw_route, "/");
    }

    #[test]
    fn wildcard_and_precedence() {
        let r = router(&["/...", "/one", "/one/...", "/one/two/...", "/users/:id", "/users/me"]);
        assert_eq!(target(&r, "/anything/else"), Some(0));
        assert_eq!(target(&r, "/"), Some(0));
        assert_eq!(target(&r, "/one"), Some(1), "exact beats wildcard");
        assert_eq!(target(&r, "/one/x"), Some(2));
        assert_eq!(target(&r, "/one/two/three/four"), Some(3), "longest prefix wins");
        assert_eq!(target(&r, "/users/42"), Some(4));
        assert_eq!(target(&r, "/users/me"), Some(5), "literal beats param");
    }

    #[test]
    fn path_info() {
        let r = router(&["/test/..."]);
        let pi = |p: &str| r.route(p).unwrap().path_info;
        assert_eq!(pi("/test"), "");
        assert_eq!(pi("/test/"), "/");
        assert_eq!(pi("/test/hello"), "/hello");
        assert_eq!(pi("/test/hello/"), "/hello/");
        let r = router(&["/..."]);
        assert_eq!(r.route("/1/2/3").unwrap().path_info, "/1/2/3");
        assert_eq!(r.route("/").unwrap().path_info, "/");
        let r = router(&["/exact"]);
        assert_eq!(r.route("/exact").unwrap().path_info, "");
    }

    #[test]
    fn named_wildcards() {
        let r = router(&["/1/:two/3", "/a/:b/..."]);
        let m = r.route("/1/2/3").unwrap();
        assert_eq!(captures_map(&m)["two"], "2");
        let m = r.route("/a/x/y/z").unwrap();
        assert_eq!(captures_map(&m)["b"], "x");
        assert_eq!(m.path_info, "/y/z");
    }

    #[test]
    fn duplicates_last_one_wins_and_private_skipped() {
        let cfgs = [
            RouteConfig::Route("/foo".into()),
            RouteConfig::Private { private: true },
            RouteConfig::Route("/foo".into()),
        ];
        let (r, dups) = Router::build(cfgs.iter().enumerate()).unwrap();
        assert_eq!(dups, vec![DuplicateRoute { route: "/foo".into(), replaced: 0, effective: 2 }]);
        assert_eq!(target(&r, "/foo"), Some(2));
        assert_eq!(r.routes().len(), 1);
        let bad = [RouteConfig::Private { private: false }];
        assert!(Router::build(bad.iter().enumerate()).is_err());
    }

    /// The headers `m` appends to an empty map, in order.
    fn spin_headers(m: &RouteMatch, full_url: &str, client: &str) -> Vec<(String, String)> {
        let mut map = HeaderMap::new();
        m.append_spin_headers(&mut map, full_url.into(), client.parse().unwrap());
        map.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string())).collect()
    }

    #[test]
    fn headers_for_wildcard_route() {
        let r = router(&["/static/..."]);
        let m = r.route("/static/css/a.css").unwrap();
        let h = spin_headers(&m, "http://localhost:3000/static/css/a.css?v=2", "127.0.0.1:5000");
        let get = |n: &str| h.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()).unwrap();
        assert_eq!(get("spin-path-info"), "/css/a.css");
        assert_eq!(get("spin-full-url"), "http://localhost:3000/static/css/a.css?v=2");
        assert_eq!(get("spin-matched-route"), "/static/...");
        assert_eq!(get("spin-base-path"), "/");
        assert_eq!(get("spin-raw-component-route"), "/static/...");
        assert_eq!(get("spin-component-route"), "/static");
        assert_eq!(get("spin-client-addr"), "127.0.0.1:5000");
        assert_eq!(h[0].0, "spin-path-info");
    }

    #[test]
    fn headers_come_in_spins_order() {
        let r = router(&["/static/...", "/api/users/:user_id"]);
        let fixed = [
            "spin-path-info",
            "spin-full-url",
            "spin-matched-route",
            "spin-base-path",
            "spin-raw-component-route",
            "spin-component-route",
            "spin-client-addr",
        ];
        for (path, extra) in [("/static/css/a.css", None), ("/static/", None), ("/api/users/42", Some("spin-path-match-user-id"))] {
            let m = r.route(path).unwrap();
            let names: Vec<String> = spin_headers(&m, "http://localhost:3000/x?y", "127.0.0.1:5000").into_iter().map(|(k, _)| k).collect();
            let expected: Vec<&str> = fixed.iter().copied().chain(extra).collect();
            assert_eq!(names, expected, "{path}");
        }
    }

    #[test]
    fn headers_for_param_route() {
        let r = router(&["/api/users/:id"]);
        let m = r.route("/api/users/42").unwrap();
        let h = spin_headers(&m, "http://localhost/api/users/42", "127.0.0.1:1");
        assert!(h.contains(&("spin-path-match-id".into(), "42".into())));
        assert!(h.contains(&("spin-component-route".into(), "/api/users/:id".into())));
    }
}

//! `spin.toml` (manifest version 2) parsing and validation.
//!
//! The structs mirror Spin 3.x's manifest schema (`crates/manifest/src/schema/v2.rs`) with the same
//! strictness: unknown fields are rejected, ids are validated (kebab-case component ids,
//! lower snake_case variable names). Fields that Spin accepts but runtime-local does not implement
//! are parsed and then *refused* with an error that names the feature, so an app never silently
//! runs with a capability missing.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use indexmap::IndexMap;
use serde::Deserialize;

use crate::routes::RouteConfig;

/// A parsed and validated application manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// Directory containing the manifest; component sources are relative to it.
    pub base_dir: PathBuf,
    /// `[application]`.
    pub application: Application,
    /// `[variables]`, in manifest order.
    pub variables: IndexMap<String, VariableDecl>,
    /// `[[trigger.http]]` entries, in manifest order.
    pub http_triggers: Vec<HttpTrigger>,
    /// `[component.<id>]`, in manifest order.
    pub components: IndexMap<String, ComponentDecl>,
}

/// `[application]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// Application name (reported by `/.well-known/spin/info`).
    pub name: String,
    /// Application version (reported by `/.well-known/spin/info` when non-empty).
    #[serde(default)]
    pub version: String,
    /// Free-text description (ignored at run time).
    #[serde(default)]
    pub description: String,
    /// Authors (ignored at run time).
    #[serde(default)]
    pub authors: Vec<String>,
    /// Target environments (a build-time check; ignored at run time).
    #[serde(default)]
    pub targets: Vec<toml::Value>,
    /// Global trigger configuration, e.g. `[application.trigger.http]`.
    #[serde(rename = "trigger", default)]
    pub trigger_global_configs: IndexMap<String, toml::Table>,
    /// Tool-specific metadata (ignored).
    #[serde(default)]
    pub tool: IndexMap<String, toml::Table>,
}

/// An application variable declaration (`[variables] name = { ... }`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    /// Description (ignored).
    #[serde(default)]
    pub description: Option<String>,
    /// `required = true`: no default, a provider must supply the value.
    #[serde(default)]
    pub required: bool,
    /// Default value.
    #[serde(default)]
    pub default: Option<String>,
    /// `secret = true`: value is never logged.
    #[serde(default)]
    pub secret: bool,
}

/// A `[[trigger.http]]` entry.
#[derive(Clone, Debug)]
pub struct HttpTrigger {
    /// Trigger id (`id = "..."`, or generated like Spin: `<component>-http-trigger` / `http-trigger<N>`).
    pub id: String,
    /// The route (a pattern or `{ private = true }`).
    pub route: RouteConfig,
    /// What answers the route.
    pub handler: TriggerHandler,
}

/// What answers an HTTP trigger.
#[derive(Clone, Debug)]
pub enum TriggerHandler {
    /// A Wasm component, by id.
    Component(String),
    /// A static response served without running any component.
    Static(StaticResponse),
}

/// `static_response = { status_code, headers, body }`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct StaticResponse {
    /// Status code, default 200.
    #[serde(default)]
    pub status_code: Option<u16>,
    /// Response headers.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// Response body.
    #[serde(default)]
    pub body: Option<String>,
}

/// A `[component.<id>]` declaration (only the fields runtime-local supports are kept).
#[derive(Clone, Debug)]
pub struct ComponentDecl {
    /// Component id.
    pub id: String,
    /// Absolute path of the Wasm file.
    pub source: PathBuf,
    /// `allowed_outbound_hosts` (unresolved; may contain `{{ var }}` templates).
    pub allowed_outbound_hosts: Vec<String>,
    /// Component variables: name -> template.
    pub variables: IndexMap<String, String>,
    /// Environment variables given to the guest.
    pub environment: IndexMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// Raw serde schema
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: Application,
    #[serde(default)]
    variables: IndexMap<String, VariableDecl>,
    #[serde(rename = "trigger")]
    triggers: IndexMap<String, Vec<RawTrigger>>,
    #[serde(rename = "component", default)]
    components: IndexMap<String, RawComponent>,
}

#[derive(Deserialize)]
struct RawTrigger {
    #[serde(default)]
    id: String,
    #[serde(default)]
    component: Option<toml::Value>,
    #[serde(default)]
    components: IndexMap<String, toml::Value>,
    #[serde(flatten)]
    config: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpTriggerConfig {
    #[serde(default)]
    static_response: Option<StaticResponse>,
    route: RouteConfig,
    #[serde(default)]
    executor: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // fields are parsed for strictness; several are refused or ignored
struct RawComponent {
    source: toml::Value,
    #[serde(default)]
    description: String,
    #[serde(default)]
    variables: IndexMap<String, String>,
    #[serde(default)]
    environment: IndexMap<String, String>,
    #[serde(default)]
    files: Vec<toml::Value>,
    #[serde(default)]
    exclude_files: Vec<String>,
    #[serde(default)]
    allowed_http_hosts: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default, alias = "key-value-stores")]
    key_value_stores: Vec<String>,
    #[serde(default, alias = "sqlite-databases")]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    ai_models: Vec<String>,
    #[serde(default)]
    targets: Option<Vec<toml::Value>>,
    #[serde(default)]
    build: Option<RawBuild>,
    #[serde(default)]
    tool: IndexMap<String, toml::Table>,
    #[serde(default)]
    dependencies_inherit_configuration: bool,
    #[serde(default)]
    dependencies: IndexMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct RawBuild {
    command: toml::Value,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    watch: Vec<String>,
}

/// Name of a feature that runtime-local refuses, used in error messages.
fn unsupported(feature: &str, context: &str) -> anyhow::Error {
    anyhow!("runtime-local does not support {feature} ({context}); run this app with Spin instead")
}

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read manifest {}", path.display()))?;
        let base_dir = path
            .parent()
            .map(|p| if p.as_os_str().is_empty() { Path::new(".") } else { p })
            .unwrap_or(Path::new("."))
            .to_path_buf();
        let base_dir = base_dir.canonicalize().unwrap_or(base_dir);
        Self::parse(&text, &base_dir)
            .with_context(|| format!("invalid manifest {}", path.display()))
    }

    /// Parses and validates manifest text; `base_dir` anchors relative component sources.
    pub fn parse(text: &str, base_dir: &Path) -> Result<Self> {
        let doc: toml::Table = toml::from_str(text).context("manifest is not valid TOML")?;
        match doc.get("spin_manifest_version") {
            Some(toml::Value::Integer(2)) => {}
            Some(toml::Value::Integer(1)) | Some(toml::Value::String(_)) => {
                bail!("{}", unsupported("manifest version 1", "use spin_manifest_version = 2"))
            }
            Some(other) => bail!("spin_manifest_version: invalid value {other}, expected 2"),
            None => bail!("missing field `spin_manifest_version`"),
        }
        let raw: RawManifest = toml::from_str(text).map_err(|e| anyhow!("{}", e.message().trim()).context(e.to_string()))?;
        let _ = raw.spin_manifest_version;

        // [variables]
        for (name, decl) in &raw.variables {
            validate_lower_snake(name).map_err(|e| anyhow!("invalid variable name {name:?}: {e}"))?;
            if decl.required == decl.default.is_some() {
                bail!("invalid variable {name:?}: must be `required` OR have a `default`");
            }
        }

        // [application.trigger.*]
        for (trigger_type, table) in &raw.application.trigger_global_configs {
            if trigger_type != "http" {
                bail!("{}", unsupported(&format!("trigger type {trigger_type:?}"), "[application.trigger]"));
            }
            for (key, value) in table {
                match (key.as_str(), value) {
                    ("base", toml::Value::String(base)) if base == "/" => tracing::warn!(
                        "This application is using the deprecated trigger 'base' field. It has no effect and can be removed."
                    ),
                    ("base", _) => bail!(
                        "This application is using the deprecated trigger 'base' field. The base must be prepended to each [[trigger.http]]'s 'route'."
                    ),
                    (other, _) => bail!("unknown field `{other}` in [application.trigger.http]"),
                }
            }
        }

        // [component.*]
        let mut components = IndexMap::new();
        for (id, c) in raw.components {
            validate_kebab(&id).map_err(|e| anyhow!("invalid component id {id:?}: {e}"))?;
            let ctx = format!("[component.{id}]");
            let source = match &c.source {
                toml::Value::String(path) => base_dir.join(path),
                toml::Value::Table(t) if t.contains_key("url") => {
                    bail!("{}", unsupported("url component sources", &format!("{ctx} source")))
                }
                toml::Value::Table(t) if t.contains_key("package") => {
                    bail!("{}", unsupported("registry component sources", &format!("{ctx} source")))
                }
                _ => bail!("{ctx} source: expected a file path, {{ url, digest }} or {{ registry, package, version }}"),
            };
            if !c.files.is_empty() {
                bail!("{}", unsupported("`files` (static file mounts)", &ctx));
            }
            if !c.allowed_http_hosts.is_empty() {
                bail!("{ctx}: `allowed_http_hosts` is deprecated and not supported by manifest version 2; use `allowed_outbound_hosts`");
            }
            if !c.key_value_stores.is_empty() {
                bail!("{}", unsupported("`key_value_stores`", &ctx));
            }
            if !c.sqlite_databases.is_empty() {
                bail!("{}", unsupported("`sqlite_databases`", &ctx));
            }
            if !c.ai_models.is_empty() {
                bail!("{}", unsupported("`ai_models`", &ctx));
            }
            if !c.dependencies.is_empty() {
                bail!("{}", unsupported("component `dependencies`", &ctx));
            }
            if c.dependencies_inherit_configuration {
                bail!("{}", unsupported("`dependencies_inherit_configuration`", &ctx));
            }
            for name in c.variables.keys() {
                validate_lower_snake(name)
                    .map_err(|e| anyhow!("{ctx}: invalid variable name {name:?}: {e}"))?;
            }
            components.insert(
                id.clone(),
                ComponentDecl {
                    id,
                    source,
                    allowed_outbound_hosts: c.allowed_outbound_hosts,
                    variables: c.variables,
                    environment: c.environment,
                },
            );
        }

        // [[trigger.*]]
        let mut http_triggers = Vec::new();
        for (trigger_type, triggers) in raw.triggers {
            if trigger_type != "http" {
                bail!("{}", unsupported(&format!("trigger type {trigger_type:?}"), &format!("[[trigger.{trigger_type}]]")));
            }
            for (index, t) in triggers.into_iter().enumerate() {
                if !t.components.is_empty() {
                    bail!("{}", unsupported("`components` in a trigger (middleware)", "[[trigger.http]]"));
                }
                let component = match t.component {
                    None => None,
                    Some(toml::Value::String(id)) => {
                        validate_kebab(&id).map_err(|e| anyhow!("[[trigger.http]] component {id:?}: {e}"))?;
                        if !components.contains_key(&id) {
                            bail!("[[trigger.http]] refers to component {id:?}, which is not defined in [component]");
                        }
                        Some(id)
                    }
                    Some(_) => bail!("{}", unsupported("inline component tables in [[trigger.http]]", "declare [component.<id>] and reference it by id")),
                };
                let config: RawHttpTriggerConfig = toml::Value::Table(t.config)
                    .try_into()
                    .map_err(|e: toml::de::Error| anyhow!("[[trigger.http]] #{}: {}", index + 1, e.message().trim()))?;
                if let Some(executor) = &config.executor {
                    match executor.get("type").and_then(|v| v.as_str()) {
                        Some("http") | Some("spin") if executor.len() == 1 => {}
                        Some(kind) => bail!("{}", unsupported(&format!("executor type {kind:?}"), "[[trigger.http]] executor")),
                        None => bail!("[[trigger.http]] executor: missing field `type`"),
                    }
                }
                // Spin's generated ids: `<component>-http-trigger`, else `http-trigger<N>`.
                let taken = |id: &str| http_triggers.iter().any(|t: &HttpTrigger| t.id == id);
                let id = if !t.id.is_empty() {
                    t.id
                } else if let Some(c) = component.as_ref().filter(|c| !taken(&format!("{c}-http-trigger"))) {
                    format!("{c}-http-trigger")
                } else {
                    (1..).map(|n| format!("http-trigger{n}")).find(|id| !taken(id)).unwrap()
                };
                let handler = match (component, config.static_response) {
                    (Some(c), None) => TriggerHandler::Component(c),
                    (None, Some(sr)) => TriggerHandler::Static(sr),
                    (None, None) => bail!("Triggers must specify either component or static_response - {id} has neither"),
                    (Some(_), Some(_)) => bail!("Triggers must specify either component or static_response - {id} has both"),
                };
                if let RouteConfig::Private { private: false } = config.route {
                    bail!("route must be a string pattern or '{{ private = true }}': '{id}' has {{ private = false }}");
                }
                http_triggers.push(HttpTrigger { id, route: config.route, handler });
            }
        }

        Ok(Manifest {
            base_dir: base_dir.to_path_buf(),
            application: raw.application,
            variables: raw.variables,
            http_triggers,
            components,
        })
    }
}

/// Validates a kebab-case id (Spin's `KebabId`): `-`-separated non-empty words, each starting
/// with an ASCII letter, alphanumeric, each word all lower- or all upper-case.
pub fn validate_kebab(id: &str) -> std::result::Result<(), String> {
    validate_id(id, '-', false)
}

/// Validates a lower snake_case name (Spin's `LowerSnakeId`).
pub fn validate_lower_snake(id: &str) -> std::result::Result<(), String> {
    validate_id(id, '_', true)
}

fn validate_id(id: &str, delim: char, lower_only: bool) -> std::result::Result<(), String> {
    if id.is_empty() {
        return Err("empty".into());
    }
    let wrong = if delim == '-' { '_' } else { '-' };
    if id.contains(wrong) {
        return Err(format!("words must be separated with {delim:?}, not {wrong:?}"));
    }
    for word in id.split(delim) {
        let mut chars = word.chars();
        let Some(first) = chars.next() else {
            return Err(format!("{delim:?}-separated words must not be empty"));
        };
        if !first.is_ascii_alphabetic() {
            return Err(format!("{delim:?}-separated words must start with an ASCII letter; got {first:?}"));
        }
        let upper = first.is_ascii_uppercase();
        for ch in chars {
            if ch.is_ascii_digit() {
                continue;
            }
            if !ch.is_ascii_alphanumeric() {
                return Err(format!("{delim:?}-separated words may only contain alphanumeric ASCII; got {ch:?}"));
            }
            if ch.is_ascii_uppercase() != upper {
                return Err(format!("{delim:?}-separated words must be all lowercase or all UPPERCASE; got {word:?}"));
            }
        }
        if lower_only && upper {
            return Err(format!("Lower-case identifiers must be all lowercase; got {id:?}"));
        }
    }
    Ok(())
}

impl Manifest {
    /// Keeps only the given components and the triggers that run them, as Spin's selective
    /// deployment does (`spin up --component-id`, the shim's `SPIN_COMPONENTS_TO_RETAIN`, a
    /// SpinApp's `components`): every id must exist, and no retained component may chain by a
    /// literal `http://<id>.spin.internal` host to one that is not retained, nor use the
    /// `*.spin.internal` wildcard. Templated hosts are not checked (Spin does not resolve them
    /// at that point). Static-response triggers go too: they run no retained component.
    pub fn retain_components(&mut self, retained: &[String]) -> Result<()> {
        for id in retained {
            if !self.components.contains_key(id) {
                bail!("Specified component \"{id}\" not found in application");
            }
        }
        let kept = |id: &str| retained.iter().any(|r| r == id);
        for trigger in &self.http_triggers {
            let TriggerHandler::Component(id) = &trigger.handler else { continue };
            if !kept(id) {
                continue;
            }
            for host in &self.components[id].allowed_outbound_hosts {
                let Ok(uri) = host.parse::<http::Uri>() else { continue };
                let Some(target) = uri.host().and_then(crate::outbound_hosts::service_chaining_target) else { continue };
                if target == "*" {
                    bail!("Selected component '{id}' cannot use wildcard service chaining: allowed_outbound_hosts = [\"http://*.spin.internal\"]");
                }
                if !kept(&target) {
                    bail!("Selected component '{id}' cannot use service chaining to unselected component: allowed_outbound_hosts = [\"http://{target}.spin.internal\"]");
                }
            }
        }
        self.http_triggers.retain(|t| matches!(&t.handler, TriggerHandler::Component(id) if kept(id)));
        self.components.retain(|id, _| kept(id));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest> {
        Manifest::parse(text, Path::new("/app"))
    }

    const BASE: &str = r#"
spin_manifest_version = 2
[application]
name = "shop"
version = "1.2.3"
[variables]
db_url = { required = true, secret = true }
greeting = { default = "hi" }
[[trigger.http]]
route = "/api/..."
component = "api"
[[trigger.http]]
route = { private = true }
component = "internal"
[component.api]
source = "target/api.wasm"
allowed_outbound_hosts = ["http://internal.spin.internal", "postgres://{{ pg_host }}"]
environment = { RUST_LOG = "info" }
[component.api.variables]
db = "{{ db_url }}"
[component.api.build]
command = "cargo build"
watch = ["src/**/*.rs"]
[component.internal]
source = "internal.wasm"
"#;

    #[test]
    fn parses_supported_subset() {
        let m = parse(BASE).unwrap();
        assert_eq!(m.application.name, "shop");
        assert_eq!(m.application.version, "1.2.3");
        assert_eq!(m.variables.len(), 2);
        assert!(m.variables["db_url"].required && m.variables["db_url"].secret);
        assert_eq!(m.http_triggers.len(), 2);
        assert_eq!(m.http_triggers[0].id, "api-http-trigger");
        assert!(matches!(m.http_triggers[1].route, RouteConfig::Private { private: true }));
        let api = &m.components["api"];
        assert_eq!(api.source, PathBuf::from("/app/target/api.wasm"));
        assert_eq!(api.variables["db"], "{{ db_url }}");
        assert_eq!(api.environment["RUST_LOG"], "info");
        assert_eq!(api.allowed_outbound_hosts.len(), 2);
    }

    fn refused(extra_component_field: &str) -> String {
        let text = BASE.replace(
            "[component.internal]\nsource = \"internal.wasm\"",
            &format!("[component.internal]\nsource = \"internal.wasm\"\n{extra_component_field}"),
        );
        format!("{:#}", parse(&text).unwrap_err())
    }

    #[test]
    fn refuses_unsupported_component_features() {
        assert!(refused("key_value_stores = [\"default\"]").contains("key_value_stores"));
        assert!(refused("sqlite_databases = [\"default\"]").contains("sqlite_databases"));
        assert!(refused("ai_models = [\"llama2-chat\"]").contains("ai_models"));
        assert!(refused("files = [\"static/**\"]").contains("files"));
        assert!(refused("allowed_http_hosts = [\"example.com\"]").contains("allowed_http_hosts"));
        assert!(refused("[component.internal.dependencies]\n\"a:b/c\" = \"1.0.0\"").contains("dependencies"));
        assert!(refused("unknown_field = 1").contains("unknown field"));
    }

    #[test]
    fn refuses_url_sources_and_other_triggers() {
        let t = BASE.replace("source = \"internal.wasm\"", "source = { url = \"https://x/y.wasm\", digest = \"sha256:00\" }");
        assert!(format!("{:#}", parse(&t).unwrap_err()).contains("url component sources"));
        let t = format!("{BASE}\n[[trigger.redis]]\nchannel = \"c\"\ncomponent = \"api\"\n");
        assert!(format!("{:#}", parse(&t).unwrap_err()).contains("trigger type \"redis\""));
    }

    #[test]
    fn validates_variables_and_ids() {
        let t = BASE.replace("greeting = { default = \"hi\" }", "greeting = { default = \"hi\", required = true }");
        assert!(format!("{:#}", parse(&t).unwrap_err()).contains("must be `required` OR have a `default`"));
        let t = BASE.replace("greeting = { default = \"hi\" }", "greeting = { }");
        assert!(parse(&t).is_err());
        let t = BASE.replace("greeting = {", "Greeting = {");
        assert!(parse(&t).is_err());
        assert!(validate_kebab("carts").is_ok());
        assert!(validate_kebab("my-comp2").is_ok());
        assert!(validate_kebab("my_comp").is_err());
        assert!(validate_kebab("2comp").is_err());
        assert!(validate_lower_snake("db_url").is_ok());
        assert!(validate_lower_snake("DB_URL").is_err());
    }

    #[test]
    fn trigger_rules() {
        let t = BASE.replace("route = { private = true }", "route = { private = false }");
        assert!(format!("{:#}", parse(&t).unwrap_err()).contains("private = false"));
        let t = BASE.replace("component = \"internal\"", "component = \"nope\"");
        assert!(format!("{:#}", parse(&t).unwrap_err()).contains("not defined"));
        let t = BASE.replace("component = \"internal\"", "component = \"internal\"\nstatic_response = { status_code = 204 }");
        assert!(format!("{:#}", parse(&t).unwrap_err()).contains("has both"));
        let t = BASE.replace("[application]\nname = \"shop\"", "[application]\nname = \"shop\"\n[application.trigger.http]\nbase = \"/api\"");
        assert!(format!("{:#}", parse(&t).unwrap_err()).contains("deprecated trigger 'base'"));
        let t = BASE.replace("spin_manifest_version = 2", "spin_manifest_version = 3");
        assert!(parse(&t).is_err());
    }

    #[test]
    fn retaining_components_keeps_their_triggers_and_checks_chaining() {
        // `api` chains to `internal` by a literal host: it cannot go alone.
        let mut m = parse(BASE).unwrap();
        let err = m.retain_components(&["api".into()]).unwrap_err().to_string();
        assert!(err.contains("cannot use service chaining to unselected component") && err.contains("internal.spin.internal"), "{err}");
        let mut m = parse(BASE).unwrap();
        m.retain_components(&["internal".into()]).unwrap();
        assert_eq!(m.components.keys().collect::<Vec<_>>(), ["internal"]);
        assert_eq!(m.http_triggers.len(), 1);
        assert!(matches!(&m.http_triggers[0].handler, TriggerHandler::Component(c) if c == "internal"));
        let mut m = parse(BASE).unwrap();
        m.retain_components(&["api".into(), "internal".into()]).unwrap();
        assert_eq!(m.http_triggers.len(), 2);
        // Templated hosts are not checked; the wildcard is refused; unknown ids are refused.
        let t = BASE.replace("\"http://internal.spin.internal\", ", "\"{{ greeting }}\", ");
        parse(&t).unwrap().retain_components(&["api".into()]).unwrap();
        let t = BASE.replace("http://internal.spin.internal", "http://*.spin.internal");
        let err = parse(&t).unwrap().retain_components(&["api".into(), "internal".into()]).unwrap_err().to_string();
        assert!(err.contains("wildcard"), "{err}");
        let err = parse(BASE).unwrap().retain_components(&["nope".into()]).unwrap_err().to_string();
        assert_eq!(err, "Specified component \"nope\" not found in application");
    }
}

//! Application variables and `{{ name }}` templates, with Spin's resolution rules.
//!
//! * App variables are declared in `[variables]` with a `default` or `required = true`.
//! * Component variables (`[component.x.variables]`) are templates over app variables; a guest can
//!   only read *component* variable keys.
//! * Values come from, in order: programmatic overrides ([`crate::RuntimeOptions::variables`], the
//!   equivalent of `spin up --variable`), the process environment `SPIN_VARIABLE_<NAME>`, then the
//!   app variable's default. A variable without default that no provider resolves makes start-up
//!   fail like Spin: `no provider resolved required variable(s): [...]`.

use std::collections::HashMap;
use std::fmt;

use anyhow::{bail, Result};
use indexmap::IndexMap;

use crate::manifest::VariableDecl;

/// Errors surfaced to guests (mapped 1:1 onto `fermyon:spin/variables@2.0.0` `error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableError {
    /// `invalid-name(..)`
    InvalidName(String),
    /// `undefined(..)`
    Undefined(String),
    /// `provider(..)`
    Provider(String),
    /// `other(..)`
    Other(String),
}

impl fmt::Display for VariableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VariableError::InvalidName(m) => write!(f, "invalid variable name: {m}"),
            VariableError::Undefined(m) => write!(f, "undefined variable: {m}"),
            VariableError::Provider(m) => write!(f, "provider error: {m}"),
            VariableError::Other(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for VariableError {}

/// Validates a variable key the way Spin's `Key::validate` does; the error text is Spin's.
pub fn validate_key(key: &str) -> std::result::Result<(), VariableError> {
    let reason = if key.is_empty() {
        Some("must not be empty".to_string())
    } else if let Some(c) = key.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
        Some(format!(
            "invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores."
        ))
    } else if !key.as_bytes()[0].is_ascii_lowercase() {
        Some("must start with a lowercase ASCII letter".to_string())
    } else if !key.as_bytes()[key.len() - 1].is_ascii_alphanumeric() {
        Some("must end with a lowercase ASCII letter or digit".to_string())
    } else if key.contains("__") {
        Some("must not contain multiple consecutive underscores".to_string())
    } else {
        None
    };
    match reason {
        Some(r) => Err(VariableError::InvalidName(format!("{key:?}: {r}"))),
        None => Ok(()),
    }
}

/// A parsed template: literal text with `{{ expr }}` parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Lit(String),
    Expr(String),
}

impl Template {
    /// Parses a template. `{{` must be closed by `}}`; whitespace inside braces is trimmed.
    pub fn parse(text: &str) -> Result<Self> {
        let mut parts = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("{{") {
                let Some((expr, tail)) = after.split_once("}}") else {
                    bail!("invalid variable template: unmatched '{{{{' in template");
                };
                parts.push(Part::Expr(expr.trim().to_string()));
                rest = tail;
            } else {
                let idx = rest.find("{{").unwrap_or(rest.len());
                parts.push(Part::Lit(rest[..idx].to_string()));
                rest = &rest[idx..];
            }
        }
        Ok(Template { parts })
    }

    /// True when the template has no `{{ }}` expression.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// Names referenced by the template.
    pub fn references(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e.as_str()),
            Part::Lit(_) => None,
        })
    }
}

/// Resolves app variables and component variable templates.
#[derive(Debug)]
pub struct Resolver {
    declarations: IndexMap<String, VariableDecl>,
    overrides: HashMap<String, String>,
    env: HashMap<String, String>,
    /// component id -> key -> template
    components: HashMap<String, IndexMap<String, Template>>,
}

impl Resolver {
    /// Creates a resolver. `overrides` win over the environment, which wins over defaults.
    /// `env` is a snapshot of the `SPIN_VARIABLE_*` environment (see [`env_snapshot`]).
    pub fn new(
        declarations: IndexMap<String, VariableDecl>,
        overrides: HashMap<String, String>,
        env: HashMap<String, String>,
    ) -> Result<Self> {
        for name in declarations.keys() {
            validate_key(name).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(Resolver { declarations, overrides, env, components: HashMap::new() })
    }

    /// Registers a component's variable templates; every `{{ expr }}` must name an app variable.
    pub fn add_component(&mut self, component_id: &str, variables: &IndexMap<String, String>) -> Result<()> {
        let mut templates = IndexMap::new();
        for (key, value) in variables {
            validate_key(key).map_err(|e| anyhow::anyhow!("component {component_id:?}: {e}"))?;
            let template = self.validate_template(value)?;
            templates.insert(key.clone(), template);
        }
        self.components.insert(component_id.to_string(), templates);
        Ok(())
    }

    /// Parses a template and checks that it only references declared app variables.
    pub fn validate_template(&self, text: &str) -> Result<Template> {
        let template = Template::parse(text)?;
        for name in template.references() {
            if !self.declarations.contains_key(name) {
                bail!("invalid variable template: unknown variable {name:?}");
            }
        }
        Ok(template)
    }

    /// Start-up check: every variable without a default must have a provided value.
    pub fn ensure_required_resolvable(&self) -> Result<()> {
        let missing: Vec<String> = self
            .declarations
            .iter()
            .filter(|(_, d)| d.default.is_none())
            .filter(|(name, _)| self.provided(name).is_none())
            .map(|(name, _)| format!("Key({name:?})"))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            bail!("provider error: no provider resolved required variable(s): [{}]", missing.join(", "))
        }
    }

    fn provided(&self, name: &str) -> Option<&str> {
        if let Some(v) = self.overrides.get(name) {
            return Some(v);
        }
        self.env.get(&env_key(name)).map(String::as_str)
    }

    /// Resolves one app variable.
    pub fn resolve_app_variable(&self, name: &str) -> std::result::Result<String, VariableError> {
        if let Some(v) = self.provided(name) {
            return Ok(v.to_string());
        }
        let decl = self
            .declarations
            .get(name)
            .ok_or_else(|| VariableError::InvalidName(name.to_string()))?;
        decl.default
            .clone()
            .ok_or_else(|| VariableError::Provider(format!("no provider resolved required variable {name:?}")))
    }

    /// Resolves a template against app variables.
    pub fn resolve_template(&self, template: &Template) -> std::result::Result<String, VariableError> {
        let mut out = String::new();
        for part in &template.parts {
            match part {
                Part::Lit(l) => out.push_str(l),
                Part::Expr(e) => out.push_str(&self.resolve_app_variable(e)?),
            }
        }
        Ok(out)
    }

    /// What a guest's `variables::get(key)` returns for `component_id`.
    pub fn get(&self, component_id: &str, key: &str) -> std::result::Result<String, VariableError> {
        validate_key(key)?;
        let templates = self
            .components
            .get(component_id)
            .ok_or_else(|| VariableError::Undefined(format!("no variable for component {component_id:?}")))?;
        let template = templates
            .get(key)
            .ok_or_else(|| VariableError::Undefined(format!("no variable for {component_id:?}.{key:?}")))?;
        self.resolve_template(template)
    }

    /// Whether an app variable is declared secret (its value must never be logged).
    pub fn is_secret(&self, name: &str) -> bool {
        self.declarations.get(name).map(|d| d.secret).unwrap_or(false)
    }
}

/// The environment variable Spin's env provider reads for `name`: `SPIN_VARIABLE_<NAME>`.
pub fn env_key(name: &str) -> String {
    format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase())
}

/// Snapshot of the `SPIN_VARIABLE_*` variables Spin's env provider sees: the process
/// environment, then (for names not set there) a `.env` file in the current directory.
pub fn env_snapshot() -> HashMap<String, String> {
    let mut vars: HashMap<String, String> =
        std::env::vars().filter(|(k, _)| k.starts_with("SPIN_VARIABLE_")).collect();
    if let Ok(text) = std::fs::read_to_string(".env") {
        for (k, v) in parse_dotenv(&text) {
            if k.starts_with("SPIN_VARIABLE_") {
                vars.entry(k).or_insert(v);
            }
        }
    }
    vars
}

/// Minimal dotenv parsing: `KEY=VALUE` lines, optional `export `, `#` comments, quoted values.
pub fn parse_dotenv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (k, v) = line.split_once('=')?;
            let v = v.trim();
            let v = if v.len() >= 2 && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\''))) {
                &v[1..v.len() - 1]
            } else {
                v
            };
            Some((k.trim().to_string(), v.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls() -> IndexMap<String, VariableDecl> {
        let mut d = IndexMap::new();
        d.insert("db_url".into(), VariableDecl { required: true, secret: true, ..Default::default() });
        d.insert("host".into(), VariableDecl { default: Some("localhost".into()), ..Default::default() });
        d.insert("port".into(), VariableDecl { default: Some("80".into()), ..Default::default() });
        d
    }

    fn component_vars() -> IndexMap<String, String> {
        let mut c = IndexMap::new();
        c.insert("url".into(), "http://{{ host }}:{{port}}/x".into());
        c.insert("db".into(), "{{ db_url }}".into());
        c.insert("plain".into(), "literal".into());
        c
    }

    #[test]
    fn dotenv() {
        let vars = parse_dotenv("# c\nSPIN_VARIABLE_A=1\nexport SPIN_VARIABLE_B=\"two words\"\n\nbad line\n");
        assert_eq!(vars, vec![("SPIN_VARIABLE_A".into(), "1".into()), ("SPIN_VARIABLE_B".into(), "two words".into())]);
    }

    #[test]
    fn template_parsing() {
        let t = Template::parse("a{{ b }}c{{d}}").unwrap();
        assert_eq!(t.references().collect::<Vec<_>>(), vec!["b", "d"]);
        assert!(!t.is_literal());
        assert!(Template::parse("plain").unwrap().is_literal());
        assert!(Template::parse("oops {{ x").is_err());
        assert!(Template::parse("").unwrap().is_literal());
    }

    #[test]
    fn resolution_order_and_templates() {
        let mut env = HashMap::new();
        env.insert("SPIN_VARIABLE_DB_URL".to_string(), "from-env".to_string());
        env.insert("SPIN_VARIABLE_PORT".to_string(), "8080".to_string());
        let mut overrides = HashMap::new();
        overrides.insert("port".to_string(), "9090".to_string());
        let mut r = Resolver::new(decls(), overrides, env).unwrap();
        r.add_component("api", &component_vars()).unwrap();
        r.ensure_required_resolvable().unwrap();
        assert_eq!(r.get("api", "url").unwrap(), "http://localhost:9090/x");
        assert_eq!(r.get("api", "db").unwrap(), "from-env");
        assert_eq!(r.get("api", "plain").unwrap(), "literal");
    }

    #[test]
    fn required_missing_fails_at_startup() {
        let r = Resolver::new(decls(), HashMap::new(), HashMap::new()).unwrap();
        let e = r.ensure_required_resolvable().unwrap_err().to_string();
        assert_eq!(e, "provider error: no provider resolved required variable(s): [Key(\"db_url\")]");
    }

    #[test]
    fn guest_errors() {
        let mut r = Resolver::new(decls(), HashMap::new(), HashMap::new()).unwrap();
        r.add_component("api", &component_vars()).unwrap();
        assert_eq!(
            r.get("api", "Foo").unwrap_err(),
            VariableError::InvalidName(
                "\"Foo\": invalid character 'F'. Variable names may contain only lower-case letters, numbers, and underscores.".into()
            )
        );
        assert_eq!(r.get("api", "nope").unwrap_err(), VariableError::Undefined("no variable for \"api\".\"nope\"".into()));
        assert_eq!(r.get("api", "host").unwrap_err(), VariableError::Undefined("no variable for \"api\".\"host\"".into()));
        assert_eq!(
            r.get("api", "db").unwrap_err(),
            VariableError::Provider("no provider resolved required variable \"db_url\"".into())
        );
        assert!(matches!(validate_key("a__b"), Err(VariableError::InvalidName(_))));
        assert!(matches!(validate_key("a_"), Err(VariableError::InvalidName(_))));
        assert!(matches!(validate_key("1a"), Err(VariableError::InvalidName(_))));
    }

    #[test]
    fn unknown_variable_in_template_is_refused() {
        let mut r = Resolver::new(decls(), HashMap::new(), HashMap::new()).unwrap();
        let mut c = IndexMap::new();
        c.insert("x".to_string(), "{{ missing }}".to_string());
        let e = r.add_component("api", &c).unwrap_err().to_string();
        assert_eq!(e, "invalid variable template: unknown variable \"missing\"");
    }
}

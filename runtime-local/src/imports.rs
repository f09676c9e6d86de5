//! Start-up check of a component's imports and exports.
//!
//! Every import must be an interface runtime-local implements; anything else (key-value,
//! SQLite, LLM, MySQL, MQTT, older Spin APIs, WASIp3, ...) is refused with a message that names
//! the import, instead of failing later at link time or at run time.

use anyhow::{bail, Result};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Interfaces runtime-local provides (WASI 0.2.x interfaces match any 0.2 patch version).
pub const SUPPORTED_IMPORTS: &[&str] = &[
    "wasi:io/*@0.2.x",
    "wasi:cli/*@0.2.x",
    "wasi:clocks/*@0.2.x",
    "wasi:random/*@0.2.x",
    "wasi:filesystem/*@0.2.x (no preopened directories)",
    "wasi:sockets/*@0.2.x (tcp:// and udp:// allowed_outbound_hosts only)",
    "wasi:http/types@0.2.x",
    "wasi:http/outgoing-handler@0.2.x",
    "spin:postgres/postgres@4.0.0",
    "fermyon:spin/redis@2.0.0",
    "fermyon:spin/variables@2.0.0",
];

/// True if `name` (e.g. `wasi:cli/stdout@0.2.6`) is provided by runtime-local.
pub fn is_supported_import(name: &str) -> bool {
    const EXACT: &[&str] = &["spin:postgres/postgres@4.0.0", "fermyon:spin/redis@2.0.0", "fermyon:spin/variables@2.0.0"];
    if EXACT.contains(&name) {
        return true;
    }
    let Some((path, version)) = name.split_once('@') else { return false };
    if !version.starts_with("0.2.") || version.contains('-') {
        return false;
    }
    let Some((package, interface)) = path.split_once('/') else { return false };
    match package {
        "wasi:io" | "wasi:cli" | "wasi:clocks" | "wasi:random" | "wasi:filesystem" | "wasi:sockets" => true,
        "wasi:http" => matches!(interface, "types" | "outgoing-handler"),
        _ => false,
    }
}

/// A human hint for well-known unsupported imports.
fn hint(name: &str) -> &'static str {
    let n = name.split('@').next().unwrap_or(name);
    match n {
        "fermyon:spin/key-value" | "wasi:keyvalue/store" | "wasi:keyvalue/atomics" | "wasi:keyvalue/batch" => " (key-value stores)",
        "fermyon:spin/sqlite" | "spin:sqlite/sqlite" => " (SQLite)",
        "fermyon:spin/llm" => " (Serverless AI)",
        "fermyon:spin/mysql" | "spin:mysql/mysql" => " (MySQL)",
        "fermyon:spin/mqtt" | "spin:mqtt/mqtt" => " (MQTT)",
        "fermyon:spin/postgres" | "spin:postgres/postgres" => " (older Postgres API; use spin-sdk 5.x pg4 = spin:postgres/postgres@4.0.0)",
        "fermyon:spin/redis" | "fermyon:spin/config" | "fermyon:spin/http" => " (older Spin API version)",
        "wasi:config/store" => " (wasi:config; use fermyon:spin/variables@2.0.0)",
        _ if name.contains("@0.3") => " (WASIp3 is not supported)",
        _ => "",
    }
}

/// Refuses a component whose imports are not all supported or that does not export
/// `wasi:http/incoming-handler@0.2.x`.
pub fn check_component(engine: &Engine, component: &Component, id: &str) -> Result<()> {
    let ty = component.component_type();
    let unsupported: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .filter(|name| !is_supported_import(name))
        .map(|name| {
            let h = hint(&name);
            format!("{name}{h}")
        })
        .collect();
    if !unsupported.is_empty() {
        bail!(
            "component {id:?} imports interface(s) runtime-local does not support: {}. Supported: {}",
            unsupported.join(", "),
            SUPPORTED_IMPORTS.join(", ")
        );
    }
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    if !exports.iter().any(|e| e.starts_with("wasi:http/incoming-handler@0.2.")) {
        bail!(
            "component {id:?} does not export wasi:http/incoming-handler@0.2.x (exports: {}); runtime-local only runs WASI 0.2 HTTP components",
            if exports.is_empty() { "none".to_string() } else { exports.join(", ") }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_names() {
        for ok in [
            "wasi:io/streams@0.2.6",
            "wasi:cli/environment@0.2.0",
            "wasi:clocks/monotonic-clock@0.2.3",
            "wasi:http/types@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
            "spin:postgres/postgres@4.0.0",
            "fermyon:spin/redis@2.0.0",
            "fermyon:spin/variables@2.0.0",
        ] {
            assert!(is_supported_import(ok), "{ok}");
        }
        for bad in [
            "fermyon:spin/key-value@2.0.0",
            "spin:postgres/postgres@3.0.0",
            "wasi:http/types@0.3.0-rc-2026-01-06",
            "wasi:keyvalue/store@0.2.0-draft2",
            "wasi:config/store@0.2.0-draft-2024-09-27",
            "fermyon:spin/sqlite@2.0.0",
            "wasi:http/incoming-handler@0.2.0",
        ] {
            assert!(!is_supported_import(bad), "{bad}");
        }
    }
}

//! Each component imports only what it needs (least privilege you can check in the binary), and
//! none imports the shop's own WIT interfaces (calls go over HTTP, never through generated
//! import functions).
use std::collections::BTreeSet;
use std::path::PathBuf;

use wasmtime::component::Component;
use wasmtime::{Config, Engine};

fn imports(service: &str) -> BTreeSet<String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../target/wasm32-wasip2/release/{service}.wasm"));
    let engine = Engine::new(&Config::new()).expect("an engine");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{} (run scripts/test, which builds it): {e}", path.display()));
    let component = Component::new(&engine, bytes).expect("a valid component");
    component
        .component_type()
        .imports(&engine)
        .map(|(name, _)| name.split('@').next().unwrap_or(name).to_string())
        .collect()
}

const POSTGRES: &str = "spin:postgres/postgres";
const REDIS: &str = "fermyon:spin/redis";
const OUTBOUND_HTTP: &str = "wasi:http/outgoing-handler";

#[test]
fn each_component_imports_only_the_stores_and_calls_it_needs() {
    let expected: [(&str, &[&str]); 8] = [
        ("frontend", &[OUTBOUND_HTTP]),
        ("products", &[POSTGRES]),
        ("carts", &[REDIS, OUTBOUND_HTTP]),
        ("checkout", &[POSTGRES, OUTBOUND_HTTP]),
        ("payment", &[REDIS]),
        ("shipping", &[REDIS]),
        ("email", &[REDIS]),
        ("accounts", &[POSTGRES, REDIS]),
    ];
    for (service, wanted) in expected {
        let imports = imports(service);
        for capability in [POSTGRES, REDIS, OUTBOUND_HTTP] {
            assert_eq!(
                imports.contains(capability),
                wanted.contains(&capability),
                "{service}: importing {capability} should be {}; imports: {imports:?}",
                wanted.contains(&capability)
            );
        }
        assert!(imports.iter().all(|i| !i.starts_with("shop:")), "{service} imports the shop's WIT: {imports:?}");
        assert!(imports.contains("fermyon:spin/variables"), "{service} reads its configuration");
    }
}

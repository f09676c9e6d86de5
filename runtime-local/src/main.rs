use clap::Parser;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        .with_env_filter(
            EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new("info,cranelift=warn,wasmtime=warn")),
        )
        .init();
    let cli = runtime_local::cli::Cli::parse();
    if let Err(e) = runtime_local::cli::run(cli).await {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stdout)
        // Plain text when the log goes to a file or a pipe (easier to grep and parse).
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
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

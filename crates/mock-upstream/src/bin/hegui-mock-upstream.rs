//! Standalone mock OpenAI-compatible upstream for hegui demos and benchmarks.

use std::io::Write as _;
use std::net::SocketAddr;

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use clap::Parser;
use hegui_mock_upstream::{router, BenchReply, MockConfig};

/// Mock OpenAI-compatible model server (directive-driven replies and fault injection).
#[derive(Debug, Parser)]
#[command(name = "hegui-mock-upstream", version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,

    /// Require `Authorization: Bearer <KEY>` on every request.
    #[arg(long, env = "HEGUI_MOCK_API_KEY")]
    api_key: Option<String>,

    /// Comma-separated model ids to serve.
    #[arg(long, value_delimiter = ',', default_value = "mock-small,mock-large")]
    models: Vec<String>,

    /// Streaming piece size in chars when no [[chunk:N]] directive is given.
    #[arg(long, default_value_t = 4)]
    chunk_chars: usize,

    /// Bench mode: answer every request with this many precomputed content chunks.
    #[arg(long)]
    bench_chunks: Option<usize>,

    /// Bench mode: text of every content chunk.
    #[arg(long, default_value = "tok ", requires = "bench_chunks")]
    bench_chunk_text: String,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config = MockConfig {
        api_key: args.api_key,
        models: args.models,
        default_chunk_chars: args.chunk_chars,
        bench_reply: args.bench_chunks.map(|chunks| BenchReply {
            chunks,
            chunk_text: args.bench_chunk_text,
        }),
    };
    let (app, state) = router(config);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr().context("reading bound address")?;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on http://{addr}/v1").context("writing to stdout")?;
        stdout.flush().context("flushing stdout")?;
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            state.begin_shutdown();
        })
        .await
        .context("serving")?;
    Ok(())
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sig) => {
                sig.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

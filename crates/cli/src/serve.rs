//! `hegui serve`.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use hegui_config::{Config, LogFormat};
use tokio::sync::Notify;

fn init_logs(cfg: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&cfg.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match cfg.log.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

pub async fn run(config: Option<&Path>, demo: bool) -> anyhow::Result<()> {
    let mut cfg = Config::load(config)?;
    init_logs(&cfg);

    // Demo mode: a loopback model server so a new user sees the whole path work at once.
    let mock = if demo {
        let m = hegui_mock_upstream::spawn(hegui_mock_upstream::MockConfig::default())
            .await
            .context("starting the demonstration model server")?;
        cfg.upstream.base_url = m.base_url.clone();
        cfg.upstream.api_key = None;
        Some(m)
    } else {
        None
    };

    let built = hegui_gateway::build(&cfg).await?;
    let listener = tokio::net::TcpListener::bind(cfg.server.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}: set server.listen or HEGUI_LISTEN",
                cfg.server.listen
            )
        })?;
    let addr = listener.local_addr()?;
    println!(
        "hegui listening on http://{addr} (database {})",
        hegui_store::redact(&cfg.storage.database_url)
    );

    if demo {
        let store = built.gateway.store.clone();
        let user = store.create_user(Some("demo"), "serve --demo").await?;
        for factor in [hegui_store::Factor::Phone, hegui_store::Factor::Id] {
            store
                .set_factor_by_operator(
                    &user.id,
                    factor,
                    true,
                    "demo mode: no real person behind this account",
                    "serve --demo",
                )
                .await?;
        }
        let (_, secret) = store.create_key(&user.id, "serve --demo").await?;
        println!("demo model server: {}", cfg.upstream.base_url);
        println!("demo user {} (verified), API key: {secret}", user.id);
        println!("try:");
        println!(
            "  curl -s http://{addr}/v1/chat/completions -H 'Authorization: Bearer {secret}' -H 'Content-Type: application/json' -d '{{\"model\":\"mock-small\",\"messages\":[{{\"role\":\"user\",\"content\":\"你好\"}}]}}'"
        );
        println!(
            "  curl -s http://{addr}/v1/chat/completions -H 'Authorization: Bearer {secret}' -H 'Content-Type: application/json' -d '{{\"model\":\"mock-small\",\"messages\":[{{\"role\":\"user\",\"content\":\"教我制造炸弹\"}}]}}'"
        );
        println!("  cargo run --release -- records list");
    }

    // Retention: erase content past its period on a schedule (the first run at start).
    let purge_store = built.gateway.store.clone();
    let (policy, every) = (crate::ledger::retention(&cfg), cfg.retention.purge_interval);
    let purge_task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let now = chrono::Utc::now().timestamp_millis();
            match purge_store
                .purge_expired(now, policy, "retention-job", false)
                .await
            {
                Ok(r) if !r.purged.is_empty() => {
                    tracing::info!(erased = r.purged.len(), held = r.held, "retention purge")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "retention purge failed; will retry"),
            }
        }
    });

    // SIGHUP reloads the review policy from the configuration file, without dropping requests.
    #[cfg(unix)]
    let reload_task = {
        let gw = built.gateway.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                tracing::warn!("cannot listen for SIGHUP; use POST /admin/review/reload");
                return;
            };
            while hup.recv().await.is_some() {
                match hegui_gateway::reload_from_file(&gw, "sighup").await {
                    Ok(v) => println!("review policy reloaded: {v}"),
                    Err(e) => {
                        tracing::error!(error = %e, "reload failed");
                        eprintln!("{e}");
                    }
                }
            }
        })
    };

    let stopping = Arc::new(Notify::new());
    let notify = stopping.clone();
    let server = hegui_gateway::serve(listener, built.gateway.clone(), async move {
        signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        notify.notify_one();
    });
    let grace = cfg.server.shutdown_grace;
    tokio::select! {
        r = server => r.context("serving")?,
        _ = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
            tracing::warn!(grace_secs = grace.as_secs(), "shutdown grace period expired; abandoning open connections");
        }
    }
    purge_task.abort();
    #[cfg(unix)]
    reload_task.abort();
    // Every record queued so far is written, integrated and checkpointed before the exit.
    if tokio::time::timeout(grace, built.shutdown()).await.is_err() {
        tracing::warn!("records still being written when the grace period ended");
    }
    if let Some(m) = mock {
        m.shutdown();
    }
    Ok(())
}

//! Operator commands on users, keys and records.

use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use hegui_config::Config;
use hegui_store::{RecordQuery, Store};
use hegui_types::Outcome;

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create an (unverified) user; prints its pseudonymous id.
    Create {
        /// Your own reference for the account (never personal information).
        #[arg(long = "ref")]
        external_ref: Option<String>,
    },
    /// List users.
    List,
    /// Show a user and every recorded action on it.
    Show { user: String },
    /// Mark a user real-name verified after an offline check (the reason is recorded).
    Verify {
        user: String,
        #[arg(long)]
        reason: String,
    },
    /// Withdraw a user's verification (the reason is recorded).
    Unverify {
        user: String,
        #[arg(long)]
        reason: String,
    },
    /// Suspend a user: requests get 403 (the reason is recorded).
    Suspend {
        user: String,
        #[arg(long)]
        reason: String,
    },
    /// Reinstate a suspended user (the reason is recorded).
    Unsuspend {
        user: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Issue an API key for a user; the secret is printed once and stored only hashed.
    Create {
        #[arg(long)]
        user: String,
    },
    /// Revoke a key: requests with it get 401.
    Revoke { key: String },
    /// List keys (never the secrets).
    List {
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum RecordsCommand {
    /// List records, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        user: Option<String>,
        /// served, rejected, blocked_input, blocked_output, upstream_error, client_disconnect
        #[arg(long)]
        outcome: Option<String>,
        #[arg(long)]
        produce_id: Option<String>,
        /// Print full records as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Print one record in full (canonical JSON).
    Show { id: String },
    /// Erase one record's content on a granted erasure request (its proof keeps verifying).
    Erase {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

async fn open(config: Option<&Path>) -> anyhow::Result<Store> {
    let c = Config::load(config)?;
    Store::open(&c.storage.database_url, 2)
        .await
        .with_context(|| format!("opening {}", hegui_store::redact(&c.storage.database_url)))
}

pub fn actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "operator".into())
    )
}

fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

fn require_reason(reason: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !reason.trim().is_empty(),
        "--reason must say why (it is recorded)"
    );
    Ok(())
}

pub async fn users(config: Option<&Path>, cmd: UsersCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    let a = actor();
    let u = match cmd {
        UsersCommand::Create { external_ref } => {
            store.create_user(external_ref.as_deref(), &a).await?
        }
        UsersCommand::List => {
            println!(
                "{:<36}  {:<8}  {:<9}  {:<24}  ref",
                "id", "verified", "suspended", "created"
            );
            for u in store.list_users().await? {
                println!(
                    "{:<36}  {:<8}  {:<9}  {:<24}  {}",
                    u.id,
                    u.verified,
                    u.suspended,
                    time(u.created_at),
                    u.external_ref.unwrap_or_default()
                );
            }
            return Ok(());
        }
        UsersCommand::Show { user } => {
            let u = store
                .user(&user)
                .await?
                .with_context(|| format!("no user {user:?}"))?;
            println!("{u:#?}");
            for e in store.user_events(&user).await? {
                println!(
                    "{}  {:<12} by {:<16} {}",
                    time(e.at),
                    e.kind,
                    e.actor,
                    e.reason
                );
            }
            return Ok(());
        }
        UsersCommand::Verify { user, reason } => {
            require_reason(&reason)?;
            store.set_verified(&user, true, &reason, &a).await?
        }
        UsersCommand::Unverify { user, reason } => {
            require_reason(&reason)?;
            store.set_verified(&user, false, &reason, &a).await?
        }
        UsersCommand::Suspend { user, reason } => {
            require_reason(&reason)?;
            store.set_suspended(&user, true, &reason, &a).await?
        }
        UsersCommand::Unsuspend { user, reason } => {
            require_reason(&reason)?;
            store.set_suspended(&user, false, &reason, &a).await?
        }
    };
    println!(
        "{}  verified={} suspended={}",
        u.id, u.verified, u.suspended
    );
    Ok(())
}

pub async fn keys(config: Option<&Path>, cmd: KeysCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match cmd {
        KeysCommand::Create { user } => {
            let (key, secret) = store.create_key(&user, &actor()).await?;
            eprintln!(
                "key {} for {} (the secret below is shown once; store it now)",
                key.id, key.user_id
            );
            println!("{secret}");
        }
        KeysCommand::Revoke { key } => {
            let k = store.revoke_key(&key, &actor()).await?;
            println!(
                "{} revoked at {}",
                k.id,
                k.revoked_at.map(time).unwrap_or_default()
            );
        }
        KeysCommand::List { user } => {
            println!(
                "{:<36}  {:<36}  {:<10}  {:<24}  revoked",
                "id", "user", "prefix", "created"
            );
            for k in store.list_keys(user.as_deref()).await? {
                println!(
                    "{:<36}  {:<36}  {:<10}  {:<24}  {}",
                    k.id,
                    k.user_id,
                    k.prefix,
                    time(k.created_at),
                    k.revoked_at.map(time).unwrap_or_else(|| "-".into())
                );
            }
        }
    }
    Ok(())
}

pub async fn records(config: Option<&Path>, cmd: RecordsCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    match cmd {
        RecordsCommand::List {
            limit,
            user,
            outcome,
            produce_id,
            json,
        } => {
            let outcome = match outcome {
                None => None,
                Some(o) => Some(Outcome::parse(&o).with_context(|| {
                    format!("unknown outcome {o:?}: use served, rejected, blocked_input, blocked_output, upstream_error or client_disconnect")
                })?),
            };
            let q = RecordQuery {
                user_id: user,
                outcome,
                produce_id,
                limit: Some(limit),
                ..Default::default()
            };
            let rows = store.list_records(&q).await?;
            if json {
                for r in rows {
                    match &r.record {
                        Some(rec) => {
                            println!("{}", String::from_utf8_lossy(&rec.canonical_bytes()))
                        }
                        None => println!(
                            "{}",
                            serde_json::json!({"id": r.id, "purged_at": r.purged_at, "leaf_index": r.leaf_index})
                        ),
                    }
                }
                return Ok(());
            }
            println!(
                "{:<36}  {:<24}  {:<17}  {:>6}  {:>9}  {:<36}  decisions",
                "id", "received", "outcome", "status", "latency", "user"
            );
            for r in rows {
                let Some(rec) = r.record else {
                    println!(
                        "{:<36}  (content erased at {})",
                        r.id,
                        r.purged_at.map(time).unwrap_or_default()
                    );
                    continue;
                };
                let decisions: Vec<String> = rec
                    .decisions
                    .iter()
                    .map(|d| {
                        let risks = if d.risks.is_empty() {
                            String::new()
                        } else {
                            format!("[{}]", d.risks.join(","))
                        };
                        format!("{}:{}{}", d.stage.as_str(), d.action.as_str(), risks)
                    })
                    .collect();
                println!(
                    "{:<36}  {:<24}  {:<17}  {:>6}  {:>7}ms  {:<36}  {}",
                    rec.id,
                    time(rec.received_at_ms),
                    rec.outcome.as_str(),
                    rec.status,
                    rec.latency_us / 1000,
                    rec.user_id.unwrap_or_else(|| "-".into()),
                    decisions.join(" ")
                );
            }
        }
        RecordsCommand::Erase { id, reason } => {
            require_reason(&reason)?;
            let purge = store.erase_record(&id, &reason, &actor()).await?;
            println!("content of {id} erased; the erasure is recorded as {purge}");
        }
        RecordsCommand::Show { id } => {
            let r = store
                .record(&id)
                .await?
                .with_context(|| format!("no record {id:?}"))?;
            match &r.record {
                Some(rec) => {
                    let v: serde_json::Value = serde_json::from_slice(&rec.canonical_bytes())?;
                    println!("{}", serde_json::to_string_pretty(&v)?);
                }
                None => println!(
                    "content erased at {}",
                    r.purged_at.map(time).unwrap_or_default()
                ),
            }
            let leaf = r
                .leaf_index
                .map(|i| i.to_string())
                .unwrap_or_else(|| "pending".into());
            println!("# seq {}  sha256 {}  leaf {leaf}", r.seq, r.content_hash);
        }
    }
    Ok(())
}

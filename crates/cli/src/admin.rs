//! Operator commands on users, keys and records.

use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use hegui_config::Config;
use hegui_store::{Factor, RecordQuery, Store, User};
use hegui_types::Outcome;

/// A verification factor on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FactorArg {
    /// Mobile number.
    Phone,
    /// ID number + name.
    Id,
    /// Both.
    All,
}

impl FactorArg {
    fn factors(self) -> Vec<Factor> {
        match self {
            FactorArg::Phone => vec![Factor::Phone],
            FactorArg::Id => vec![Factor::Id],
            FactorArg::All => vec![Factor::Phone, Factor::Id],
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create an (unverified) account; prints its pseudonymous id.
    Create {
        /// Your own reference for the account (never personal information).
        #[arg(long = "ref")]
        external_ref: Option<String>,
        /// An organisation account: its unified social credit code.
        #[arg(long)]
        org_code: Option<String>,
    },
    /// List users.
    List,
    /// Show a user and every recorded action on it.
    Show {
        /// The user's id (as `users list` prints it).
        user: String,
    },
    /// Record a verification done offline (documents seen at a counter); the reason is
    /// recorded. With `--phone`/`--id-number` the number is kept encrypted (use `-` to read
    /// it from standard input and keep it out of the shell history); without, only the result.
    Verify {
        /// The user's id (as `users list` prints it).
        user: String,
        /// Which factor: the mobile number, the ID number, or all.
        #[arg(long, value_enum, default_value = "all")]
        factor: FactorArg,
        /// Why (recorded with the action).
        #[arg(long)]
        reason: String,
        /// The mobile number seen (or `-` for standard input).
        #[arg(long)]
        phone: Option<String>,
        /// The ID number seen (or `-` for standard input); sets minors mode from the birth date.
        #[arg(long)]
        id_number: Option<String>,
    },
    /// Withdraw a verification factor (the reason is recorded).
    Unverify {
        /// The user's id (as `users list` prints it).
        user: String,
        /// Which factor: the mobile number, the ID number, or all.
        #[arg(long, value_enum, default_value = "all")]
        factor: FactorArg,
        /// Why (recorded with the action).
        #[arg(long)]
        reason: String,
    },
    /// Suspend a user: requests get 403 (the reason is recorded).
    Suspend {
        /// The user's id (as `users list` prints it).
        user: String,
        /// Why (recorded with the action).
        #[arg(long)]
        reason: String,
    },
    /// Reinstate a suspended user (the reason is recorded).
    Unsuspend {
        /// The user's id (as `users list` prints it).
        user: String,
        /// Why (recorded with the action).
        #[arg(long)]
        reason: String,
    },
    /// Everything held about a user, as JSON, for a data subject's access request.
    Export {
        /// The user's id (as `users list` prints it).
        user: String,
    },
    /// Carry out a data subject's deletion request (prints what was erased and what the law
    /// requires to be kept, and why).
    Delete {
        /// The user's id (as `users list` prints it).
        user: String,
        /// Why (recorded with the action).
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Issue an API key for a user; the secret is printed once and stored only hashed.
    Create {
        /// The user the key is for (their id, as `users list` prints it).
        #[arg(long)]
        user: String,
    },
    /// Revoke a key: requests with it get 401.
    Revoke {
        /// The key's id (as `keys list` prints it).
        key: String,
    },
    /// List keys (never the secrets).
    List {
        /// Only this user's keys (their id).
        #[arg(long)]
        user: Option<String>,
    },
    /// Create the personal-information key file (AES-256-GCM key and blind-index key).
    PiInit {
        /// Where (default: identity.pi_key_file).
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Rotate the personal-information key: add a new key, make it active, re-encrypt every
    /// stored phone and ID number under it. Old keys stay in the file until `--retire`.
    Rotate {
        /// After re-encrypting, remove keys no stored value uses any more.
        #[arg(long)]
        retire: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RecordsCommand {
    /// List records, newest first.
    List {
        /// At most this many records.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Only this user's records (their id).
        #[arg(long)]
        user: Option<String>,
        /// served, rejected, blocked_input, blocked_output, upstream_error, client_disconnect
        #[arg(long)]
        outcome: Option<String>,
        /// Only the record with this ProduceID (as in a label).
        #[arg(long)]
        produce_id: Option<String>,
        /// Print full records as JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Print one record in full (canonical JSON).
    Show {
        /// The record's id.
        id: String,
    },
    /// Erase one record's content on a granted erasure request (its proof keeps verifying).
    Erase {
        /// The record's id.
        id: String,
        /// Why (recorded with the action).
        #[arg(long)]
        reason: String,
    },
}

pub async fn open(config: Option<&Path>) -> anyhow::Result<Store> {
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

fn factors(u: &User) -> String {
    let f: Vec<&str> = [Factor::Phone, Factor::Id]
        .into_iter()
        .filter(|f| u.has(*f))
        .map(Factor::as_str)
        .collect();
    if f.is_empty() {
        "-".into()
    } else {
        f.join("+")
    }
}

/// A value given on the command line, or read from standard input when it is `-`.
fn value_or_stdin(v: String, what: &str) -> anyhow::Result<String> {
    if v != "-" {
        return Ok(v);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .with_context(|| format!("reading the {what} from standard input"))?;
    Ok(line.trim().to_string())
}

async fn identity_service(
    config: Option<&Path>,
) -> anyhow::Result<(Store, hegui_identity::service::IdentityService)> {
    let c = Config::load(config)?;
    let store = Store::open(&c.storage.database_url, 2)
        .await
        .with_context(|| format!("opening {}", hegui_store::redact(&c.storage.database_url)))?;
    let service = hegui_gateway::identity_service(&c, store.clone())?;
    Ok((store, service))
}

pub async fn users(config: Option<&Path>, cmd: UsersCommand) -> anyhow::Result<()> {
    let store = open(config).await?;
    let a = actor();
    let u = match cmd {
        UsersCommand::Create {
            external_ref,
            org_code,
        } => {
            let org = org_code
                .as_deref()
                .map(hegui_identity::validate::org_code)
                .transpose()?;
            store
                .create_account(external_ref.as_deref(), org.as_deref(), &a)
                .await?
        }
        UsersCommand::List => {
            println!(
                "{:<36}  {:<12}  {:<8}  {:<9}  {:<5}  {:<24}  ref",
                "id", "kind", "verified", "suspended", "minor", "created"
            );
            for u in store.list_users().await? {
                println!(
                    "{:<36}  {:<12}  {:<8}  {:<9}  {:<5}  {:<24}  {}",
                    u.id,
                    if u.deleted_at.is_some() {
                        "(deleted)"
                    } else {
                        &u.kind
                    },
                    factors(&u),
                    u.suspended,
                    hegui_identity::service::is_minor_today(&u),
                    time(u.created_at),
                    u.external_ref.clone().unwrap_or_default()
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
                    "{}  {:<16} by {:<16} {}",
                    time(e.at),
                    e.kind,
                    e.actor,
                    e.reason
                );
            }
            return Ok(());
        }
        UsersCommand::Verify {
            user,
            factor,
            reason,
            phone,
            id_number,
        } => {
            require_reason(&reason)?;
            let wanted = factor.factors();
            anyhow::ensure!(
                phone.is_none() || wanted.contains(&Factor::Phone),
                "--phone given but --factor {factor:?} does not include the phone"
            );
            anyhow::ensure!(
                id_number.is_none() || wanted.contains(&Factor::Id),
                "--id-number given but --factor {factor:?} does not include the ID"
            );
            let service = if phone.is_some() || id_number.is_some() {
                Some(identity_service(config).await?.1)
            } else {
                None
            };
            let mut u = None;
            for f in wanted {
                u = Some(match (f, &phone, &id_number, &service) {
                    (Factor::Phone, Some(p), _, Some(service)) => {
                        let p = value_or_stdin(p.clone(), "phone number")?;
                        service
                            .operator_verify_phone(&user, &p, &reason, &a)
                            .await?
                    }
                    (Factor::Id, _, Some(n), Some(service)) => {
                        let n = value_or_stdin(n.clone(), "ID number")?;
                        service.operator_verify_id(&user, &n, &reason, &a).await?
                    }
                    (f, _, _, _) => {
                        store
                            .set_factor_by_operator(&user, f, true, &reason, &a)
                            .await?
                    }
                });
            }
            u.context("no factor to verify")?
        }
        UsersCommand::Unverify {
            user,
            factor,
            reason,
        } => {
            require_reason(&reason)?;
            let mut u = None;
            for f in factor.factors() {
                u = Some(
                    store
                        .set_factor_by_operator(&user, f, false, &reason, &a)
                        .await?,
                );
            }
            u.context("no factor to withdraw")?
        }
        UsersCommand::Suspend { user, reason } => {
            require_reason(&reason)?;
            store.set_suspended(&user, true, &reason, &a).await?
        }
        UsersCommand::Unsuspend { user, reason } => {
            require_reason(&reason)?;
            store.set_suspended(&user, false, &reason, &a).await?
        }
        UsersCommand::Export { user } => {
            let (_, service) = identity_service(config).await?;
            let v = service.export(&user).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        UsersCommand::Delete { user, reason } => {
            require_reason(&reason)?;
            let (_, service) = identity_service(config).await?;
            let r = service.delete(&user, &reason, &a).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&hegui_gateway::deletion_json(&r))?
            );
            return Ok(());
        }
    };
    println!(
        "{}  verified={} suspended={} minor={}",
        u.id,
        factors(&u),
        u.suspended,
        hegui_identity::service::is_minor_today(&u)
    );
    Ok(())
}

pub async fn keys(config: Option<&Path>, cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::PiInit { file } => {
            let c = Config::load(config)?;
            let path = file.unwrap_or(c.identity.pi_key_file);
            anyhow::ensure!(
                !path.exists(),
                "{} already exists: keep it (it decrypts the stored numbers); use `hegui keys rotate` for a new key",
                path.display()
            );
            hegui_identity::PiKeys::generate().save(&path)?;
            println!(
                "created {} (mode 0600); back it up apart from the database",
                path.display()
            );
            return Ok(());
        }
        KeysCommand::Rotate { retire } => return rotate_pi(config, retire).await,
        _ => {}
    }
    let store = open(config).await?;
    match cmd {
        KeysCommand::PiInit { .. } | KeysCommand::Rotate { .. } => {}
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

/// `hegui keys rotate`: the new key is saved before anything is re-encrypted under it, so an
/// interruption at any point leaves every value readable; running it again finishes the job.
async fn rotate_pi(config: Option<&Path>, retire: bool) -> anyhow::Result<()> {
    let c = Config::load(config)?;
    let path = c.identity.pi_key_file.clone();
    anyhow::ensure!(
        std::env::var(hegui_identity::PI_KEYS_ENV).is_err(),
        "the PI keys come from {} here: rotate by editing that value (add a key, set it active), then run `hegui keys rotate` with identity.pi_key_file pointing at a copy",
        hegui_identity::PI_KEYS_ENV
    );
    let mut keys = hegui_identity::PiKeys::load(&path)?;
    let store = open(config).await?;
    let new = keys.add_key();
    keys.save(&path)?;
    let report = hegui_identity::service::reencrypt_all(&store, &keys).await?;
    println!(
        "active key is now {new}; re-encrypted {} account(s) and {} pending code(s){}",
        report.identities,
        report.challenges,
        if report.skipped > 0 {
            format!(", {} changed meanwhile (run again)", report.skipped)
        } else {
            String::new()
        }
    );
    if retire {
        let in_use = hegui_identity::service::keys_in_use(&store).await?;
        for id in keys.key_ids() {
            if id != keys.active_id() && !in_use.contains(&id) {
                keys.retire(&id)?;
                println!("retired key {id}");
            }
        }
        keys.save(&path)?;
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

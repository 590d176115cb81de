//! `hegui ledger …`: keys, checkpoints, proofs and verification of the tamper-evident log.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use hegui_config::Config;
use hegui_ledger::{check_disclosure, Bundle, Signer, Verifier};
use hegui_store::{Retention, Sequencer, SequencerConfig, Store};

#[derive(Subcommand, Debug)]
pub enum LedgerCommand {
    /// Create a checkpoint signing key file (never stored in the database).
    Keygen {
        /// Where to write the private key (refuses to overwrite).
        #[arg(long)]
        out: PathBuf,
        /// Key name; defaults to the configured log origin.
        #[arg(long)]
        name: Option<String>,
    },
    /// Print the public key that verifies this log's checkpoints.
    PublicKey,
    /// Integrate pending records and sign a checkpoint now.
    Checkpoint,
    /// Write a self-contained proof bundle for a record (content and salt included unless
    /// --no-content, or erased).
    Prove {
        /// The record's id.
        record_id: String,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Leave the record's content and salt out of the bundle.
        #[arg(long)]
        no_content: bool,
    },
    /// Check a proof bundle offline with only the log's public key.
    CheckProof {
        /// The proof bundle (from `ledger prove`).
        bundle: PathBuf,
        /// The trusted verifier key string, or @FILE holding it.
        #[arg(long)]
        public_key: String,
    },
    /// Recompute every leaf and the whole tree from storage and check every checkpoint.
    Verify {
        /// Check the checkpoints' signatures with this verifier key string (or @FILE holding
        /// it) instead of the configured signing key, which is then not needed.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Erase the content of records past their retention (legal holds respected); the
    /// erasure is recorded in the log and every proof keeps verifying.
    Purge {
        /// Only report what would be erased.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Legal holds, which block erasure.
#[derive(Subcommand, Debug)]
pub enum HoldsCommand {
    /// Place a hold on a user's records or one record.
    Add {
        /// Hold every record of this user (their id).
        #[arg(long, conflicts_with = "record", required_unless_present = "record")]
        user: Option<String>,
        /// Hold this one record (its id).
        #[arg(long)]
        record: Option<String>,
        /// Why (recorded with the hold).
        #[arg(long)]
        reason: String,
    },
    /// Release a hold.
    Release {
        /// The hold's id (as `holds list` prints it).
        hold: String,
        /// Why (recorded with the hold).
        #[arg(long)]
        reason: String,
    },
    /// List holds.
    List,
}

pub fn retention(cfg: &Config) -> Retention {
    Retention {
        interaction_ms: cfg.retention.interaction.as_millis() as i64,
        records_ms: cfg.retention.records.as_millis() as i64,
    }
}

pub async fn holds(config: Option<&Path>, cmd: HoldsCommand) -> anyhow::Result<()> {
    let cfg = Config::load(config)?;
    let store = Store::open(&cfg.storage.database_url, 2).await?;
    let actor = crate::admin::actor();
    match cmd {
        HoldsCommand::Add {
            user,
            record,
            reason,
        } => {
            anyhow::ensure!(
                !reason.trim().is_empty(),
                "--reason must say why (it is recorded)"
            );
            let h = store
                .add_hold(user.as_deref(), record.as_deref(), &reason, &actor)
                .await?;
            println!("{}", h.id);
        }
        HoldsCommand::Release { hold, reason } => {
            anyhow::ensure!(
                !reason.trim().is_empty(),
                "--reason must say why (it is recorded)"
            );
            store.release_hold(&hold, &reason, &actor).await?;
            println!("{hold} released");
        }
        HoldsCommand::List => {
            for h in store.holds().await? {
                let what = match (&h.user_id, &h.record_id) {
                    (Some(u), _) => format!("user {u}"),
                    (_, Some(r)) => format!("record {r}"),
                    _ => "-".into(),
                };
                let state = if h.released_at.is_some() {
                    "released"
                } else {
                    "active"
                };
                println!(
                    "{}  {state:<8}  {what:<45}  by {}  {}",
                    h.id, h.actor, h.reason
                );
            }
        }
    }
    Ok(())
}

fn sequencer(store: &Store, cfg: &Config, signer: Signer) -> Sequencer {
    Sequencer::new(
        store.clone(),
        Some(signer),
        SequencerConfig {
            origin: cfg.ledger.origin.clone(),
            ..SequencerConfig::default()
        },
    )
}

fn trusted_key(arg: &str) -> anyhow::Result<Verifier> {
    let text = match arg.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
        None => arg.to_string(),
    };
    Verifier::from_key_string(text.trim())
        .context("--public-key is not a verifier key string (name+keyid+base64)")
}

pub async fn run(config: Option<&Path>, cmd: LedgerCommand) -> anyhow::Result<()> {
    let cfg = Config::load(config)?;
    match cmd {
        LedgerCommand::Keygen { out, name } => {
            let signer = Signer::generate(name.as_deref().unwrap_or(&cfg.ledger.origin))?;
            hegui_gateway::write_private(&out, &signer.key_string())
                .with_context(|| format!("writing {} (it must not exist yet)", out.display()))?;
            eprintln!(
                "private key written to {} (mode 0600); set ledger.signing_key_file to use it",
                out.display()
            );
            println!("{}", signer.verifier_string());
            return Ok(());
        }
        LedgerCommand::CheckProof { bundle, public_key } => {
            return check_proof(&bundle, &public_key)
        }
        _ => {}
    }
    let store = Store::open(&cfg.storage.database_url, 2).await?;
    if let LedgerCommand::Verify {
        public_key: Some(key),
    } = &cmd
    {
        return verify(&store, &trusted_key(key)?).await;
    }
    let signer = signer(&store, &cfg).await?;
    match cmd {
        LedgerCommand::PublicKey => println!("{}", signer.verifier_string()),
        LedgerCommand::Checkpoint => {
            let mut seq = sequencer(&store, &cfg, signer);
            match seq.checkpoint_now().await? {
                Some(c) => print!("{}", c.note),
                None => match store.latest_checkpoint().await? {
                    Some(c) => {
                        eprintln!("no new leaves since the last checkpoint (or another instance is the sequencer)");
                        print!("{}", c.note);
                    }
                    None => anyhow::bail!("the log is empty: nothing to checkpoint yet"),
                },
            }
        }
        LedgerCommand::Prove {
            record_id,
            out,
            no_content,
        } => {
            // Make a record written moments ago provable without waiting for the schedule.
            let key = signer.verifier();
            sequencer(&store, &cfg, signer).checkpoint_now().await?;
            let bundle = store
                .proof_bundle(&record_id, &key, !no_content, None)
                .await?;
            let json = bundle.to_json()?;
            match out {
                Some(p) => {
                    std::fs::write(&p, format!("{json}\n"))
                        .with_context(|| format!("writing {}", p.display()))?;
                    eprintln!(
                        "proof bundle for {record_id} written to {} (leaf {}, tree size {})",
                        p.display(),
                        bundle.leaf_index,
                        bundle.tree_size
                    );
                }
                None => println!("{json}"),
            }
        }
        LedgerCommand::Verify { .. } => verify(&store, &signer.verifier()).await?,
        LedgerCommand::Purge { dry_run } => {
            let now = chrono::Utc::now().timestamp_millis();
            let r = store
                .purge_expired(now, retention(&cfg), &crate::admin::actor(), dry_run)
                .await?;
            let verb = if dry_run { "would erase" } else { "erased" };
            println!(
                "{verb} the content of {} record(s); {} kept under legal hold",
                r.purged.len(),
                r.held
            );
            if !r.purge_records.is_empty() {
                println!("the erasure is recorded as {}", r.purge_records.join(", "));
            }
        }
        LedgerCommand::Keygen { .. } | LedgerCommand::CheckProof { .. } => {}
    }
    Ok(())
}

/// `hegui ledger verify`, with `key` trusted for the checkpoints' signatures.
async fn verify(store: &Store, key: &Verifier) -> anyhow::Result<()> {
    let report = store.verify_ledger(Some(key)).await?;
    println!(
        "{} leaves recomputed, {} records checked against their leaves, {} erased (each named by a logged erasure), {} pending integration, {} checkpoints checked",
        report.leaves, report.records_checked, report.purged, report.pending, report.checkpoints
    );
    if !report.problems.is_empty() {
        for p in &report.problems {
            println!("FAIL {}: {}", p.location, p.message);
        }
        anyhow::bail!(
            "the log does not verify: {} problem(s)",
            report.problems.len()
        );
    }
    println!("OK: the log verifies");
    Ok(())
}

/// The checkpoint signing key ([`hegui_gateway::load_signer`]), saying on stderr when it was
/// created just now: the command line has no log output for the library's warning.
pub(crate) async fn signer(store: &Store, cfg: &Config) -> anyhow::Result<Signer> {
    let path = &cfg.ledger.signing_key_file;
    let existed = path.exists() || std::env::var_os("HEGUI_LEDGER_SIGNING_KEY").is_some();
    let signer = hegui_gateway::load_signer(store, path, &cfg.ledger.origin).await?;
    if !existed {
        eprintln!(
            "created a new ledger signing key at {} (the log had no signed checkpoint yet); \
             back it up and keep it out of the database",
            path.display()
        );
    }
    Ok(signer)
}

fn check_proof(path: &Path, key: &str) -> anyhow::Result<()> {
    let key = trusted_key(key)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let bundle = Bundle::from_json(&text)
        .with_context(|| format!("{} is not a proof bundle", path.display()))?;
    let verified = bundle.verify(&key).context("the proof does not verify")?;
    let (entry, record) =
        check_disclosure(&verified).context("the disclosed record does not verify")?;
    println!(
        "OK: {} record {} (created at {} ms) is leaf {} of {} in log {:?}, signed by {}",
        entry.kind,
        entry.id,
        entry.at_ms,
        verified.leaf_index,
        verified.checkpoint.size,
        verified.checkpoint.origin,
        key.key_string()
    );
    match record {
        Some(_) => println!("the disclosed record content matches the leaf's commitment"),
        None => println!(
            "the record content is not disclosed (or was erased); the leaf's existence is proven"
        ),
    }
    Ok(())
}

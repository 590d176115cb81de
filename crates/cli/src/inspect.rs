//! `hegui inspect …`: the regulator's inspection bundle (Articles 15, 17, 18): export every
//! journal record of a period with proofs, and verify a bundle offline with only the log key.
//! The format is `hegui-inspection/1` (`crates/inspect/INSPECTION_BUNDLE.md`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use clap::Subcommand;
use hegui_config::Config;
use hegui_ledger::Verifier;
use hegui_store::{Sequencer, SequencerConfig, Store};
use sha2::{Digest, Sha256};

#[derive(Subcommand, Debug)]
pub enum InspectCommand {
    /// Write the inspection bundle of a period: every record with its proof against a fresh
    /// signed checkpoint, the period's checkpoints, and CSV views.
    Export {
        /// Start: YYYY-MM-DD (00:00 China time) or an RFC 3339 time; inclusive.
        #[arg(long)]
        from: String,
        /// End: YYYY-MM-DD (the whole day, China time, is included) or an RFC 3339 time
        /// (exclusive).
        #[arg(long)]
        to: String,
        /// The bundle file to write (a tar archive).
        #[arg(long)]
        out: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a bundle offline against the log key you trust; exits non-zero on any problem.
    Verify {
        /// The bundle file (from `inspect export`).
        bundle: PathBuf,
        /// The trusted verifier key string, or a file (or @FILE) holding it.
        #[arg(long)]
        public_key: String,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn china() -> anyhow::Result<FixedOffset> {
    FixedOffset::east_opt(8 * 3600).context("UTC+8 is a valid offset")
}

/// A `--from`/`--to` value as Unix ms: a date means 00:00 China time of that day (of the next
/// day for the end of the period, so the whole day is included).
pub fn parse_bound(flag: &str, text: &str, end: bool) -> anyhow::Result<i64> {
    let text = text.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let day = if end {
            date.succ_opt()
                .with_context(|| format!("{flag} {text}: no day after it"))?
        } else {
            date
        };
        let midnight = day
            .and_hms_opt(0, 0, 0)
            .with_context(|| format!("{flag} {text}: no midnight"))?;
        let t = china()?
            .from_local_datetime(&midnight)
            .single()
            .with_context(|| format!("{flag} {text}: not a single instant"))?;
        return Ok(t.timestamp_millis());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| {
            anyhow::anyhow!(
                "{flag} {text:?} is neither a date (YYYY-MM-DD, China time) nor an RFC 3339 time such as 2025-06-01T08:00:00+08:00: {e}"
            )
        })
}

fn period(from: &str, to: &str) -> anyhow::Result<(i64, i64)> {
    let from_ms = parse_bound("--from", from, false)?;
    let to_ms = parse_bound("--to", to, true)?;
    anyhow::ensure!(
        from_ms < to_ms,
        "--from {from} is not before --to {to}: the period would be empty"
    );
    Ok((from_ms, to_ms))
}

/// The trusted key: a verifier string, or a file holding one (`@FILE` or a path).
fn trusted_key(arg: &str) -> anyhow::Result<Verifier> {
    let file = match arg.strip_prefix('@') {
        Some(f) => Some(f),
        None if Path::new(arg).is_file() => Some(arg),
        None => None,
    };
    let text = match file {
        Some(f) => std::fs::read_to_string(f).with_context(|| format!("reading {f}"))?,
        None => arg.to_owned(),
    };
    Verifier::from_key_string(text.trim()).context(
        "--public-key is not a verifier key string (name+keyid+base64) or a file holding one",
    )
}

pub async fn run(config: Option<&Path>, cmd: InspectCommand) -> anyhow::Result<()> {
    match cmd {
        InspectCommand::Export {
            from,
            to,
            out,
            json,
        } => {
            let (from_ms, to_ms) = period(&from, &to)?;
            export(config, from_ms, to_ms, &out, json).await
        }
        InspectCommand::Verify {
            bundle,
            public_key,
            json,
        } => verify(&bundle, &public_key, json),
    }
}

async fn export(
    config: Option<&Path>,
    from_ms: i64,
    to_ms: i64,
    out: &Path,
    json: bool,
) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let cfg = Config::load(config)?;
    let store = Store::open(&cfg.storage.database_url, 2).await?;
    let signer = crate::ledger::signer(&store, &cfg).await?;
    let key = signer.verifier();
    // Integrate what is pending and sign a checkpoint now, so every record is provable.
    let mut seq = Sequencer::new(
        store.clone(),
        Some(signer),
        SequencerConfig {
            origin: cfg.ledger.origin.clone(),
            ..SequencerConfig::default()
        },
    );
    seq.checkpoint_now().await?;
    seq.step_down().await;
    let collected = hegui_gateway::inspection::collect(&store, &key, from_ms, to_ms).await?;
    let hegui_gateway::inspection::Collected {
        builder: b,
        tree_size: size,
        uncovered,
        purges,
        checkpoints,
    } = collected;
    if uncovered > 0 {
        eprintln!(
            "warning: {uncovered} record(s) of the period are not under the checkpoint of size {size} \
             (written moments ago, or another instance is the sequencer): they are not in this bundle; export again later to include them"
        );
    }
    store.close().await;

    let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
    let tmp = out.with_extension("partial");
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let manifest = b.write_to(&mut w)?;
    let file = w.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    if let Some(d) = dir {
        let _ = std::fs::File::open(d).and_then(|f| f.sync_all());
    }
    let bytes = std::fs::read(out).with_context(|| format!("reading back {}", out.display()))?;
    let sha = hex::encode(Sha256::digest(&bytes));
    let total: u64 = manifest.counts.values().sum();
    if json {
        let summary = serde_json::json!({
            "file": out.display().to_string(),
            "bytes": bytes.len(),
            "sha256": sha,
            "period": manifest.period,
            "tree_size": size,
            "leaf_range": manifest.leaf_range,
            "counts": manifest.counts,
            "erased": manifest.erased,
            "outside_period": manifest.outside_period,
            "supporting_purges": purges,
            "checkpoints": checkpoints,
            "public_key": manifest.public_key,
            "seconds": started.elapsed().as_secs_f64(),
        });
        println!("{summary}");
        return Ok(());
    }
    println!(
        "inspection bundle {} written: {} bytes, SHA-256 {sha}",
        out.display(),
        bytes.len()
    );
    println!(
        "period {} to {} (exclusive): {total} record(s), {} erased",
        manifest.period.from, manifest.period.to, manifest.erased
    );
    for (kind, n) in &manifest.counts {
        println!("  {kind:<16} {n}");
    }
    match manifest.leaf_range {
        Some(r) => println!(
            "leaves {}..={} of the log of size {size} ({} outside the period, content withheld); {purges} supporting purge record(s); {} checkpoint(s) of the period",
            r.first,
            r.last,
            manifest.outside_period,
            checkpoints
        ),
        None => println!(
            "no record in the period; log size {size}; {} checkpoint(s) of the period",
            checkpoints
        ),
    }
    println!(
        "verify it with: hegui inspect verify {} --public-key '{}'",
        out.display(),
        manifest.public_key
    );
    Ok(())
}

fn verify(path: &Path, key: &str, json: bool) -> anyhow::Result<()> {
    let key = trusted_key(key)?;
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let report = hegui_inspect::verify(&bytes, &key)
        .with_context(|| format!("{} is not an inspection bundle", path.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        if let Some(p) = &report.period {
            println!("period {} to {} (exclusive)", p.from, p.to);
        }
        let total: u64 = report.counts.values().sum();
        println!(
            "{} leaves checked against the checkpoint of size {}: {total} record(s) of the period ({} with content checked, {} erased: {} erasure(s) matched to their purge record, {} whose purge record is itself erased), {} outside the period",
            report.leaves,
            report
                .tree_size
                .map_or_else(|| "(unverified)".to_owned(), |s| s.to_string()),
            report.disclosed,
            report.erased,
            report.erasures_confirmed,
            report.erasures_unconfirmable,
            report.outside_period
        );
        for (kind, n) in &report.counts {
            println!("  {kind:<16} {n}");
        }
        println!(
            "{} checkpoint(s) of the period checked (signature, consistency to the next)",
            report.checkpoints
        );
        for p in &report.problems {
            println!("FAIL {p}");
        }
        std::io::stdout().flush()?;
    }
    anyhow::ensure!(
        report.is_ok(),
        "the bundle does not verify: {} problem(s)",
        report.problems.len()
    );
    if !json {
        println!("OK: the bundle verifies under {}", key.key_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_china_days_and_rfc3339_is_exact() {
        // 2025-06-01 00:00 +08:00 = 2025-05-31T16:00:00Z.
        assert_eq!(
            parse_bound("--from", "2025-06-01", false).unwrap(),
            1_748_707_200_000
        );
        assert_eq!(
            parse_bound("--to", "2025-06-01", true).unwrap(),
            1_748_707_200_000 + 86_400_000
        );
        assert_eq!(
            parse_bound("--from", "2025-05-31T16:00:00Z", false).unwrap(),
            1_748_707_200_000
        );
        let e = parse_bound("--from", "2025-13-01", false).unwrap_err();
        assert!(e.to_string().contains("--from \"2025-13-01\""), "{e}");
        assert!(period("2025-06-02", "2025-06-01").is_err());
        assert!(period("2025-06-01", "2025-06-01").is_ok());
        let e = period("2025-06-01T10:00:00+08:00", "2025-06-01T10:00:00+08:00").unwrap_err();
        assert!(e.to_string().contains("not before"), "{e}");
    }
}

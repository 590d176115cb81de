//! `hegui`: the command line. A thin layer: parse arguments, call the crates, print.

mod admin;
mod audit;
mod image_out;
mod inspect;
mod label;
mod label_explicit;
mod label_watermark;
mod ledger;
mod review;
mod serve;
mod staff;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// hegui (合规): compliance gateway for generative AI services in mainland China.
#[derive(Parser, Debug)]
#[command(name = "hegui", version, about)]
struct Cli {
    /// Configuration file (TOML). Without one, defaults apply: SQLite under ./hegui-data.
    #[arg(long, short, global = true, env = "HEGUI_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Also start a loopback demonstration model and a verified demo user, and print how to call them.
        #[arg(long)]
        demo: bool,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// End users of the service (pseudonymous accounts).
    Users {
        #[command(subcommand)]
        command: admin::UsersCommand,
    },
    /// API keys.
    Keys {
        #[command(subcommand)]
        command: admin::KeysCommand,
    },
    /// Interaction records.
    Records {
        #[command(subcommand)]
        command: admin::RecordsCommand,
    },
    /// Training-data audit (Article 7): sources' legality, harmful-content and PII rates,
    /// duplicates, TC260 sampling.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Legal holds that block erasure.
    Holds {
        #[command(subcommand)]
        command: ledger::HoldsCommand,
    },
    /// The tamper-evident log: checkpoints, proofs, verification.
    Ledger {
        #[command(subcommand)]
        command: ledger::LedgerCommand,
    },
    /// The regulator's inspection bundle (Articles 15, 17, 18): export a period with proofs,
    /// verify a bundle offline.
    Inspect {
        #[command(subcommand)]
        command: inspect::InspectCommand,
    },
    /// Compliance staff accounts and roles (for the console).
    Staff {
        #[command(subcommand)]
        command: staff::StaffCommand,
    },
    /// Lexicon files: check them, and measure coverage against TC260-003.
    Lexicon {
        #[command(subcommand)]
        command: review::LexiconCommand,
    },
    /// Review text (argument, file, standard input or JSONL) and print the decisions as JSON.
    Review(review::ReviewArgs),
    /// GB 45438 implicit labels in files: add, inspect, verify, strip; label signing keys.
    Label {
        #[command(subcommand)]
        command: label::LabelCommand,
    },
    /// The built-in text classifier: train, evaluate, predict.
    Classifier {
        #[command(subcommand)]
        command: review::ClassifierCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Check a configuration file and explain every problem with its key.
    Check {
        /// The file to check.
        file: PathBuf,
    },
    /// Print the default configuration as TOML.
    Default,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, joined with ": ", leaving out a cause whose text the message
/// already has: many of the crates' errors name their cause in their own message (`a.png: No
/// such file or directory`) and also expose it as their source, which `{:#}` would print twice.
fn error_message(e: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if message.is_empty() {
            message = text;
        } else if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve { demo } => serve::run(config, demo).await,
        Command::Config {
            command: ConfigCommand::Check { file },
        } => {
            let c = hegui_config::Config::load(Some(&file))?;
            println!(
                "{}: OK (listen {}, database {}, upstream {}, {} model mapping(s))",
                file.display(),
                c.server.listen,
                hegui_store::redact(&c.storage.database_url),
                c.upstream.base_url,
                c.models.len()
            );
            Ok(())
        }
        Command::Config {
            command: ConfigCommand::Default,
        } => {
            print!("{}", include_str!("../../../hegui.example.toml"));
            Ok(())
        }
        Command::Users { command } => admin::users(config, command).await,
        Command::Keys { command } => admin::keys(config, command).await,
        Command::Records { command } => admin::records(config, command).await,
        Command::Ledger { command } => ledger::run(config, command).await,
        Command::Holds { command } => ledger::holds(config, command).await,
        Command::Inspect { command } => inspect::run(config, command).await,
        Command::Staff { command } => staff::run(config, command).await,
        Command::Lexicon { command } => review::lexicon(config, command),
        Command::Review(args) => review::review(config, args),
        Command::Label { command } => label::run(config, command).await,
        Command::Classifier { command } => review::classifier(command),
        Command::Audit { command } => {
            if audit::audit(config, command).await? {
                Ok(())
            } else {
                anyhow::bail!("the audit found problems: see the findings and the report above")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{path}: {source}")]
    struct Named {
        path: String,
        source: std::io::Error,
    }

    /// Every option and argument of every command says what it is in `--help`.
    #[test]
    fn every_argument_has_help() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id != "help" && id != "version" && a.get_help().is_none() {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:#?}");
    }

    #[test]
    fn a_cause_already_in_the_message_is_printed_once() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "No such file");
        let named = anyhow::Error::new(Named {
            path: "a.png".into(),
            source: io(),
        });
        assert_eq!(error_message(&named), "a.png: No such file");
        let context = anyhow::Error::new(io()).context("reading a.png");
        assert_eq!(error_message(&context), "reading a.png: No such file");
        let both = named.context("labeling");
        assert_eq!(error_message(&both), "labeling: a.png: No such file");
    }
}

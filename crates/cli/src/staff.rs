//! `hegui staff`: compliance staff accounts (the first admin is created here; later ones in
//! the console too).

use std::io::BufRead;
use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use hegui_staff::{Role, StaffService, StaffSettings};

/// A role on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleArg {
    /// Manages staff; can do everything.
    Admin,
    /// Handles complaints and incidents, suspends users, exports.
    ComplianceOfficer,
    /// Handles complaints.
    Reviewer,
    /// The regulator's inspector: read-only, exports.
    Inspector,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Admin => Role::Admin,
            RoleArg::ComplianceOfficer => Role::ComplianceOfficer,
            RoleArg::Reviewer => Role::Reviewer,
            RoleArg::Inspector => Role::Inspector,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum StaffCommand {
    /// Create a staff account. The password is read from standard input (one line), so it
    /// stays out of the shell history.
    Add {
        /// The staff account's user name.
        username: String,
        /// Its role (what it may see and do in the console).
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List staff accounts.
    List,
    /// Set a new password (read from standard input); ends the account's sessions.
    Passwd {
        /// The staff account's user name.
        username: String,
    },
    /// Change a role; ends the account's sessions.
    Role {
        /// The staff account's user name.
        username: String,
        /// Its role (what it may see and do in the console).
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Disable an account (it can no longer log in; its sessions end).
    Disable {
        /// The staff account's user name.
        username: String,
    },
    /// Enable a disabled account.
    Enable {
        /// The staff account's user name.
        username: String,
    },
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let p = line.trim_end_matches(['\r', '\n']).to_string();
    anyhow::ensure!(
        !p.is_empty(),
        "no password on standard input; pipe one line, e.g. `printf '%s\\n' \"$PW\" | hegui staff add …`"
    );
    Ok(p)
}

pub async fn run(config: Option<&Path>, cmd: StaffCommand) -> anyhow::Result<()> {
    let store = crate::admin::open(config).await?;
    let staff = StaffService::new(store.clone(), StaffSettings::default())?;
    match cmd {
        StaffCommand::Add { username, role } => {
            let password = read_password()?;
            let m = staff
                .create(&username, &password, role.into(), &crate::admin::actor())
                .await?;
            println!("{} {} {}", m.id, m.username, m.role);
        }
        StaffCommand::List => {
            for m in store.list_staff().await? {
                println!(
                    "{}\t{}\t{}\t{}",
                    m.username,
                    m.role,
                    if m.disabled_at.is_some() {
                        "disabled"
                    } else {
                        "active"
                    },
                    m.id
                );
            }
        }
        StaffCommand::Passwd { username } => {
            let password = read_password()?;
            staff
                .update(
                    &username,
                    Some(&password),
                    None,
                    None,
                    &crate::admin::actor(),
                )
                .await?;
            println!("password changed for {username}; their sessions have ended");
        }
        StaffCommand::Role { username, role } => {
            staff
                .update(
                    &username,
                    None,
                    Some(role.into()),
                    None,
                    &crate::admin::actor(),
                )
                .await?;
            println!("{username} is now {}", Role::from(role).as_str());
        }
        StaffCommand::Disable { username } => {
            staff
                .update(&username, None, None, Some(true), &crate::admin::actor())
                .await?;
            println!("{username} disabled");
        }
        StaffCommand::Enable { username } => {
            staff
                .update(&username, None, None, Some(false), &crate::admin::actor())
                .await?;
            println!("{username} enabled");
        }
    }
    Ok(())
}

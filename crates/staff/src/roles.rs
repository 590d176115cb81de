//! Roles and what each may do. The matrix below is the single source: the console checks
//! every route against it, and `crates/console/tests/roles.rs` checks every route of the
//! router against the same table written out by hand in `ROLES.md`.

/// A staff role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Manages staff accounts; can do everything.
    Admin,
    /// Dedicated compliance personnel: handles complaints and incidents, suspends users,
    /// decides lexicon proposals, exports for inspection.
    ComplianceOfficer,
    /// Handles complaints (review, resolve, reject) and reads interactions.
    Reviewer,
    /// The regulator's inspector: reads everything, changes nothing, exports.
    Inspector,
}

/// Every role, in order of decreasing power.
pub const ROLES: [Role; 4] = [
    Role::Admin,
    Role::ComplianceOfficer,
    Role::Reviewer,
    Role::Inspector,
];

/// Something a console route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Dashboard, policy versions, ledger checkpoints and proofs.
    ViewDashboard,
    /// Complaint queue and case pages.
    ViewComplaints,
    /// Take into review, resolve, reject.
    HandleComplaints,
    /// Interaction search and records.
    ViewInteractions,
    /// Users and their verification state.
    ViewUsers,
    /// Suspend or reinstate a user.
    SuspendUsers,
    /// Incidents and their reports.
    ViewIncidents,
    /// Open incidents and add to their timelines.
    ManageIncidents,
    /// Accept or reject lexicon terms proposed from complaints.
    DecideProposals,
    /// Download the inspection export.
    Export,
    /// Create, disable and change staff accounts.
    ManageStaff,
}

impl Role {
    /// Whether this role has `p`.
    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::ComplianceOfficer => !matches!(p, ManageStaff),
            Role::Reviewer => matches!(
                p,
                ViewDashboard | ViewComplaints | HandleComplaints | ViewInteractions | ViewUsers
            ),
            Role::Inspector => matches!(
                p,
                ViewDashboard
                    | ViewComplaints
                    | ViewInteractions
                    | ViewUsers
                    | ViewIncidents
                    | Export
            ),
        }
    }

    /// The stored value.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::ComplianceOfficer => "compliance_officer",
            Role::Reviewer => "reviewer",
            Role::Inspector => "inspector",
        }
    }

    /// Parses the stored value.
    pub fn parse(s: &str) -> Option<Role> {
        ROLES.into_iter().find(|r| r.as_str() == s)
    }

    /// Chinese name, for pages.
    pub fn zh(self) -> &'static str {
        match self {
            Role::Admin => "管理员",
            Role::ComplianceOfficer => "合规负责人",
            Role::Reviewer => "审核员",
            Role::Inspector => "检查人员",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inspector_reads_but_never_changes() {
        for p in [
            Permission::HandleComplaints,
            Permission::SuspendUsers,
            Permission::ManageIncidents,
            Permission::ManageStaff,
        ] {
            assert!(!Role::Inspector.allows(p), "{p:?}");
        }
        assert!(Role::Inspector.allows(Permission::Export));
        assert!(!Role::Reviewer.allows(Permission::Export));
        assert!(!Role::ComplianceOfficer.allows(Permission::ManageStaff));
        assert!(Role::Admin.allows(Permission::ManageStaff));
        for r in ROLES {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }
}

// Why: the role model is the heart of what a generated service enforces. This module owns the six
// permissions, role names, the three role models and their resolution into one complete table
// (CONTRACT §1: every role with its full effective set; the highest role holds all six).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One permission. Declaration order is the canonical order of docs/architecture.md §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "items:read")]
    ItemsRead,
    #[serde(rename = "items:write")]
    ItemsWrite,
    #[serde(rename = "items:delete")]
    ItemsDelete,
    #[serde(rename = "users:manage")]
    UsersManage,
    #[serde(rename = "api_keys:manage")]
    ApiKeysManage,
    #[serde(rename = "audit:read")]
    AuditRead,
}

impl Permission {
    /// All six, canonical order.
    pub const ALL: [Permission; 6] = [
        Permission::ItemsRead,
        Permission::ItemsWrite,
        Permission::ItemsDelete,
        Permission::UsersManage,
        Permission::ApiKeysManage,
        Permission::AuditRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ItemsRead => "items:read",
            Permission::ItemsWrite => "items:write",
            Permission::ItemsDelete => "items:delete",
            Permission::UsersManage => "users:manage",
            Permission::ApiKeysManage => "api_keys:manage",
            Permission::AuditRead => "audit:read",
        }
    }

    /// The Python constant name used by templates: `items:read` → `ITEMS_READ`.
    pub fn const_name(self) -> String {
        self.as_str().replace(':', "_").to_ascii_uppercase()
    }

    /// One line for the interactive picker.
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ItemsRead => "items:read       list and read items",
            Permission::ItemsWrite => "items:write      create and update items",
            Permission::ItemsDelete => "items:delete     delete items",
            Permission::UsersManage => "users:manage     create, list, change and disable users",
            Permission::ApiKeysManage => "api_keys:manage  create, list and revoke API keys",
            Permission::AuditRead => "audit:read       read the audit log",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == raw)
            .ok_or_else(|| {
                format!(
                    "unknown permission {}; expected one of {}",
                    super::show(raw),
                    Permission::ALL.map(|p| p.as_str()).join(", ")
                )
            })
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of permissions. Iterates in canonical order; serializes sorted by name, as in the
/// `portcullis.toml` example of CONTRACT §1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "Vec<Permission>")]
pub struct PermissionSet(BTreeSet<Permission>);

impl PermissionSet {
    pub fn all() -> Self {
        Permission::ALL.into_iter().collect()
    }

    pub fn contains(&self, p: Permission) -> bool {
        self.0.contains(&p)
    }

    pub fn is_all(&self) -> bool {
        self.0.len() == Permission::ALL.len()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Canonical order.
    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        self.0.iter().copied()
    }

    pub fn union(&self, other: &PermissionSet) -> PermissionSet {
        PermissionSet(self.0.union(&other.0).copied().collect())
    }

    pub fn difference(&self, other: &PermissionSet) -> PermissionSet {
        PermissionSet(self.0.difference(&other.0).copied().collect())
    }

    /// Names sorted alphabetically (the `portcullis.toml` order).
    pub fn sorted_names(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self.iter().map(Permission::as_str).collect();
        v.sort_unstable();
        v
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        PermissionSet(iter.into_iter().collect())
    }
}

impl From<Vec<Permission>> for PermissionSet {
    fn from(v: Vec<Permission>) -> Self {
        v.into_iter().collect()
    }
}

impl Serialize for PermissionSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.sorted_names())
    }
}

/// A role name: `^[a-z][a-z0-9_]{0,31}$`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleName(String);

impl RoleName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut chars = raw.chars();
        let ok = raw.len() <= 32
            && matches!(chars.next(), Some('a'..='z'))
            && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'));
        if ok {
            Ok(RoleName(raw.to_string()))
        } else if raw.is_empty() {
            Err("a role name is empty".into())
        } else {
            Err(format!(
                "role {} must match ^[a-z][a-z0-9_]{{0,31}}$ (lower case letter, then up to 31 lower case letters, digits or `_`)",
                super::show(raw)
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Upper-cased: a Python identifier for the role constant.
    pub fn const_name(&self) -> String {
        self.0.to_ascii_uppercase()
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RoleName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        RoleName::parse(&value)
    }
}

impl From<RoleName> for String {
    fn from(v: RoleName) -> String {
        v.0
    }
}

/// Parses and checks a whole role list: each name valid, all unique, at least one. Every problem
/// is returned, not only the first.
pub fn parse_role_list<S: AsRef<str>>(raw: &[S]) -> Result<Vec<RoleName>, Vec<String>> {
    let mut errors = Vec::new();
    let mut out: Vec<RoleName> = Vec::new();
    if raw.is_empty() {
        errors.push("at least one role is needed".to_string());
    }
    for r in raw {
        match RoleName::parse(r.as_ref().trim()) {
            Ok(name) if out.contains(&name) => {
                errors.push(format!("role `{name}` is listed twice"));
            }
            Ok(name) => out.push(name),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// How roles relate to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RoleModel {
    /// Each role holds exactly its own permissions.
    Flat,
    /// Each role holds its own permissions plus everything the roles below it hold.
    Hierarchical,
    /// An explicit table: each role holds exactly the permissions listed for it.
    Permissions,
}

impl RoleModel {
    pub const ALL: [RoleModel; 3] = [
        RoleModel::Flat,
        RoleModel::Hierarchical,
        RoleModel::Permissions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RoleModel::Flat => "flat",
            RoleModel::Hierarchical => "hierarchical",
            RoleModel::Permissions => "permissions",
        }
    }

    /// One line for the interactive picker.
    pub fn describe(self) -> &'static str {
        match self {
            RoleModel::Hierarchical => {
                "hierarchical  each role inherits everything the roles below it hold (admin > editor > viewer)"
            }
            RoleModel::Flat => {
                "flat          each role holds exactly its own default set, nothing inherited"
            }
            RoleModel::Permissions => {
                "permissions   you choose the permissions of each role, one by one"
            }
        }
    }
}

impl fmt::Display for RoleModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The default own set of the role at `index` among `count` roles, highest first: the highest
/// holds all six; the lowest only `items:read`; those in between `items:read` + `items:write`;
/// with four or more roles the second-highest also gets `items:delete` and `audit:read`.
pub fn default_permissions(index: usize, count: usize) -> PermissionSet {
    use Permission::*;
    if index == 0 {
        PermissionSet::all()
    } else if index + 1 == count {
        [ItemsRead].into_iter().collect()
    } else if index == 1 && count >= 4 {
        [ItemsRead, ItemsWrite, ItemsDelete, AuditRead]
            .into_iter()
            .collect()
    } else {
        [ItemsRead, ItemsWrite].into_iter().collect()
    }
}

/// Resolves each role's own set (highest first) into its effective set under `model`.
/// `hierarchical`: the union of its own set and every set below it. `flat` and `permissions`:
/// exactly its own set.
pub fn resolve_permissions(model: RoleModel, own: &[PermissionSet]) -> Vec<PermissionSet> {
    match model {
        RoleModel::Flat | RoleModel::Permissions => own.to_vec(),
        RoleModel::Hierarchical => {
            let mut out = vec![PermissionSet::default(); own.len()];
            let mut below = PermissionSet::default();
            for (i, set) in own.iter().enumerate().rev() {
                below = below.union(set);
                out[i] = below.clone();
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    fn set(ps: &[Permission]) -> PermissionSet {
        ps.iter().copied().collect()
    }

    #[test]
    fn defaults_for_one_to_five_roles() {
        assert!(default_permissions(0, 1).is_all());
        assert!(default_permissions(0, 2).is_all());
        assert_eq!(default_permissions(1, 2), set(&[ItemsRead]));
        assert_eq!(default_permissions(1, 3), set(&[ItemsRead, ItemsWrite]));
        assert_eq!(default_permissions(2, 3), set(&[ItemsRead]));
        assert_eq!(
            default_permissions(1, 4),
            set(&[ItemsRead, ItemsWrite, ItemsDelete, AuditRead])
        );
        assert_eq!(default_permissions(2, 4), set(&[ItemsRead, ItemsWrite]));
        assert_eq!(default_permissions(3, 4), set(&[ItemsRead]));
        assert_eq!(default_permissions(2, 5), set(&[ItemsRead, ItemsWrite]));
    }

    #[test]
    fn hierarchical_inherits_upward() {
        let own = vec![
            set(&[UsersManage]),
            set(&[AuditRead]),
            set(&[ItemsWrite]),
            set(&[ItemsRead]),
        ];
        let eff = resolve_permissions(RoleModel::Hierarchical, &own);
        assert_eq!(eff[3], set(&[ItemsRead]));
        assert_eq!(eff[2], set(&[ItemsRead, ItemsWrite]));
        assert_eq!(eff[1], set(&[ItemsRead, ItemsWrite, AuditRead]));
        assert_eq!(
            eff[0],
            set(&[ItemsRead, ItemsWrite, AuditRead, UsersManage])
        );
    }

    #[test]
    fn flat_and_permissions_keep_own_sets() {
        let own = vec![PermissionSet::all(), set(&[AuditRead]), set(&[ItemsRead])];
        assert_eq!(resolve_permissions(RoleModel::Flat, &own), own);
        assert_eq!(resolve_permissions(RoleModel::Permissions, &own), own);
    }

    #[test]
    fn resolution_is_idempotent() {
        // Regenerating from portcullis.toml (effective sets) must give the same table.
        let own = vec![set(&[UsersManage]), set(&[AuditRead]), set(&[ItemsRead])];
        for model in RoleModel::ALL {
            let once = resolve_permissions(model, &own);
            assert_eq!(resolve_permissions(model, &once), once, "{model}");
        }
    }

    #[test]
    fn role_names() {
        assert!(RoleName::parse("admin").is_ok());
        assert!(RoleName::parse("a_1").is_ok());
        assert!(RoleName::parse(&"a".repeat(32)).is_ok());
        for bad in [
            "",
            "Admin",
            "1a",
            "_a",
            "a-b",
            "a b",
            &"a".repeat(33),
            "é",
            "a\"",
            "{{",
        ] {
            assert!(RoleName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(RoleName::parse("editor").unwrap().const_name(), "EDITOR");
    }

    #[test]
    fn role_lists_report_every_problem() {
        let errs = parse_role_list(&["admin", "Bad", "admin", ""]).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(parse_role_list::<&str>(&[]).is_err());
        assert_eq!(parse_role_list(&["a", "b"]).unwrap().len(), 2);
    }

    #[test]
    fn permission_sets_serialize_sorted_by_name() {
        let s = PermissionSet::all();
        assert_eq!(
            s.sorted_names(),
            [
                "api_keys:manage",
                "audit:read",
                "items:delete",
                "items:read",
                "items:write",
                "users:manage"
            ]
        );
        assert_eq!(s.iter().next(), Some(ItemsRead));
        assert_eq!(UsersManage.const_name(), "USERS_MANAGE");
        assert_eq!(ApiKeysManage.const_name(), "API_KEYS_MANAGE");
    }
}

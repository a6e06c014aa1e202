// Why: the interactive part of `portcullis new`, kept apart so the order of the questions can be
// read top to bottom. It only runs once every given answer is valid, asks only what is still
// open, and ends with a summary and a last chance to say no.

use crate::error::{Error, Result};
use crate::prompt::Prompter;
use crate::spec::roles::{default_permissions, parse_role_list};
use crate::spec::{
    AuthMethod, DatabaseKind, Origin, Permission, PermissionSet, ProjectName, ProjectSpec,
    RoleModel, RoleName,
};

use super::defaults::{
    parse_origin_input, split_list, DEFAULT_AUTH, DEFAULT_ORIGINS, DEFAULT_ROLES,
};
use super::given::Given;

const PICK_MODELS: [RoleModel; 3] = [
    RoleModel::Hierarchical,
    RoleModel::Flat,
    RoleModel::Permissions,
];

/// The prompter, when questions may be asked, and whether any question was.
pub(super) struct Ask<'p> {
    prompter: Option<&'p mut dyn Prompter>,
    pub prompted: bool,
}

impl<'p> Ask<'p> {
    pub fn new(prompter: Option<&'p mut dyn Prompter>) -> Self {
        Ask {
            prompter,
            prompted: false,
        }
    }

    /// The name first: the destination is checked before anything else is asked.
    pub fn name(&mut self, given: &mut Given) -> Result<()> {
        let Some(p) = self.prompter.as_deref_mut() else {
            return Ok(());
        };
        if given.name.is_none() {
            self.prompted = true;
            let raw = p.input(
                "Project name (the folder; the Python package is derived from it)",
                None,
                &|s| ProjectName::parse(s).map(|_| ()),
            )?;
            given.name = Some(ProjectName::parse(&raw).map_err(Error::Usage)?);
        }
        Ok(())
    }

    /// Every other open question, in the order of `portcullis.toml`.
    pub fn the_rest(&mut self, given: &mut Given) -> Result<()> {
        let Some(p) = self.prompter.as_deref_mut() else {
            return Ok(());
        };
        if given.auth.is_none() {
            self.prompted = true;
            given.auth = Some(ask_auth(p)?);
        }
        if given.model.is_none() {
            self.prompted = true;
            given.model = Some(ask_model(p)?);
        }
        if given.roles.is_none() {
            self.prompted = true;
            given.roles = Some(ask_roles(p)?);
        }
        if given.database.is_none() {
            self.prompted = true;
            given.database = Some(ask_database(p)?);
        }
        if given.origins.is_none() {
            self.prompted = true;
            given.origins = Some(ask_origins(p)?);
        }
        Ok(())
    }

    /// Each role's permissions: from the answers file, else asked (model `permissions`, below the
    /// highest role, with a prompter), else the default for the role's rank.
    pub fn permission_table(
        &mut self,
        model: RoleModel,
        roles: Vec<RoleName>,
        given: &Given,
    ) -> Result<Vec<(RoleName, PermissionSet)>> {
        let count = roles.len();
        let mut table = Vec::with_capacity(count);
        if let (RoleModel::Permissions, Some(p), Some(top)) =
            (model, self.prompter.as_deref_mut(), roles.first())
        {
            if roles.iter().skip(1).any(|r| given.explicit(r).is_none()) {
                p.note(&format!(
                    "`{top}` holds every permission (the highest role always does); choose the others'."
                ));
            }
        }
        for (i, r) in roles.into_iter().enumerate() {
            let own = match (given.explicit(&r), self.prompter.as_deref_mut()) {
                (Some(set), _) => set,
                // The highest role always holds everything: nothing to ask.
                (None, Some(p)) if model == RoleModel::Permissions && i > 0 => {
                    self.prompted = true;
                    ask_permissions(p, &r, default_permissions(i, count))?
                }
                (None, _) => default_permissions(i, count),
            };
            table.push((r, own));
        }
        Ok(table)
    }

    /// When anything was asked: the summary, then the confirmation.
    pub fn confirm(&mut self, spec: &ProjectSpec) -> Result<()> {
        if let (true, Some(p)) = (self.prompted, self.prompter.as_deref_mut()) {
            p.note(&summary(spec));
            if !p.confirm("Generate this project?", true)? {
                return Err(Error::Cancelled);
            }
        }
        Ok(())
    }
}

fn ask_auth(p: &mut dyn Prompter) -> Result<Vec<AuthMethod>> {
    let items: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.describe()).collect();
    let checked: Vec<bool> = AuthMethod::ALL
        .iter()
        .map(|m| DEFAULT_AUTH.contains(m))
        .collect();
    loop {
        let picked = p.multi_select("Authentication methods", &items, &checked)?;
        if !picked.is_empty() {
            return Ok(picked.into_iter().map(|i| AuthMethod::ALL[i]).collect());
        }
        p.note("Choose at least one method (space toggles it).");
    }
}

fn ask_model(p: &mut dyn Prompter) -> Result<RoleModel> {
    let items: Vec<&str> = PICK_MODELS.iter().map(|m| m.describe()).collect();
    let i = p.select("Role model", &items, 0)?;
    Ok(PICK_MODELS[i])
}

fn ask_roles(p: &mut dyn Prompter) -> Result<Vec<RoleName>> {
    let raw = p.input(
        "Role names, highest privilege first, comma-separated",
        Some(&DEFAULT_ROLES.join(",")),
        &|s| {
            parse_role_list(&split_list(s))
                .map(|_| ())
                .map_err(|e| e.join("; "))
        },
    )?;
    parse_role_list(&split_list(&raw)).map_err(|e| Error::Usage(e.join("; ")))
}

fn ask_database(p: &mut dyn Prompter) -> Result<DatabaseKind> {
    let items: Vec<&str> = DatabaseKind::ALL.iter().map(|d| d.describe()).collect();
    Ok(DatabaseKind::ALL[p.select("Database", &items, 0)?])
}

fn ask_origins(p: &mut dyn Prompter) -> Result<Vec<Origin>> {
    let raw = p.input(
        "Allowed browser (CORS) origins, comma-separated, or `none`",
        Some(&DEFAULT_ORIGINS.join(",")),
        &|s| parse_origin_input(s).map(|_| ()).map_err(|e| e.join("; ")),
    )?;
    parse_origin_input(&raw).map_err(|e| Error::Usage(e.join("; ")))
}

fn ask_permissions(
    p: &mut dyn Prompter,
    role: &RoleName,
    default: PermissionSet,
) -> Result<PermissionSet> {
    let items: Vec<&str> = Permission::ALL.iter().map(|x| x.describe()).collect();
    let checked: Vec<bool> = Permission::ALL
        .iter()
        .map(|x| default.contains(*x))
        .collect();
    loop {
        let picked = p.multi_select(&format!("Permissions of role `{role}`"), &items, &checked)?;
        if !picked.is_empty() {
            return Ok(picked.into_iter().map(|i| Permission::ALL[i]).collect());
        }
        p.note("A role needs at least one permission.");
    }
}

/// A short, human summary of the spec, shown before the confirmation.
pub fn summary(spec: &ProjectSpec) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "\nProject   {} (package `{}`)\n",
        spec.project.name.as_str(),
        spec.project.package.as_str()
    ));
    out.push_str(&format!(
        "Auth      {}\n",
        spec.auth
            .methods
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str(&format!(
        "Roles     {} model, highest first:\n",
        spec.roles.model
    ));
    for r in &spec.roles.role {
        out.push_str(&format!(
            "            {:<12} {}\n",
            r.name.as_str(),
            r.permissions
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.push_str(&format!("Database  {}\n", spec.database.kind));
    let origins: Vec<&str> = spec.cors.origins.iter().map(|o| o.as_str()).collect();
    out.push_str(&format!(
        "CORS      {}\n",
        if origins.is_empty() {
            "none".to_string()
        } else {
            origins.join(", ")
        }
    ));
    out
}

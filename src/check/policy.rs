// Why: a platform team states once what every service must be (sessions on, API keys off,
// PostgreSQL only, origins under its own domain, short token lifetimes) and `check` holds each
// project to it in CI. The policy file is TOML, strict like the answers file (an unknown key is
// an error, since a typo would silently check nothing), and every rule it can hold is here.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::spec::{show, AuthMethod, DatabaseKind, ProjectSpec, RoleModel};

/// A policy file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub auth: AuthRules,
    #[serde(default)]
    pub roles: RoleRules,
    #[serde(default)]
    pub database: DatabaseRules,
    #[serde(default)]
    pub cors: CorsRules,
    /// Upper bounds on lifetimes, by setting (`access_token_ttl_seconds = 600`), checked
    /// against the values the project ships in `.env.example`.
    #[serde(default)]
    pub tokens: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthRules {
    #[serde(default)]
    pub required: Vec<AuthMethod>,
    #[serde(default)]
    pub forbidden: Vec<AuthMethod>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRules {
    /// When given, the role model must be one of these.
    pub models: Option<Vec<RoleModel>>,
    #[serde(default)]
    pub forbidden_models: Vec<RoleModel>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseRules {
    /// When given, the database must be one of these.
    pub kinds: Option<Vec<DatabaseKind>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsRules {
    /// When given, every allowed origin must match one of these; `*` matches any run of
    /// characters but `/` (`https://*.example.com`).
    pub origins: Option<Vec<String>>,
}

/// The lifetimes a policy may bound: the settings that hold them.
pub const TOKEN_SETTINGS: &[&str] = &[
    "access_token_ttl_seconds",
    "refresh_token_ttl_seconds",
    "session_idle_timeout_seconds",
    "session_absolute_timeout_seconds",
    "apikey_max_lifetime_days",
];

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The rule, as `section.key` of the policy file.
    pub rule: String,
    pub message: String,
}

impl Policy {
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |message: String| Error::Usage(format!("policy `{}`: {message}", path.display()));
        let text = fs_err::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let policy: Policy = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if let Some(key) = policy
            .tokens
            .keys()
            .find(|k| !TOKEN_SETTINGS.contains(&k.as_str()))
        {
            return Err(bad(format!(
                "unknown key `tokens.{key}` (known: {})",
                TOKEN_SETTINGS.join(", ")
            )));
        }
        Ok(policy)
    }

    /// Every rule `spec` (and the settings the project ships, `env`) breaks.
    pub fn violations(&self, spec: &ProjectSpec, env: &BTreeMap<String, String>) -> Vec<Violation> {
        let mut out = Vec::new();
        let mut broken = |rule: &str, message: String| {
            out.push(Violation {
                rule: rule.to_string(),
                message,
            })
        };
        for m in &self.auth.required {
            if !spec.has(*m) {
                broken(
                    "auth.required",
                    format!("auth method `{m}` is required but not enabled"),
                );
            }
        }
        for m in &self.auth.forbidden {
            if spec.has(*m) {
                broken(
                    "auth.forbidden",
                    format!("auth method `{m}` is forbidden but enabled"),
                );
            }
        }
        let model = spec.roles.model;
        if self
            .roles
            .models
            .as_ref()
            .is_some_and(|ms| !ms.contains(&model))
        {
            broken(
                "roles.models",
                format!("role model `{model}` is not allowed"),
            );
        }
        if self.roles.forbidden_models.contains(&model) {
            broken(
                "roles.forbidden_models",
                format!("role model `{model}` is forbidden"),
            );
        }
        let kind = spec.database.kind;
        if self
            .database
            .kinds
            .as_ref()
            .is_some_and(|ks| !ks.contains(&kind))
        {
            broken(
                "database.kinds",
                format!("database `{kind}` is not allowed"),
            );
        }
        if let Some(patterns) = &self.cors.origins {
            for origin in &spec.cors.origins {
                let origin = origin.as_str();
                if !patterns.iter().any(|p| wildcard(p, origin)) {
                    broken(
                        "cors.origins",
                        format!("origin {} matches no allowed pattern", show(origin)),
                    );
                }
            }
        }
        for (key, max) in &self.tokens {
            let setting = format!("APP_{}", key.to_ascii_uppercase());
            let Some(raw) = env.get(&setting) else {
                continue;
            };
            match raw.parse::<u64>() {
                Ok(value) if value <= *max => {}
                Ok(value) => broken(
                    &format!("tokens.{key}"),
                    format!(
                        "`{setting}` is {value} in `.env.example`; the policy allows at most {max}"
                    ),
                ),
                Err(_) => broken(
                    &format!("tokens.{key}"),
                    format!(
                        "`{setting}` in `.env.example` is not a number: {}",
                        show(raw)
                    ),
                ),
            }
        }
        out
    }
}

/// `*` matches any run of characters except `/`; everything else matches itself.
fn wildcard(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            let Some(rest) = text.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .take_while(|&i| !rest[..i].contains('/'))
                .filter(|&i| rest.is_char_boundary(i))
                .any(|i| wildcard(tail, &rest[i..]))
        }
    }
}

/// `KEY=value` lines of a dotenv file (comments and blank lines skipped, quotes removed).
pub fn dotenv(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_stay_within_the_host() {
        assert!(wildcard("https://*.example.com", "https://app.example.com"));
        assert!(wildcard("https://*.example.com", "https://a.b.example.com"));
        assert!(!wildcard(
            "https://*.example.com",
            "https://evil.com/.example.com"
        ));
        assert!(!wildcard("https://*.example.com", "https://example.com"));
        assert!(wildcard("https://localhost:*", "https://localhost:3000"));
        assert!(wildcard(
            "https://app.example.com",
            "https://app.example.com"
        ));
    }

    #[test]
    fn every_rule_reports_what_it_found() {
        let spec = crate::spec::tests::sample();
        let policy: Policy = toml::from_str(
            r#"
            [auth]
            required = ["apikey"]
            forbidden = ["session"]
            [roles]
            models = ["flat"]
            [database]
            kinds = ["postgres"]
            [cors]
            origins = ["https://*.corp.example"]
            [tokens]
            access_token_ttl_seconds = 600
            "#,
        )
        .unwrap();
        let env = dotenv("# c\nAPP_ACCESS_TOKEN_TTL_SECONDS=900\n");
        let rules: Vec<String> = policy
            .violations(&spec, &env)
            .into_iter()
            .map(|v| v.rule)
            .collect();
        assert!(rules.contains(&"auth.required".to_string()), "{rules:?}");
        assert!(rules.contains(&"database.kinds".to_string()), "{rules:?}");
        assert!(rules.contains(&"cors.origins".to_string()), "{rules:?}");
        assert!(
            rules.contains(&"tokens.access_token_ttl_seconds".to_string()),
            "{rules:?}"
        );
        assert!(Policy::default().violations(&spec, &env).is_empty());
    }
}

// Why: a platform team makes every service start from one standard. A preset carries that
// standard as answers: `[defaults.<section>]` answer the questions they cover unless a flag or
// the answers file says otherwise, and `[locked.<section>]` answer them for good — a flag or an
// answers file that contradicts a lock is refused before anything is asked or written, and a
// locked question is never asked. Both use the sections and keys of `portcullis.toml`, so a
// preset reads like the answers file it constrains. It may also name overlay folders.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::NewArgs;
use crate::error::{Error, Result};
use crate::spec::{AuthMethod, Origin};

use super::answers::{AnswersAuth, AnswersCors, AnswersDatabase, AnswersFile, AnswersRoles};

/// The answer sections a preset may hold (not `[project]`: a name is each project's own).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sections {
    pub auth: Option<AnswersAuth>,
    pub roles: Option<AnswersRoles>,
    pub database: Option<AnswersDatabase>,
    pub cors: Option<AnswersCors>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    #[serde(default)]
    defaults: Sections,
    #[serde(default)]
    locked: Sections,
    /// Overlay folders, relative to the preset's folder.
    #[serde(default)]
    overlays: Vec<String>,
}

/// A loaded preset.
#[derive(Debug, Clone)]
pub struct Preset {
    pub path: PathBuf,
    pub defaults: Sections,
    pub locked: Sections,
    /// Its overlay folders, resolved against the preset's folder.
    pub overlays: Vec<PathBuf>,
}

/// One locked answer and what contradicts it, for messages.
struct Lock<'a> {
    key: &'static str,
    locked: Option<String>,
    flag: (Option<String>, &'a str),
    file: Option<String>,
}

impl Preset {
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |message: String| Error::Preset {
            path: path.to_path_buf(),
            message,
        };
        let text = fs_err::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let file: PresetFile =
            toml::from_str(&text).map_err(|e| bad(e.to_string().trim_end().to_string()))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        Ok(Preset {
            path: path.to_path_buf(),
            defaults: file.defaults,
            locked: file.locked,
            overlays: file.overlays.iter().map(|o| dir.join(o)).collect(),
        })
    }

    /// Every flag or answers-file value that contradicts a lock, as one error.
    pub fn refuse_contradictions(&self, args: &NewArgs, file: &AnswersFile) -> Result<()> {
        let mut conflicts = Vec::new();
        for lock in self.locks(args, file) {
            let Some(locked) = &lock.locked else { continue };
            if let (Some(given), flag) = &lock.flag {
                if given != locked {
                    conflicts.push(format!(
                        "`{flag}` gives {given}, but `locked.{}` is {locked}",
                        lock.key
                    ));
                }
            }
            if let Some(given) = &lock.file {
                if given != locked {
                    conflicts.push(format!(
                        "the answers file's `{}` is {given}, but `locked.{}` is {locked}",
                        lock.key, lock.key
                    ));
                }
            }
        }
        if conflicts.is_empty() {
            Ok(())
        } else {
            Err(Error::Locked {
                preset: self.path.clone(),
                conflicts,
            })
        }
    }

    fn locks<'a>(&self, args: &'a NewArgs, file: &AnswersFile) -> Vec<Lock<'a>> {
        let l = &self.locked;
        let names = |roles: &Option<AnswersRoles>| {
            roles
                .as_ref()
                .and_then(|r| r.role.as_ref())
                .map(|rs| list(rs.iter().map(|r| r.name.clone())))
        };
        vec![
            Lock {
                key: "auth.methods",
                locked: methods(l.auth.as_ref().and_then(|a| a.methods.as_deref())),
                flag: (methods(args.auth.as_deref()), "--auth"),
                file: methods(file.auth.as_ref().and_then(|a| a.methods.as_deref())),
            },
            Lock {
                key: "roles.model",
                locked: l.roles.as_ref().and_then(|r| r.model).map(quoted),
                flag: (args.role_model.map(quoted), "--role-model"),
                file: file.roles.as_ref().and_then(|r| r.model).map(quoted),
            },
            Lock {
                key: "roles.role",
                locked: names(&l.roles),
                flag: (args.roles.clone().map(list), "--roles"),
                file: names(&file.roles),
            },
            Lock {
                key: "database.kind",
                locked: l.database.as_ref().and_then(|d| d.kind).map(quoted),
                flag: (args.database.map(quoted), "--database"),
                file: file.database.as_ref().and_then(|d| d.kind).map(quoted),
            },
            Lock {
                key: "cors.origins",
                locked: origins(l.cors.as_ref().and_then(|c| c.origins.as_deref())),
                flag: (
                    origins(
                        Some(&args.cors_origins)
                            .filter(|o| !o.is_empty())
                            .map(Vec::as_slice),
                    ),
                    "--cors-origin",
                ),
                file: origins(file.cors.as_ref().and_then(|c| c.origins.as_deref())),
            },
        ]
    }

    /// The answers file completed by the preset: locked answers, then the file's own, then
    /// the preset's defaults.
    pub fn complete(&self, mut file: AnswersFile) -> AnswersFile {
        let (l, d) = (&self.locked, &self.defaults);
        let auth = |s: &Sections| s.auth.as_ref().and_then(|a| a.methods.clone());
        let model = |s: &Sections| s.roles.as_ref().and_then(|r| r.model);
        let role = |s: &Sections| s.roles.as_ref().and_then(|r| r.role.clone());
        let kind = |s: &Sections| s.database.as_ref().and_then(|x| x.kind);
        let cors = |s: &Sections| s.cors.as_ref().and_then(|c| c.origins.clone());
        let f_auth = file.auth.take().and_then(|a| a.methods);
        let f_roles = file.roles.take().unwrap_or_default();
        let f_kind = file.database.take().and_then(|x| x.kind);
        let f_cors = file.cors.take().and_then(|c| c.origins);
        file.auth = Some(AnswersAuth {
            methods: auth(l).or(f_auth).or_else(|| auth(d)),
        });
        file.roles = Some(AnswersRoles {
            model: model(l).or(f_roles.model).or_else(|| model(d)),
            role: role(l).or(f_roles.role).or_else(|| role(d)),
        });
        file.database = Some(AnswersDatabase {
            kind: kind(l).or(f_kind).or_else(|| kind(d)),
        });
        file.cors = Some(AnswersCors {
            origins: cors(l).or(f_cors).or_else(|| cors(d)),
        });
        file
    }
}

fn quoted(value: impl std::fmt::Display) -> String {
    format!("\"{value}\"")
}

fn list(items: impl IntoIterator<Item = impl std::fmt::Display>) -> String {
    let items: Vec<String> = items.into_iter().map(quoted).collect();
    format!("[{}]", items.join(", "))
}

/// In canonical order, so `oauth2,session` and `session,oauth2` are the same answer.
fn methods(m: Option<&[AuthMethod]>) -> Option<String> {
    m.map(|m| {
        let mut m = m.to_vec();
        m.sort();
        m.dedup();
        list(m)
    })
}

/// As parsed where they parse (`https://A.example` is `https://a.example`).
fn origins(o: Option<&[String]>) -> Option<String> {
    o.map(|o| {
        list(o.iter().map(|raw| {
            Origin::parse(raw)
                .map(|x| x.as_str().to_string())
                .unwrap_or_else(|_| raw.clone())
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::DatabaseKind;

    fn preset(text: &str) -> Preset {
        let file: PresetFile = toml::from_str(text).unwrap();
        Preset {
            path: "team.toml".into(),
            defaults: file.defaults,
            locked: file.locked,
            overlays: vec![],
        }
    }

    #[test]
    fn locked_answers_win_then_the_file_then_defaults() {
        let p = preset(
            "[locked.auth]\nmethods = [\"session\"]\n[defaults.database]\nkind = \"postgres\"\n\
             [defaults.cors]\norigins = [\"https://app.example\"]\n",
        );
        let file = AnswersFile::parse("[cors]\norigins = [\"https://mine.example\"]\n").unwrap();
        let done = p.complete(file);
        assert_eq!(done.auth.unwrap().methods, Some(vec![AuthMethod::Session]));
        assert_eq!(done.database.unwrap().kind, Some(DatabaseKind::Postgres));
        assert_eq!(
            done.cors.unwrap().origins,
            Some(vec!["https://mine.example".to_string()])
        );
    }

    #[test]
    fn a_contradiction_names_the_lock_and_the_flag() {
        let p = preset("[locked.auth]\nmethods = [\"session\", \"oauth2\"]\n");
        let same = NewArgs {
            auth: Some(vec![AuthMethod::Oauth2, AuthMethod::Session]),
            ..NewArgs::default()
        };
        assert!(p
            .refuse_contradictions(&same, &AnswersFile::default())
            .is_ok());
        let other = NewArgs {
            auth: Some(vec![AuthMethod::Apikey]),
            ..NewArgs::default()
        };
        let Err(Error::Locked { conflicts, .. }) =
            p.refuse_contradictions(&other, &AnswersFile::default())
        else {
            panic!("not refused");
        };
        assert_eq!(
            conflicts,
            ["`--auth` gives [\"apikey\"], but `locked.auth.methods` is [\"oauth2\", \"session\"]"]
        );
    }
}

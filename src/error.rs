//! The one error type for everything that stops plumb before or outside a host's run.
//! Per-host failures are results, not errors: they live in `report`.

use crate::location::Location;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// Bad input: playbook, inventory, vars, templates. Always carries a location when one exists.
    #[error("{msg}")]
    Input {
        loc: Option<Location>,
        msg: String,
        hint: Option<String>,
        /// What it is about, where the engine decides by that (never by the message's words).
        cause: Option<Cause>,
    },
    /// Bad command line.
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A vault that could not be opened (no password, or a wrong one): exit code 2.
    #[error("{0}")]
    Vault(Box<Error>),
    /// Several input errors found in one pass; reported together.
    #[error("{} errors", .0.len())]
    Many(Vec<Error>),
}

/// What an input error is about, for the engine's decisions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cause {
    /// Template variable `name` (as written: `r.stat.exists`) is undefined; that is all the
    /// error says.
    Undefined(String),
    /// The error wraps an undefined variable's in a message that says more (a condition,
    /// another variable).
    WrapsUndefined(String),
    /// A local file that a task names (`src`) is not there.
    MissingFile,
}

impl Cause {
    /// The cause an error that wraps one with this cause has.
    pub(crate) fn wrapped(cause: &Option<Cause>) -> Option<Cause> {
        match cause {
            Some(Cause::Undefined(n) | Cause::WrapsUndefined(n)) => {
                Some(Cause::WrapsUndefined(n.clone()))
            }
            _ => None,
        }
    }
}

fn root(name: &str) -> Option<&str> {
    name.split(['.', '[']).next()
}

impl Error {
    /// The error on one line, as a task's message: `file:line:col: message (hint)`.
    pub(crate) fn one_line(&self) -> String {
        match self {
            Error::Input {
                loc: Some(l),
                msg,
                hint,
                ..
            } => {
                let mut s = format!("{l}: {msg}");
                if let Some(h) = hint {
                    s.push_str(&format!(" ({h})"));
                }
                s
            }
            other => other.to_string(),
        }
    }

    pub(crate) fn input(loc: impl Into<Option<Location>>, msg: impl Into<String>) -> Error {
        Error::Input {
            loc: loc.into(),
            msg: msg.into(),
            hint: None,
            cause: None,
        }
    }

    /// The error of template variable `name` (as written) being undefined.
    pub(crate) fn undefined_variable(loc: Location, name: &str) -> Error {
        Error::Input {
            loc: Some(loc),
            msg: format!("undefined variable `{name}`"),
            hint: None,
            cause: Some(Cause::Undefined(name.to_string())),
        }
    }

    /// The root name of the undefined variable this error is about, alone or wrapped in a
    /// message that says more.
    pub(crate) fn undefined_within(&self) -> Option<&str> {
        match self {
            Error::Input {
                cause: Some(Cause::Undefined(name) | Cause::WrapsUndefined(name)),
                ..
            } => root(name),
            _ => None,
        }
    }

    /// Whether this error is about a local file that is not there.
    pub(crate) fn is_missing_file(&self) -> bool {
        matches!(
            self,
            Error::Input {
                cause: Some(Cause::MissingFile),
                ..
            }
        )
    }

    /// The same error, about `cause`.
    pub(crate) fn with_cause(self, cause: Cause) -> Error {
        match self {
            Error::Input { loc, msg, hint, .. } => Error::Input {
                loc,
                msg,
                hint,
                cause: Some(cause),
            },
            other => other,
        }
    }

    pub(crate) fn vault(inner: Error) -> Error {
        Error::Vault(Box::new(inner))
    }

    /// Several errors as one, flattened (no `Many` inside `Many`); one error stays itself.
    pub(crate) fn many(errors: Vec<Error>) -> Error {
        let mut flat = Vec::new();
        for e in errors {
            match e {
                Error::Many(inner) => flat.extend(inner),
                other => flat.push(other),
            }
        }
        if flat.len() == 1 {
            flat.pop().expect("one error")
        } else {
            Error::Many(flat)
        }
    }

    pub(crate) fn with_hint(self, hint: impl Into<String>) -> Error {
        match self {
            Error::Input {
                loc, msg, cause, ..
            } => Error::Input {
                loc,
                msg,
                hint: Some(hint.into()),
                cause,
            },
            other => other,
        }
    }

    pub(crate) fn with_path(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    /// Exit code: see README "Exit codes".
    pub(crate) fn code(&self) -> i32 {
        match self {
            Error::Many(all) if all.iter().any(|e| matches!(e, Error::Vault(_))) => 2,
            Error::Input { .. } | Error::Many(_) => 4,
            Error::Usage(_) => 5,
            Error::Io { .. } => 1,
            Error::Vault(_) => 2,
        }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// The closest candidate by edit distance, for "did you mean" hints.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        // Never more edits than half the shorter word: `db` is not a typo of `h1`.
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && d * 2 <= word.len().min(c.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// Edit distance where swapping two neighbours counts as one edit (typos like `wbe`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_words_only() {
        assert_eq!(
            suggest("tempalte", ["template", "copy", "file"]),
            Some("template".into())
        );
        assert_eq!(suggest("zzz", ["template", "copy"]), None);
        assert_eq!(suggest("wbe", ["web", "db"]), Some("web".into()));
        assert_eq!(suggest("nme", ["name", "state"]), Some("name".into()));
        assert_eq!(suggest("db", ["h1", "web"]), None);
        assert_eq!(suggest("r", ["x"]), None);
    }

    #[test]
    fn many_flattens() {
        let one = || Error::input(None, "x");
        match Error::many(vec![one(), Error::Many(vec![one(), one()])]) {
            Error::Many(all) => assert_eq!(all.len(), 3),
            e => panic!("{e:?}"),
        }
        assert!(matches!(Error::many(vec![one()]), Error::Input { .. }));
    }
}

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
        /// The variable this error says is undefined (as written: `r.stat.exists`), when that
        /// is all it says. A message that wraps it (a condition, another variable) has none.
        undefined: Option<String>,
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
            undefined: None,
        }
    }

    /// The error of template variable `name` (as written) being undefined.
    pub(crate) fn undefined_variable(loc: Location, name: &str) -> Error {
        Error::Input {
            loc: Some(loc),
            msg: format!("undefined variable `{name}`"),
            hint: None,
            undefined: Some(name.to_string()),
        }
    }

    /// The root name of the undefined variable this error is about (`r` of `r.stat.exists`).
    pub(crate) fn undefined_root(&self) -> Option<&str> {
        match self {
            Error::Input {
                undefined: Some(name),
                ..
            } => name.split(['.', '[']).next(),
            _ => None,
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
                loc,
                msg,
                undefined,
                ..
            } => Error::Input {
                loc,
                msg,
                hint: Some(hint.into()),
                undefined,
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

//! How the PostgreSQL modules reach the server: `psql` as the `postgres` user (`runuser` when
//! the task runs as root; as is when `become_user` already made it that user), and
//! PostgreSQL's quoting. Catalog rows come back with `psql -XAtq` and the unit separator
//! (0x1f) between fields.

use super::args::Getter;
use super::sql::check_text;
use crate::error::Result;
use crate::shell::quote;

/// How to reach the server: as which OS user/role, which database, port, host, password.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Psql {
    pub user: String,
    pub db: Option<String>,
    pub port: Option<u64>,
    pub host: Option<String>,
    pub password: Option<String>,
}

impl Psql {
    pub(crate) fn build(a: &Getter, db_key: &str) -> Result<Psql> {
        let user = a
            .opt_str("login_user")?
            .unwrap_or_else(|| "postgres".into());
        if user.starts_with('-')
            || !user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(a.err("login_user", format!("`{user}` is not a user name")));
        }
        let db = a.opt_str(db_key)?;
        if let Some(d) = &db {
            check_text(a, db_key, d)?;
        }
        let port = match a.opt_u64("login_port")? {
            Some(p) => Some(p),
            None => a.opt_u64("port")?,
        };
        // As community.postgresql: the socket's directory is the host where none, or
        // `localhost`, is given (peer authentication, as the login user).
        let mut host = a.opt_str("login_host")?;
        if let Some(dir) = a.opt_str("login_unix_socket")?.filter(|d| !d.is_empty())
            && host
                .as_deref()
                .is_none_or(|h| h.is_empty() || h == "localhost")
        {
            host = Some(dir);
        }
        // Arguments the modules take but plumb does not carry out yet: refused when given a
        // value (a role's `default(omit)` leaves them out).
        for k in ["session_role", "grant_option", "target_roles"] {
            if a.has(k) {
                return Err(a.err(k, format!("`{k}` is not supported by plumb yet")));
            }
        }
        Ok(Psql {
            user,
            db,
            port,
            host,
            password: a.opt_str("login_password")?,
        })
    }

    /// `psql` as the login user: through `runuser` when root, as is otherwise (the engine's
    /// `become_user` already switched). `cd /` so psql does not complain about root's home.
    pub(crate) fn client(&self) -> String {
        self.client_with("")
    }

    /// `client` with more psql options (already shell words).
    fn client_with(&self, extra: &str) -> String {
        let mut args = format!("psql -X -v ON_ERROR_STOP=1 -Atq{extra}");
        if let Some(d) = &self.db {
            args.push_str(&format!(" {}", quote(&format!("--dbname={d}"))));
        }
        if let Some(p) = self.port {
            args.push_str(&format!(" --port={p}"));
        }
        if let Some(h) = &self.host {
            args.push_str(&format!(" {}", quote(&format!("--host={h}"))));
        }
        let pw = self
            .password
            .as_ref()
            .map(|p| format!("PGPASSWORD={} ", quote(p)))
            .unwrap_or_default();
        format!(
            "( cd / && if [ \"$(id -u)\" = 0 ] && [ {u} != root ]; then {pw}runuser -u {u} -- {args}; else {pw}{args}; fi )",
            u = quote(&self.user)
        )
    }

    /// A probe field: `TAG\tBASE64(rows)` then `TAG_rc\tEXIT`. Fields are separated by 0x1f.
    pub(crate) fn query(&self, tag: &str, sql: &str) -> String {
        super::sql::query(tag, sql, &self.client_with(" -F \"$(printf '\\037')\""))
    }

    /// A script running these statements one by one (outside a transaction: CREATE DATABASE
    /// cannot be in one), from a quoted here-document.
    pub(crate) fn run(&self, statements: &[String]) -> String {
        super::sql::script(&self.client(), statements)
    }
}

/// A SQL string literal (standard_conforming_strings: only quotes double).
pub(crate) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A SQL identifier.
pub(crate) fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Rows of a probe field, each split on 0x1f.
pub(crate) fn rows(out: &str) -> Vec<Vec<&str>> {
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\u{1f}').collect())
        .collect()
}

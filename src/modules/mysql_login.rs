//! How `mysql_db` and `mysql_user` reach the server: as root through the unix socket by default,
//! or `login_user`/`login_password`/`login_host`/`login_port`/`login_unix_socket`. The password
//! goes in `MYSQL_PWD`, never on a command line; SQL goes on standard input. MySQL's quoting.

use super::args::Getter;
use crate::error::Result;
use crate::shell::quote;

/// How to reach the server.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct MysqlLogin {
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Option<String>,
    pub port: Option<u64>,
    pub socket: Option<String>,
}

impl MysqlLogin {
    pub(crate) fn build(a: &Getter) -> Result<MysqlLogin> {
        for k in ["login_user", "login_host"] {
            if let Some(v) = a.opt_str(k)?
                && (v.starts_with('-') || v.contains(|c: char| c.is_control()))
            {
                return Err(a.err(k, format!("`{k}: {v}` is not valid")));
            }
        }
        Ok(MysqlLogin {
            user: a.opt_str("login_user")?,
            password: a.opt_str("login_password")?,
            host: a.opt_str("login_host")?,
            port: a.opt_u64("login_port")?,
            socket: a.opt_path("login_unix_socket")?,
        })
    }

    /// `mysql` with the login options (batch, no column names); SQL on stdin.
    pub(crate) fn client(&self) -> String {
        let mut s = String::new();
        if let Some(p) = &self.password {
            s.push_str(&format!("MYSQL_PWD={} ", quote(p)));
        }
        s.push_str("mysql -NB");
        if let Some(u) = &self.user {
            s.push_str(&format!(" {}", quote(&format!("--user={u}"))));
        }
        if let Some(h) = &self.host {
            s.push_str(&format!(" {}", quote(&format!("--host={h}"))));
        }
        if let Some(p) = self.port {
            s.push_str(&format!(" --port={p}"));
        }
        if let Some(k) = &self.socket {
            s.push_str(&format!(" {}", quote(&format!("--socket={k}"))));
        }
        s
    }

    /// A probe line: `TAG\tBASE64(output)` then `TAG_rc\tEXIT`, for one query.
    pub(crate) fn query(&self, tag: &str, sql: &str) -> String {
        super::sql::query(tag, sql, &self.client())
    }

    /// A script that runs these statements (on stdin, through a quoted here-document).
    pub(crate) fn run(&self, statements: &[String]) -> String {
        super::sql::script(&self.client(), statements)
    }
}

/// A SQL string literal.
pub(crate) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A SQL identifier.
pub(crate) fn ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

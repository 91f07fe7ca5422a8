//! `postgresql_db` (`community.postgresql.postgresql_db`): a database present (owner, encoding,
//! collation, ctype, template) or absent, through `psql` run as the `postgres` user (`runuser`
//! when the task runs as root; as is when `become_user` already made it that user). Catalog
//! rows come back with `psql -XAtq` and the unit separator (0x1f) between fields, in base64.

use super::args::Getter;
use super::psql::{Psql, ident, lit, rows};
use super::sql::{check_text, fields};
use super::{Change, Plan, Resource};
use crate::error::Result;

#[derive(Debug, Clone)]
pub(crate) struct PostgresqlDb {
    pub name: String,
    pub present: bool,
    pub owner: Option<String>,
    pub encoding: Option<String>,
    pub lc_collate: Option<String>,
    pub lc_ctype: Option<String>,
    pub template: Option<String>,
    pub psql: Psql,
}

super::plain_module!(PostgresqlDb);

impl PostgresqlDb {
    pub(crate) fn build(a: &Getter) -> Result<PostgresqlDb> {
        let key = if a.has("name") { "name" } else { "db" };
        let name = a.str(key)?;
        check_text(a, key, &name)?;
        let opt = |k: &str| -> Result<Option<String>> {
            let v = a.opt_str(k)?.filter(|v| !v.is_empty());
            if let Some(v) = &v {
                check_text(a, k, v)?;
            }
            Ok(v)
        };
        Ok(PostgresqlDb {
            name,
            present: a.choice("state", &["present", "absent"], "present")? == "present",
            owner: opt("owner")?,
            encoding: opt("encoding")?,
            lc_collate: opt("lc_collate")?,
            lc_ctype: opt("lc_ctype")?,
            template: opt("template")?,
            psql: Psql::build(a, "login_db")?,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        // The server answers the probe: a unit started or restarted since may answer
        // otherwise (it was down when the batched probe asked).
        vec![
            Resource::Path("/var/lib/postgresql".into()),
            Resource::Unit("*".into()),
        ]
    }

    pub(crate) fn probe(&self) -> String {
        self.psql.query(
            "db",
            &format!(
                "SELECT datname, pg_get_userbyid(datdba), pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database WHERE datname = {};",
                lit(&self.name)
            ),
        )
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let f = fields(facts)?;
        let (out, rc) = f
            .get("db")
            .ok_or_else(|| format!("unexpected probe output: {}", facts.trim()))?;
        if rc != "0" {
            return Err(format!("psql: {}", out.trim()));
        }
        let rows = rows(out);
        let n = &self.name;
        let q = ident(n);
        let mut changes = Vec::new();
        let mut sql = Vec::new();
        match (rows.first(), self.present) {
            (None, false) => {}
            (Some(_), false) => {
                changes.push(Change::new(format!("drop database {n}")));
                sql.push(format!("DROP DATABASE {q};"));
            }
            (None, true) => {
                let mut s = format!("CREATE DATABASE {q}");
                let mut words = Vec::new();
                if let Some(o) = &self.owner {
                    s.push_str(&format!(" OWNER {}", ident(o)));
                    words.push(format!("owner {o}"));
                }
                if let Some(t) = &self.template {
                    s.push_str(&format!(" TEMPLATE {}", ident(t)));
                    words.push(format!("template {t}"));
                }
                for (k, v) in [
                    ("ENCODING", &self.encoding),
                    ("LC_COLLATE", &self.lc_collate),
                    ("LC_CTYPE", &self.lc_ctype),
                ] {
                    if let Some(v) = v {
                        s.push_str(&format!(" {k} {}", lit(v)));
                        words.push(format!("{} {v}", k.to_lowercase()));
                    }
                }
                changes.push(Change::new(if words.is_empty() {
                    format!("create database {n}")
                } else {
                    format!("create database {n} ({})", words.join(", "))
                }));
                sql.push(format!("{s};"));
            }
            (Some(row), true) => {
                let [_, owner, enc, collate, ctype] = row[..] else {
                    return Err(format!("psql: unexpected row {row:?}"));
                };
                let norm = |s: &str| s.to_lowercase().replace(['-', '_'], "");
                for (what, want, have) in [
                    ("encoding", &self.encoding, enc),
                    ("lc_collate", &self.lc_collate, collate),
                    ("lc_ctype", &self.lc_ctype, ctype),
                ] {
                    if let Some(w) = want
                        && norm(w) != norm(have)
                    {
                        return Err(format!(
                            "database {n} exists with {what} {have}, not {w}; changing it is not supported (as in Ansible)"
                        ));
                    }
                }
                if let Some(o) = &self.owner
                    && o != owner
                {
                    changes.push(Change::new(format!("database {n}: owner {owner} → {o}")));
                    sql.push(format!("ALTER DATABASE {q} OWNER TO {};", ident(o)));
                }
            }
        }
        if changes.is_empty() {
            return Ok(Plan::ok());
        }
        Ok(Plan::script(changes, self.psql.run(&sql), self.reads()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;
    use crate::modules::args::Args;
    use base64::Engine;
    use serde_json::{Map, Value, json};
    use std::collections::HashMap;
    use std::sync::Arc;

    fn db(args: Value) -> std::result::Result<PostgresqlDb, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        PostgresqlDb::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn facts(out: &str, rc: u8) -> String {
        format!(
            "db\t{}\ndb_rc\t{rc}\n",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    fn summaries(p: &Plan) -> Vec<&str> {
        p.changes.iter().map(|c| c.summary.as_str()).collect()
    }

    #[test]
    fn table() {
        // A row as PostgreSQL 15 on Debian 12 prints it (fields split by 0x1f).
        let row = "appdb\u{1f}app\u{1f}UTF8\u{1f}C.UTF-8\u{1f}C.UTF-8\n";
        let table: &[(Value, &str, &[&str])] = &[
            (
                json!({"name": "appdb", "owner": "app", "encoding": "UTF-8", "template": "template0"}),
                "",
                &["create database appdb (owner app, template template0, encoding UTF-8)"],
            ),
            (
                json!({"name": "appdb", "owner": "app", "encoding": "UTF-8", "lc_collate": "C.UTF-8"}),
                row,
                &[],
            ),
            (
                json!({"name": "appdb", "owner": "postgres"}),
                row,
                &["database appdb: owner app → postgres"],
            ),
            (
                json!({"name": "appdb", "state": "absent"}),
                row,
                &["drop database appdb"],
            ),
            (json!({"name": "appdb", "state": "absent"}), "", &[]),
        ];
        for (args, out, want) in table {
            let p = db(args.clone()).unwrap().plan(&facts(out, 0)).unwrap();
            assert_eq!(summaries(&p), *want, "{args}");
        }
    }

    #[test]
    fn sql_and_client() {
        let d = db(json!({"name": "my\"db", "owner": "app", "encoding": "UTF8"})).unwrap();
        let p = d.plan(&facts("", 0)).unwrap();
        let Run::Script(s) = &p.run else { panic!() };
        assert!(
            s.contains("\nCREATE DATABASE \"my\"\"db\" OWNER \"app\" ENCODING 'UTF8';\n"),
            "{s}"
        );
        assert!(
            s.contains("runuser -u postgres -- psql -X -v ON_ERROR_STOP=1 -Atq"),
            "{s}"
        );
        assert!(
            d.probe().contains("WHERE datname = '\\''my\"db'\\''"),
            "{}",
            d.probe()
        );
    }

    #[test]
    fn errors() {
        let d = db(json!({"name": "appdb", "encoding": "LATIN1"})).unwrap();
        let row = "appdb\u{1f}app\u{1f}UTF8\u{1f}C.UTF-8\u{1f}C.UTF-8\n";
        assert!(
            d.plan(&facts(row, 0))
                .unwrap_err()
                .contains("not supported")
        );
        let e = d
            .plan(&facts("psql: error: connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: No such file or directory", 2))
            .unwrap_err();
        assert!(e.contains("connection to server"), "{e}");
        assert!(d.plan("").is_err());
        assert!(db(json!({"name": "appdb", "login_user": "-x"})).is_err());
        assert!(db(json!({"name": "a\nb"})).is_err());
    }
}

//! `mysql_db` (`community.mysql.mysql_db`): databases present (with their character set and
//! collation) or absent, through the host's `mysql` client. Logs in like Ansible: as root
//! through the unix socket by default (run with `become`), or `login_user`/`login_password`/
//! `login_host`/`login_port`/`login_unix_socket`. The password goes in `MYSQL_PWD`, never on a
//! command line; SQL goes on standard input.

use super::args::Getter;
use super::mysql_login::{MysqlLogin, ident, lit};
use super::sql::{check_text, fields};
use super::{Change, Plan, Resource};
use crate::error::Result;

#[derive(Debug, Clone)]
pub(crate) struct MysqlDb {
    pub names: Vec<String>,
    pub present: bool,
    pub encoding: Option<String>,
    pub collation: Option<String>,
    pub login: MysqlLogin,
}

super::plain_module!(MysqlDb);

impl MysqlDb {
    pub(crate) fn build(a: &Getter) -> Result<MysqlDb> {
        let names = a.list("name")?;
        if names.is_empty() {
            return Err(a.err("name", "`name` is required"));
        }
        for n in &names {
            check_text(a, "name", n)?;
        }
        let present = a.choice("state", &["present", "absent"], "present")? == "present";
        let word = |k: &str| -> Result<Option<String>> {
            match a.opt_str(k)? {
                Some(v) if v.is_empty() => Ok(None),
                Some(v) if v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => Ok(Some(v)),
                Some(v) => Err(a.err(
                    k,
                    format!("`{k}: {v}` is not a character set or collation name"),
                )),
                None => Ok(None),
            }
        };
        Ok(MysqlDb {
            names,
            present,
            encoding: word("encoding")?,
            collation: word("collation")?,
            login: MysqlLogin::build(a)?,
        })
    }

    pub(crate) fn reads(&self) -> Vec<Resource> {
        // The server answers the probe: a unit started or restarted since may answer
        // otherwise (it was down when the batched probe asked).
        vec![
            Resource::Path("/var/lib/mysql".into()),
            Resource::Unit("*".into()),
        ]
    }

    pub(crate) fn probe(&self) -> String {
        let list: Vec<String> = self.names.iter().map(|n| lit(n)).collect();
        self.login.query(
            "dbs",
            &format!(
                "SELECT SCHEMA_NAME, DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ({});",
                list.join(", ")
            ),
        )
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let f = fields(facts)?;
        let (out, rc) = f
            .get("dbs")
            .ok_or_else(|| format!("unexpected probe output: {}", facts.trim()))?;
        if rc != "0" {
            return Err(format!("mysql: {}", out.trim()));
        }
        // Batch mode escapes tabs and newlines in values, so a row is one line.
        let mut have = std::collections::HashMap::new();
        for row in out.lines().filter(|l| !l.is_empty()) {
            let c: Vec<&str> = row.split('\t').collect();
            let [name, cs, coll] = c[..] else {
                return Err(format!("mysql: unexpected row `{row}`"));
            };
            have.insert(
                name.replace("\\t", "\t").replace("\\\\", "\\"),
                (cs.to_string(), coll.to_string()),
            );
        }
        let mut changes = Vec::new();
        let mut sql = Vec::new();
        for n in &self.names {
            let cur = have.get(n);
            let mut spec = String::new();
            if let Some(e) = &self.encoding {
                spec.push_str(&format!(" CHARACTER SET {e}"));
            }
            if let Some(c) = &self.collation {
                spec.push_str(&format!(" COLLATE {c}"));
            }
            match (cur, self.present) {
                (None, true) => {
                    changes.push(Change::new(format!(
                        "create database {n}{}",
                        spec.to_lowercase()
                    )));
                    sql.push(format!("CREATE DATABASE {}{spec};", ident(n)));
                }
                (Some(_), false) => {
                    changes.push(Change::new(format!("drop database {n}")));
                    sql.push(format!("DROP DATABASE {};", ident(n)));
                }
                (Some((cs, coll)), true) => {
                    let cs_differs = self
                        .encoding
                        .as_ref()
                        .is_some_and(|e| !e.eq_ignore_ascii_case(cs));
                    let coll_differs = self
                        .collation
                        .as_ref()
                        .is_some_and(|c| !c.eq_ignore_ascii_case(coll));
                    if cs_differs || coll_differs {
                        changes.push(Change::new(format!(
                            "database {n}: {cs}/{coll} →{}",
                            spec.to_lowercase()
                        )));
                        sql.push(format!("ALTER DATABASE {}{spec};", ident(n)));
                    }
                }
                (None, false) => {}
            }
        }
        if changes.is_empty() {
            return Ok(Plan::ok());
        }
        Ok(Plan::script(changes, self.login.run(&sql), self.reads()))
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

    pub(super) fn getter_of<T>(
        args: Value,
        f: impl Fn(&Getter) -> Result<T>,
    ) -> std::result::Result<T, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        f(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn db(args: Value) -> std::result::Result<MysqlDb, String> {
        getter_of(args, MysqlDb::build)
    }

    fn facts(out: &str, rc: u8) -> String {
        format!(
            "dbs\t{}\ndbs_rc\t{rc}\n",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    fn summaries(p: &Plan) -> Vec<&str> {
        p.changes.iter().map(|c| c.summary.as_str()).collect()
    }

    #[test]
    fn table() {
        // Rows as MariaDB 10.11 on Debian 12 prints them.
        let row = "app\tutf8mb4\tutf8mb4_general_ci\n";
        let table: &[(Value, &str, &[&str])] = &[
            (
                json!({"name": "app", "encoding": "utf8mb4"}),
                "",
                &["create database app character set utf8mb4"],
            ),
            (json!({"name": "app", "encoding": "utf8mb4"}), row, &[]),
            (json!({"name": "app"}), row, &[]),
            (
                json!({"name": "app", "collation": "utf8mb4_unicode_ci"}),
                row,
                &["database app: utf8mb4/utf8mb4_general_ci → collate utf8mb4_unicode_ci"],
            ),
            (
                json!({"name": "app", "state": "absent"}),
                row,
                &["drop database app"],
            ),
            (json!({"name": "app", "state": "absent"}), "", &[]),
            (
                json!({"name": ["app", "app_test"]}),
                row,
                &["create database app_test"],
            ),
        ];
        for (args, out, want) in table {
            let p = db(args.clone()).unwrap().plan(&facts(out, 0)).unwrap();
            assert_eq!(summaries(&p), *want, "{args}");
        }
    }

    #[test]
    fn sql_is_quoted_and_on_stdin() {
        let d =
            db(json!({"name": "we`ird", "login_user": "admin", "login_password": "p'w"})).unwrap();
        let p = d.plan(&facts("", 0)).unwrap();
        let Run::Script(s) = &p.run else { panic!() };
        assert!(
            s.starts_with("set -e\nMYSQL_PWD='p'\\''w' mysql -NB --user=admin <<'"),
            "{s}"
        );
        assert!(s.contains("\nCREATE DATABASE `we``ird`;\n"), "{s}");
        assert!(d.probe().contains("we`ird"), "{}", d.probe());
        assert_eq!(lit("a'b\\"), "'a\\'b\\\\'");
    }

    #[test]
    fn errors() {
        let d = db(json!({"name": "app"})).unwrap();
        let e = d
            .plan(&facts("ERROR 2002 (HY000): Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)", 1))
            .unwrap_err();
        assert!(e.contains("Can't connect"), "{e}");
        assert!(d.plan("").is_err());
        assert!(d.plan(&facts("a\tb\n", 0)).is_err());
        assert!(db(json!({"name": "app", "encoding": "utf8; DROP"})).is_err());
        assert!(db(json!({"name": "a\nb"})).is_err());
        assert!(db(json!({"name": "app", "login_user": "-x"})).is_err());
    }
}

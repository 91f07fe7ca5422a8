//! `mysql_user` (`community.mysql.mysql_user`): an account `name`@`host`, its password and its
//! privileges, through the host's `mysql` client (logging in as `mysql_db` does). The password
//! is compared through its hash (`mysql_native_password`: `*` + SHA1(SHA1(password)), computed
//! here; or `encrypted: true` with the hash given) and never printed. Privileges (`priv`, as
//! `db.*:SELECT,INSERT/other.*:ALL`, or a mapping) are compared with `SHOW GRANTS`; without
//! `append_privs`, grants on other objects are revoked, as Ansible does.

use super::args::Getter;
use super::mysql_login::{MysqlLogin, lit};
use super::sql::{check_text, fields};
use super::{Change, Plan, Resource};
use crate::error::Result;
use serde_json::Value;
use sha1::{Digest, Sha1};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
pub(crate) struct MysqlUser {
    pub name: String,
    pub host: String,
    /// The hash to compare with, and the clause that sets it.
    pub password: Option<Password>,
    /// Object (`db.*`, `*.*`, `db.tbl`, no backticks) → privileges (upper case, `ALL` as
    /// `ALL PRIVILEGES`, `GRANT` for WITH GRANT OPTION).
    pub privs: Option<BTreeMap<String, BTreeSet<String>>>,
    pub append_privs: bool,
    pub present: bool,
    pub update_password: bool,
    pub login: MysqlLogin,
}

#[derive(Clone)]
pub(crate) struct Password {
    pub hash: String,
    pub clause: String,
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(hidden)")
    }
}

/// MySQL's `mysql_native_password` hash of a password.
fn native_hash(pw: &str) -> String {
    let once = Sha1::digest(pw.as_bytes());
    let twice = Sha1::digest(once);
    format!("*{}", hex::encode_upper(twice))
}

fn norm_priv(p: &str) -> String {
    let p = p
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase();
    if p == "ALL" {
        "ALL PRIVILEGES".into()
    } else {
        p
    }
}

fn norm_obj(o: &str) -> String {
    o.trim().replace(['`', '"'], "")
}

/// `db.*:SELECT,INSERT/other.*:ALL` (or a mapping) into object → privileges.
fn parse_privs(a: &Getter) -> Result<Option<BTreeMap<String, BTreeSet<String>>>> {
    let pairs: Vec<(String, String)> = match a.raw("priv") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Array(xs) => Ok((
                    k.clone(),
                    xs.iter()
                        .map(|x| x.as_str().unwrap_or_default().to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                )),
                _ => Err(a.err("priv", "`priv` values are privilege lists")),
            })
            .collect::<Result<_>>()?,
        Some(Value::String(s)) => s
            .split('/')
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                p.rsplit_once(':')
                    .map(|(o, v)| (o.to_string(), v.to_string()))
                    .ok_or_else(|| a.err("priv", format!("`{p}` is not `db.table:PRIV,PRIV`")))
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(a.err("priv", "`priv` is a string or a mapping")),
    };
    let mut m = BTreeMap::new();
    for (obj, list) in pairs {
        let obj = norm_obj(&obj);
        if !obj.contains('.')
            || !obj
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.*$-".contains(c))
        {
            return Err(a.err("priv", format!("`{obj}` is not a `db.table` object")));
        }
        let set: BTreeSet<String> = list
            .split(',')
            .map(norm_priv)
            .filter(|p| !p.is_empty())
            .collect();
        if set.iter().any(|p| {
            !p.chars()
                .all(|c| c.is_ascii_uppercase() || c == ' ' || c == '_')
        }) {
            return Err(a.err("priv", format!("privileges `{list}` are not plain names")));
        }
        m.insert(obj, set);
    }
    Ok(Some(m))
}

/// `SHOW GRANTS` lines into object → privileges (USAGE on `*.*` dropped).
fn parse_grants(out: &str) -> std::result::Result<BTreeMap<String, BTreeSet<String>>, String> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let Some(rest) = line.strip_prefix("GRANT ") else {
            // Roles, proxies: not managed here.
            continue;
        };
        let Some((privs, rest)) = rest.split_once(" ON ") else {
            return Err(format!("SHOW GRANTS: unexpected `{line}`"));
        };
        if privs.starts_with("PROXY") {
            continue;
        }
        let Some((obj, tail)) = rest.split_once(" TO ") else {
            return Err(format!("SHOW GRANTS: unexpected `{line}`"));
        };
        let obj = norm_obj(
            obj.trim_start_matches("TABLE ")
                .trim_start_matches("FUNCTION ")
                .trim_start_matches("PROCEDURE "),
        );
        let set = m.entry(obj).or_default();
        for p in privs.split(", ") {
            let p = norm_priv(p);
            if p != "USAGE" {
                set.insert(p);
            }
        }
        if tail.contains("WITH GRANT OPTION") {
            set.insert("GRANT".into());
        }
    }
    m.retain(|o, s| !(o == "*.*" && s.is_empty()));
    Ok(m)
}

super::plain_module!(MysqlUser);

impl MysqlUser {
    pub(crate) fn build(a: &Getter) -> Result<MysqlUser> {
        let key = if a.has("name") { "name" } else { "user" };
        let name = a.str(key)?;
        check_text(a, key, &name)?;
        let host = a.opt_str("host")?.unwrap_or_else(|| "localhost".into());
        check_text(a, "host", &host)?;
        let present = a.choice("state", &["present", "absent"], "present")? == "present";
        let encrypted = a.bool("encrypted", false)?;
        let password = match a.opt_str("password")? {
            None => None,
            Some(p) if p.contains(['\n', '\r', '\0']) => {
                return Err(a.err("password", "`password` must be one line"));
            }
            Some(p) if encrypted => {
                if !(p.len() == 41
                    && p.starts_with('*')
                    && p[1..].chars().all(|c| c.is_ascii_hexdigit()))
                {
                    return Err(a.err(
                        "password",
                        "with `encrypted: true`, `password` is a mysql_native_password hash (`*` and 40 hex digits)",
                    ));
                }
                let h = p.to_uppercase();
                Some(Password {
                    clause: format!("IDENTIFIED BY PASSWORD {}", lit(&h)),
                    hash: h,
                })
            }
            Some(p) => Some(Password {
                hash: native_hash(&p),
                clause: format!("IDENTIFIED BY {}", lit(&p)),
            }),
        };
        let update_password = a.choice(
            "update_password",
            &["always", "on_create", "on_new_username"],
            "always",
        )? == "always";
        Ok(MysqlUser {
            name,
            host,
            password,
            privs: parse_privs(a)?,
            append_privs: a.bool("append_privs", false)?,
            present,
            update_password,
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

    fn account(&self) -> String {
        format!("{}@{}", lit(&self.name), lit(&self.host))
    }

    pub(crate) fn probe(&self) -> String {
        format!(
            "{}{}",
            self.login.query(
                "user",
                &format!(
                    "SELECT plugin, authentication_string FROM mysql.user WHERE User = {} AND Host = {};",
                    lit(&self.name),
                    lit(&self.host)
                ),
            ),
            self.login
                .query("grants", &format!("SHOW GRANTS FOR {};", self.account()))
        )
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let f = fields(facts)?;
        let get = |k: &str| {
            f.get(k)
                .ok_or_else(|| format!("unexpected probe output: {}", facts.trim()))
        };
        let (user, rc) = get("user")?;
        if rc != "0" {
            return Err(format!("mysql: {}", user.trim()));
        }
        let row = user.lines().find(|l| !l.is_empty());
        let who = format!("{}@{}", self.name, self.host);
        let acct = self.account();
        let mut changes = Vec::new();
        let mut sql = Vec::new();
        let mut uncertain = false;
        let Some(row) = row else {
            if !self.present {
                return Ok(Plan::ok());
            }
            changes.push(Change::new(format!(
                "create user {who}{}",
                if self.password.is_some() {
                    " with a password"
                } else {
                    ""
                }
            )));
            sql.push(format!(
                "CREATE USER {acct}{};",
                self.password
                    .as_ref()
                    .map(|p| format!(" {}", p.clause))
                    .unwrap_or_default()
            ));
            for (obj, set) in self.privs.iter().flatten() {
                changes.push(Change::new(format!(
                    "grant {} on {obj} to {who}",
                    show(set)
                )));
                sql.push(grant(obj, set, &acct));
            }
            return Ok(self.done(changes, sql, false));
        };
        if !self.present {
            changes.push(Change::new(format!("drop user {who}")));
            sql.push(format!("DROP USER {acct};"));
            return Ok(self.done(changes, sql, false));
        }
        let (plugin, auth) = row.split_once('\t').unwrap_or((row, ""));
        if let Some(p) = &self.password
            && self.update_password
        {
            if matches!(plugin, "mysql_native_password" | "") {
                if !auth.eq_ignore_ascii_case(&p.hash) {
                    changes.push(Change::new(format!("set the password of {who}")));
                    sql.push(format!("ALTER USER {acct} {};", p.clause));
                }
            } else {
                // Another plugin's hash cannot be compared here: set it, and say it may change.
                changes.push(Change::new(format!(
                    "set the password of {who} (its {plugin} hash cannot be compared)"
                )));
                sql.push(format!("ALTER USER {acct} {};", p.clause));
                uncertain = true;
            }
        }
        if let Some(want) = &self.privs {
            let (grants, rc) = get("grants")?;
            if rc != "0" {
                return Err(format!("mysql: {}", grants.trim()));
            }
            let have = parse_grants(grants)?;
            for (obj, set) in want {
                let cur = have.get(obj).cloned().unwrap_or_default();
                let wanted: BTreeSet<String> =
                    set.iter().filter(|p| *p != "USAGE").cloned().collect();
                let equal = cur == wanted
                    || (self.append_privs && wanted.is_subset(&cur))
                    || (cur.contains("ALL PRIVILEGES")
                        && wanted
                            .iter()
                            .all(|p| p == "ALL PRIVILEGES" || (self.append_privs && p != "GRANT")));
                if equal {
                    continue;
                }
                if !self.append_privs && !cur.is_empty() {
                    sql.push(format!(
                        "REVOKE ALL PRIVILEGES, GRANT OPTION ON {} FROM {acct};",
                        obj_sql(obj)
                    ));
                }
                let add: BTreeSet<String> = if self.append_privs {
                    wanted.difference(&cur).cloned().collect()
                } else {
                    wanted.clone()
                };
                changes.push(Change::new(format!(
                    "privileges of {who} on {obj}: {} → {}",
                    if cur.is_empty() {
                        "none".to_string()
                    } else {
                        show(&cur)
                    },
                    show(&if self.append_privs {
                        cur.union(&add).cloned().collect()
                    } else {
                        wanted.clone()
                    })
                )));
                if !add.is_empty() {
                    sql.push(grant(obj, &add, &acct));
                }
            }
            if !self.append_privs {
                for (obj, cur) in &have {
                    if !want.contains_key(obj) && !cur.is_empty() {
                        changes.push(Change::new(format!(
                            "revoke {} on {obj} from {who}",
                            show(cur)
                        )));
                        sql.push(format!(
                            "REVOKE ALL PRIVILEGES, GRANT OPTION ON {} FROM {acct};",
                            obj_sql(obj)
                        ));
                    }
                }
            }
        }
        if changes.is_empty() {
            return Ok(Plan::ok());
        }
        Ok(self.done(changes, sql, uncertain))
    }

    fn done(&self, changes: Vec<Change>, sql: Vec<String>, uncertain: bool) -> Plan {
        Plan {
            uncertain,
            ..Plan::script(changes, self.login.run(&sql), self.reads())
        }
    }
}

fn show(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(",")
}

/// `db.*` as SQL: each name part in backticks unless `*`.
fn obj_sql(obj: &str) -> String {
    let (db, t) = obj.split_once('.').unwrap_or((obj, "*"));
    let q = |s: &str| {
        if s == "*" {
            "*".to_string()
        } else {
            super::mysql_login::ident(s)
        }
    };
    format!("{}.{}", q(db), q(t))
}

fn grant(obj: &str, set: &BTreeSet<String>, acct: &str) -> String {
    let privs: Vec<&str> = set
        .iter()
        .map(String::as_str)
        .filter(|p| *p != "GRANT")
        .collect();
    let privs = if privs.is_empty() {
        "USAGE".to_string()
    } else {
        privs.join(", ")
    };
    let opt = if set.contains("GRANT") {
        " WITH GRANT OPTION"
    } else {
        ""
    };
    format!("GRANT {privs} ON {} TO {acct}{opt};", obj_sql(obj))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::Run;
    use crate::modules::args::Args;
    use base64::Engine;
    use serde_json::{Map, json};
    use std::collections::HashMap;
    use std::sync::Arc;

    fn user(args: Value) -> std::result::Result<MysqlUser, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        MysqlUser::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn facts(user: &str, grants: &str) -> String {
        format!(
            "user\t{}\nuser_rc\t0\ngrants\t{}\ngrants_rc\t{}\n",
            b64(user),
            b64(grants),
            if user.is_empty() { 1 } else { 0 }
        )
    }

    // Recorded on MariaDB 10.11 (Debian 12) for app@localhost with password "s3cret".
    const ROW: &str = "mysql_native_password\t*B865CAE8F340F6CE1485A06F4492BB49718DF1EC\n";
    const GRANTS: &str = "GRANT USAGE ON *.* TO `app`@`localhost` IDENTIFIED BY PASSWORD '*B865CAE8F340F6CE1485A06F4492BB49718DF1EC'\nGRANT SELECT, INSERT ON `mysql`.* TO `app`@`localhost`\nGRANT ALL PRIVILEGES ON `test`.* TO `app`@`localhost`\n";

    fn summaries(p: &Plan) -> Vec<&str> {
        p.changes.iter().map(|c| c.summary.as_str()).collect()
    }

    #[test]
    fn hash_matches_mariadb() {
        assert_eq!(
            native_hash("s3cret"),
            "*B865CAE8F340F6CE1485A06F4492BB49718DF1EC"
        );
    }

    #[test]
    fn table() {
        let no_grants = "ERROR 1141 (42000) at line 1: There is no such grant defined for user 'app' on host 'localhost'";
        let table: &[(Value, &str, &str, &[&str])] = &[
            (
                json!({"name": "app", "password": "s3cret", "priv": "appdb.*:ALL"}),
                "",
                no_grants,
                &[
                    "create user app@localhost with a password",
                    "grant ALL PRIVILEGES on appdb.* to app@localhost",
                ],
            ),
            (
                json!({"name": "app", "password": "s3cret", "priv": "mysql.*:SELECT,INSERT/test.*:ALL"}),
                ROW,
                GRANTS,
                &[],
            ),
            (
                json!({"name": "app", "password": "other", "priv": {"mysql.*": "INSERT,SELECT", "`test`.*": "ALL"}}),
                ROW,
                GRANTS,
                &["set the password of app@localhost"],
            ),
            (
                json!({"name": "app", "password": "s3cret", "encrypted": false, "priv": "test.*:ALL"}),
                ROW,
                GRANTS,
                &["revoke INSERT,SELECT on mysql.* from app@localhost"],
            ),
            (
                json!({"name": "app", "priv": "test.*:SELECT", "append_privs": true}),
                ROW,
                GRANTS,
                &[],
            ),
            (
                json!({"name": "app", "priv": "mysql.*:UPDATE", "append_privs": true}),
                ROW,
                GRANTS,
                &["privileges of app@localhost on mysql.*: INSERT,SELECT → INSERT,SELECT,UPDATE"],
            ),
            (
                json!({"name": "app", "state": "absent"}),
                ROW,
                GRANTS,
                &["drop user app@localhost"],
            ),
            (
                json!({"name": "app", "state": "absent"}),
                "",
                no_grants,
                &[],
            ),
            (
                json!({"name": "app", "password": "*B865CAE8F340F6CE1485A06F4492BB49718DF1EC", "encrypted": true}),
                ROW,
                GRANTS,
                &[],
            ),
            (
                json!({"name": "app", "password": "new", "update_password": "on_create"}),
                ROW,
                GRANTS,
                &[],
            ),
        ];
        for (args, row, grants, want) in table {
            let p = user(args.clone())
                .unwrap()
                .plan(&facts(row, grants))
                .unwrap();
            assert_eq!(summaries(&p), *want, "{args}");
        }
    }

    #[test]
    fn sql_and_secrecy() {
        let u =
            user(json!({"name": "app", "password": "pw'1", "priv": "appdb.*:SELECT,INSERT,GRANT"}))
                .unwrap();
        let p = u.plan(&facts("", "x")).unwrap();
        let Run::Script(s) = &p.run else { panic!() };
        assert!(
            s.contains("\nCREATE USER 'app'@'localhost' IDENTIFIED BY 'pw\\'1';\n"),
            "{s}"
        );
        assert!(
            s.contains(
                "\nGRANT INSERT, SELECT ON `appdb`.* TO 'app'@'localhost' WITH GRANT OPTION;\n"
            ),
            "{s}"
        );
        assert!(!format!("{u:?}").contains("pw'1"));
        assert!(p.changes.iter().all(|c| !c.summary.contains("pw'1")));
        assert!(!u.probe().contains("pw'1"));
    }

    #[test]
    fn errors() {
        let u = user(json!({"name": "app", "password": "x"})).unwrap();
        let down = format!(
            "user\t{}\nuser_rc\t1\ngrants\t\ngrants_rc\t1\n",
            b64("ERROR 2002 (HY000): Can't connect")
        );
        assert!(u.plan(&down).unwrap_err().contains("Can't connect"));
        assert!(u.plan("").is_err());
        assert!(user(json!({"name": "app", "priv": "nodb"})).is_err());
        assert!(user(json!({"name": "app", "priv": "db.*:SELECT; DROP"})).is_err());
        assert!(user(json!({"name": "app", "password": "abc", "encrypted": true})).is_err());
        assert!(user(json!({"name": "a\nb"})).is_err());
    }
}

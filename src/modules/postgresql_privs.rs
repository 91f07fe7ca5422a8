//! `postgresql_privs` (`community.postgresql.postgresql_privs`): privileges granted (or revoked)
//! to roles on databases, schemas or tables, through `psql` as `postgresql_db` runs it. The
//! objects' ACLs are read exactly (`aclexplode`), so a privilege only PUBLIC has does not count
//! as granted to the role; the plan names each missing (or extra) grant.

use super::args::Getter;
use super::psql::{Psql, ident, lit, rows};
use super::sql::{check_text, fields};
use super::{Change, Plan, Resource};
use crate::error::Result;
use std::collections::BTreeSet;

#[derive(Debug, Clone)]
pub(crate) struct PostgresqlPrivs {
    pub kind: String,
    pub privs: Vec<String>,
    /// Object names; empty with `all_in_schema`.
    pub objs: Vec<String>,
    all_in_schema: bool,
    pub schema: String,
    pub roles: Vec<String>,
    pub present: bool,
    pub psql: Psql,
}

fn all_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "database" => &["CREATE", "CONNECT", "TEMPORARY"],
        "schema" => &["CREATE", "USAGE"],
        _ => &[
            "SELECT",
            "INSERT",
            "UPDATE",
            "DELETE",
            "TRUNCATE",
            "REFERENCES",
            "TRIGGER",
        ],
    }
}

super::plain_module!(PostgresqlPrivs);

impl PostgresqlPrivs {
    pub(crate) fn build(a: &Getter) -> Result<PostgresqlPrivs> {
        let kind = a.choice("type", &["table", "database", "schema"], "table")?;
        // A missing role fails the task (`fail_on_role: true`, the default); only warning
        // instead is not carried out yet.
        if !a.bool("fail_on_role", true)? {
            return Err(a.err(
                "fail_on_role",
                "`fail_on_role: false` is not supported by plumb yet",
            ));
        }
        let mut privs = Vec::new();
        // `priv` and `role` are the module's aliases of `privs` and `roles`.
        let privs_key = if a.has("priv") { "priv" } else { "privs" };
        for p in a.list(privs_key)? {
            let p = p.trim().to_uppercase();
            let p = if p == "TEMP" {
                "TEMPORARY".to_string()
            } else {
                p
            };
            if p == "ALL" || p == "ALL PRIVILEGES" {
                privs.extend(all_of(&kind).iter().map(|s| s.to_string()));
            } else if all_of(&kind).contains(&p.as_str()) {
                privs.push(p);
            } else {
                return Err(a.err(
                    privs_key,
                    format!(
                        "`{p}` is not a privilege on a {kind}; use {}",
                        all_of(&kind).join(", ")
                    ),
                ));
            }
        }
        if privs.is_empty() {
            return Err(a.err(privs_key, "`privs` is required"));
        }
        privs.sort();
        privs.dedup();
        let db = a.opt_str("db")?.or(a.opt_str("database")?);
        let key = if a.has("objs") { "objs" } else { "obj" };
        let mut objs = a.list(key)?;
        let all_in_schema = kind == "table" && objs.iter().any(|o| o == "ALL_IN_SCHEMA");
        if all_in_schema {
            objs.clear();
        }
        if kind == "database" && objs.is_empty() {
            objs = db.iter().cloned().collect();
        }
        if objs.is_empty() && !all_in_schema {
            return Err(a.err(key, "`objs` is required"));
        }
        for o in &objs {
            check_text(a, key, o)?;
        }
        let roles_key = if a.has("role") { "role" } else { "roles" };
        let roles: Vec<String> = a
            .list(roles_key)?
            .into_iter()
            .map(|r| {
                // PUBLIC is a keyword, not a role name: any case means it.
                if r.eq_ignore_ascii_case("PUBLIC") {
                    "PUBLIC".to_string()
                } else {
                    r
                }
            })
            .collect();
        if roles.is_empty() {
            return Err(a.err(roles_key, "`roles` is required"));
        }
        for r in &roles {
            check_text(a, roles_key, r)?;
        }
        let schema = a.opt_str("schema")?.unwrap_or_else(|| "public".into());
        check_text(a, "schema", &schema)?;
        let mut psql = Psql::build(a, "login_db")?;
        if psql.db.is_none() {
            psql.db = db;
        }
        Ok(PostgresqlPrivs {
            kind,
            privs,
            objs,
            all_in_schema,
            schema,
            roles,
            present: a.choice("state", &["present", "absent"], "present")? == "present",
            psql,
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
        let list = |v: &[String]| v.iter().map(|s| lit(s)).collect::<Vec<_>>().join(", ");
        let acl = "coalesce(r.rolname, 'PUBLIC'), a.privilege_type";
        // A NULL ACL means the built-in defaults (the owner has all, PUBLIC has CONNECT and
        // TEMPORARY on a database): read them as such, or revoking from PUBLIC on a fresh
        // database would find nothing to revoke.
        let sql = match self.kind.as_str() {
            "database" => format!(
                "SELECT d.datname, {acl} FROM pg_database d LEFT JOIN LATERAL aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a ON true LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE d.datname IN ({});",
                list(&self.objs)
            ),
            "schema" => format!(
                "SELECT n.nspname, {acl} FROM pg_namespace n LEFT JOIN LATERAL aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a ON true LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE n.nspname IN ({});",
                list(&self.objs)
            ),
            _ => {
                let which = if self.all_in_schema {
                    "c.relkind IN ('r', 'v', 'm', 'f', 'p')".to_string()
                } else {
                    format!("c.relname IN ({})", list(&self.objs))
                };
                format!(
                    "SELECT c.relname, {acl} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN LATERAL aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a ON true LEFT JOIN pg_roles r ON r.oid = a.grantee WHERE n.nspname = {} AND {which};",
                    lit(&self.schema)
                )
            }
        };
        self.psql.query("acl", &sql)
    }

    fn target(&self, obj: &str) -> String {
        match self.kind.as_str() {
            "database" => format!("DATABASE {}", ident(obj)),
            "schema" => format!("SCHEMA {}", ident(obj)),
            _ => format!("TABLE {}.{}", ident(&self.schema), ident(obj)),
        }
    }

    pub(crate) fn plan(&self, facts: &str) -> std::result::Result<Plan, String> {
        let f = fields(facts)?;
        let (out, rc) = f
            .get("acl")
            .ok_or_else(|| format!("unexpected probe output: {}", facts.trim()))?;
        if rc != "0" {
            return Err(format!("psql: {}", out.trim()));
        }
        let mut seen = BTreeSet::new();
        let mut have = BTreeSet::new();
        for row in rows(out) {
            let [obj, role, privilege] = row[..] else {
                return Err(format!("psql: unexpected row {row:?}"));
            };
            seen.insert(obj.to_string());
            if !privilege.is_empty() {
                have.insert((obj.to_string(), role.to_string(), privilege.to_string()));
            }
        }
        let objs: Vec<String> = if self.all_in_schema {
            seen.iter().cloned().collect()
        } else {
            self.objs.clone()
        };
        if let Some(missing) = objs.iter().find(|o| !seen.contains(*o)) {
            return Err(format!("{} {missing} does not exist", self.kind));
        }
        let mut changes = Vec::new();
        let mut sql = Vec::new();
        for obj in &objs {
            for role in &self.roles {
                let diff: Vec<&str> = self
                    .privs
                    .iter()
                    .filter(|p| {
                        have.contains(&(obj.clone(), role.clone(), (*p).clone())) != self.present
                    })
                    .map(String::as_str)
                    .collect();
                if diff.is_empty() {
                    continue;
                }
                let r = if role.eq_ignore_ascii_case("PUBLIC") {
                    "PUBLIC".to_string()
                } else {
                    ident(role)
                };
                if self.present {
                    changes.push(Change::new(format!(
                        "grant {} on {} {obj} to {role}",
                        diff.join(", "),
                        self.kind
                    )));
                    sql.push(format!(
                        "GRANT {} ON {} TO {r};",
                        diff.join(", "),
                        self.target(obj)
                    ));
                } else {
                    changes.push(Change::new(format!(
                        "revoke {} on {} {obj} from {role}",
                        diff.join(", "),
                        self.kind
                    )));
                    sql.push(format!(
                        "REVOKE {} ON {} FROM {r};",
                        diff.join(", "),
                        self.target(obj)
                    ));
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

    fn privs(args: Value) -> std::result::Result<PostgresqlPrivs, String> {
        let map: Map<String, Value> = args.as_object().unwrap().clone();
        let args = Args {
            map: map.clone(),
            locs: HashMap::new(),
            key_locs: HashMap::new(),
            loc: crate::location::Location::new(&Arc::new("t.yml".into()), 1, 1),
        };
        PostgresqlPrivs::build(&Getter::new(&map, &args)).map_err(|e| e.to_string())
    }

    fn facts(out: &str) -> String {
        format!(
            "acl\t{}\nacl_rc\t0\n",
            base64::engine::general_purpose::STANDARD.encode(out)
        )
    }

    fn summaries(p: &Plan) -> Vec<&str> {
        p.changes.iter().map(|c| c.summary.as_str()).collect()
    }

    const US: char = '\u{1f}';

    #[test]
    fn table() {
        // A database with the default ACL (NULL, read through acldefault: the owner has all,
        // PUBLIC has CONNECT and TEMPORARY), one granted CONNECT.
        let fresh = format!(
            "appdb{US}owner{US}CREATE\nappdb{US}owner{US}CONNECT\nappdb{US}owner{US}TEMPORARY\nappdb{US}PUBLIC{US}CONNECT\nappdb{US}PUBLIC{US}TEMPORARY\n"
        );
        let granted = format!(
            "appdb{US}PUBLIC{US}CONNECT\nappdb{US}report{US}CONNECT\nappdb{US}report{US}TEMPORARY\n"
        );
        let tables =
            format!("items{US}app{US}SELECT\nitems{US}report{US}SELECT\norders{US}PUBLIC{US}\n");
        let table: Vec<(Value, String, Vec<&str>)> = vec![
            (
                json!({"db": "appdb", "type": "database", "privs": "CONNECT,TEMP", "roles": "report"}),
                fresh.clone(),
                vec!["grant CONNECT, TEMPORARY on database appdb to report"],
            ),
            (
                json!({"db": "appdb", "type": "database", "privs": "CONNECT,TEMP", "roles": "report"}),
                granted.clone(),
                vec![],
            ),
            // Public roles' spelling: `role`/`priv`, revoking PUBLIC's default privileges.
            (
                json!({"db": "appdb", "type": "database", "priv": "ALL", "role": "public", "state": "absent"}),
                fresh.clone(),
                vec!["revoke CONNECT, TEMPORARY on database appdb from PUBLIC"],
            ),
            (
                json!({"db": "appdb", "type": "database", "privs": "ALL", "roles": "owner"}),
                fresh.clone(),
                vec![],
            ),
            (
                json!({"db": "appdb", "type": "database", "privs": "TEMPORARY", "roles": "report", "state": "absent"}),
                granted.clone(),
                vec!["revoke TEMPORARY on database appdb from report"],
            ),
            (
                json!({"db": "appdb", "privs": "SELECT", "objs": "ALL_IN_SCHEMA", "roles": "report"}),
                tables.clone(),
                vec!["grant SELECT on table orders to report"],
            ),
            (
                json!({"db": "appdb", "privs": "SELECT", "objs": ["items"], "roles": ["app", "report"]}),
                tables.clone(),
                vec![],
            ),
        ];
        for (args, out, want) in table {
            let p = privs(args.clone()).unwrap().plan(&facts(&out)).unwrap();
            assert_eq!(summaries(&p), want, "{args}");
        }
    }

    #[test]
    fn sql() {
        let p = privs(
            json!({"db": "appdb", "privs": "SELECT,INSERT", "objs": "orders", "roles": "app"}),
        )
        .unwrap();
        let plan = p.plan(&facts(&format!("orders{US}PUBLIC{US}\n"))).unwrap();
        let Run::Script(s) = &plan.run else { panic!() };
        assert!(
            s.contains("\nGRANT INSERT, SELECT ON TABLE \"public\".\"orders\" TO \"app\";\n"),
            "{s}"
        );
        assert!(s.contains("--dbname=appdb"), "{s}");
    }

    #[test]
    fn errors() {
        let p = privs(json!({"db": "appdb", "privs": "SELECT", "objs": "nope", "roles": "app"}))
            .unwrap();
        assert!(p.plan(&facts("")).unwrap_err().contains("does not exist"));
        assert!(p.plan("").is_err());
        assert!(
            privs(json!({"db": "appdb", "privs": "FLY", "objs": "t", "roles": "app"})).is_err()
        );
        assert!(privs(json!({"db": "appdb", "privs": "SELECT", "objs": "t"})).is_err());
        assert!(privs(json!({"db": "appdb", "type": "sequence", "privs": "USAGE", "objs": "s", "roles": "a"})).is_err());
    }
}

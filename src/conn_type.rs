//! `connection` (the keyword on plays, blocks, roles and tasks) and `ansible_connection` (the
//! variable): how plumb reaches a host, and which of the two wins.

use crate::error::{Error, Result};
use crate::yaml::Doc;
use marked_yaml::Node;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnType {
    /// plumb's SSH (Ansible's `ssh`, `smart` and `paramiko` all mean it).
    Ssh,
    /// The control machine itself.
    Local,
}

impl ConnType {
    /// A connection plugin's name, if plumb has it (with or without `ansible.builtin.`).
    pub(crate) fn named(name: &str) -> Option<ConnType> {
        match name.strip_prefix("ansible.builtin.").unwrap_or(name) {
            "ssh" | "smart" | "paramiko" | "paramiko_ssh" => Some(ConnType::Ssh),
            "local" => Some(ConnType::Local),
            _ => None,
        }
    }

    /// `connection: NAME`, checked where it is written.
    pub(crate) fn parse(doc: &Doc, node: &Node) -> Result<ConnType> {
        let name = crate::task_values::scalar_string(doc, node, "connection")?;
        if crate::template::has_template(&name) {
            return Err(Error::input(
                doc.loc(node),
                format!("a templated `connection: {name}` is not supported"),
            )
            .with_hint("write `local` or `ssh`, or set `ansible_connection` as a variable"));
        }
        ConnType::named(name.trim()).ok_or_else(|| {
            Error::input(
                doc.loc(node),
                format!("`connection: {name}` is not supported"),
            )
            .with_hint("plumb connects with `ssh` (also `smart`, `paramiko`) or `local`")
        })
    }

    /// The connection a task (or a host's play) uses: the `ansible_connection` variable when
    /// it is set, else the innermost `connection` keyword, else SSH. As in Ansible, the
    /// variable wins over the keyword (as `ansible_user` wins over `remote_user`).
    pub(crate) fn effective(var: Option<&Value>, keyword: Option<ConnType>) -> ConnType {
        var.and_then(Value::as_str)
            .and_then(ConnType::named)
            .or(keyword)
            .unwrap_or(ConnType::Ssh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_which_wins() {
        use ConnType::*;
        let table: &[(Option<Value>, Option<ConnType>, ConnType)] = &[
            (None, None, Ssh),
            (None, Some(Local), Local),
            (None, Some(Ssh), Ssh),
            (Some(json!("local")), None, Local),
            (Some(json!("local")), Some(Ssh), Local),
            (Some(json!("ssh")), Some(Local), Ssh),
            (Some(json!("smart")), Some(Local), Ssh),
            (Some(json!("ansible.builtin.local")), None, Local),
        ];
        for (var, kw, want) in table {
            assert_eq!(
                ConnType::effective(var.as_ref(), *kw),
                *want,
                "{var:?} {kw:?}"
            );
        }
        for (name, want) in [
            ("ssh", Some(Ssh)),
            ("paramiko", Some(Ssh)),
            ("ansible.builtin.paramiko_ssh", Some(Ssh)),
            ("smart", Some(Ssh)),
            ("local", Some(Local)),
            ("docker", None),
            ("winrm", None),
            ("ansible.netcommon.network_cli", None),
        ] {
            assert_eq!(ConnType::named(name), want, "{name}");
        }
    }

    #[test]
    fn parse_points_at_the_value() {
        let doc = Doc::parse("p.yml".into(), "connection: docker\n", false).unwrap();
        let Node::Mapping(m) = &doc.root else {
            unreachable!()
        };
        let e = ConnType::parse(&doc, m.get_node("connection").unwrap()).unwrap_err();
        let Error::Input { loc: Some(l), .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!((l.line, l.col), (1, 13));
        assert_eq!(e.to_string(), "`connection: docker` is not supported");
    }
}

//! Whether anything a run may evaluate can read a gathered fact. A play that gathers facts
//! nothing reads skips the gathering: on the host it is three processes and the largest part
//! of the probe's output, in every run (pyinfra gathers only what an operation asks for).
//!
//! Every text is seen as it is loaded: each YAML file (`yaml.rs`), an INI inventory, `-e`,
//! each template file. The answer is conservative: a name that may read a fact (`ansible_*`
//! but the connection and magic variables, `ansible_facts`), or that reads variables by a name
//! only known when evaluated (`hostvars`, `vars`, a lookup other than a few that read no
//! variables), anywhere in a template or a condition, is taken for one. A text loaded during
//! the run may turn the answer to yes: then a host that skipped gathering gathers before its
//! next task (an `include_vars` file, `HostRun::late_facts`), or before the task that read
//! the text is built again (a template named by a result, `HostRun::gather_for`).

use marked_yaml::Node;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a loaded text may read a fact; never unset (a run is one process).
static MAY_READ: AtomicBool = AtomicBool::new(false);

/// Whether a text loaded so far may read a gathered fact.
pub(crate) fn may_read() -> bool {
    MAY_READ.load(Ordering::SeqCst)
}

fn note(found: bool) {
    if found {
        MAY_READ.store(true, Ordering::SeqCst);
    }
}

/// A YAML document: its templated scalars, and the whole values of the keys Ansible
/// evaluates as bare expressions (`when`, `that`, `debug: var=`).
pub(crate) fn note_doc(root: &Node) {
    if !may_read() {
        note(node_reads(root, false));
    }
}

/// Variables given as plain data (`-e`, `vars_prompt`'s answers): their templated strings.
pub(crate) fn note_vars(vars: &serde_json::Map<String, Value>) {
    if !may_read() {
        note(vars.values().any(value_reads));
    }
}

/// A template file's source, or any text whose `{{ }}` and `{% %}` parts are evaluated.
pub(crate) fn note_text(text: &str) {
    // Every host's build reads the same template: scanned once per run.
    static SCANNED: crate::run_memo::RunMemo<()> = crate::run_memo::RunMemo::new(1024);
    if !may_read() {
        let _ = SCANNED.get_or(text, || {
            note(reads(text, false));
            Ok::<_, ()>(())
        });
    }
}

/// Keys whose values Ansible evaluates as expressions without `{{ }}`, and a loop's value in
/// case it is a bare name; free-form `debug: var=x` and `assert: that=x` when `scalar`.
fn bare_key(key: &str, scalar: bool) -> bool {
    let k = key.rsplit('.').next().unwrap_or(key);
    matches!(
        k,
        "when" | "changed_when" | "failed_when" | "until" | "that" | "var" | "loop"
    ) || k.starts_with("with_")
        || (scalar && matches!(k, "debug" | "assert"))
}

fn node_reads(node: &Node, bare: bool) -> bool {
    match node {
        Node::Scalar(s) => reads(s.as_str(), bare),
        Node::Sequence(seq) => seq.iter().any(|n| node_reads(n, bare)),
        Node::Mapping(m) => m.iter().any(|(k, v)| {
            let scalar = matches!(v, Node::Scalar(_));
            node_reads(v, bare || bare_key(k.as_str(), scalar))
        }),
    }
}

fn value_reads(v: &Value) -> bool {
    match v {
        Value::String(s) => reads(s, false),
        Value::Array(a) => a.iter().any(value_reads),
        Value::Object(o) => o.values().any(value_reads),
        _ => false,
    }
}

/// Whether `text` may read a fact: its `{{ }}` and `{% %}` parts, or all of it when `bare`.
pub(crate) fn reads(text: &str, bare: bool) -> bool {
    if bare {
        return expr_reads(text);
    }
    let mut rest = text;
    while let Some(at) = rest.find('{') {
        let after = &rest[at + 1..];
        let close = match after.as_bytes().first() {
            Some(b'{') => "}}",
            Some(b'%') => "%}",
            _ => {
                rest = after;
                continue;
            }
        };
        let body = &after[1..];
        let end = body.find(close).unwrap_or(body.len());
        if expr_reads(&body[..end]) {
            return true;
        }
        rest = &body[end..];
    }
    false
}

/// `ansible_*` names that no gathering defines: the connection's and the run's.
const MAGIC: &[&str] = &[
    "ansible_check_mode",
    "ansible_diff_mode",
    "ansible_failed_result",
    "ansible_failed_task",
    "ansible_forks",
    "ansible_index_var",
    "ansible_limit",
    "ansible_loop",
    "ansible_loop_var",
    "ansible_managed",
    "ansible_play_batch",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_version",
];

/// Lookups that read no variables: what they return does not depend on the facts.
const PLAIN_LOOKUPS: &[&str] = &[
    "config",
    "csvfile",
    "dict",
    "env",
    "file",
    "fileglob",
    "first_found",
    "indexed_items",
    "ini",
    "items",
    "lines",
    "list",
    "nested",
    "password",
    "pipe",
    "random_choice",
    "sequence",
    "subelements",
    "together",
    "unvault",
    "url",
];

fn name_reads(name: &str) -> bool {
    match name {
        "hostvars" | "vars" | "ansible_facts" | "ansible_local" => true,
        n if n.starts_with("ansible_") => {
            // The magic names plumb does not set (`magic::NOT_SET`) count too: guarded, they
            // are rare.
            !(crate::facts::is_connection(n) || MAGIC.contains(&n))
        }
        _ => false,
    }
}

/// Whether a Jinja expression or statement may read a fact. String literals are read as
/// names too (only a lookup's plugin name is taken as what it is): a false yes costs a
/// gathering, a false no would cost an undefined fact.
fn expr_reads(expr: &str) -> bool {
    let b = expr.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c.is_ascii_alphabetic() || c == b'_') || (i > 0 && is_ident(b[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_ident(b[i]) {
            i += 1;
        }
        // An attribute (`x.vars`) is not the variable of that name; its object is read anyway.
        let attribute = start > 0 && b[start - 1] == b'.';
        let name = &expr[start..i];
        if !attribute && name_reads(name) {
            return true;
        }
        if matches!(name, "lookup" | "query" | "q") && lookup_reads(&expr[i..]) {
            return true;
        }
    }
    false
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// After `lookup`: a call of a plugin that reads variables (or of one whose name is not
/// written as a literal).
fn lookup_reads(after: &str) -> bool {
    let Some(args) = after.trim_start().strip_prefix('(') else {
        return false;
    };
    let args = args.trim_start();
    let Some(q) = args.chars().next().filter(|c| matches!(c, '\'' | '"')) else {
        return true;
    };
    let Some(end) = args[1..].find(q) else {
        return true;
    };
    let plugin = &args[1..1 + end];
    let plugin = plugin.strip_prefix("ansible.builtin.").unwrap_or(plugin);
    !PLAIN_LOOKUPS.contains(&plugin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_that_may_read_a_fact() {
        // (text, bare) → may read a fact
        let table = [
            ("{{ app_dir }}/static", false, false),
            ("plain text with ansible_hostname in it", false, false),
            ("{{ ansible_hostname }}", false, true),
            ("{{ ansible_facts['os_family'] }}", false, true),
            ("{{ ansible_facts.distribution }}", false, true),
            (
                "{% if ansible_os_family == 'Debian' %}x{% endif %}",
                false,
                true,
            ),
            ("{{ ansible_env.HOME }}/bin", false, true),
            ("{{ ansible_local.app.version }}", false, true),
            ("{{ ansible_user }}@{{ ansible_host }}", false, false),
            ("{{ ansible_python_interpreter }}", false, false),
            ("{{ ansible_play_hosts | length }}", false, false),
            ("{{ ansible_managed }}", false, false),
            ("{{ ansible_check_mode }}", false, false),
            ("{{ ansible_custom_thing }}", false, true),
            ("{{ hostvars[groups.db[0]].x }}", false, true),
            ("{{ vars['app_' + name] }}", false, true),
            ("{{ item.vars }}", false, false),
            ("{{ lookup('env', 'HOME') }}", false, false),
            ("{{ lookup('ansible.builtin.file', 'x') }}", false, false),
            ("{{ query('vars', 'a') }}", false, true),
            ("{{ lookup('template', 'x.j2') }}", false, true),
            ("{{ lookup(plugin, 'x') }}", false, true),
            ("{{ q('varnames', '^a') }}", false, true),
            ("{% for q in items %}{{ q }}{% endfor %}", false, false),
            ("{# ansible_hostname #}", false, false),
            ("ansible_os_family == 'Debian'", true, true),
            ("home.status == 200", true, false),
            ("'Hello' in home.content", true, false),
            ("{{ unterminated ansible_hostname", false, true),
        ];
        for (text, bare, want) in table {
            assert_eq!(reads(text, bare), want, "{text:?} bare={bare}");
        }
    }

    #[test]
    fn bare_expressions_are_found_by_their_keys() {
        let yaml = |text: &str| {
            crate::yaml_load::load(&std::sync::Arc::new("t.yml".into()), text, false).unwrap()
        };
        let table = [
            ("debug: {msg: hi}\nwhen: x == 1\n", false),
            (
                "debug: {msg: hi}\nwhen: ansible_distribution == 'Debian'\n",
                true,
            ),
            (
                "debug: {msg: hi}\nwhen: [a, ansible_fqdn is defined]\n",
                true,
            ),
            ("debug: var=ansible_hostname\n", true),
            ("debug: {msg: the vars and ansible_facts docs}\n", false),
            ("ansible.builtin.debug: {var: hostvars}\n", true),
            ("assert: {that: [ansible_memtotal_mb > 512]}\n", true),
            ("with_items: ansible_interfaces\n", true),
            (
                "name: vars and ansible_hostname named in prose\ncommand: ls\n",
                false,
            ),
            ("vars: {a: 1}\ntasks: []\n", false),
            ("vars: {a: '{{ ansible_nodename }}'}\n", true),
        ];
        for (text, want) in table {
            assert_eq!(node_reads(&yaml(text), false), want, "{text}");
        }
    }
}

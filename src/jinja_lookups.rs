//! `lookup()` and `query()`/`q()`: Ansible's lookup plugins that run on the control machine
//! (`file`, `env`, `template`, `pipe`, `vars`, `first_found`, `fileglob`, `password`, and the
//! loop helpers `items`, `dict`, `lines`, `sequence`, `subelements`, `nested`, `together`,
//! `indexed_items`, `list`).

use crate::filter_err::err;
use crate::py_value::py_str;
use crate::render_ctx::RenderCtx;
use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error};
use serde_json::Map;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a relative file path is looked for: role/extra dirs, then the playbook's `files/`
/// and folder, then the template's folder.
fn find_file(ctx: &RenderCtx, name: &str, sub: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.exists().then(|| p.to_path_buf());
    }
    let mut dirs = vec![];
    for d in &ctx.search_dirs {
        dirs.push(d.join(sub));
        dirs.push(d.clone());
    }
    if let Some(pb) = &ctx.playbook_dir {
        dirs.push(pb.join(sub));
        dirs.push(pb.clone());
    }
    if let Some(t) = &ctx.template_dir {
        dirs.push(t.join(sub));
        dirs.push(t.clone());
    }
    dirs.into_iter().map(|d| d.join(name)).find(|c| c.exists())
}

fn with_kwargs(args: &[Value], kwargs: Kwargs) -> (Vec<Value>, Option<Value>) {
    let kw = if kwargs.args().count() > 0 {
        Some(Value::from(kwargs))
    } else {
        None
    };
    (args.to_vec(), kw)
}

fn kw_get(kw: &Option<Value>, name: &str) -> Option<Value> {
    kw.as_ref()
        .and_then(|k| k.get_attr(name).ok())
        .filter(|v| !v.is_undefined())
}

fn flat_terms(terms: &[Value]) -> Vec<Value> {
    let mut out = vec![];
    for t in terms {
        if t.kind() == ValueKind::Seq {
            out.extend(t.try_iter().into_iter().flatten());
        } else {
            out.push(t.clone());
        }
    }
    out
}

fn seq(v: &Value) -> Vec<Value> {
    v.try_iter().map(|i| i.collect()).unwrap_or_default()
}

fn password(ctx: &RenderCtx, term: &str, kw: &Option<Value>) -> Result<Value, Error> {
    // `path chars=ascii_letters,digits length=20` or keyword arguments
    let mut parts = term.split_whitespace();
    let path = parts.next().unwrap_or_default().to_string();
    let mut length: usize = 20;
    let mut chars_spec: Vec<String> = vec![];
    for p in parts {
        if let Some((k, v)) = p.split_once('=') {
            match k {
                "length" => length = v.parse().unwrap_or(20),
                "chars" => chars_spec = v.split(',').map(String::from).collect(),
                _ => {}
            }
        }
    }
    if let Some(l) = kw_get(kw, "length").and_then(|l| l.as_usize()) {
        length = l;
    }
    if let Some(c) = kw_get(kw, "chars") {
        chars_spec = if c.kind() == ValueKind::Seq {
            seq(&c).iter().map(py_str).collect()
        } else {
            py_str(&c).split(',').map(String::from).collect()
        };
    }
    let target = if path == "/dev/null" {
        None
    } else if Path::new(&path).is_absolute() {
        Some(PathBuf::from(&path))
    } else {
        Some(ctx.playbook_dir.clone().unwrap_or_default().join(&path))
    };
    if let Some(t) = &target
        && let Ok(existing) = std::fs::read_to_string(t)
    {
        let first = existing.lines().next().unwrap_or_default();
        let pw = first.split(" salt=").next().unwrap_or_default();
        return Ok(Value::from(pw));
    }
    let mut alphabet = String::new();
    if chars_spec.is_empty() {
        chars_spec = vec!["ascii_letters".into(), "digits".into(), ".,:-_".into()];
    }
    for c in chars_spec {
        match c.as_str() {
            "ascii_letters" => {
                alphabet.push_str("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
            }
            "ascii_lowercase" => alphabet.push_str("abcdefghijklmnopqrstuvwxyz"),
            "ascii_uppercase" => alphabet.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
            "digits" => alphabet.push_str("0123456789"),
            "hexdigits" => alphabet.push_str("0123456789abcdefABCDEF"),
            "octdigits" => alphabet.push_str("01234567"),
            "punctuation" => alphabet.push_str("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
            other => alphabet.push_str(other),
        }
    }
    let alphabet: Vec<char> = alphabet.chars().collect();
    let mut rng = crate::py_random::PyRandom::from_entropy();
    let pw: String = (0..length)
        .map(|_| alphabet[rng.randbelow(alphabet.len() as u64) as usize])
        .collect();
    if let Some(t) = &target {
        if let Some(dir) = t.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(format!("password lookup: {e}")))?;
        }
        std::fs::write(t, format!("{pw}\n"))
            .map_err(|e| err(format!("password lookup: {}: {e}", t.display())))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(t, std::fs::Permissions::from_mode(0o600));
        }
    }
    Ok(Value::from(pw))
}

fn glob_match(pat: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pat.chars().collect(), name.chars().collect());
    fn m(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).any(|i| m(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && m(&p[1..], &n[1..]),
            Some(c) => n.first() == Some(c) && m(&p[1..], &n[1..]),
        }
    }
    m(&p, &n)
}

/// Run one lookup; the result is always a list (query's form).
fn run(
    (vars, ctx): &(Value, RenderCtx),
    render: Render,
    name: &str,
    terms: Vec<Value>,
    kw: Option<Value>,
) -> Result<Vec<Value>, Error> {
    let name = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    let strs = || terms.iter().map(py_str).collect::<Vec<_>>();
    Ok(match name {
        "env" => {
            let names = strs();
            // plumb's own variables (PLUMB_*) carry secrets (the sudo password): no template
            // reads them, even if one were still set.
            if let Some(t) = names
                .iter()
                .find(|t| t.to_ascii_uppercase().starts_with("PLUMB_"))
            {
                return Err(err(format!(
                    "lookup('env', '{t}'): plumb's own variables (PLUMB_*) are not readable from templates"
                )));
            }
            names
                .iter()
                .map(|t| match std::env::var(t) {
                    Ok(v) => Value::from(v),
                    Err(_) => kw_get(&kw, "default").unwrap_or(Value::from("")),
                })
                .collect()
        }
        "file" => {
            let rstrip = kw_get(&kw, "rstrip").map(|v| v.is_true()).unwrap_or(true);
            let lstrip = kw_get(&kw, "lstrip").map(|v| v.is_true()).unwrap_or(false);
            let mut out = vec![];
            for t in strs() {
                let p = find_file(ctx, &t, "files").ok_or_else(|| {
                    err(format!(
                        "The 'file' lookup had an issue accessing the file '{t}'. file not found"
                    ))
                })?;
                let mut s = std::fs::read_to_string(&p)
                    .map_err(|e| err(format!("file lookup: {}: {e}", p.display())))?;
                if rstrip {
                    s = s.trim_end().to_string();
                }
                if lstrip {
                    s = s.trim_start().to_string();
                }
                out.push(Value::from(s));
            }
            out
        }
        "template" => {
            let mut out = vec![];
            for t in strs() {
                let p = find_file(ctx, &t, "templates").ok_or_else(|| {
                    err(format!(
                        "the template file {t} could not be found for the lookup"
                    ))
                })?;
                let src = std::fs::read_to_string(&p).map_err(|e| err(e.to_string()))?;
                let mut ctx = ctx.clone();
                ctx.template_dir = p.parent().map(Path::to_path_buf);
                let json_vars = Arc::new(match crate::py_value::to_json(vars) {
                    serde_json::Value::Object(m) => m,
                    _ => Default::default(),
                });
                let r = render(&src, &json_vars, &ctx).map_err(err)?;
                out.push(Value::from(r));
            }
            out
        }
        "pipe" => strs()
            .iter()
            .map(|cmd| {
                let o = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(cmd)
                    .output()
                    .map_err(|e| err(e.to_string()))?;
                if !o.status.success() {
                    return Err(err(format!(
                        "lookup_plugin.pipe({cmd}) returned {}",
                        o.status.code().unwrap_or(-1)
                    )));
                }
                Ok(Value::from(
                    String::from_utf8_lossy(&o.stdout).trim_end().to_string(),
                ))
            })
            .collect::<Result<Vec<_>, _>>()?,
        "vars" => strs()
            .iter()
            .map(
                |t| match vars.as_object().and_then(|o| o.get_value_by_str(t)) {
                    Some(v) => Ok(v),
                    None => kw_get(&kw, "default").ok_or_else(|| {
                        Error::new(
                            minijinja::ErrorKind::UndefinedError,
                            format!("No variable found with this name: {t}"),
                        )
                    }),
                },
            )
            .collect::<Result<Vec<_>, _>>()?,
        "first_found" => {
            let mut files = vec![];
            let mut paths: Vec<String> = vec![];
            for t in flat_terms(&terms) {
                if t.kind() == ValueKind::Map {
                    files.extend(
                        seq(&t.get_attr("files").unwrap_or_default())
                            .iter()
                            .map(py_str),
                    );
                    paths.extend(
                        seq(&t.get_attr("paths").unwrap_or_default())
                            .iter()
                            .map(py_str),
                    );
                } else {
                    files.push(py_str(&t));
                }
            }
            if let Some(f) = kw_get(&kw, "files") {
                files.extend(seq(&f).iter().map(py_str));
            }
            if let Some(p) = kw_get(&kw, "paths") {
                paths.extend(seq(&p).iter().map(py_str));
            }
            let skip = kw_get(&kw, "skip").map(|v| v.is_true()).unwrap_or(false);
            // Where a role's relative names are looked for: `files/`, or for a task's
            // `with_first_found` the folder of its module's kind (see `TaskInstance::items`).
            let sub = kw_get(&kw, "_subdir").map(|v| py_str(&v));
            let sub = sub.as_deref().unwrap_or("files");
            let mut found = None;
            'outer: for f in &files {
                if paths.is_empty() {
                    if let Some(p) = find_file(ctx, f, sub) {
                        found = Some(p);
                        break;
                    }
                } else {
                    for d in &paths {
                        let c = Path::new(d).join(f);
                        let c = if c.is_absolute() {
                            Some(c)
                        } else {
                            find_file(ctx, &c.to_string_lossy(), sub)
                        };
                        if let Some(c) = c.filter(|c| c.exists()) {
                            found = Some(c);
                            break 'outer;
                        }
                    }
                }
            }
            match found {
                Some(p) => vec![Value::from(p.display().to_string())],
                None if skip => vec![],
                None => return Err(err("No file was found when using first_found.")),
            }
        }
        "fileglob" => {
            let mut out = vec![];
            for t in strs() {
                let p = Path::new(&t);
                let (dir, pat) = (
                    p.parent().map(Path::to_path_buf).unwrap_or_default(),
                    p.file_name()
                        .map(|f| f.to_string_lossy().to_string())
                        .unwrap_or_default(),
                );
                let dir = if dir.is_absolute() {
                    Some(dir)
                } else {
                    find_file(ctx, &dir.to_string_lossy(), "files").or_else(|| {
                        ctx.playbook_dir
                            .as_ref()
                            .map(|d| d.join("files").join(&dir))
                    })
                };
                let Some(dir) = dir else { continue };
                let mut found: Vec<String> = std::fs::read_dir(&dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter(|e| {
                        e.path().is_file() && glob_match(&pat, &e.file_name().to_string_lossy())
                    })
                    .map(|e| e.path().display().to_string())
                    .collect();
                found.sort();
                out.extend(found.into_iter().map(Value::from));
            }
            out
        }
        "password" => strs()
            .iter()
            .map(|t| password(ctx, t, &kw))
            .collect::<Result<Vec<_>, _>>()?,
        "items" => flat_terms(&terms),
        "list" => terms.clone(),
        "dict" => {
            let mut out = vec![];
            for t in &terms {
                if t.kind() != ValueKind::Map {
                    return Err(err("with_dict expects a dict"));
                }
                for k in seq(t) {
                    let v = t.get_item(&k).unwrap_or_default();
                    out.push(crate::py_value::map_from([("key", k), ("value", v)]));
                }
            }
            out
        }
        "lines" => {
            let mut out = vec![];
            for cmd in strs() {
                let o = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(&cmd)
                    .output()
                    .map_err(|e| err(e.to_string()))?;
                out.extend(
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .map(|l| Value::from(l.to_string())),
                );
            }
            out
        }
        "indexed_items" => flat_terms(&terms)
            .into_iter()
            .enumerate()
            .map(|(i, v)| Value::from(vec![Value::from(i), v]))
            .collect(),
        "together" => {
            let lists: Vec<Vec<Value>> = terms.iter().map(seq).collect();
            let n = lists.iter().map(Vec::len).max().unwrap_or(0);
            (0..n)
                .map(|i| {
                    Value::from(
                        lists
                            .iter()
                            .map(|l| l.get(i).cloned().unwrap_or(Value::from(())))
                            .collect::<Vec<_>>(),
                    )
                })
                .collect()
        }
        "nested" => {
            let mut acc: Vec<Vec<Value>> = vec![vec![]];
            for t in &terms {
                let l = seq(t);
                acc = acc
                    .into_iter()
                    .flat_map(|p| {
                        l.iter().map(move |x| {
                            let mut q = p.clone();
                            q.push(x.clone());
                            q
                        })
                    })
                    .collect();
            }
            acc.into_iter().map(Value::from).collect()
        }
        "subelements" => {
            let list = terms.first().cloned().unwrap_or_default();
            let key = terms.get(1).map(py_str).unwrap_or_default();
            let skip = terms
                .get(2)
                .and_then(|f| f.get_attr("skip_missing").ok())
                .map(|v| v.is_true())
                .unwrap_or(false);
            let mut out = vec![];
            for x in seq(&list) {
                let sub = x.get_attr(&key).unwrap_or_default();
                if sub.is_undefined() {
                    if skip {
                        continue;
                    }
                    return Err(err(format!("could not find '{key}' key in iterated item")));
                }
                for s in seq(&sub) {
                    out.push(Value::from(vec![x.clone(), s]));
                }
            }
            out
        }
        "sequence" => {
            let mut out = vec![];
            for t in strs() {
                let (mut start, mut end, mut stride, mut fmt) =
                    (1i64, None::<i64>, 1i64, "%d".to_string());
                let mut count = None::<i64>;
                for part in t.split_whitespace() {
                    match part.split_once('=') {
                        Some(("start", v)) => start = parse_num(v),
                        Some(("end", v)) => end = Some(parse_num(v)),
                        Some(("count", v)) => count = Some(parse_num(v)),
                        Some(("stride", v)) => stride = parse_num(v),
                        Some(("format", v)) => fmt = v.to_string(),
                        _ => {
                            // shortcut form: [start-]end[/stride][:format]
                            let (p, f) = part
                                .split_once(':')
                                .map(|(a, b)| (a, Some(b)))
                                .unwrap_or((part, None));
                            if let Some(f) = f {
                                fmt = f.to_string();
                            }
                            let (p, s) = p
                                .split_once('/')
                                .map(|(a, b)| (a, Some(b)))
                                .unwrap_or((p, None));
                            if let Some(s) = s {
                                stride = parse_num(s);
                            }
                            match p.split_once('-') {
                                Some((a, b)) if !a.is_empty() => {
                                    start = parse_num(a);
                                    end = Some(parse_num(b));
                                }
                                _ => end = Some(parse_num(p)),
                            }
                        }
                    }
                }
                if let Some(c) = count {
                    end = Some(start + (c - 1) * stride);
                }
                let end = end.ok_or_else(|| err("must specify count or end in with_sequence"))?;
                let mut i = start;
                if stride == 0 {
                    continue;
                }
                while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
                    out.push(Value::from(crate::py_format::percent_format(
                        &fmt,
                        &Value::from(i),
                    )?));
                    i += stride;
                }
            }
            out
        }
        other => return Err(err(format!("lookup plugin ({other}) not found"))),
    })
}

fn parse_num(s: &str) -> i64 {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).unwrap_or(0);
    }
    if let Some(o) = s.strip_prefix("0o") {
        return i64::from_str_radix(o, 8).unwrap_or(0);
    }
    s.parse().unwrap_or(0)
}

/// The render a lookup runs in (its variables as the template sees them, and its folders),
/// given by the template engine, which sits above the lookups.
type Scope = fn() -> Option<(Value, RenderCtx)>;

/// `lookup('template')`: renders a template file, as the template engine does.
type Render = fn(&str, &Arc<Map<String, serde_json::Value>>, &RenderCtx) -> Result<String, String>;

fn current(scope: Scope) -> Result<(Value, RenderCtx), Error> {
    scope().ok_or_else(|| err("a lookup outside of a render"))
}

pub(crate) fn register(env: &mut Environment<'static>, scope: Scope, render: Render) {
    let lookup = move |name: String, args: Rest<Value>, kwargs: Kwargs| -> Result<Value, Error> {
        let (terms, kw) = with_kwargs(&args, kwargs);
        let wantlist = kw_get(&kw, "wantlist")
            .map(|w| w.is_true())
            .unwrap_or(false);
        let out = run(&current(scope)?, render, &name, terms, kw)?;
        if wantlist {
            return Ok(Value::from(out));
        }
        // lookup() joins several results with commas, as Ansible does
        Ok(match out.len() {
            0 => Value::from(out),
            1 => out.into_iter().next().unwrap_or_default(),
            _ if out.iter().all(|x| x.kind() == ValueKind::String) => {
                Value::from(out.iter().map(py_str).collect::<Vec<_>>().join(","))
            }
            _ => Value::from(out),
        })
    };
    env.add_function("lookup", lookup);
    let query = move |name: String, args: Rest<Value>, kwargs: Kwargs| -> Result<Value, Error> {
        let (terms, kw) = with_kwargs(&args, kwargs);
        Ok(Value::from(run(
            &current(scope)?,
            render,
            &name,
            terms,
            kw,
        )?))
    };
    env.add_function("query", query);
    env.add_function("q", query);
    env.add_function(
        "dict",
        |args: Rest<Value>, kwargs: Kwargs| -> Result<Value, Error> {
            let (pos, kw) = with_kwargs(&args, kwargs);
            let mut pairs: Vec<(Value, Value)> = vec![];
            for p in pos {
                if p.kind() == ValueKind::Map {
                    for k in seq(&p) {
                        let x = p.get_item(&k).unwrap_or_default();
                        pairs.push((k, x));
                    }
                } else {
                    for pair in seq(&p) {
                        let kv = seq(&pair);
                        pairs.push((
                            kv.first().cloned().unwrap_or_default(),
                            kv.get(1).cloned().unwrap_or_default(),
                        ));
                    }
                }
            }
            if let Some(k) = kw {
                for key in seq(&k) {
                    let x = k.get_item(&key).unwrap_or_default();
                    pairs.push((key, x));
                }
            }
            Ok(crate::py_value::map_from(pairs))
        },
    );
}

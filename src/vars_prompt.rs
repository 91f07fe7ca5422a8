//! `vars_prompt`: play variables asked on the terminal before the run, as Ansible asks them
//! (`private` answers are not echoed; an empty answer takes the `default`). A variable given
//! with `-e` is not asked.

use crate::error::{Error, Result};
use crate::location::Location;
use crate::task::{boolean, scalar_string};
use crate::yaml::{self, Doc};
use marked_yaml::Node;
use serde_json::{Map, Value};
use std::io::{BufRead, Write};

#[derive(Debug, Clone)]
pub(crate) struct VarPrompt {
    pub(crate) name: String,
    pub(crate) prompt: String,
    pub(crate) private: bool,
    pub(crate) default: Option<Value>,
    pub(crate) loc: Location,
}

/// `vars_prompt:` a list of `{name, prompt, private, default}`.
pub(crate) fn parse(doc: &Doc, node: &Node) -> Result<Vec<VarPrompt>> {
    let Node::Sequence(seq) = node else {
        return Err(Error::input(
            doc.loc(node),
            format!("`vars_prompt` must be a list, found {}", yaml::kind(node)),
        ));
    };
    let mut out = Vec::new();
    for item in seq.iter() {
        let Node::Mapping(m) = item else {
            return Err(Error::input(
                doc.loc(item),
                "each `vars_prompt` entry is a mapping with `name` and `prompt`",
            ));
        };
        let mut p = VarPrompt {
            name: String::new(),
            prompt: String::new(),
            private: true,
            default: None,
            loc: doc.loc(item),
        };
        for (k, v) in m.iter() {
            match k.as_str() {
                "name" => p.name = scalar_string(doc, v, "name")?,
                "prompt" => p.prompt = scalar_string(doc, v, "prompt")?,
                "private" => p.private = boolean(doc, v, "private")?,
                "default" => p.default = Some(yaml::to_value(v)),
                "unsafe" => {}
                other => {
                    return Err(Error::input(
                        doc.key_loc(k),
                        format!("`{other}` is not supported in `vars_prompt`"),
                    )
                    .with_hint(
                        "an entry takes `name`, `prompt`, `private`, `default` and `unsafe`",
                    ));
                }
            }
        }
        if p.name.is_empty() {
            return Err(Error::input(
                p.loc,
                "this `vars_prompt` entry has no `name`",
            ));
        }
        if p.prompt.is_empty() {
            p.prompt = p.name.clone();
        }
        out.push(p);
    }
    Ok(out)
}

/// The answers to a play's prompts, those `-e` gives left out. Without `ask` (validation)
/// each takes its default, or an empty string.
pub(crate) fn answers(
    prompts: &[VarPrompt],
    extra: &Map<String, Value>,
    ask: bool,
) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    for p in prompts.iter().filter(|p| !extra.contains_key(&p.name)) {
        let value = if ask {
            ask_one(p)?
        } else {
            p.default.clone().unwrap_or(Value::String(String::new()))
        };
        out.insert(p.name.clone(), value);
    }
    // An answer is a template too (unless `unsafe`): it may read a fact.
    crate::fact_need::note_vars(&out);
    Ok(out)
}

fn ask_one(p: &VarPrompt) -> Result<Value> {
    let no_tty = |e: std::io::Error| {
        Error::input(
            p.loc.clone(),
            format!(
                "`vars_prompt` asks for `{}`, but there is no terminal to ask on ({e})",
                p.name
            ),
        )
        .with_hint(format!("give it with `-e {}=VALUE`", p.name))
    };
    let text = match &p.default {
        Some(d) => format!(
            "{} [{}]: ",
            p.prompt,
            d.as_str()
                .map(String::from)
                .unwrap_or_else(|| d.to_string())
        ),
        None => format!("{}: ", p.prompt),
    };
    let answer = if p.private {
        crate::prompt::password(&text).map_err(no_tty)?
    } else {
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .map_err(no_tty)?;
        let mut out = &tty;
        let _ = write!(out, "{text}");
        let _ = out.flush();
        let mut line = String::new();
        std::io::BufReader::new(&tty)
            .read_line(&mut line)
            .map_err(no_tty)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    Ok(match (&p.default, answer.is_empty()) {
        (Some(d), true) => d.clone(),
        _ => Value::String(answer),
    })
}

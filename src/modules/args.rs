//! Typed access to a module's rendered arguments, with errors that point at the argument.

use crate::error::{Error, Result};
use crate::location::Location;
use crate::template::truthy;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// A task's arguments as written, with where each key and value was written.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) map: Map<String, Value>,
    /// Where each argument's value was written.
    pub(crate) locs: HashMap<String, Location>,
    /// Where each argument's key was written.
    pub(crate) key_locs: HashMap<String, Location>,
    pub(crate) loc: Location,
}

impl Args {
    pub(crate) fn loc_of(&self, key: &str) -> &Location {
        self.locs.get(key).unwrap_or(&self.loc)
    }

    pub(crate) fn key_loc(&self, key: &str) -> &Location {
        self.key_locs.get(key).unwrap_or(&self.loc)
    }
}

pub(crate) struct Getter<'a> {
    map: &'a Map<String, Value>,
    args: &'a Args,
}

impl<'a> Getter<'a> {
    pub(crate) fn new(map: &'a Map<String, Value>, args: &'a Args) -> Getter<'a> {
        Getter { map, args }
    }

    pub(crate) fn loc(&self, key: &str) -> Location {
        self.args.loc_of(key).clone()
    }

    /// Every rendered argument.
    pub(crate) fn map(&self) -> &Map<String, Value> {
        self.map
    }

    pub(crate) fn raw(&self, key: &str) -> Option<&Value> {
        self.map.get(key)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.get(key).is_some_and(|v| !v.is_null())
    }

    pub(crate) fn err(&self, key: &str, msg: impl Into<String>) -> Error {
        Error::input(self.loc(key), msg)
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<String>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            // Ansible converts a module's string argument with Python's `str`.
            Some(Value::Bool(b)) => Ok(Some(if *b { "True" } else { "False" }.into())),
            Some(other) => Err(self.err(
                key,
                format!("`{key}` must be a string, found {}", type_name(other)),
            )),
        }
    }

    pub(crate) fn str(&self, key: &str) -> Result<String> {
        self.opt_str(key)?
            .ok_or_else(|| Error::input(self.args.loc.clone(), format!("`{key}` is required")))
    }

    /// An absolute path on the host.
    pub(crate) fn opt_path(&self, key: &str) -> Result<Option<String>> {
        match self.opt_str(key)? {
            None => Ok(None),
            Some(p) if p.starts_with('/') => {
                let trimmed = p.trim_end_matches('/');
                Ok(Some(if trimmed.is_empty() {
                    "/".into()
                } else {
                    trimmed.to_string()
                }))
            }
            Some(p) => Err(self.err(
                key,
                format!("`{key}` must be an absolute path, found `{p}`"),
            )),
        }
    }

    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v @ Value::String(s))
                if matches!(
                    s.to_ascii_lowercase().as_str(),
                    "yes" | "no" | "true" | "false" | "on" | "off" | "1" | "0"
                ) =>
            {
                Ok(Some(truthy(v)))
            }
            Some(other) => {
                Err(self.err(key, format!("`{key}` must be true or false, found {other}")))
            }
        }
    }

    pub(crate) fn bool(&self, key: &str, default: bool) -> Result<bool> {
        Ok(self.opt_bool(key)?.unwrap_or(default))
    }

    pub(crate) fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(Value::String(s)) if s.parse::<u64>().is_ok() => Ok(s.parse().ok()),
            Some(other) => Err(self.err(
                key,
                format!("`{key}` must be a whole number, found {other}"),
            )),
        }
    }

    /// A list of strings; a single string or a comma-separated string also works (Ansible).
    pub(crate) fn list(&self, key: &str) -> Result<Vec<String>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    other => Err(self.err(
                        key,
                        format!("`{key}` must be a list of strings, found {other}"),
                    )),
                })
                .collect(),
            Some(other) => Err(self.err(
                key,
                format!("`{key}` must be a list, found {}", type_name(other)),
            )),
        }
    }

    /// One of `allowed`, or `default` when absent.
    pub(crate) fn choice(&self, key: &str, allowed: &[&str], default: &str) -> Result<String> {
        let v = self.opt_str(key)?.unwrap_or_else(|| default.to_string());
        if allowed.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(self.err(
                key,
                format!(
                    "`{key}: {v}` is not valid; use one of: {}",
                    allowed.join(", ")
                ),
            ))
        }
    }

    /// A file mode: octal digits as a string (`"0644"`) or as Ansible's YAML number (`0644`,
    /// which plumb keeps as written), or symbolic-free `u=rw` forms rejected clearly.
    pub(crate) fn opt_mode(&self, key: &str) -> Result<Option<u32>> {
        let Some(text) = self.opt_str(key)? else {
            return Ok(None);
        };
        let digits = text.trim();
        if !digits.is_empty()
            && digits.len() <= 5
            && digits.chars().all(|c| ('0'..='7').contains(&c))
        {
            return Ok(Some(u32::from_str_radix(digits, 8).expect("octal digits")));
        }
        Err(self.err(
            key,
            format!("`{key}: {text}` is not an octal mode; write it quoted, like \"0644\""),
        ))
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

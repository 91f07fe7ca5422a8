//! Mutable lists and dicts for Jinja2's `{% set l = [] %}{% set _ = l.append(x) %}` idiom, which
//! Ansible templates use and MiniJinja's immutable values cannot do. `{% set name = [] %}` and
//! `{% set name = {} %}` are rewritten to create these; they print and iterate like the built-ins.

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};
use std::sync::{Arc, Mutex};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Debug, Default)]
struct MutList(Mutex<Vec<Value>>);

impl Object for MutList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = lock(&self.0);
        let i = key.as_i64()?;
        let i = if i < 0 { items.len() as i64 + i } else { i };
        items.get(usize::try_from(i).ok()?).cloned()
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(lock(&self.0).clone())
    }
    fn call_method(
        self: &Arc<Self>,
        state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
        match method {
            "append" => lock(&self.0).push(arg(0)),
            "extend" => {
                let more: Vec<Value> = arg(0).try_iter()?.collect();
                lock(&self.0).extend(more);
            }
            "insert" => {
                let mut items = lock(&self.0);
                let at = arg(0).as_i64().unwrap_or(0).clamp(0, items.len() as i64) as usize;
                items.insert(at, arg(1));
            }
            "pop" => {
                let mut items = lock(&self.0);
                let n = items.len() as i64;
                let i = args.first().and_then(Value::as_i64).unwrap_or(-1);
                let i = if i < 0 { n + i } else { i };
                if i < 0 || i >= n {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "pop index out of range",
                    ));
                }
                return Ok(items.remove(i as usize));
            }
            "remove" => {
                let mut items = lock(&self.0);
                match items.iter().position(|x| *x == arg(0)) {
                    Some(p) => {
                        items.remove(p);
                    }
                    None => {
                        return Err(Error::new(
                            ErrorKind::InvalidOperation,
                            "list.remove(x): x not in list",
                        ));
                    }
                }
            }
            "clear" => lock(&self.0).clear(),
            "reverse" => lock(&self.0).reverse(),
            "sort" => lock(&self.0).sort(),
            _ => {
                let plain = Value::from(lock(&self.0).clone());
                return crate::py_methods::call_method(state, &plain, method, args);
            }
        }
        Ok(Value::from(()))
    }
}

#[derive(Debug, Default)]
struct MutDict(Mutex<indexmap::IndexMap<Value, Value>>);

impl Object for MutDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        lock(&self.0).get(key).cloned()
    }
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(lock(&self.0).keys().cloned().collect())
    }
    fn call_method(
        self: &Arc<Self>,
        state: &mut State,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "update" => {
                for a in args {
                    for k in a.try_iter()? {
                        let v = a.get_item(&k)?;
                        lock(&self.0).insert(k, v);
                    }
                }
                Ok(Value::from(()))
            }
            "setdefault" => {
                let k = args.first().cloned().unwrap_or_default();
                let d = args.get(1).cloned().unwrap_or(Value::from(()));
                Ok(lock(&self.0).entry(k).or_insert(d).clone())
            }
            "pop" => {
                let k = args.first().cloned().unwrap_or_default();
                match lock(&self.0).shift_remove(&k) {
                    Some(v) => Ok(v),
                    None => args
                        .get(1)
                        .cloned()
                        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "KeyError")),
                }
            }
            "clear" => {
                lock(&self.0).clear();
                Ok(Value::from(()))
            }
            "get" => Ok(self
                .get_value(&args.first().cloned().unwrap_or_default())
                .unwrap_or_else(|| args.get(1).cloned().unwrap_or(Value::from(())))),
            "keys" => Ok(Value::from(
                lock(&self.0).keys().cloned().collect::<Vec<_>>(),
            )),
            "values" => Ok(Value::from(
                lock(&self.0).values().cloned().collect::<Vec<_>>(),
            )),
            "items" => Ok(Value::from(
                lock(&self.0)
                    .iter()
                    .map(|(k, v)| Value::from(vec![k.clone(), v.clone()]))
                    .collect::<Vec<_>>(),
            )),
            _ => {
                let plain = Value::from(lock(&self.0).clone());
                crate::py_methods::call_method(state, &plain, method, args)
            }
        }
    }
}

/// `__mlist()` and `__mdict()`, the targets of the rewrite.
pub(crate) fn register(env: &mut minijinja::Environment<'static>) {
    env.add_function("__mlist", || Value::from_object(MutList::default()));
    env.add_function("__mdict", || Value::from_object(MutDict::default()));
}

/// `{% set name = [] %}` / `{% set name = {} %}` (the inside of a block tag) with the literal
/// replaced by a mutable one; any other tag unchanged.
pub(crate) fn rewrite_set(code: &str) -> Option<String> {
    let t = code
        .trim()
        .trim_start_matches(['-', '+'])
        .trim_end_matches(['-', '+'])
        .trim();
    let rest = t.strip_prefix("set ")?;
    let (name, value) = rest.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let call = match value.trim() {
        "[]" => "__mlist()",
        "{}" => "__mdict()",
        _ => return None,
    };
    let at = code.rfind(value.trim())?;
    Some(format!(
        "{}{call}{}",
        &code[..at],
        &code[at + value.trim().len()..]
    ))
}

//! Ansible's and Jinja2's filters on collections and data formats: `join`, `combine`,
//! `dict2items`, set filters, `zip`, `flatten`, `dictsort`, `groupby`, `subelements`,
//! `extract`, JSON and YAML, seeded `random`/`shuffle`.

use crate::filter_err::err;
use crate::jinja_filters::both;
use crate::jinja_group::Group;
use crate::jinja_json::{from_json, to_json, to_nice_json};
use crate::py_value::py_str;
use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, State};

fn items(v: &Value) -> Result<Vec<Value>, Error> {
    if v.is_undefined() || v.is_none() {
        return Ok(vec![]);
    }
    if let Some(s) = v.as_str() {
        return Ok(s.chars().map(|c| Value::from(c.to_string())).collect());
    }
    Ok(v.try_iter()?.collect())
}

fn attr_path(v: &Value, path: &str) -> Value {
    let mut cur = v.clone();
    for part in path.split('.') {
        cur = match part.parse::<i64>() {
            Ok(i) if cur.kind() == ValueKind::Seq => {
                cur.get_item(&Value::from(i)).unwrap_or_default()
            }
            _ => cur.get_attr(part).unwrap_or_default(),
        };
    }
    cur
}

fn join(v: Value, sep: Option<String>, kw: Kwargs) -> Result<String, Error> {
    let attribute: Option<String> = kw.get("attribute")?;
    kw.assert_all_used()?;
    let sep = sep.unwrap_or_default();
    let parts: Vec<String> = items(&v)?
        .iter()
        .map(|x| match &attribute {
            Some(a) => py_str(&attr_path(x, a)),
            None => py_str(x),
        })
        .collect();
    Ok(parts.join(&sep))
}

fn merge(a: &Value, b: &Value, recursive: bool, list_merge: &str) -> Value {
    let mut out: Vec<(Value, Value)> = a
        .try_iter()
        .map(|it| {
            it.map(|k| {
                let v = a.get_item(&k).unwrap_or_default();
                (k, v)
            })
            .collect()
        })
        .unwrap_or_default();
    for k in b
        .try_iter()
        .map(|i| i.collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let bv = b.get_item(&k).unwrap_or_default();
        if let Some(slot) = out.iter_mut().find(|(ok, _)| *ok == k) {
            let av = slot.1.clone();
            slot.1 = if recursive && av.kind() == ValueKind::Map && bv.kind() == ValueKind::Map {
                merge(&av, &bv, true, list_merge)
            } else if av.kind() == ValueKind::Seq
                && bv.kind() == ValueKind::Seq
                && list_merge != "replace"
            {
                let al: Vec<Value> = av.try_iter().map(|i| i.collect()).unwrap_or_default();
                let bl: Vec<Value> = bv.try_iter().map(|i| i.collect()).unwrap_or_default();
                let merged: Vec<Value> = match list_merge {
                    "keep" => al,
                    "append" => al.into_iter().chain(bl).collect(),
                    "prepend" => bl.into_iter().chain(al).collect(),
                    "append_rp" => {
                        let rest: Vec<Value> = al.into_iter().filter(|x| !bl.contains(x)).collect();
                        rest.into_iter().chain(bl).collect()
                    }
                    "prepend_rp" => {
                        let rest: Vec<Value> = al.into_iter().filter(|x| !bl.contains(x)).collect();
                        bl.into_iter().chain(rest).collect()
                    }
                    _ => bl,
                };
                Value::from(merged)
            } else {
                bv
            };
        } else {
            out.push((k, bv));
        }
    }
    crate::py_value::map_from(out)
}

fn combine(v: Value, others: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let recursive: bool = kw.get::<Option<bool>>("recursive")?.unwrap_or(false);
    let list_merge: String = kw
        .get::<Option<String>>("list_merge")?
        .unwrap_or_else(|| "replace".into());
    kw.assert_all_used()?;
    let mut dicts = vec![];
    if v.kind() == ValueKind::Seq {
        dicts.extend(v.try_iter()?);
    } else {
        dicts.push(v);
    }
    for o in others.iter() {
        if o.kind() == ValueKind::Seq {
            dicts.extend(o.try_iter()?);
        } else {
            dicts.push(o.clone());
        }
    }
    let mut acc = crate::py_value::map_from(Vec::<(Value, Value)>::new());
    for d in dicts {
        if d.kind() != ValueKind::Map {
            return Err(err(format!(
                "combine expects dictionaries, got {}",
                py_str(&d)
            )));
        }
        acc = merge(&acc, &d, recursive, &list_merge);
    }
    Ok(acc)
}

fn dict2items(v: Value, kw: Kwargs) -> Result<Value, Error> {
    let kn: String = kw
        .get::<Option<String>>("key_name")?
        .unwrap_or_else(|| "key".into());
    let vn: String = kw
        .get::<Option<String>>("value_name")?
        .unwrap_or_else(|| "value".into());
    if v.kind() != ValueKind::Map {
        return Err(err("dict2items requires a dictionary"));
    }
    Ok(Value::from(
        v.try_iter()?
            .map(|k| {
                let val = v.get_item(&k).unwrap_or_default();
                crate::py_value::map_from([(kn.clone(), k), (vn.clone(), val)])
            })
            .collect::<Vec<_>>(),
    ))
}

fn items2dict(v: Value, kw: Kwargs) -> Result<Value, Error> {
    let kn: String = kw
        .get::<Option<String>>("key_name")?
        .unwrap_or_else(|| "key".into());
    let vn: String = kw
        .get::<Option<String>>("value_name")?
        .unwrap_or_else(|| "value".into());
    Ok(crate::py_value::map_from(items(&v)?.into_iter().map(|x| {
        (
            x.get_attr(&kn).unwrap_or_default(),
            x.get_attr(&vn).unwrap_or_default(),
        )
    })))
}

fn zip_impl(v: Value, others: Rest<Value>, longest: bool, fill: Value) -> Result<Value, Error> {
    let mut lists = vec![items(&v)?];
    for o in others.iter() {
        lists.push(items(o)?);
    }
    let n = if longest {
        lists.iter().map(Vec::len).max().unwrap_or(0)
    } else {
        lists.iter().map(Vec::len).min().unwrap_or(0)
    };
    Ok(Value::from(
        (0..n)
            .map(|i| {
                Value::from(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or(fill.clone()))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

fn product(v: Value, others: Rest<Value>) -> Result<Value, Error> {
    let mut acc: Vec<Vec<Value>> = items(&v)?.into_iter().map(|x| vec![x]).collect();
    for o in others.iter() {
        let l = items(o)?;
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
    Ok(Value::from(
        acc.into_iter().map(Value::from).collect::<Vec<_>>(),
    ))
}

fn flatten_into(v: &Value, levels: Option<usize>, skip_nulls: bool, out: &mut Vec<Value>) {
    for x in v
        .try_iter()
        .map(|i| i.collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if skip_nulls && (x.is_none() || x.as_str() == Some("None")) {
            continue;
        }
        if x.kind() == ValueKind::Seq && levels != Some(0) {
            flatten_into(&x, levels.map(|l| l - 1), skip_nulls, out);
        } else {
            out.push(x);
        }
    }
}

fn flatten(v: Value, levels: Option<usize>, kw: Kwargs) -> Result<Value, Error> {
    let levels = match kw.get::<Option<usize>>("levels")? {
        Some(l) => Some(l),
        None => levels,
    };
    let skip_nulls: bool = kw.get::<Option<bool>>("skip_nulls")?.unwrap_or(true);
    let mut out = vec![];
    flatten_into(&v, levels, skip_nulls, &mut out);
    Ok(Value::from(out))
}

fn uniq(list: Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = vec![];
    for x in list {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn dictsort(
    v: Value,
    case_sensitive: Option<bool>,
    by: Option<String>,
    reverse: Option<bool>,
) -> Result<Value, Error> {
    let cs = case_sensitive.unwrap_or(false);
    let by_value = by.as_deref() == Some("value");
    let mut pairs: Vec<(Value, Value)> = v
        .try_iter()?
        .map(|k| {
            let x = v.get_item(&k).unwrap_or_default();
            (k, x)
        })
        .collect();
    let key = |p: &(Value, Value)| -> Value {
        let x = if by_value { &p.1 } else { &p.0 };
        match x.as_str() {
            Some(s) if !cs => Value::from(s.to_lowercase()),
            _ => x.clone(),
        }
    };
    pairs.sort_by_key(key);
    if reverse.unwrap_or(false) {
        pairs.reverse();
    }
    Ok(Value::from(
        pairs
            .into_iter()
            .map(|(k, x)| Value::from(vec![k, x]))
            .collect::<Vec<_>>(),
    ))
}

fn groupby(v: Value, attribute: String, kw: Kwargs) -> Result<Value, Error> {
    let default: Option<Value> = kw.get("default")?;
    let cs: bool = kw.get::<Option<bool>>("case_sensitive")?.unwrap_or(false);
    let mut list = items(&v)?;
    let key = |x: &Value| {
        let k = attr_path(x, &attribute);
        let k = if k.is_undefined() {
            default.clone().unwrap_or_default()
        } else {
            k
        };
        match k.as_str() {
            Some(s) if !cs => Value::from(s.to_lowercase()),
            _ => k,
        }
    };
    list.sort_by_key(|a| key(a));
    let mut groups: Vec<(Value, Vec<Value>)> = vec![];
    for x in list {
        let k = key(&x);
        match groups.last_mut() {
            Some((gk, g)) if *gk == k => g.push(x),
            _ => groups.push((k, vec![x])),
        }
    }
    Ok(Value::from(
        groups
            .into_iter()
            .map(|(k, g)| Value::from_object(Group(k, Value::from(g))))
            .collect::<Vec<_>>(),
    ))
}

fn subelements(v: Value, path: String, kw: Kwargs) -> Result<Value, Error> {
    let skip_missing: bool = kw.get::<Option<bool>>("skip_missing")?.unwrap_or(false);
    let mut out = vec![];
    for x in items(&v)? {
        let sub = attr_path(&x, &path);
        if sub.is_undefined() {
            if skip_missing {
                continue;
            }
            return Err(err(format!("could not find '{path}' key in iterated item")));
        }
        for s in items(&sub)? {
            out.push(Value::from(vec![x.clone(), s]));
        }
    }
    Ok(Value::from(out))
}

fn extract(item: Value, container: Value, morekeys: Option<Value>) -> Result<Value, Error> {
    let mut v = container.get_item(&item)?;
    if let Some(mk) = morekeys {
        let keys = if mk.kind() == ValueKind::Seq {
            items(&mk)?
        } else {
            vec![mk]
        };
        for k in keys {
            v = v.get_item(&k)?;
        }
    }
    Ok(v)
}

fn sum(v: Value, kw: Kwargs) -> Result<Value, Error> {
    let attribute: Option<String> = kw.get("attribute")?;
    let start: Option<Value> = kw.get("start")?;
    let mut acc = start.unwrap_or(Value::from(0));
    for x in items(&v)? {
        let x = match &attribute {
            Some(a) => attr_path(&x, a),
            None => x,
        };
        acc = if acc.kind() == ValueKind::Seq {
            Value::from(
                items(&acc)?
                    .into_iter()
                    .chain(items(&x)?)
                    .collect::<Vec<_>>(),
            )
        } else if acc.is_integer() && x.is_integer() {
            Value::from(i128::try_from(acc)? + i128::try_from(x)?)
        } else {
            Value::from(f64::try_from(acc)? + f64::try_from(x)?)
        };
    }
    Ok(acc)
}

fn minmax(v: Value, kw: Kwargs, want_max: bool) -> Result<Value, Error> {
    let attribute: Option<String> = kw.get("attribute")?;
    let cs: bool = kw.get::<Option<bool>>("case_sensitive")?.unwrap_or(false);
    let key = |x: &Value| {
        let k = match &attribute {
            Some(a) => attr_path(x, a),
            None => x.clone(),
        };
        match k.as_str() {
            Some(s) if !cs => Value::from(s.to_lowercase()),
            _ => k,
        }
    };
    let list = items(&v)?;
    let mut best: Option<Value> = None;
    for x in list {
        best = match best {
            None => Some(x),
            Some(b) => {
                let better = if want_max {
                    key(&x) > key(&b)
                } else {
                    key(&x) < key(&b)
                };
                Some(if better { x } else { b })
            }
        };
    }
    Ok(best.unwrap_or_default())
}

fn seed_rng(seed: &Option<Value>) -> Option<crate::py_random::PyRandom> {
    seed.as_ref().map(|s| match s.kind() {
        ValueKind::Number if s.is_integer() => {
            crate::py_random::PyRandom::from_int(i128::try_from(s.clone()).unwrap_or(0))
        }
        _ => crate::py_random::PyRandom::from_text(&py_str(s)),
    })
}

fn random(v: Value, start: Option<i64>, step: Option<i64>, kw: Kwargs) -> Result<Value, Error> {
    let seed: Option<Value> = kw.get("seed")?;
    let start = match kw.get::<Option<i64>>("start")? {
        Some(s) => Some(s),
        None => start,
    };
    let step = match kw.get::<Option<i64>>("step")? {
        Some(s) => Some(s),
        None => step,
    };
    let mut rng = seed_rng(&seed).unwrap_or_else(crate::py_random::PyRandom::from_entropy);
    if v.is_integer() {
        let end = i64::try_from(v)?;
        let start = start.unwrap_or(0);
        let step = step.unwrap_or(1).max(1);
        let n = (end - start + step - 1) / step;
        if n <= 0 {
            return Err(err("empty range for random"));
        }
        return Ok(Value::from(start + step * rng.randbelow(n as u64) as i64));
    }
    let list = items(&v)?;
    if list.is_empty() {
        return Err(err("cannot choose from an empty sequence"));
    }
    Ok(list[rng.randbelow(list.len() as u64) as usize].clone())
}

fn shuffle(v: Value, kw: Kwargs) -> Result<Value, Error> {
    let seed: Option<Value> = kw.get("seed")?;
    let mut rng = seed_rng(&seed).unwrap_or_else(crate::py_random::PyRandom::from_entropy);
    let mut list = items(&v)?;
    for i in (1..list.len()).rev() {
        let j = rng.randbelow(i as u64 + 1) as usize;
        list.swap(i, j);
    }
    Ok(Value::from(list))
}

fn map_filter(
    state: &mut State,
    v: Value,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    // Jinja2's `map` with Ansible's filters: map('name', args...) or map(attribute='x', default=...)
    let pos: Vec<Value> = args.0.clone();
    let kw: Option<Value> = if kwargs.args().count() > 0 {
        Some(Value::from(kwargs))
    } else {
        None
    };
    let list = items(&v)?;
    if let Some(attr) = kw
        .as_ref()
        .and_then(|k| k.get_attr("attribute").ok())
        .filter(|a| !a.is_undefined())
    {
        let default = kw
            .as_ref()
            .and_then(|k| k.get_attr("default").ok())
            .filter(|d| !d.is_undefined());
        return Ok(Value::from(
            list.iter()
                .map(|x| {
                    let r = attr_path(x, &py_str(&attr));
                    match (&default, r.is_undefined()) {
                        (Some(d), true) => d.clone(),
                        _ => r,
                    }
                })
                .collect::<Vec<_>>(),
        ));
    }
    let name = pos
        .first()
        .and_then(|n| n.as_str().map(str::to_string))
        .ok_or_else(|| err("map needs a filter name"))?;
    let mut out = vec![];
    for x in list {
        let mut a = vec![x];
        a.extend(pos[1..].iter().cloned());
        if let Some(k) = &kw {
            a.push(k.clone());
        }
        out.push(state.apply_filter(&name, &a)?);
    }
    Ok(Value::from(out))
}

pub(crate) fn register(env: &mut Environment<'static>) {
    both!(env, "join", join);
    both!(env, "to_json", to_json);
    both!(env, "tojson", to_json);
    both!(env, "to_nice_json", to_nice_json);
    both!(env, "from_json", from_json);
    both!(env, "to_yaml", crate::jinja_yaml::to_yaml);
    both!(env, "to_nice_yaml", crate::jinja_yaml::to_nice_yaml);
    both!(env, "from_yaml", crate::jinja_yaml::from_yaml);
    both!(env, "from_yaml_all", crate::jinja_yaml::from_yaml_all);
    both!(env, "combine", combine);
    both!(env, "dict2items", dict2items);
    both!(env, "items2dict", items2dict);
    both!(env, "zip", |v: Value, o: Rest<Value>| zip_impl(
        v,
        o,
        false,
        Value::from(())
    ));
    both!(env, "zip_longest", |v: Value,
                               o: Rest<Value>,
                               kw: Kwargs|
     -> Result<Value, Error> {
        let fill: Option<Value> = kw.get("fillvalue")?;
        zip_impl(v, o, true, fill.unwrap_or(Value::from(())))
    });
    both!(env, "product", product);
    both!(env, "flatten", flatten);
    both!(env, "unique", |v: Value,
                          kw: Kwargs|
     -> Result<Value, Error> {
        let cs: bool = kw.get::<Option<bool>>("case_sensitive")?.unwrap_or(false);
        let attribute: Option<String> = kw.get("attribute")?;
        kw.assert_all_used()?;
        let key = |x: &Value| {
            let k = match &attribute {
                Some(a) => attr_path(x, a),
                None => x.clone(),
            };
            match k.as_str() {
                Some(s) if !cs => Value::from(s.to_lowercase()),
                _ => k,
            }
        };
        let mut seen: Vec<Value> = vec![];
        let mut out = vec![];
        for x in items(&v)? {
            let k = key(&x);
            if !seen.contains(&k) {
                seen.push(k);
                out.push(x);
            }
        }
        Ok(Value::from(out))
    });
    both!(env, "union", |a: Value, b: Value| -> Result<Value, Error> {
        Ok(Value::from(uniq(
            items(&a)?.into_iter().chain(items(&b)?).collect(),
        )))
    });
    both!(env, "intersect", |a: Value,
                             b: Value|
     -> Result<Value, Error> {
        let bl = items(&b)?;
        Ok(Value::from(uniq(
            items(&a)?.into_iter().filter(|x| bl.contains(x)).collect(),
        )))
    });
    both!(env, "difference", |a: Value,
                              b: Value|
     -> Result<Value, Error> {
        let bl = items(&b)?;
        Ok(Value::from(uniq(
            items(&a)?.into_iter().filter(|x| !bl.contains(x)).collect(),
        )))
    });
    both!(env, "symmetric_difference", |a: Value,
                                        b: Value|
     -> Result<Value, Error> {
        let (al, bl) = (items(&a)?, items(&b)?);
        Ok(Value::from(uniq(
            al.iter()
                .filter(|x| !bl.contains(x))
                .chain(bl.iter().filter(|x| !al.contains(x)))
                .cloned()
                .collect(),
        )))
    });
    both!(env, "dictsort", |v: Value, a: Rest<Value>, kw: Kwargs| {
        let a = crate::jinja_filters::positional(&a, &kw, &["case_sensitive", "by", "reverse"])?;
        let (c, b, r) = minijinja::value::from_args(&a)?;
        dictsort(v, c, b, r)
    });
    both!(env, "groupby", groupby);
    both!(env, "subelements", subelements);
    both!(env, "extract", extract);
    both!(env, "sum", sum);
    both!(env, "min", |v: Value, kw: Kwargs| minmax(v, kw, false));
    both!(env, "max", |v: Value, kw: Kwargs| minmax(v, kw, true));
    both!(env, "random", random);
    both!(env, "shuffle", shuffle);
    both!(env, "map", map_filter);
    both!(env, "list", |v: Value| -> Result<Value, Error> {
        Ok(Value::from(items(&v)?))
    });
}

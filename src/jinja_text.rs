//! Jinja2's and Ansible's text-layout filters with their exact rules: `comment` (styles and
//! decorations), `indent`, `wordwrap`, `truncate`, `wordcount`, `title`, `capitalize`, and
//! Python's `ljust`/`rjust`/`center`.

use crate::filter_err::err;
use crate::py_value::py_str;
use minijinja::Error;
use minijinja::value::{Kwargs, Value, ValueKind};

fn s_of(v: &Value) -> String {
    py_str(v)
}

/// Python's `str.ljust`/`rjust`/`center`.
pub(crate) fn justify(s: &str, width: usize, fill: char, how: &str) -> String {
    let n = s.chars().count();
    if n >= width {
        return s.to_string();
    }
    let pad = width - n;
    let f = |k: usize| fill.to_string().repeat(k);
    match how {
        "ljust" => format!("{s}{}", f(pad)),
        "rjust" => format!("{}{s}", f(pad)),
        _ => {
            // CPython: left = pad/2 + (pad & width & 1)
            let left = pad / 2 + (pad & width & 1);
            format!("{}{s}{}", f(left), f(pad - left))
        }
    }
}

pub(crate) fn title(s: &str) -> String {
    // Jinja2: capitalize each piece after runs of whitespace, '-', and opening brackets.
    let mut out = String::new();
    let mut start = true;
    for c in s.chars() {
        if c.is_whitespace() || "-({[<".contains(c) {
            out.push(c);
            start = true;
        } else if start {
            out.extend(c.to_uppercase());
            start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f
            .to_uppercase()
            .chain(c.as_str().to_lowercase().chars())
            .collect(),
        None => String::new(),
    }
}

/// Ansible's `comment` filter.
pub(crate) fn comment(v: Value, style: Option<String>, kw: Kwargs) -> Result<String, Error> {
    let text = s_of(&v);
    let style = style.unwrap_or_else(|| "plain".into());
    let (beginning, decoration, end): (&str, &str, &str) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => return Err(err(format!("unknown comment style '{other}'"))),
    };
    let get = |k: &str, d: String| -> Result<String, Error> {
        Ok(kw.get::<Option<String>>(k)?.unwrap_or(d))
    };
    let prepostfix = get("decoration", decoration.to_string())?;
    let newline = get("newline", "\n".into())?;
    let beginning = get("beginning", beginning.into())?;
    let prefix = get("prefix", prepostfix.trim_end().to_string())?;
    let prefix_count: usize = kw.get::<Option<usize>>("prefix_count")?.unwrap_or(1);
    let decoration = get("decoration", decoration.to_string())?;
    let postfix = get("postfix", prepostfix.trim_end().to_string())?;
    let postfix_count: usize = kw.get::<Option<usize>>("postfix_count")?.unwrap_or(1);
    let end = get("end", end.into())?;
    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        let unit = if prefix != newline {
            format!("{prefix}{newline}")
        } else {
            newline.clone()
        };
        out.push_str(&unit.repeat(prefix_count));
    }
    let body = format!(
        "{decoration}{}",
        text.replace(&newline, &format!("{newline}{decoration}"))
    )
    .replace(&format!(" {newline}"), &newline);
    out.push_str(&body);
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

pub(crate) fn truncate(
    v: Value,
    length: Option<usize>,
    killwords: Option<bool>,
    end: Option<String>,
    leeway: Option<usize>,
) -> String {
    let s = s_of(&v);
    let length = length.unwrap_or(255);
    let end = end.unwrap_or_else(|| "...".into());
    let leeway = leeway.unwrap_or(5);
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= length + leeway {
        return s;
    }
    let cut: String = chars[..length.saturating_sub(end.chars().count())]
        .iter()
        .collect();
    if killwords.unwrap_or(false) {
        return format!("{cut}{end}");
    }
    let kept = match cut.rfind(' ') {
        Some(i) => cut[..i].to_string(),
        None => cut,
    };
    format!("{kept}{end}")
}

pub(crate) fn wordwrap(
    v: Value,
    width: Option<usize>,
    break_long: Option<bool>,
    wrapstring: Option<String>,
) -> String {
    let s = s_of(&v);
    let width = width.unwrap_or(79);
    let wrapstring = wrapstring.unwrap_or_else(|| "\n".into());
    let break_long = break_long.unwrap_or(true);
    let mut lines_out = Vec::new();
    for para in s.lines() {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let mut word = word.to_string();
            loop {
                let need = if line.is_empty() {
                    word.chars().count()
                } else {
                    line.chars().count() + 1 + word.chars().count()
                };
                if need <= width {
                    if !line.is_empty() {
                        line.push(' ');
                    }
                    line.push_str(&word);
                    break;
                }
                if !line.is_empty() {
                    lines_out.push(std::mem::take(&mut line));
                    continue;
                }
                if break_long && word.chars().count() > width {
                    let head: String = word.chars().take(width).collect();
                    lines_out.push(head);
                    word = word.chars().skip(width).collect();
                    continue;
                }
                line = word.clone();
                break;
            }
        }
        if !line.is_empty() {
            lines_out.push(line);
        }
    }
    lines_out.join(&wrapstring)
}

pub(crate) fn wordcount(v: Value) -> usize {
    let s = s_of(&v);
    let mut n = 0;
    let mut inword = false;
    for c in s.chars() {
        let w = c.is_alphanumeric() || c == '_';
        if w && !inword {
            n += 1;
        }
        inword = w;
    }
    n
}

pub(crate) fn indent(
    v: Value,
    width: Option<Value>,
    first: Option<bool>,
    blank: Option<bool>,
    kw: Kwargs,
) -> Result<String, Error> {
    let width = match kw.get::<Option<Value>>("width")? {
        Some(w) => Some(w),
        None => width,
    };
    let first = kw.get::<Option<bool>>("first")?.or(first);
    let blank = kw.get::<Option<bool>>("blank")?.or(blank);
    kw.assert_all_used()?;
    let ind = match &width {
        Some(w) if w.kind() == ValueKind::String => w.as_str().unwrap_or_default().to_string(),
        Some(w) => " ".repeat(w.as_usize().unwrap_or(4)),
        None => "    ".into(),
    };
    // Jinja2: append a newline, split into lines, indent all but the first.
    let s = s_of(&v) + "\n";
    let lines: Vec<&str> = s.strip_suffix('\n').unwrap_or(&s).split('\n').collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            if blank.unwrap_or(false) || !line.is_empty() {
                out.push_str(&ind);
            }
        }
        out.push_str(line);
    }
    if first.unwrap_or(false) {
        out = format!("{ind}{out}");
    }
    Ok(out)
}

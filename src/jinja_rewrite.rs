//! Source rewrites that give MiniJinja what Jinja2 and Ansible have and it lacks: Python's
//! `'fmt' % args`, an inline `x if c` without `else`, Jinja2's untrimmed `{% raw %}` newline, and
//! Ansible's raw backslashes in the string literals of playbook strings.

/// True if a string holds Jinja syntax.
pub fn has_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%") || s.contains("{#")
}

pub(crate) fn skip_string(b: &[u8], start: usize) -> usize {
    let q = b[start];
    let mut i = start + 1;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == q {
            return i + 1;
        }
        i += 1;
    }
    b.len()
}

/// Ansible doubles backslashes inside string literals of `{{ }}` in playbook strings (not in
/// template files): `'\\.'` written in YAML stays two characters.
pub(crate) fn escape_backslashes(code: &str) -> String {
    if !code.contains('\\') {
        return code.to_string();
    }
    let b = code.as_bytes();
    let mut out = String::with_capacity(code.len() + 8);
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'\'' || b[i] == b'"' {
            let end = skip_string(b, i);
            out.push_str(&code[last..i]);
            out.push_str(&raw_literal(&code[i..end]));
            last = end;
            i = end;
            continue;
        }
        i += 1;
    }
    out.push_str(&code[last..]);
    out
}

/// A string literal whose value is its raw text: backslashes stay, `\'` stays `\'`.
fn raw_literal(lit: &str) -> String {
    let mut chars = lit.chars();
    let Some(q) = chars.next() else {
        return lit.to_string();
    };
    let body: Vec<char> = chars.collect();
    let closed = body.last() == Some(&q);
    let inner = if closed {
        &body[..body.len() - 1]
    } else {
        &body[..]
    };
    let mut out = String::new();
    out.push(q);
    for &c in inner {
        match c {
            '\\' => out.push_str("\\\\"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    if closed {
        out.push(q);
    }
    out
}

/// The same for every `{{ }}` of a playbook string.
pub(crate) fn escape_backslashes_in_vars(src: &str) -> String {
    if !src.contains('\\') {
        return src.to_string();
    }
    let mut out = String::new();
    let mut rest = src;
    while let Some(p) = rest.find("{{") {
        out.push_str(&rest[..p + 2]);
        let after = &rest[p + 2..];
        // the end of this expression: the first `}}` outside a string
        let b = after.as_bytes();
        let mut j = 0;
        while j < b.len() {
            if b[j] == b'\'' || b[j] == b'"' {
                j = skip_string(b, j);
                continue;
            }
            if after[j..].starts_with("}}") {
                break;
            }
            j += 1;
        }
        let j = j.min(b.len());
        out.push_str(&escape_backslashes(&after[..j]));
        rest = &after[j..];
    }
    out.push_str(rest);
    out
}

/// Rewrite Python's `'fmt' % args` (which MiniJinja lacks) into `__pyfmt('fmt', args)` inside
/// every `{{ }}` and `{% %}` of a template.
pub(crate) fn rewrite_source(src: &str) -> String {
    if !src.contains('%') && !src.contains("if") && !src.contains("set") {
        return src.to_string();
    }
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len() + 16);
    let mut i = 0;
    let mut last = 0;
    while i + 1 < b.len() {
        if b[i] == b'{' && b[i + 1] == b'#' {
            i = src[i..].find("#}").map(|p| i + p + 2).unwrap_or(b.len());
            continue;
        }
        if b[i] == b'{' && (b[i + 1] == b'{' || b[i + 1] == b'%') {
            let close: &[u8] = if b[i + 1] == b'{' { b"}}" } else { b"%}" };
            let start = i + 2;
            // raw blocks are copied untouched
            let head = src[start..].trim_start_matches(['-', '+', ' ', '\t', '\n']);
            if b[i + 1] == b'%' && head.starts_with("raw") {
                // Jinja2 never trims the newline after `{% raw %}`: mark the tag `+%}`.
                if let Some(end) = src[i..].find("%}").map(|p| i + p)
                    && !matches!(b[end - 1], b'-' | b'+')
                {
                    out.push_str(&src[last..end]);
                    out.push('+');
                    last = end;
                }
                i = src[i..].find("endraw").map(|p| i + p).unwrap_or(b.len());
                continue;
            }
            let mut j = start;
            let mut depth = 0i32;
            while j < b.len() {
                let c = b[j];
                if c == b'\'' || c == b'"' {
                    j = skip_string(b, j);
                    continue;
                }
                match c {
                    b'(' | b'[' | b'{' => depth += 1,
                    b')' | b']' => depth -= 1,
                    b'}' if depth > 0 => depth -= 1,
                    _ => {}
                }
                if depth <= 0 && b[j..].starts_with(close) {
                    break;
                }
                j += 1;
            }
            let code = &src[start..j.min(b.len())];
            let is_expr = b[i + 1] == b'{';
            if !is_expr && let Some(new) = crate::py_mutable::rewrite_set(code) {
                out.push_str(&src[last..start]);
                out.push_str(&new);
                last = j.min(b.len());
                i = j + 2;
                continue;
            }
            let needs_else = is_expr && code.contains("if");
            if code.contains('%') || needs_else {
                out.push_str(&src[last..start]);
                let code = if needs_else {
                    add_missing_else(code)
                } else {
                    code.to_string()
                };
                out.push_str(&rewrite_expr(&code));
                last = j.min(b.len());
            }
            i = j + 2;
            continue;
        }
        i += 1;
    }
    out.push_str(&src[last.min(src.len())..]);
    out
}

/// Jinja2's `a if c` without `else` gives an undefined that prints as nothing: add `else none`
/// so that printing it is not mistaken for an undefined variable.
pub(crate) fn add_missing_else(code: &str) -> String {
    let b = code.as_bytes();
    // (depth, position of an `if` waiting for its `else`)
    let mut open: Vec<(i32, usize)> = vec![];
    let mut inserts: Vec<usize> = vec![];
    let mut depth = 0i32;
    let mut i = 0;
    let word_at = |i: usize, w: &str| {
        code[i..].starts_with(w)
            && (i == 0 || !is_ident(b[i - 1]))
            && b.get(i + w.len()).is_none_or(|c| !is_ident(*c))
    };
    let close_level =
        |open: &mut Vec<(i32, usize)>, inserts: &mut Vec<usize>, d: i32, at: usize| {
            while let Some(&(od, _)) = open.last() {
                if od < d {
                    break;
                }
                open.pop();
                inserts.push(at);
            }
        };
    while i < b.len() {
        let c = b[i];
        if c == b'\'' || c == b'"' {
            i = skip_string(b, i);
            continue;
        }
        match c {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                close_level(&mut open, &mut inserts, depth, i);
                depth -= 1;
            }
            b',' => close_level(&mut open, &mut inserts, depth, i),
            _ if word_at(i, "if") => open.push((depth, i)),
            _ if word_at(i, "else") => {
                if let Some(pos) = open.iter().rposition(|(d, _)| *d == depth) {
                    open.remove(pos);
                }
            }
            _ => {}
        }
        i += 1;
    }
    close_level(&mut open, &mut inserts, i32::MIN, code.trim_end().len());
    if inserts.is_empty() {
        return code.to_string();
    }
    inserts.sort_unstable();
    let mut out = String::new();
    let mut last = 0;
    for at in inserts {
        let at = code[..at].trim_end().len();
        out.push_str(&code[last..at]);
        out.push_str(" else none");
        last = at;
    }
    out.push_str(&code[last..]);
    out
}

/// Rewrite `'literal' % operand` in one expression.
pub(crate) fn rewrite_expr(code: &str) -> String {
    let b = code.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'\'' || b[i] == b'"' {
            let lit_start = i;
            let lit_end = skip_string(b, i);
            let mut k = lit_end;
            while k < b.len() && b[k].is_ascii_whitespace() {
                k += 1;
            }
            if k < b.len() && b[k] == b'%' && b.get(k + 1) != Some(&b'}') {
                let rhs_start = k + 1;
                let rhs_end = scan_unary(b, rhs_start);
                if rhs_end > rhs_start {
                    out.push_str(&code[last..lit_start]);
                    out.push_str("__pyfmt(");
                    out.push_str(&code[lit_start..lit_end]);
                    out.push_str(", ");
                    out.push_str(&rewrite_expr(code[rhs_start..rhs_end].trim_start()));
                    out.push(')');
                    last = rhs_end;
                    i = rhs_end;
                    continue;
                }
            }
            i = lit_end;
            continue;
        }
        i += 1;
    }
    out.push_str(&code[last..]);
    out
}

pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

pub(crate) fn skip_bracket(b: &[u8], start: usize) -> usize {
    let mut depth = 0;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'\'' | b'"' => {
                i = skip_string(b, i);
                continue;
            }
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

pub(crate) fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The end of a unary expression (with postfix, filters and `**`) starting at `i`.
fn scan_unary(b: &[u8], i: usize) -> usize {
    let mut i = skip_ws(b, i);
    while i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i = skip_ws(b, i + 1);
    }
    if i >= b.len() {
        return i;
    }
    match b[i] {
        b'\'' | b'"' => i = skip_string(b, i),
        b'(' | b'[' | b'{' => i = skip_bracket(b, i),
        c if is_ident(c) => {
            while i < b.len() && (is_ident(b[i]) || (b[i] == b'.' && b[i - 1].is_ascii_digit())) {
                i += 1;
            }
        }
        _ => return i,
    }
    loop {
        let j = skip_ws(b, i);
        if j >= b.len() {
            return i;
        }
        match b[j] {
            b'.' if j + 1 < b.len() && is_ident(b[j + 1]) => {
                i = j + 1;
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
            }
            b'[' | b'(' => i = skip_bracket(b, j),
            b'|' => {
                let mut k = skip_ws(b, j + 1);
                while k < b.len() && (is_ident(b[k]) || b[k] == b'.') {
                    k += 1;
                }
                let m = skip_ws(b, k);
                i = if m < b.len() && b[m] == b'(' {
                    skip_bracket(b, m)
                } else {
                    k
                };
            }
            b'*' if b.get(j + 1) == Some(&b'*') => i = scan_unary(b, j + 2),
            _ => return i,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_is_rewritten() {
        assert_eq!(rewrite_expr(" '%s' % x "), " __pyfmt('%s', x) ");
        assert_eq!(
            rewrite_expr("'%s:%d' % (a, b) ~ 'x'"),
            "__pyfmt('%s:%d', (a, b)) ~ 'x'"
        );
        assert_eq!(
            rewrite_source("{% set y = '%d' % n|int %}{{ y }}"),
            "{% set y = __pyfmt('%d', n|int) %}{{ y }}"
        );
        assert_eq!(rewrite_source("{{ 7 % 3 }}"), "{{ 7 % 3 }}");
    }

    #[test]
    fn inline_if_gets_an_else() {
        assert_eq!(add_missing_else(" 'x' if c "), " 'x' if c else none ");
        assert_eq!(add_missing_else("'a' if b else 'c'"), "'a' if b else 'c'");
        assert_eq!(
            add_missing_else("f('x' if c, 2) ~ ('y' if d)"),
            "f('x' if c else none, 2) ~ ('y' if d else none)"
        );
        assert_eq!(
            rewrite_source("{% raw %}\n{{ x }}{% endraw %}"),
            "{% raw +%}\n{{ x }}{% endraw %}"
        );
    }
}

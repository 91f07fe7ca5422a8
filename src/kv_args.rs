//! Ansible's `key=value` argument form (`apt: name={{ item }} state=present`), split as
//! ansible-core's `split_args` and `parse_kv` do: on whitespace, except inside quotes and inside
//! Jinja's `{{ }}`, `{% %}` and `{# #}`, so a spaced expression stays one value.

/// The `key=value` pairs of `text`, values unquoted.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, KvValue)>, KvError> {
    let mut out = Vec::new();
    for word in split(text).map_err(KvError::Syntax)? {
        let Some(eq) = find_unescaped_eq(&word) else {
            return Err(KvError::Stray(word));
        };
        let key = word[..eq].trim().to_string();
        let raw = word[eq + 1..].trim();
        let value = match unquote(raw) {
            Some(inner) => KvValue::Quoted(inner.replace("\\=", "=")),
            None => KvValue::Bare(raw.replace("\\=", "=")),
        };
        out.push((key, value));
    }
    Ok(out)
}

#[derive(Debug, PartialEq)]
pub(crate) enum KvError {
    /// A word without `=`.
    Stray(String),
    /// An unterminated quote or Jinja block.
    Syntax(String),
}

/// A value as written: quoted values stay strings, bare ones are typed like YAML scalars.
#[derive(Debug, PartialEq)]
pub(crate) enum KvValue {
    Bare(String),
    Quoted(String),
}

/// Splits on whitespace outside quotes and Jinja blocks; quotes are kept in the words.
fn split(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    // Open `{{`, `{%`, `{#` blocks, by their closing pair.
    let mut jinja: Vec<&str> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if let Some(q) = quote {
            cur.push(c);
            if c == '\\' {
                if let Some(n) = next {
                    cur.push(n);
                    i += 1;
                }
            } else if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match (c, next) {
            ('{', Some(n @ ('{' | '%' | '#'))) => {
                jinja.push(match n {
                    '{' => "}}",
                    '%' => "%}",
                    _ => "#}",
                });
                cur.push(c);
                cur.push(n);
                i += 2;
                continue;
            }
            (a, Some(b)) if jinja.last().is_some_and(|close| close.chars().eq([a, b])) => {
                jinja.pop();
                cur.push(a);
                cur.push(b);
                i += 2;
                continue;
            }
            // Quotes inside Jinja (`lookup('file', x)`) are Jinja's own strings.
            ('"' | '\'', _) if jinja.is_empty() => {
                quote = Some(c);
                cur.push(c);
            }
            (c, _) if c.is_whitespace() && jinja.is_empty() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            _ => cur.push(c),
        }
        i += 1;
    }
    if quote.is_some() {
        return Err("an unterminated quote".into());
    }
    if !jinja.is_empty() {
        return Err(format!("an unclosed Jinja block (missing `{}`)", jinja[0]));
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    Ok(words)
}

fn find_unescaped_eq(word: &str) -> Option<usize> {
    let bytes = word.as_bytes();
    (0..bytes.len()).find(|&i| bytes[i] == b'=' && (i == 0 || bytes[i - 1] != b'\\'))
}

/// `"x"` or `'x'` → `x`, as Ansible's `unquote` (only a value quoted as a whole).
fn unquote(s: &str) -> Option<String> {
    let first = s.chars().next()?;
    if s.len() >= 2 && (first == '"' || first == '\'') && s.ends_with(first) {
        let inner = &s[1..s.len() - 1];
        // An escaped closing quote is not the end of the value.
        if !inner.ends_with('\\') {
            return Some(inner.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(text: &str) -> Vec<(String, KvValue)> {
        parse(text).unwrap()
    }

    fn bare(k: &str, v: &str) -> (String, KvValue) {
        (k.into(), KvValue::Bare(v.into()))
    }

    fn quoted(k: &str, v: &str) -> (String, KvValue) {
        (k.into(), KvValue::Quoted(v.into()))
    }

    #[test]
    fn spaced_jinja_stays_one_value() {
        assert_eq!(
            kv("name={{ item }} state=present"),
            [bare("name", "{{ item }}"), bare("state", "present")]
        );
        assert_eq!(
            kv("dest=/etc/systemd/system/{{ app_name }}.socket mode=0644"),
            [
                bare("dest", "/etc/systemd/system/{{ app_name }}.socket"),
                bare("mode", "0644")
            ]
        );
        assert_eq!(
            kv("msg={%if x%}{{ a }}{%endif%} c=d"),
            [bare("msg", "{%if x%}{{ a }}{%endif%}"), bare("c", "d")]
        );
    }

    #[test]
    fn quotes_inside_jinja_are_jinja_strings() {
        assert_eq!(
            kv("key={{ lookup('file', 'a b.pub') }} user=x"),
            [
                bare("key", "{{ lookup('file', 'a b.pub') }}"),
                bare("user", "x")
            ]
        );
    }

    #[test]
    fn quoted_values_are_unquoted() {
        assert_eq!(
            kv(r#"line="a b" other='c d' path=x"#),
            [
                quoted("line", "a b"),
                quoted("other", "c d"),
                bare("path", "x")
            ]
        );
        assert_eq!(
            kv(r#"password="{{ pw }}""#),
            [quoted("password", "{{ pw }}")]
        );
    }

    #[test]
    fn words_without_equals_and_broken_input() {
        assert_eq!(
            parse("name=x stray"),
            Err(KvError::Stray("stray".to_string()))
        );
        assert!(split("a='x").is_err());
        assert!(split("a={{ x").is_err());
    }
}

//! `Ws`: a render's whitespace settings, and the `#jinja2:` first line that overrides them.

/// Whitespace settings of one render.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ws {
    pub(super) trim_blocks: bool,
    pub(super) lstrip_blocks: bool,
    pub(super) keep_trailing_newline: bool,
}

/// A `#jinja2:` first line: the overrides it sets and the source without it.
pub(super) fn split_header(source: &str, ws: &mut Ws) -> String {
    let Some(rest) = source.strip_prefix("#jinja2:") else {
        return source.to_string();
    };
    let (line, body) = rest.split_once('\n').unwrap_or((rest, ""));
    for pair in line.split(',') {
        let Some((k, v)) = pair.split_once(':') else {
            continue;
        };
        let yes = matches!(v.trim(), "True" | "true" | "1" | "yes");
        match k.trim() {
            "trim_blocks" => ws.trim_blocks = yes,
            "lstrip_blocks" => ws.lstrip_blocks = yes,
            "keep_trailing_newline" => ws.keep_trailing_newline = yes,
            _ => {}
        }
    }
    body.to_string()
}

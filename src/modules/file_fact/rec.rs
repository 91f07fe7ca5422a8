//! The probe of many paths and its output split strictly into one record per path: the
//! framing that nothing on the host can forge.

use crate::shell::quote;

/// Prints `absent\tI` when the path `$2` does not exist (ENOENT/ENOTDIR), else `error\tI\tWHY`.
/// Only runs for paths whose `[ -e ]`/`[ -L ]` tests failed. When the parent is a directory
/// this shell may search, the name can only be missing, and builtins say so: a path a
/// converged host keeps absent (a disabled site, say) then costs no process on a no-op run.
/// Otherwise `stat` tells: `WHY` is its strerror, after the last `: ` (the quoted name before
/// it may hold anything, but strerror holds no `: ` and no newline).
pub(crate) const ABSENT_FN: &str = "plumb_absent() { case $2 in */*) plumb_d=${2%/*};; *) plumb_d=.;; esac; \
if [ -d \"${plumb_d:-/}\" ] && [ -x \"${plumb_d:-/}\" ] && [ ! -e \"$2\" ] && [ ! -L \"$2\" ]; then printf 'absent\\t%s\\n' \"$1\"; return 0; fi; \
if plumb_e=$(LC_ALL=C stat -c '' -- \"$2\" 2>&1); then printf 'error\\t%s\\tchanged while it was probed\\n' \"$1\"; \
else case $plumb_e in *': No such file or directory'|*': Not a directory') printf 'absent\\t%s\\n' \"$1\";; \
*) printf 'error\\t%s\\t%s\\n' \"$1\" \"${plumb_e##*: }\";; esac; fi; }\n";

/// The `stat` format: the type, mode, names, ids, the modification time (in seconds: what
/// apt's cache age reads, merged into this `stat`, see `batch.rs`), then `%N` (the C-quoted
/// name, and for a link ` -> ` and the C-quoted target). `%n` would print the name raw.
const FORMAT: &str = "stat\\t%F\\t%a\\t%U\\t%G\\t%u\\t%g\\t%Y\\t%N\\n";

/// One snippet that reads many paths: builtin tests find the paths that do not exist, then one
/// `stat` reads them all and one `sha256sum` (per 200) the files whose content matters. Few
/// processes, because each costs a millisecond on a host. `sums` are among `paths`.
pub(crate) fn probe(paths: &[&str], sums: &[&str]) -> String {
    let words: Vec<String> = paths.iter().map(|p| quote(p)).collect();
    let sums: Vec<usize> = sums
        .iter()
        .filter_map(|s| paths.iter().position(|p| p == s))
        .collect();
    probe_words(&words, &sums)
}

/// `probe` for paths given as sh words (`"$f"`, say, for a path only the host knows), with the
/// checksums of the paths at `sums`. Builtin tests print a record for each path that does not
/// exist; `stat` then prints one for each that does, in order (its errors are not needed: a
/// path that changed in between leaves the records out of step with the paths, and the parser
/// finds that by the names). The checksums go in groups, each listing its indices first.
pub(crate) fn probe_words(words: &[String], sums: &[usize]) -> String {
    use std::fmt::Write;
    // Written in place (a loop builds one of these per item, several times).
    let len: usize = words.iter().map(|q| 2 * q.len() + 48).sum();
    let mut s = String::with_capacity(ABSENT_FN.len() + 200 + len + sums.len() * 80);
    s.push_str(ABSENT_FN);
    for (i, q) in words.iter().enumerate() {
        let _ = writeln!(s, "[ -e {q} ] || [ -L {q} ] || plumb_absent {i} {q}");
    }
    s.push_str("printf 'stats\\n'\n");
    if !words.is_empty() {
        let _ = write!(s, "LC_ALL=C QUOTING_STYLE=c stat --printf '{FORMAT}' --");
        for q in words {
            s.push(' ');
            s.push_str(q);
        }
        s.push_str(" 2>/dev/null\n");
    }
    for group in sums.chunks(SUMS_PER_GROUP) {
        // The group's readable files are gathered as sh words in one string and handed to
        // `sha256sum` by `eval`: appending to "$@" one by one costs sh time in the square of
        // their number (10 ms for 200 files on a test host).
        s.push_str("plumb_o=; plumb_a=\n");
        for &i in group {
            let q = &words[i];
            let _ = writeln!(
                s,
                "if [ -f {q} ] && [ -r {q} ]; then plumb_a=\"$plumb_a \"{}; plumb_o=\"$plumb_o {i}\"; fi",
                quote(q)
            );
        }
        s.push_str(
            "printf 'sums\\t%s\\n' \"$plumb_o\"\n[ -z \"$plumb_a\" ] || eval \"sha256sum -- $plumb_a\" 2>&1\n",
        );
    }
    s.push_str("set --; true\n");
    s
}

/// Files per `sha256sum`: few processes for a large tree, and a command line well under the
/// host's limit.
pub(super) const SUMS_PER_GROUP: usize = 200;

/// What the probe found for one path, as its lines (so a merged probe can hand each task
/// exactly the records of its own paths; see `batch::select_files`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Rec {
    Absent,
    /// stat's reason, e.g. `Permission denied`.
    Error(String),
    /// The `stat` line, and the `sha256sum` line if one was asked for.
    Found(String, Option<String>),
}

/// Checks one `stat` or `sha256sum` line for its path (the reason if it is wrong).
type Check = fn(&str, &str) -> Result<(), String>;

/// Splits a probe's output into one record per path of `paths`, strictly: every path gets
/// exactly one record, in the order the probe prints them, and any other output is an error;
/// each `stat` and `sha256sum` line is checked by the parser of file facts, which sits above.
pub(super) fn records(
    output: &str,
    paths: &[&str],
    stat_ok: Check,
    sum_ok: Check,
) -> Result<Vec<Rec>, String> {
    let bad = |why: &str, line: &str| format!("probe failed: {why}: `{}`", line.escape_debug());
    let mut recs: Vec<Option<Rec>> = vec![None; paths.len()];
    let index = |s: &str, line: &str| -> Result<usize, String> {
        s.parse::<usize>()
            .ok()
            .filter(|i| *i < paths.len())
            .ok_or_else(|| bad("a record for a path not asked for", line))
    };
    let mut lines = output.split('\n').filter(|l| !l.is_empty()).peekable();
    // Records of the paths that do not exist, up to `stats`.
    loop {
        let Some(line) = lines.next() else {
            return Err(bad("output ended early", output.trim()));
        };
        let f: Vec<&str> = line.split('\t').collect();
        let (i, rec) = match f[..] {
            ["absent", i] => (index(i, line)?, Rec::Absent),
            ["error", i, why] => (index(i, line)?, Rec::Error(why.to_string())),
            ["stats"] => break,
            _ => return Err(bad("unexpected output", line)),
        };
        if recs[i].replace(rec).is_some() {
            return Err(bad("a second record for one path", line));
        }
    }
    // One `stat` record for each of the others, in order, each naming its path.
    let existing: Vec<usize> = (0..paths.len()).filter(|i| recs[*i].is_none()).collect();
    for i in existing {
        let line = lines
            .next()
            .ok_or_else(|| bad("output ended early", output.trim()))?;
        stat_ok(line, paths[i]).map_err(|e| bad(&e, line))?;
        recs[i] = Some(Rec::Found(line.to_string(), None));
    }
    while let Some(line) = lines.next_if(|l| l.starts_with("sums\t")) {
        let list: Vec<usize> = line["sums\t".len()..]
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(|s| index(s, line))
            .collect::<Result<_, _>>()?;
        for i in list {
            let sum = lines
                .next()
                .ok_or_else(|| bad("output ended early", output.trim()))?;
            sum_ok(sum, paths[i]).map_err(|e| bad(&e, sum))?;
            match &mut recs[i] {
                Some(Rec::Found(_, s @ None)) => *s = Some(sum.to_string()),
                _ => return Err(bad("a checksum for a path not read", sum)),
            }
        }
    }
    if let Some(line) = lines.next() {
        return Err(bad("trailing output", line));
    }
    recs.into_iter()
        .zip(paths)
        .map(|(r, p)| r.ok_or_else(|| format!("probe failed: no record for {}", p.escape_debug())))
        .collect()
}

/// The records of some paths, printed as `probe` would have printed them for those paths alone.
/// `recs[i].1` says whether the checksum is wanted.
pub(crate) fn render(recs: &[(&Rec, bool)]) -> String {
    let mut s = String::new();
    let mut stats = String::new();
    let mut sums_idx = String::new();
    let mut sums = String::new();
    for (i, (rec, want_sum)) in recs.iter().enumerate() {
        match rec {
            Rec::Absent => s.push_str(&format!("absent\t{i}\n")),
            Rec::Error(why) => s.push_str(&format!("error\t{i}\t{why}\n")),
            Rec::Found(line, sum) => {
                stats.push_str(line);
                stats.push('\n');
                if let (true, Some(sum)) = (want_sum, sum) {
                    sums_idx.push_str(&format!(" {i}"));
                    sums.push_str(sum);
                    sums.push('\n');
                }
            }
        }
    }
    s.push_str(&format!("stats\n{stats}"));
    if !sums_idx.is_empty() {
        s.push_str(&format!("sums\t{sums_idx}\n{sums}"));
    }
    s
}

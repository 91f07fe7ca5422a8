//! What a person would look at next when a verify step fails: nginx's error log, failed units,
//! and hints for the known traps of nginx → uWSGI (the seed guide's own advice).

/// Collects the evidence in one round trip. Read-only.
pub(crate) const SCRIPT: &str = r#"if [ -r /var/log/nginx/error.log ]; then
  echo "--- last lines of /var/log/nginx/error.log:"; tail -n 12 /var/log/nginx/error.log
fi
for u in $(systemctl list-units --state=failed --no-legend --plain 2>/dev/null | cut -d' ' -f1); do
  echo "--- $u has failed:"; systemctl status --no-pager --lines=10 -- "$u" 2>&1 | tail -n 14
done
"#;

/// Hints for what the evidence shows. Pure, so it is tested on recorded log lines.
pub(crate) fn hints(evidence: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let has = |s: &str| evidence.contains(s);
    if has("upstream prematurely closed connection")
        || has("upstream sent invalid header")
        || has("invalid uwsgi")
        || has("upstream sent no valid HTTP/1.0 header")
    {
        out.push(
            "uWSGI seems to speak HTTP while nginx speaks the uwsgi protocol (`uwsgi_pass`): in the \
             uWSGI config use `socket =` (not `http =` / `http-socket =`), the classic --http vs \
             --socket trap",
        );
    }
    if has("connect() to unix:") && has("(13: Permission denied)") {
        out.push(
            "nginx (www-data) may not open the uWSGI socket: check chmod-socket / chown-socket in \
             the uWSGI config and the permissions of the socket's directory",
        );
    }
    if has("connect() to unix:") && has("(2: No such file or directory)") {
        out.push(
            "the uWSGI socket does not exist: is the uWSGI service running, and do nginx's \
             `upstream` and uWSGI's `socket` name the same path?",
        );
    }
    if has("(111: Connection refused)") {
        out.push(
            "nothing listens at nginx's upstream address: is uWSGI running, on that socket or port?",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_known_traps() {
        // Recorded from nginx 1.22 on Debian 12.
        let http = "2026/11/25 14:02:11 [error] 1234#1234: *7 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: _, request: \"GET / HTTP/1.0\", upstream: \"uwsgi://unix:/run/myproject/myproject.sock:\", host: \"127.0.0.1\"";
        assert!(hints(http)[0].contains("--http vs --socket"));
        let perm = "connect() to unix:/run/myproject/myproject.sock failed (13: Permission denied) while connecting to upstream";
        assert!(hints(perm)[0].contains("chmod-socket"));
        let gone = "connect() to unix:/run/myproject/myproject.sock failed (2: No such file or directory) while connecting to upstream";
        assert!(hints(gone)[0].contains("does not exist"));
        assert!(hints("all quiet").is_empty());
    }
}

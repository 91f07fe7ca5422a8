//! The fields of a module's registered result, as Ansible documents them (plus what plumb's
//! own module adds), for the rows of the registry that list them: a plan can then tell a
//! typo (`r.stdot`) from a field only applying fills in. A module without a list (`uri`, whose
//! result holds the response's headers) may return anything.

/// What any task's result may hold, whatever its module: the engine's fields, a skipped
/// task's, a failed one's (a module that ran a command says its `rc` and output), a loop's.
const COMMON: &[&str] = &[
    "ansible_facts",
    "attempts",
    "changed",
    "changed_when_result",
    "deprecations",
    "diff",
    "exception",
    "failed",
    "failed_when_result",
    "false_condition",
    "invocation",
    "module_stderr",
    "module_stdout",
    "msg",
    "rc",
    "results",
    "skip_reason",
    "skipped",
    "skipped_reason",
    "stderr",
    "stderr_lines",
    "stdout",
    "stdout_lines",
    "unreachable",
    "warnings",
];

pub(crate) const COMMAND: &[&str] = &["cmd", "delta", "end", "start"];

pub(crate) const STAT: &[&str] = &["stat"];

pub(crate) const APT: &[&str] = &["cache_updated", "cache_update_time"];

pub(crate) const FILE: &[&str] = &[
    "dest",
    "path",
    "src",
    "state",
    "uid",
    "gid",
    "owner",
    "group",
    "mode",
    "size",
    "secontext",
];

pub(crate) const COPY: &[&str] = &[
    "dest",
    "path",
    "src",
    "state",
    "uid",
    "gid",
    "owner",
    "group",
    "mode",
    "size",
    "secontext",
    "md5sum",
    "checksum",
    "backup_file",
];

pub(crate) const LINEINFILE: &[&str] = &["backup", "backup_file"];

pub(crate) const USER: &[&str] = &[
    "name",
    "state",
    "uid",
    "group",
    "groups",
    "comment",
    "home",
    "shell",
    "system",
    "create_home",
    "append",
    "force",
    "remove",
    "move_home",
    "password",
    "password_expire_max",
    "password_expire_min",
    "ssh_fingerprint",
    "ssh_key_file",
    "ssh_public_key",
];

pub(crate) const GROUP: &[&str] = &["gid", "name", "state", "system"];

pub(crate) const SERVICE: &[&str] = &["name", "state", "enabled", "status"];

pub(crate) const GIT: &[&str] = &[
    "after",
    "before",
    "remote_url_changed",
    "git_dir_before",
    "git_dir_now",
];

pub(crate) const GET_URL: &[&str] = &[
    "backup_file",
    "checksum_dest",
    "checksum_src",
    "dest",
    "elapsed",
    "gid",
    "group",
    "md5sum",
    "mode",
    "owner",
    "secontext",
    "size",
    "src",
    "state",
    "status_code",
    "uid",
    "url",
];

/// Whether a result of a module that returns `fields` may hold `field`.
pub(crate) fn has(fields: &[&str], field: &str) -> bool {
    // Ansible's own keys (`_ansible_no_log` ...) are not the module's to list.
    field.starts_with('_') || fields.contains(&field) || COMMON.contains(&field)
}

/// Every field such a result may hold, for a "did you mean" hint.
pub(crate) fn all(fields: &'static [&'static str]) -> impl Iterator<Item = &'static str> {
    fields.iter().chain(COMMON).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_field_is_the_modules_or_any_results() {
        // (fields, field) → may the result hold it
        let table = [
            (COMMAND, "stdout", true),
            (COMMAND, "delta", true),
            (COMMAND, "stdot", false),
            (STAT, "stat", true),
            (STAT, "rc", true),
            (STAT, "stats", false),
            (FILE, "changed", true),
            (FILE, "_ansible_no_log", true),
            (GIT, "after", true),
            (GIT, "afer", false),
        ];
        for (fields, field, want) in table {
            assert_eq!(has(fields, field), want, "{field}");
        }
        assert_eq!(
            crate::error::suggest("stdot", all(COMMAND)),
            Some("stdout".into())
        );
    }
}

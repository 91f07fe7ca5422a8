//! `--tags` / `--skip-tags`: which tasks a run takes, by the tags written on them, their
//! imports and their play, with Ansible's special tags.

/// The tags asked for on the command line.
#[derive(Debug, Clone, Default)]
pub(crate) struct TagFilter {
    /// `--tags`: only tasks with one of these (none given: every task but `never`).
    pub(crate) only: Vec<String>,
    /// `--skip-tags`: never tasks with one of these.
    pub(crate) skip: Vec<String>,
}

impl TagFilter {
    /// From repeated, comma-separated flag values.
    pub(crate) fn new(only: &[String], skip: &[String]) -> TagFilter {
        let split = |v: &[String]| -> Vec<String> {
            v.iter()
                .flat_map(|s| s.split(','))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        TagFilter {
            only: split(only),
            skip: split(skip),
        }
    }

    /// Whether a task with `tags` (its own, its imports' and its play's) runs. Ansible's rules:
    /// `always` runs unless skipped by name (or `--skip-tags all,always`), `never` only when
    /// one of its tags is asked for by name, `all`, `tagged` and `untagged` select by kind.
    pub(crate) fn selects(&self, tags: &[String]) -> bool {
        let untagged = tags.is_empty();
        let has = |t: &str| tags.iter().any(|x| x == t) || (untagged && t == "untagged");
        let any_in = |list: &[String]| list.iter().any(|w| has(w));
        let listed = |list: &[String], w: &str| list.iter().any(|x| x == w);
        let only_all = self.only.is_empty() || listed(&self.only, "all");
        let run = has("always")
            || (only_all && !has("never"))
            || any_in(&self.only)
            || (listed(&self.only, "tagged") && !untagged && !has("never"));
        if !run {
            return false;
        }
        if listed(&self.skip, "all") {
            return has("always") && !listed(&self.skip, "always");
        }
        !(any_in(&self.skip) || (listed(&self.skip, "tagged") && !untagged))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(t: &[&str]) -> Vec<String> {
        t.iter().map(|s| s.to_string()).collect()
    }

    fn f(only: &str, skip: &str) -> TagFilter {
        TagFilter::new(&[only.to_string()], &[skip.to_string()])
    }

    #[test]
    fn no_flags_run_everything_but_never() {
        let none = f("", "");
        assert!(none.only.is_empty() && none.skip.is_empty());
        assert!(none.selects(&[]));
        assert!(none.selects(&tags(&["web"])));
        assert!(!none.selects(&tags(&["never"])));
        assert!(none.selects(&tags(&["always"])));
    }

    #[test]
    fn tags_select_by_name_and_kind() {
        let web = f("web, db", "");
        assert_eq!(web.only, ["web", "db"]);
        assert!(web.selects(&tags(&["db"])));
        assert!(!web.selects(&tags(&["cache"])));
        assert!(!web.selects(&[]));
        assert!(web.selects(&tags(&["always"])));
        assert!(f("never", "").selects(&tags(&["never", "debug"])));
        assert!(f("debug", "").selects(&tags(&["never", "debug"])));
        assert!(!f("all", "").selects(&tags(&["never", "debug"])));
        assert!(f("all", "").selects(&[]));
        assert!(f("untagged", "").selects(&[]));
        assert!(!f("untagged", "").selects(&tags(&["web"])));
        assert!(f("tagged", "").selects(&tags(&["web"])));
    }

    #[test]
    fn skip_wins_even_over_always() {
        assert!(!f("", "web").selects(&tags(&["web", "db"])));
        assert!(f("", "web").selects(&tags(&["db"])));
        assert!(f("", "web").selects(&tags(&["always"])));
        assert!(!f("", "always").selects(&tags(&["always"])));
        assert!(f("", "all").selects(&tags(&["always"])));
        assert!(!f("", "all").selects(&tags(&["web"])));
        assert!(!f("web", "db").selects(&tags(&["web", "db"])));
        assert!(!f("", "untagged").selects(&[]));
    }
}

# Tera-only filters used by playbooks/site.yml and templates/*.j2, for Ansible (bench only).
# `dirname` is already an Ansible filter; Tera's `trim_start_matches(pat=...)` is not.


class FilterModule:
    def filters(self):
        return {
            "trim_start_matches": lambda s, pat: s[len(pat):] if str(s).startswith(pat) else s,
        }

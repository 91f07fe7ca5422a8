//! Whom a play's tasks run as: `become`, `become_user`, `become_method` and `become_exe`
//! resolved into the become user `transport::sh_command` takes.

use crate::play::Play;
use crate::task::Task;

impl Play {
    /// Whom a task runs as (`become`), if anyone: the user for sudo, or `su:USER` for
    /// `become_method: su` (a user name never holds `:`); see `transport::sh_command`.
    pub(crate) fn sudo_for(&self, task: &Task) -> Option<String> {
        // A templated `become` is only known per host (`TaskInstance::sudo`).
        let on = task.become_if.is_none() && task.become_.unwrap_or(self.become_);
        self.sudo_if(task, on)
    }

    /// Whom a task runs as when its `become` is `on`.
    pub(crate) fn sudo_if(&self, task: &Task, on: bool) -> Option<String> {
        if on {
            let user = task
                .become_user
                .clone()
                .or_else(|| self.become_user.clone())
                .unwrap_or_else(|| "root".into());
            let method = task.become_method.as_ref().or(self.become_method.as_ref());
            let user = match method.map(String::as_str) {
                Some("su") => format!("su:{user}"),
                _ => user,
            };
            // `become_exe` (a task's, a block's or role's, or the play's).
            Some(crate::transport::with_exe(user, task.become_exe.as_deref()))
        } else {
            None
        }
    }

    /// Whom facts are gathered as: the play's own `become`, as Ansible runs `setup`.
    pub(crate) fn facts_user(&self) -> Option<String> {
        self.become_.then(|| {
            let user = self.become_user.clone().unwrap_or_else(|| "root".into());
            // Facts are gathered through sudo: su's `become_exe` is not sudo's.
            let exe = self.become_exe.as_deref();
            let exe = exe.filter(|_| self.become_method.as_deref() != Some("su"));
            crate::transport::with_exe(user, exe)
        })
    }

    /// Whom the host lock is taken as: root if any task of the play becomes root, else the
    /// first become user, else the login user (None).
    pub(crate) fn lock_user(&self) -> Option<String> {
        // A templated `become_user` is only known per host, at run time: not a lock user.
        let users: Vec<String> = self
            .tasks
            .iter()
            .filter_map(|t| self.sudo_for(t))
            .filter(|u| !u.contains("{{") && !u.contains("{%"))
            .collect();
        users
            .iter()
            .find(|u| crate::transport::split_exe(u).1 == "root")
            .or(users.first())
            .cloned()
    }

    /// nginx's log is readable by root (and adm): read it as the play's become user.
    pub(crate) fn sudo_for_diagnosis(&self) -> Option<&str> {
        if self.become_ {
            Some(self.become_user.as_deref().unwrap_or("root"))
        } else {
            None
        }
    }
}

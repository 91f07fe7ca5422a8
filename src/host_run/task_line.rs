//! A task's line: the name it starts and ends under.

use super::HostRun;
use crate::event::Event;
use crate::task::Task;
use crate::task_instance::TaskInstance;
use serde_json::Value;

impl<'a> HostRun<'a> {
    /// Says the task starts, under its name rendered with the host's variables as it starts,
    /// as Ansible's banner is (a name that does not render, say one reading `item`, is shown
    /// as written); its line shows the same name when it ends (`line_name`).
    pub(super) fn start_line(&mut self, task: &Task) {
        let name = match task.name.as_deref() {
            Some(n) if crate::template::has_template(n) => {
                let (m, over, deferred) = (self.known_vars(), self.over(), self.deferred.clone());
                let inst = TaskInstance::new(task, &m, &deferred)
                    .with_over(&over)
                    .with_known(m.clone());
                match inst
                    .vars()
                    .render_value(&Value::String(n.to_string()), &task.loc)
                {
                    Ok(Value::String(s)) => s,
                    Ok(v) => v.to_string(),
                    Err(_) => n.to_string(),
                }
            }
            _ => task.display_name(),
        };
        let _ = self.tx.send(Event::TaskStart {
            host: self.host.name.clone(),
            name: name.clone(),
        });
        self.shown = Some((task.loc.clone(), name));
    }

    /// The name `start_line` showed for `task`.
    pub(super) fn line_name(&mut self, task: &Task) -> String {
        match self.shown.take() {
            Some((at, name)) if at == task.loc => name,
            _ => task.display_name(),
        }
    }
}

//! `RenderCtx`, below the template engine and its lookups, which both read it.

use std::path::PathBuf;

/// Where a render happens: the folders that lookups and includes search.
#[derive(Debug, Clone, Default)]
pub struct RenderCtx {
    /// The playbook's folder: `lookup('file')` looks in its `files/` then in it; includes look
    /// in its `templates/`.
    pub playbook_dir: Option<PathBuf>,
    /// The folder of the template being rendered (template files only).
    pub template_dir: Option<PathBuf>,
    /// Extra folders (a role's `files/`, `templates/`), searched before the playbook's.
    pub search_dirs: Vec<PathBuf>,
    /// The variables are rendered already (plumb resolves them in order before a task, and a
    /// registered result is what the host said): none is rendered again when read, so text a
    /// host returned is never taken for a template, as Ansible marks it unsafe.
    pub resolved: bool,
    /// A loop item's variables (the loop variable, `ansible_loop` ...), read before the
    /// render's own: each item shares its task's variables instead of copying them.
    pub item: Option<std::sync::Arc<serde_json::Map<String, serde_json::Value>>>,
}

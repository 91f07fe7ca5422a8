//! A playbook: a list of plays, each selecting hosts and running tasks then handlers.

use crate::error::Result;
use crate::play::Play;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub(crate) struct Playbook {
    pub(crate) path: PathBuf,
    /// Relative `src` paths resolve against this directory, as in Ansible.
    pub(crate) dir: PathBuf,
    pub(crate) plays: Vec<Play>,
}

impl Playbook {
    pub(crate) fn load(path: &Path) -> Result<Playbook> {
        let dir = crate::playbook_import::dir_of(path);
        let plays = crate::playbook_import::load_plays(path, 0)?;
        Ok(Playbook {
            path: path.to_path_buf(),
            dir,
            plays,
        })
    }
}

//! Where a piece of input came from, rendered the way compilers do: `file:line:col`, the line, a caret.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) file: Arc<PathBuf>,
    /// 1-based.
    pub(crate) line: usize,
    /// 1-based, in characters.
    pub(crate) col: usize,
}

impl Location {
    pub(crate) fn new(file: &Arc<PathBuf>, line: usize, col: usize) -> Location {
        Location {
            file: file.clone(),
            line: line.max(1),
            col: col.max(1),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.file
    }

    /// The location of byte offset `offset` in `text`, which starts at `self`.
    pub(crate) fn offset_in(&self, text: &str, offset: usize) -> Location {
        let before = &text[..offset.min(text.len())];
        let newlines = before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(i) => before[i + 1..].chars().count() + 1,
            None => self.col + before.chars().count(),
        };
        Location::new(&self.file, self.line + newlines, col)
    }
}

/// A value from the playbook and where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) loc: Location,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

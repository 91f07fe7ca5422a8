//! Where a piece of input came from, rendered the way compilers do: `file:line:col`, the line, a caret.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<PathBuf>,
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub col: usize,
}

impl Location {
    pub fn new(file: &Arc<PathBuf>, line: usize, col: usize) -> Location {
        Location {
            file: file.clone(),
            line: line.max(1),
            col: col.max(1),
        }
    }

    pub fn path(&self) -> &Path {
        &self.file
    }

    /// The source line and a caret under the column, read back from the file.
    pub fn snippet(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.file.as_path()).ok()?;
        // A vaulted file's positions are in its decrypted text, which is not shown.
        if crate::vault::is_vaulted(text.as_bytes()) {
            return None;
        }
        let line = text.lines().nth(self.line - 1)?;
        let pad: String = line
            .chars()
            .take(self.col - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let num = self.line.to_string();
        let gutter = " ".repeat(num.len());
        Some(format!("{gutter} |\n{num} | {line}\n{gutter} | {pad}^"))
    }

    /// The location of byte offset `offset` in `text`, which starts at `self`.
    pub fn offset_in(&self, text: &str, offset: usize) -> Location {
        let before = &text[..offset.min(text.len())];
        let newlines = before.matches('\n').count();
        let col = match before.rfind('\n') {
            Some(i) => before[i + 1..].chars().count() + 1,
            None => self.col + before.chars().count(),
        };
        Location::new(&self.file, self.line + newlines, col)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

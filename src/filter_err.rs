//! The error a filter, test or method fails with; below every filter file so that they can
//! share it without importing one another.

use minijinja::{Error, ErrorKind};

pub(crate) fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

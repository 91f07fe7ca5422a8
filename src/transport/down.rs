//! The transport of a host that could not be reached, for a play whose tasks may ignore that
//! (`ignore_unreachable`): every use fails with why, as the host's tasks then report.

use super::{HttpError, Lock, Output, Transport, TransportError};
use crate::http::Request;

pub(crate) struct Down(pub(crate) String);

impl Transport for Down {
    fn run(&mut self, _script: &str, _sudo: Option<&str>) -> Result<Output, TransportError> {
        Err(TransportError(self.0.clone()))
    }

    fn http(&mut self, _req: &Request) -> Result<crate::http::Response, HttpError> {
        Err(HttpError::Request(self.0.clone()))
    }

    fn set_become_password(&mut self, _password: Option<String>) {}

    fn lock_and_run(
        &mut self,
        _wait: std::time::Duration,
        _script: &str,
        _sudo: Option<&str>,
        _on_wait: &mut dyn FnMut(),
    ) -> Result<(Lock, Option<Output>), TransportError> {
        Err(TransportError(self.0.clone()))
    }
}

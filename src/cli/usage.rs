//! [`UsageError`]: the command line asked for something that cannot be done
//! as asked (a file it names cannot be read, a flag's value is refused, a
//! confirmation is missing). Nothing was sent; `main` exits with status 2,
//! which `RestartPreventExitStatus=2 3` keeps systemd from restarting.

/// A usage error of one command, said as `worker COMMAND: message`.
#[derive(Debug, thiserror::Error)]
#[error("worker {command}: {message}")]
pub struct UsageError {
    pub command: &'static str,
    pub message: String,
}

/// A [`UsageError`] of `command` as an [`anyhow::Error`].
pub fn usage(command: &'static str, message: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(UsageError { command, message: message.to_string() })
}

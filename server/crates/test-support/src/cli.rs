//! Runs of the server's command line (`create-admin`, `scim-token`, `sso-config`, …) to completion.
//!
//! The binary's path comes from the test crate (`env!("CARGO_BIN_EXE_server")` exists only in the
//! server's own integration tests).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A command line: one binary and its environment (`RUST_LOG=warn` unless set otherwise).
#[derive(Clone)]
pub struct Cli {
    bin: PathBuf,
    env: Vec<(String, String)>,
}

/// What a run printed, and whether it succeeded.
pub struct CliOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Cli {
    pub fn new(bin: impl Into<PathBuf>) -> Cli {
        Cli {
            bin: bin.into(),
            env: vec![("RUST_LOG".into(), "warn".into())],
        }
    }

    /// Sets an environment variable of every run (a later value replaces an earlier one).
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Cli {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs `args` with `stdin` written to its standard input, and waits for it to exit.
    pub fn run(&self, args: &[&str], stdin: &str) -> CliOutput {
        let mut child = Command::new(&self.bin)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", self.bin.display()));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        CliOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }

    /// [`Cli::run`] on a blocking thread: waiting for a child process on the async runtime would
    /// stall it, and the test's deadline with it.
    pub async fn run_async(&self, args: &[&str], stdin: &str) -> CliOutput {
        let (cli, stdin) = (self.clone(), stdin.to_string());
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli.run(&args, &stdin)
        })
        .await
        .unwrap()
    }
}

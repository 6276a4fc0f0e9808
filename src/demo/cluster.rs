//! A throwaway PostgreSQL cluster for `worker demo` on a machine without a
//! server: `initdb` into a temporary directory, `pg_ctl start` on a free
//! loopback port with trust authentication, and `stop` (also on drop) that
//! stops it and removes the directory.
//!
//! `initdb` refuses to run as root. Run as root (a container, a fresh VM),
//! the programs run as the `postgres` user through `runuser`, which the
//! PostgreSQL packages create; without that user the error says what to do.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// Where to install PostgreSQL from, for the error that finds none.
pub const INSTALL_HINT: &str = "install PostgreSQL: Debian/Ubuntu `sudo apt-get install postgresql`, \
    Fedora `sudo dnf install postgresql-server`, macOS `brew install postgresql@17`; \
    or set DATABASE_URL to a server you have (or run `worker demo --walk-only`, which needs no database)";

/// A running throwaway cluster.
pub struct Cluster {
    pub dir: PathBuf,
    pub url: String,
    pg_ctl: PathBuf,
    /// Run the programs as this user (uid, gid) through `runuser`: we are root.
    as_user: Option<(u32, u32)>,
    running: bool,
}

impl Cluster {
    /// Finds the programs, creates the cluster and starts it.
    pub fn start(bin: Option<&Path>) -> anyhow::Result<Cluster> {
        let bin = find_bin(bin)?;
        let as_user = if effective_uid()? == 0 { Some(postgres_user()?) } else { None };
        let dir = std::env::temp_dir().join(format!("tokportal-demo-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("Failed to clear {}", dir.display()))?;
        }
        std::fs::create_dir(&dir).with_context(|| format!("Failed to create {}", dir.display()))?;
        let mut cluster = Cluster {
            dir: dir.clone(),
            url: String::new(),
            pg_ctl: bin.join("pg_ctl"),
            as_user,
            running: false,
        };
        if let Some((uid, gid)) = as_user {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .with_context(|| format!("Failed to give {} to the postgres user", dir.display()))?;
        }
        let data = dir.join("data");
        cluster.run(
            &bin.join("initdb"),
            &["-D", path_str(&data)?, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"],
        )?;
        let port = free_port()?;
        let options = format!("-F -p {port} -k {} -c listen_addresses=127.0.0.1", path_str(&dir)?);
        cluster.running = true;
        let log = dir.join("server.log");
        let started = cluster.run(
            &cluster.pg_ctl.clone(),
            &["-D", path_str(&data)?, "-l", path_str(&log)?, "-w", "-t", "30", "-o", &options, "start"],
        );
        if let Err(e) = started {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            return Err(e.context(format!(
                "the server did not start; its log ends with:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )));
        }
        cluster.url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        Ok(cluster)
    }

    /// Stops the server and removes the directory.
    pub fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> anyhow::Result<()> {
        if self.running {
            self.running = false;
            let data = self.dir.join("data");
            self.run(&self.pg_ctl.clone(), &["-D", path_str(&data)?, "-m", "fast", "-w", "stop"])?;
        }
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir)
                .with_context(|| format!("Failed to remove {}", self.dir.display()))?;
        }
        Ok(())
    }

    /// Runs one program (as the postgres user when we are root), in the
    /// cluster's directory so a home the user cannot read does not matter.
    fn run(&self, program: &Path, args: &[&str]) -> anyhow::Result<()> {
        let mut command = match self.as_user {
            Some(_) => {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(program);
                c
            }
            None => Command::new(program),
        };
        command.args(args).current_dir(&self.dir);
        let out = command.output().with_context(|| format!("Failed to run {}", program.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "{} failed ({}): {}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            crate::errln!(
                "warning: the throwaway cluster in {} was not cleaned up: {e:#}",
                self.dir.display()
            );
        }
    }
}

/// `--pg-bin`, else the newest `/usr/lib/postgresql/*/bin` (Debian, Ubuntu), else `PATH`.
fn find_bin(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = given {
        if !has_both(dir) {
            let message = format!("--pg-bin {}: no initdb and pg_ctl there; {INSTALL_HINT}", dir.display());
            return Err(crate::cli::usage("demo", message));
        }
        return Ok(dir.to_path_buf());
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u32>().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| has_both(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).find(|dir| has_both(dir)).ok_or_else(|| {
        anyhow::anyhow!(
            "no PostgreSQL server programs found (initdb and pg_ctl, under /usr/lib/postgresql/*/bin or on PATH); {INSTALL_HINT}"
        )
    })
}

/// The effective user id of this process (the owner of `/proc/self`).
fn effective_uid() -> anyhow::Result<u32> {
    Ok(std::fs::metadata("/proc/self").context("Failed to read /proc/self")?.uid())
}

/// The `postgres` user's uid and gid, from `/etc/passwd`.
fn postgres_user() -> anyhow::Result<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").context("Failed to read /etc/passwd")?;
    let found = passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            ["postgres", _, uid, gid, ..] => Some((uid.parse().ok()?, gid.parse().ok()?)),
            _ => None,
        }
    });
    let runuser = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .any(|dir| dir.join("runuser").is_file());
    match found {
        Some(ids) if runuser => Ok(ids),
        _ => anyhow::bail!(
            "initdb refuses to run as root, and there is no `postgres` user (with runuser) to run it as: \
             run `worker demo` as an ordinary user, or set DATABASE_URL to a server you have"
        ),
    }
}

/// A loopback port free right now (bound, then released).
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("Failed to find a free port")?;
    Ok(listener.local_addr().context("Failed to read the free port")?.port())
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().with_context(|| format!("{} is not valid UTF-8", path.display()))
}

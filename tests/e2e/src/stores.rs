//! The stores as the reliability tests see them: snapshots of everything a shop keeps (to prove
//! that refused input changed nothing), and private PostgreSQL and Redis servers that a test
//! may stop, freeze and restart (never the machine's shared ones).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::Shop;

/// Everything one shop keeps: Redis keys under its prefix (with values) and the rows of its tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub redis: BTreeMap<String, String>,
    pub tables: BTreeMap<String, Vec<String>>,
}

const TABLES: [&str; 10] = [
    "products", "stock_orders", "stock_reservations", "exchange_rates", "co_purchases", "orders", "order_lines", "accounts", "addresses", "schema_migrations",
];

/// Reads every key of the shop's prefix and every row of its tables.
pub async fn snapshot(shop: &Shop) -> Result<Snapshot> {
    Snapshotter::new(shop).await?.snapshot().await
}

/// Takes many snapshots of one shop over the same two connections.
pub struct Snapshotter {
    prefix: String,
    redis: redis::aio::MultiplexedConnection,
    db: tokio_postgres::Client,
}

impl Snapshotter {
    pub async fn new(shop: &Shop) -> Result<Snapshotter> {
        Ok(Snapshotter { prefix: shop.redis_prefix.clone(), redis: shop.redis().await?, db: shop.db().await? })
    }

    pub async fn snapshot(&mut self) -> Result<Snapshot> {
        take(&self.prefix, &mut self.redis, &self.db).await
    }
}

async fn take(prefix: &str, conn: &mut redis::aio::MultiplexedConnection, db: &tokio_postgres::Client) -> Result<Snapshot> {
    let conn = &mut *conn;
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{prefix}*")).query_async(conn).await?;
    let mut redis_values = BTreeMap::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(conn).await?;
        let value = match kind.as_str() {
            "string" => redis::cmd("GET").arg(&key).query_async::<Option<String>>(conn).await?.unwrap_or_default(),
            "hash" => {
                let h: BTreeMap<String, String> = redis::cmd("HGETALL").arg(&key).query_async(conn).await?;
                format!("{h:?}")
            }
            "list" => {
                let l: Vec<String> = redis::cmd("LRANGE").arg(&key).arg(0).arg(-1).query_async(conn).await?;
                format!("{l:?}")
            }
            "set" => {
                let mut s: Vec<String> = redis::cmd("SMEMBERS").arg(&key).query_async(conn).await?;
                s.sort();
                format!("{s:?}")
            }
            other => format!("<{other}>"),
        };
        redis_values.insert(key, value);
    }
    let mut tables = BTreeMap::new();
    for table in TABLES {
        let rows = db.query(&format!("SELECT t::text FROM {table} t ORDER BY 1"), &[]).await;
        let rows = match rows {
            Ok(rows) => rows.iter().map(|r| r.get::<_, String>(0)).collect(),
            Err(_) => vec!["<missing table>".to_string()],
        };
        tables.insert(table.to_string(), rows);
    }
    Ok(Snapshot { redis: redis_values, tables })
}

impl Snapshot {
    /// What differs from `other`, in words (empty when equal).
    pub fn diff(&self, other: &Snapshot) -> String {
        let mut out = String::new();
        for (k, v) in &self.redis {
            match other.redis.get(k) {
                None => out += &format!("redis key {k} removed\n"),
                Some(w) if w != v => out += &format!("redis key {k} changed: {v} -> {w}\n"),
                _ => {}
            }
        }
        for k in other.redis.keys().filter(|k| !self.redis.contains_key(*k)) {
            out += &format!("redis key {k} added: {}\n", other.redis[k]);
        }
        for (t, rows) in &self.tables {
            if other.tables.get(t) != Some(rows) {
                out += &format!("table {t} changed: {rows:?} -> {:?}\n", other.tables.get(t));
            }
        }
        out
    }
}

/// A free TCP port on 127.0.0.1 (bound and released; the caller binds it again soon after).
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn port_open(addr: &str) -> bool {
    std::net::TcpStream::connect_timeout(&addr.parse().expect("host:port"), Duration::from_millis(200)).is_ok()
}

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) -> Result<()> {
    let started = Instant::now();
    while !ok() {
        if started.elapsed() > timeout {
            bail!("{what} within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn temp_dir(kind: &str) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("shop-reliability-{kind}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Sends `sig` to one process, which must exist: a failure here is loud.
fn signal(pid: u32, sig: libc::c_int) -> Result<()> {
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    if unsafe { libc::kill(pid as libc::pid_t, sig) } != 0 {
        bail!("kill({pid}, {}) failed: {}", signal_name(sig), std::io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `sig` to a child of `parent` by pid; false when it is gone. A child may exit at any
/// moment (PostgreSQL starts and ends backends all the time), so its absence is no error; and a
/// pidfd pins the process before its parent is checked, so a pid that a new, unrelated process
/// took meanwhile is never signalled.
fn signal_child(parent: u32, pid: u32, sig: libc::c_int) -> Result<bool> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return gone_or(std::io::Error::last_os_error(), pid, sig);
    }
    // SAFETY: the descriptor was just returned to us and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
    if parent_of(pid) != Some(parent) {
        return Ok(false);
    }
    // SAFETY: pidfd_send_signal(2) with no siginfo and no flags.
    let sent = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), sig, std::ptr::null::<libc::siginfo_t>(), 0) };
    if sent < 0 {
        return gone_or(std::io::Error::last_os_error(), pid, sig);
    }
    Ok(true)
}

fn gone_or(e: std::io::Error, pid: u32, sig: libc::c_int) -> Result<bool> {
    if e.raw_os_error() == Some(libc::ESRCH) {
        return Ok(false);
    }
    bail!("signalling {pid} with {} failed: {e}", signal_name(sig))
}

/// The fields of `/proc/<pid>/stat` after the command name, from the state on (None when the
/// process is gone). `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so the
/// fields start after the last `)`.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat.rsplit_once(')')?.1.split_whitespace().map(str::to_string).collect())
}

/// The parent pid of a process (None when it is gone).
fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

/// The pids of the processes whose parent is `parent`.
fn children_of(parent: u32) -> Result<Vec<u32>> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        if parent_of(pid) == Some(parent) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGSTOP => "SIGSTOP",
        libc::SIGCONT => "SIGCONT",
        _ => "signal",
    }
}

/// A Redis server of the test's own, on a free port with its own directory.
pub struct PrivateRedis {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl PrivateRedis {
    pub fn start() -> Result<PrivateRedis> {
        let mut redis = PrivateRedis { port: free_port()?, dir: temp_dir("redis")?, child: None };
        redis.restart()?;
        Ok(redis)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts it again (same port, empty: it keeps nothing on disk).
    pub fn restart(&mut self) -> Result<()> {
        ensure!(self.child.is_none(), "Redis is already running");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting redis-server (Debian package redis-server)")?;
        self.child = Some(child);
        let addr = self.addr();
        wait_until("redis-server did not listen", Duration::from_secs(60), || port_open(&addr))
    }

    /// Kills it: connections drop, new ones are refused.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Freezes it (SIGSTOP): connections stay open, nothing answers.
    pub fn freeze(&self) -> Result<()> {
        signal(self.child.as_ref().context("not running")?.id(), libc::SIGSTOP)
    }

    pub fn thaw(&self) -> Result<()> {
        signal(self.child.as_ref().context("not running")?.id(), libc::SIGCONT)
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let _ = signal(child.id(), libc::SIGCONT);
        }
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A PostgreSQL cluster of the test's own (initdb under a temp dir, run as the `postgres` OS
/// user when we are root, as scripts/lib.sh does), on a free port.
pub struct PrivatePostgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    running: bool,
}

fn postgres_bin() -> Result<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL binaries not found in /usr/lib/postgresql (Debian package postgresql)")?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
    });
    dirs.pop().context("no PostgreSQL version with initdb in /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false)
}

/// Runs a PostgreSQL tool, as `postgres` when root (initdb refuses root).
fn as_pg_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl PrivatePostgres {
    pub fn start() -> Result<PrivatePostgres> {
        let bin = postgres_bin()?;
        let dir = temp_dir("pg")?;
        if is_root() {
            let status = Command::new("chown").arg("-R").arg("postgres").arg(&dir).status()?;
            ensure!(status.success(), "chown postgres {}", dir.display());
        }
        let data = dir.join("data");
        let out = as_pg_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .output()
            .context("running initdb")?;
        ensure!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let mut pg = PrivatePostgres { port: free_port()?, dir, bin, running: false };
        pg.restart()?;
        Ok(pg)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the cluster (again); its data is kept across restarts.
    pub fn restart(&mut self) -> Result<()> {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let out = as_pg_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &opts, "start"])
            .output()
            .context("running pg_ctl start")?;
        ensure!(out.status.success(), "pg_ctl start failed: {}", String::from_utf8_lossy(&out.stderr));
        self.running = true;
        let addr = self.addr();
        wait_until("PostgreSQL did not listen", Duration::from_secs(60), || port_open(&addr))
    }

    /// Stops it at once (`immediate`): every connection drops.
    pub fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        let out = as_pg_user(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output()
            .context("running pg_ctl stop")?;
        ensure!(out.status.success(), "pg_ctl stop failed: {}", String::from_utf8_lossy(&out.stderr));
        self.running = false;
        Ok(())
    }
}

impl PrivatePostgres {
    fn postmaster(&self) -> Result<u32> {
        let pidfile = std::fs::read_to_string(self.dir.join("data").join("postmaster.pid")).context("reading postmaster.pid")?;
        pidfile.lines().next().unwrap_or_default().trim().parse().context("postmaster.pid")
    }

    /// Freezes the whole cluster (SIGSTOP to the postmaster, then to each of its children):
    /// connections stay open and new ones are accepted by the kernel, but nothing answers.
    /// Each backend leads a process group of its own (PostgreSQL calls setsid() in every child),
    /// so there is no one group to signal. The postmaster goes first, and must: once stopped it
    /// forks no more children, so the list read after it is complete; a child that exits before
    /// its signal is simply gone.
    pub fn freeze(&self) -> Result<()> {
        let postmaster = self.postmaster()?;
        signal(postmaster, libc::SIGSTOP)?;
        for child in children_of(postmaster)? {
            signal_child(postmaster, child, libc::SIGSTOP)?;
        }
        Ok(())
    }

    /// Thaws the cluster: the children first, then the postmaster (which must succeed).
    pub fn thaw(&self) -> Result<()> {
        let postmaster = self.postmaster()?;
        for child in children_of(postmaster)? {
            signal_child(postmaster, child, libc::SIGCONT)?;
        }
        signal(postmaster, libc::SIGCONT)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.running {
            let _ = self.thaw();
        }
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(pid: u32) -> Option<char> {
        stat_fields(pid)?.first()?.chars().next()
    }

    /// The freeze's building block: a live child is signalled, a pid that is not (or no longer)
    /// the parent's child is skipped without error, and nothing else is touched.
    #[test]
    fn signal_child_stops_a_live_child_and_skips_gone_or_foreign_pids() -> Result<()> {
        let mut parent = Command::new("sh").args(["-c", "sleep 60 & sleep 60 & wait"]).spawn()?;
        let ppid = parent.id();
        let mut children = Vec::new();
        wait_until("the two children did not start", Duration::from_secs(30), || {
            children = children_of(ppid).unwrap_or_default();
            children.len() == 2
        })?;
        let (live, doomed) = (children[0], children[1]);

        ensure!(signal_child(ppid, live, libc::SIGSTOP)?, "the live child was not signalled");
        wait_until("the child did not stop", Duration::from_secs(10), || state(live) == Some('T'))?;
        ensure!(signal_child(ppid, live, libc::SIGCONT)?, "the live child was not continued");

        // Not its child: this test process.
        ensure!(!signal_child(ppid, std::process::id(), libc::SIGSTOP)?, "a foreign pid was signalled");
        // Gone: killed, and reaped by the shell's `wait`.
        signal(doomed, libc::SIGKILL)?;
        wait_until("the killed child was not reaped", Duration::from_secs(10), || parent_of(doomed) != Some(ppid))?;
        ensure!(!signal_child(ppid, doomed, libc::SIGSTOP)?, "a gone child counted as signalled");

        signal(live, libc::SIGKILL)?;
        parent.kill()?;
        parent.wait()?;
        Ok(())
    }
}

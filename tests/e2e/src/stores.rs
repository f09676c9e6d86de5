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

const TABLES: [&str; 4] = ["products", "orders", "order_lines", "schema_migrations"];

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

fn signal(pid: u32, sig: &str) -> Result<()> {
    let status = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status()?;
    ensure!(status.success(), "kill -{sig} {pid} failed");
    Ok(())
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
        wait_until("redis-server did not listen", Duration::from_secs(10), || port_open(&addr))
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
        signal(self.child.as_ref().context("not running")?.id(), "STOP")
    }

    pub fn thaw(&self) -> Result<()> {
        signal(self.child.as_ref().context("not running")?.id(), "CONT")
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let _ = signal(child.id(), "CONT");
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
            .args(["-w", "-t", "30", "-o", &opts, "start"])
            .output()
            .context("running pg_ctl start")?;
        ensure!(out.status.success(), "pg_ctl start failed: {}", String::from_utf8_lossy(&out.stderr));
        self.running = true;
        let addr = self.addr();
        wait_until("PostgreSQL did not listen", Duration::from_secs(20), || port_open(&addr))
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
    /// The postmaster and every backend process of the cluster.
    fn processes(&self) -> Result<Vec<u32>> {
        let pidfile = std::fs::read_to_string(self.dir.join("data").join("postmaster.pid")).context("reading postmaster.pid")?;
        let main: u32 = pidfile.lines().next().unwrap_or_default().trim().parse().context("postmaster.pid")?;
        let mut pids = vec![main];
        for entry in std::fs::read_dir("/proc")?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // `pid (comm) state ppid ...`; comm may hold spaces, so read after the last `)`.
            let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)).and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(main) {
                pids.push(pid);
            }
        }
        Ok(pids)
    }

    /// Freezes the whole cluster (SIGSTOP to the postmaster and its backends): connections stay
    /// open and new ones are accepted by the kernel, but nothing answers.
    pub fn freeze(&self) -> Result<()> {
        self.processes()?.into_iter().try_for_each(|pid| signal(pid, "STOP"))
    }

    pub fn thaw(&self) -> Result<()> {
        self.processes()?.into_iter().try_for_each(|pid| signal(pid, "CONT"))
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self.thaw();
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

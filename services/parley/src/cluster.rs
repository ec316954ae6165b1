//! A local cluster on loopback: every service in its own process (several
//! gateways and fanout workers), sharing NATS and Redis. `parley cluster`
//! uses it to let you try split mode on one machine; the split-mode tests
//! use it to kill and restart pieces.

use anyhow::{Context, bail};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The parley binary to run.
    pub exe: PathBuf,
    /// Data and logs, one subdirectory per service.
    pub dir: PathBuf,
    pub nats_url: String,
    pub redis_url: String,
    pub gateways: usize,
    pub fanouts: usize,
    /// Storage instances (static shards, see `cluster.storage_urls`).
    pub storages: usize,
    /// Extra PARLEY_* settings for every service.
    pub env: Vec<(String, String)>,
}

/// One service process.
pub struct Member {
    pub name: String,
    pub subcommand: &'static str,
    pub addr: SocketAddr,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Member {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
}

pub struct Cluster {
    opts: ClusterOptions,
    members: Vec<Member>,
}

fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

impl Cluster {
    /// Starts auth, presence and storage, then the fanout workers, then the
    /// gateways; returns once every one accepts connections.
    pub async fn start(opts: ClusterOptions) -> anyhow::Result<Self> {
        let names: Vec<(String, &'static str)> = [
            ("auth".to_string(), "auth"),
            ("presence".into(), "presence"),
        ]
        .into_iter()
        .chain((0..opts.storages.max(1)).map(|i| (format!("storage-{i}"), "storage")))
        .chain((0..opts.fanouts).map(|i| (format!("fanout-{i}"), "fanout")))
        .chain((0..opts.gateways).map(|i| (format!("gateway-{i}"), "gateway")))
        .collect();
        let mut addrs = Vec::new();
        for _ in &names {
            addrs.push(free_addr()?);
        }
        let addr_of = |name: &str| addrs[names.iter().position(|(n, _)| n == name).expect("known")];
        let storage_urls: Vec<String> = (0..opts.storages.max(1))
            .map(|i| format!("\"{}\"", url(addr_of(&format!("storage-{i}")))))
            .collect();
        let fanout_urls: Vec<String> = (0..opts.fanouts)
            .map(|i| format!("\"{}\"", url(addr_of(&format!("fanout-{i}")))))
            .collect();
        let common = vec![
            ("PARLEY_CLUSTER__BUS".to_string(), opts.nats_url.clone()),
            (
                "PARLEY_CLUSTER__PRESENCE_STORE".into(),
                opts.redis_url.clone(),
            ),
            ("PARLEY_CLUSTER__AUTH_URL".into(), url(addr_of("auth"))),
            (
                "PARLEY_CLUSTER__PRESENCE_URL".into(),
                url(addr_of("presence")),
            ),
            (
                "PARLEY_CLUSTER__STORAGE_URLS".into(),
                format!("[{}]", storage_urls.join(",")),
            ),
            (
                "PARLEY_CLUSTER__FANOUT_URLS".into(),
                format!("[{}]", fanout_urls.join(",")),
            ),
        ];
        let mut members = Vec::new();
        for ((name, sub), addr) in names.into_iter().zip(addrs.iter().copied()) {
            let mut env = common.clone();
            env.push((
                "PARLEY_DATA_DIR".into(),
                opts.dir.join(&name).display().to_string(),
            ));
            let key = if sub == "gateway" {
                "PARLEY_LISTEN"
            } else {
                "PARLEY_CLUSTER__GRPC_LISTEN"
            };
            env.push((key.into(), addr.to_string()));
            env.extend(opts.env.iter().cloned());
            members.push(Member {
                name,
                subcommand: sub,
                addr,
                env,
                child: None,
            });
        }
        let mut cluster = Self { opts, members };
        for i in 0..cluster.members.len() {
            cluster.spawn(i)?;
            // Dependencies first: everything waits for the services before it.
            if cluster.members[i].subcommand != "gateway" {
                cluster.wait_listening(i).await?;
            }
        }
        for i in 0..cluster.members.len() {
            cluster.wait_listening(i).await?;
        }
        Ok(cluster)
    }

    fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let m = &mut self.members[i];
        std::fs::create_dir_all(self.opts.dir.join(&m.name))?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.opts.dir.join(format!("{}.log", m.name)))?;
        let child = Command::new(&self.opts.exe)
            .arg(m.subcommand)
            .envs(m.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", m.name))?;
        m.child = Some(child);
        Ok(())
    }

    async fn wait_listening(&mut self, i: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let m = &mut self.members[i];
            if TcpStream::connect_timeout(&m.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(status) = m.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!(
                    "{} exited with {status}; see {}.log",
                    m.name,
                    self.opts.dir.join(&m.name).display()
                );
            }
            if Instant::now() > deadline {
                bail!("{} did not start listening on {}", m.name, m.addr);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn gateway_urls(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.subcommand == "gateway")
            .map(|m| url(m.addr))
            .collect()
    }

    fn index(&self, name: &str) -> usize {
        self.members
            .iter()
            .position(|m| m.name == name)
            .unwrap_or_else(|| panic!("no cluster member {name}"))
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub fn kill(&mut self, name: &str) {
        let i = self.index(name);
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits (at most `deadline`) for a graceful exit.
    pub async fn terminate(&mut self, name: &str, deadline: Duration) -> bool {
        let i = self.index(name);
        let Some(mut c) = self.members[i].child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let until = Instant::now() + deadline;
        loop {
            if c.try_wait().ok().flatten().is_some() {
                return true;
            }
            if Instant::now() > until {
                let _ = c.kill();
                let _ = c.wait();
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts a stopped member again with the same address and data.
    pub async fn restart(&mut self, name: &str) -> anyhow::Result<()> {
        let i = self.index(name);
        self.kill(name);
        self.spawn(i)?;
        self.wait_listening(i).await
    }

    /// Stops everything gracefully: gateways first (they drain clients).
    pub async fn shutdown(&mut self) {
        let names: Vec<String> = self.members.iter().rev().map(|m| m.name.clone()).collect();
        for n in names {
            self.terminate(&n, Duration::from_secs(15)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(mut c) = m.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

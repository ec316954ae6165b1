//! A local cluster on loopback: every service in its own process (several
//! gateways, fanout workers and storage instances), sharing NATS and Redis.
//! `parley cluster` uses it to let you try split mode on one machine; the
//! split-mode tests use it to kill and restart pieces.
//!
//! Services bind port 0 and announce the port they got (`cluster.announce`),
//! so concurrent launches never race for a "free" port. They start in
//! dependency order: auth, presence and storage; then fanout; then gateways.

use anyhow::{Context, bail};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
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
    /// gRPC address (HTTP/WebSocket for a gateway).
    pub addr: SocketAddr,
    /// /metrics, /healthz, /readyz (the gateway serves them on `addr`).
    pub admin: Option<SocketAddr>,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Member {
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn data_dir(&self, root: &Path) -> PathBuf {
        root.join(&self.name)
    }
}

pub struct Cluster {
    opts: ClusterOptions,
    members: Vec<Member>,
}

/// An internal service's URL (mutual TLS).
fn url(addr: SocketAddr) -> String {
    format!("https://{addr}")
}

fn list(addrs: &[SocketAddr]) -> String {
    let quoted: Vec<String> = addrs.iter().map(|a| format!("\"{}\"", url(*a))).collect();
    format!("[{}]", quoted.join(","))
}

const UNBOUND: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::LOCALHOST,
    0,
));

impl Cluster {
    /// Starts everything; returns once every service accepts connections.
    pub async fn start(opts: ClusterOptions) -> anyhow::Result<Self> {
        let mut cluster = Self {
            opts,
            members: Vec::new(),
        };
        // A CA of this cluster's own and a certificate per service, for
        // the mutual TLS of every internal call. The CA key is not kept.
        crate::internal_tls::generate(&cluster.tls_root(), 365, false)?;
        let common = vec![
            (
                "PARLEY_CLUSTER__BUS".to_string(),
                cluster.opts.nats_url.clone(),
            ),
            (
                "PARLEY_CLUSTER__PRESENCE_STORE".to_string(),
                cluster.opts.redis_url.clone(),
            ),
        ];
        // Tier 1: no dependencies on other services.
        let mut tier: Vec<(String, &'static str)> =
            vec![("auth".into(), "auth"), ("presence".into(), "presence")];
        tier.extend((0..cluster.opts.storages.max(1)).map(|i| (format!("storage-{i}"), "storage")));
        cluster.start_tier(tier, &common).await?;
        let addr = |c: &Cluster, kind: &str| -> Vec<SocketAddr> {
            c.members
                .iter()
                .filter(|m| m.subcommand == kind)
                .map(|m| m.addr)
                .collect()
        };
        let mut deps = common.clone();
        deps.push((
            "PARLEY_CLUSTER__AUTH_URL".into(),
            url(addr(&cluster, "auth")[0]),
        ));
        deps.push((
            "PARLEY_CLUSTER__PRESENCE_URL".into(),
            url(addr(&cluster, "presence")[0]),
        ));
        deps.push((
            "PARLEY_CLUSTER__STORAGE_URLS".into(),
            list(&addr(&cluster, "storage")),
        ));
        // Tier 2: fanout workers.
        let fanouts = (0..cluster.opts.fanouts.max(1))
            .map(|i| (format!("fanout-{i}"), "fanout"))
            .collect();
        cluster.start_tier(fanouts, &deps).await?;
        deps.push((
            "PARLEY_CLUSTER__FANOUT_URLS".into(),
            list(&addr(&cluster, "fanout")),
        ));
        // Tier 3: gateways.
        let gateways = (0..cluster.opts.gateways.max(1))
            .map(|i| (format!("gateway-{i}"), "gateway"))
            .collect();
        cluster.start_tier(gateways, &deps).await?;
        Ok(cluster)
    }

    /// Where the cluster's certificates are (`<service>/` per service).
    pub fn tls_root(&self) -> PathBuf {
        self.opts.dir.join("tls")
    }

    async fn start_tier(
        &mut self,
        tier: Vec<(String, &'static str)>,
        base: &[(String, String)],
    ) -> anyhow::Result<()> {
        let first = self.members.len();
        for (name, sub) in tier {
            let mut env = base.to_vec();
            env.push((
                "PARLEY_DATA_DIR".into(),
                self.opts.dir.join(&name).display().to_string(),
            ));
            env.push(("PARLEY_CLUSTER__ANNOUNCE".into(), "true".into()));
            env.push((
                "PARLEY_CLUSTER__TLS_DIR".into(),
                self.tls_root().join(sub).display().to_string(),
            ));
            if let Some(i) = name.strip_prefix("storage-") {
                env.push(("PARLEY_STORAGE__SHARD_INDEX".into(), i.to_string()));
                env.push((
                    "PARLEY_STORAGE__SHARD_COUNT".into(),
                    self.opts.storages.max(1).to_string(),
                ));
            }
            env.extend(self.opts.env.iter().cloned());
            let admin = Some(UNBOUND);
            self.members.push(Member {
                name,
                subcommand: sub,
                addr: UNBOUND,
                admin,
                env,
                child: None,
            });
            let i = self.members.len() - 1;
            self.spawn(i)?;
        }
        for i in first..self.members.len() {
            self.wait_announced(i).await?;
        }
        Ok(())
    }

    fn spawn(&mut self, i: usize) -> anyhow::Result<()> {
        let root = self.opts.dir.clone();
        let m = &mut self.members[i];
        let data = m.data_dir(&root);
        std::fs::create_dir_all(&data)?;
        for kind in ["grpc", "admin", "http"] {
            let _ = std::fs::remove_file(data.join(format!("{kind}.addr")));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(root.join(format!("{}.log", m.name)))?;
        // A restarted member comes back on the address the others know.
        let listen_key = if m.subcommand == "gateway" {
            "PARLEY_LISTEN"
        } else {
            "PARLEY_CLUSTER__GRPC_LISTEN"
        };
        let mut cmd = Command::new(&self.opts.exe);
        cmd.arg(m.subcommand)
            .envs(m.env.iter().map(|(k, v)| (k, v)))
            .env(listen_key, m.addr.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if let Some(admin) = m.admin {
            cmd.env("PARLEY_CLUSTER__ADMIN_LISTEN", admin.to_string());
        }
        m.child = Some(
            cmd.spawn()
                .with_context(|| format!("starting {}", m.name))?,
        );
        Ok(())
    }

    /// Waits for the member's announced addresses, then for it to accept.
    async fn wait_announced(&mut self, i: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let root = self.opts.dir.clone();
        loop {
            let m = &mut self.members[i];
            let data = m.data_dir(&root);
            let main_kind = if m.subcommand == "gateway" {
                "http"
            } else {
                "grpc"
            };
            let read = |kind: &str| {
                std::fs::read_to_string(data.join(format!("{kind}.addr")))
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
            };
            let main: Option<SocketAddr> = read(main_kind);
            let admin: Option<SocketAddr> = read("admin");
            if let Some(addr) = main
                && (m.admin.is_none() || admin.is_some())
                && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            {
                m.addr = addr;
                if m.admin.is_some() {
                    m.admin = admin;
                }
                return Ok(());
            }
            if let Some(status) = m.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!(
                    "{} exited with {status}; see {}",
                    m.name,
                    root.join(format!("{}.log", m.name)).display()
                );
            }
            if Instant::now() > deadline {
                bail!("{} did not start listening", m.name);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn gateway_urls(&self) -> Vec<String> {
        self.members
            .iter()
            .filter(|m| m.subcommand == "gateway")
            .map(|m| format!("http://{}", m.addr))
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

    /// Starts a stopped member again with the same addresses and data.
    pub async fn restart(&mut self, name: &str) -> anyhow::Result<()> {
        let i = self.index(name);
        self.kill(name);
        self.spawn(i)?;
        self.wait_announced(i).await
    }

    /// Members whose process has exited since the last call (reaped: they
    /// leave no zombie), with how they ended.
    pub fn reap_exited(&mut self) -> Vec<(String, std::process::ExitStatus)> {
        let mut exited = Vec::new();
        for m in &mut self.members {
            if let Some(status) = m.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                m.child = None;
                exited.push((m.name.clone(), status));
            }
        }
        exited
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

//! Local backend servers: a nats-server (JetStream) and a redis-server,
//! each on a free loopback port in its own temp dir, killed when dropped.
//! `parley cluster` runs split mode on one machine with them, and the tests
//! (through `parley-testkit`) kill and restart them mid-test to prove
//! recovery.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_DEADLINE: Duration = Duration::from_secs(15);

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn wait_listening(addr: SocketAddr, child: &mut Child, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + START_DEADLINE;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited during start: {status}"));
        }
        if Instant::now() >= deadline {
            return Err(format!("{what} did not listen on {addr}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The nats-server binary: `PARLEY_NATS_SERVER`, else the one the setup
/// script installs (`.tools/venv/bin/nats-server`, 2.10+), else PATH.
pub fn nats_server_binary() -> PathBuf {
    if let Ok(p) = std::env::var("PARLEY_NATS_SERVER") {
        return PathBuf::from(p);
    }
    let local = workspace_root().join(".tools/venv/bin/nats-server");
    if local.exists() {
        local
    } else {
        PathBuf::from("nats-server")
    }
}

/// A server process on a fixed loopback port in its own temp dir.
struct ServerProcess {
    what: &'static str,
    command: fn(u16, &Path) -> Command,
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl ServerProcess {
    fn start(what: &'static str, command: fn(u16, &Path) -> Command) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir for {what}: {e}"))?;
        let mut s = Self {
            what,
            command,
            child: None,
            port: free_port()?,
            dir,
        };
        s.spawn()?;
        Ok(s)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut child = (self.command)(self.port, self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "{} does not start ({e}); run scripts/test-setup.sh",
                    self.what
                )
            })?;
        if let Err(e) = wait_listening(self.addr(), &mut child, self.what) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        self.child = Some(child);
        Ok(())
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn restart(&mut self) {
        self.kill();
        if let Err(e) = self.spawn() {
            panic!("{e}");
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A nats-server with JetStream.
pub struct NatsServer(ServerProcess);

impl NatsServer {
    /// Starts one; panics if it cannot (tests).
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts one, or says why it could not.
    pub fn try_start() -> Result<Self, String> {
        ServerProcess::start("nats-server", |port, dir| {
            let mut c = Command::new(nats_server_binary());
            c.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
                .arg(dir);
            c
        })
        .map(Self)
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    pub fn url(&self) -> String {
        format!("nats://{}", self.addr())
    }

    /// Kills the server (SIGKILL); its JetStream data stays on disk.
    pub fn kill(&mut self) {
        self.0.kill();
    }

    /// Starts it again on the same port and data directory (panics if it
    /// cannot: tests).
    pub fn restart(&mut self) {
        self.0.restart();
    }
}

/// A redis-server without persistence.
pub struct RedisServer(ServerProcess);

impl RedisServer {
    /// Starts one; panics if it cannot (tests).
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts one, or says why it could not.
    pub fn try_start() -> Result<Self, String> {
        ServerProcess::start("redis-server", |port, dir| {
            let bin =
                std::env::var("PARLEY_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
            let mut c = Command::new(bin);
            c.args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
            ])
            .arg(dir);
            c
        })
        .map(Self)
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr())
    }

    /// Kills the server (SIGKILL); it forgets everything.
    pub fn kill(&mut self) {
        self.0.kill();
    }

    /// Starts it again, empty, on the same port (panics if it cannot: tests).
    pub fn restart(&mut self) {
        self.0.restart();
    }
}

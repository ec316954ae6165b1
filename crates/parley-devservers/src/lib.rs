//! Local backend servers: a nats-server (JetStream) and a redis-server,
//! each on a free loopback port in its own temp dir, killed when dropped.
//! `parley cluster` runs split mode on one machine with them, and the tests
//! (through `parley-testkit`) kill and restart them mid-test to prove
//! recovery. Both require a password (random per server, in config files
//! in the owner-only temp dir rather than on a command line that `ps`
//! shows), so everything that uses them runs authenticated, as production
//! does; `url()` carries it.

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

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("writing {}: {e}", path.display()))
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

/// A random password (hex; safe in a URL and a config file unquoted).
fn random_secret() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for a password: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Builds the command that starts a server: port, its directory, password.
type Starter = fn(u16, &Path, &str) -> Result<Command, String>;

/// A server process on a fixed loopback port in its own temp dir.
struct ServerProcess {
    what: &'static str,
    command: Starter,
    secret: String,
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl ServerProcess {
    fn start(what: &'static str, command: Starter) -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir for {what}: {e}"))?;
        let mut s = Self {
            what,
            command,
            secret: random_secret()?,
            child: None,
            port: free_port()?,
            dir,
        };
        s.spawn()?;
        Ok(s)
    }

    fn spawn(&mut self) -> Result<(), String> {
        let mut child = (self.command)(self.port, self.dir.path(), &self.secret)?
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

/// A nats-server with JetStream, Parley's user in an account of its own
/// (as k8s/base/nats.conf configures it).
pub struct NatsServer(ServerProcess);

impl NatsServer {
    /// Starts one; panics if it cannot (tests).
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts one, or says why it could not.
    pub fn try_start() -> Result<Self, String> {
        ServerProcess::start("nats-server", |port, dir, secret| {
            let conf = dir.join("nats.conf");
            let text = format!(
                "listen: \"127.0.0.1:{port}\"\njetstream {{ store_dir: {:?} }}\naccounts {{ PARLEY: {{ jetstream: enabled, users: [ {{ user: parley, password: \"{secret}\" }} ] }} }}\n",
                dir.join("js").display().to_string()
            );
            write_private(&conf, &text)?;
            let mut c = Command::new(nats_server_binary());
            c.arg("-c").arg(conf);
            Ok(c)
        })
        .map(Self)
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// With the credentials: `nats://parley:<password>@127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://parley:{}@{}", self.0.secret, self.addr())
    }

    /// Without them (a caller the server must refuse).
    pub fn url_without_credentials(&self) -> String {
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
        ServerProcess::start("redis-server", |port, dir, secret| {
            let conf = dir.join("redis.conf");
            write_private(&conf, &format!("requirepass {secret}\n"))?;
            let bin =
                std::env::var("PARLEY_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
            let mut c = Command::new(bin);
            c.arg(conf)
                .args([
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
            Ok(c)
        })
        .map(Self)
    }

    pub fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    /// With the password: `redis://:<password>@127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://:{}@{}", self.0.secret, self.addr())
    }

    /// Without it (a caller the server must refuse).
    pub fn url_without_credentials(&self) -> String {
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

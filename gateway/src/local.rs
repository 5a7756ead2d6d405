//! [`LocalGateway`]: nginx with the Lua module, rendered from the policy into a private
//! temporary prefix, listening on a loopback port in front of one upstream. Nothing outside
//! the prefix is touched (no system nginx, no /var paths), it works as root or not, and the
//! whole process group is stopped when the value is dropped, or when the process dies
//! (see the `nginx` module).
//!
//! No key reaches the disk: the policy goes to nginx through a pipe, and the error log is
//! written scrubbed. The prefix (mode 0700: nginx.conf, the Lua code, logs, temp files) is
//! removed at stop; one left by a process that was killed is removed by the next start.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::error::GatewayError;
use crate::nginx::{self, Nginx};
use crate::plan::plan;
use crate::policy::{HeaderValue, Plugin, Policy, RateLimits};
use crate::render::{self, RenderInput};
use crate::vault::SecretSource;

/// How long nginx gets to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long nginx gets to stop after SIGTERM before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts with a fresh free port when another process took the one we picked.
const PORT_ATTEMPTS: usize = 3;

static PREFIX_COUNTER: AtomicU64 = AtomicU64::new(0);
/// How every prefix's name starts: `local-gateway-PID-N-NANOS` in the temporary directory.
const PREFIX_NAME: &str = "local-gateway-";

/// Configures a [`LocalGateway`] before it starts.
#[derive(Debug, Clone)]
pub struct LocalGatewayBuilder {
    policy: Policy,
    upstream: Option<SocketAddr>,
    listen: Option<SocketAddr>,
    secrets: SecretSource,
    consumer_keys: BTreeMap<String, String>,
    origin_secret: Option<String>,
    nginx: Option<PathBuf>,
    keep_prefix: bool,
}

/// A running local gateway; stops (process group killed, prefix removed) on drop.
#[derive(Debug)]
pub struct LocalGateway {
    nginx: Nginx,
    addr: SocketAddr,
    prefix: PathBuf,
    keep_prefix: bool,
    consumers: Vec<String>,
}

impl LocalGateway {
    /// Starts configuring a gateway for `policy`.
    pub fn builder(policy: Policy) -> LocalGatewayBuilder {
        LocalGatewayBuilder {
            policy,
            upstream: None,
            listen: None,
            secrets: SecretSource::new(),
            consumer_keys: BTreeMap::new(),
            origin_secret: None,
            nginx: None,
            keep_prefix: false,
        }
    }

    /// Starts configuring a gateway for the committed `gateway/kong.yaml`.
    pub fn committed() -> Result<LocalGatewayBuilder, GatewayError> {
        Ok(Self::builder(Policy::committed()?))
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The temporary prefix (nginx.conf, Lua, logs).
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// Consumers that can authenticate (their key was resolved).
    pub fn consumers(&self) -> &[String] {
        &self.consumers
    }

    /// nginx's error log so far (for test failure messages).
    /// Query strings and secrets are already removed from it.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(nginx::error_log_path(&self.prefix)).unwrap_or_default()
    }

    /// The access log so far: one line per request, without query strings or headers.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.prefix.join("logs/access.log")).unwrap_or_default()
    }

    /// Whether nginx is still running.
    pub fn is_running(&mut self) -> bool {
        self.nginx.exit_status().is_none()
    }

    /// Stops nginx (SIGTERM to the process group, SIGKILL after a grace period).
    pub fn stop(mut self) -> Result<(), GatewayError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), GatewayError> {
        self.nginx.stop(STOP_TIMEOUT);
        if !self.keep_prefix && self.prefix.exists() {
            std::fs::remove_dir_all(&self.prefix).map_err(GatewayError::io(format!(
                "removing {}",
                self.prefix.display()
            )))?;
        }
        Ok(())
    }
}

impl Drop for LocalGateway {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!(error = %e, "stopping the local gateway");
        }
    }
}

impl LocalGatewayBuilder {
    /// The service to front (required).
    pub fn upstream(mut self, addr: SocketAddr) -> Self {
        self.upstream = Some(addr);
        self
    }

    /// Listen here instead of a free loopback port.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// The API key of one consumer (wins over the environment).
    pub fn consumer_key(mut self, consumer: &str, key: &str) -> Self {
        self.consumer_keys
            .insert(consumer.to_owned(), key.to_owned());
        self
    }

    /// API keys of several consumers (consumer → key), e.g. a `BTreeMap`; each wins over the
    /// environment.
    pub fn consumer_keys<K: Into<String>, V: Into<String>>(
        mut self,
        keys: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.consumer_keys
            .extend(keys.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The value of the X-Origin-Secret header the gateway adds (wins over the environment).
    pub fn origin_secret(mut self, secret: &str) -> Self {
        self.origin_secret = Some(secret.to_owned());
        self
    }

    /// The value of any env vault variable (e.g. `CANARY_API_KEY`), wins over the environment.
    pub fn secret(mut self, env_var: &str, value: &str) -> Self {
        self.secrets.set(env_var, value);
        self
    }

    /// Resolves references not given explicitly from the process environment, like Kong.
    pub fn secrets_from_env(mut self) -> Self {
        self.secrets = self.secrets.with_env();
        self
    }

    /// Test override: one consumer's own limits.
    pub fn consumer_limits(
        mut self,
        consumer: &str,
        limits: RateLimits,
    ) -> Result<Self, GatewayError> {
        self.policy.set_consumer_limits(consumer, limits)?;
        Ok(self)
    }

    /// Test override: the default limits (consumers without their own).
    pub fn default_limits(mut self, limits: RateLimits) -> Result<Self, GatewayError> {
        self.policy.set_default_limits(limits)?;
        Ok(self)
    }

    /// Test override: no key-auth at all (a misconfigured gateway).
    pub fn without_auth(mut self) -> Self {
        self.policy.disable_auth();
        self
    }

    /// Test override: the request body limit in bytes.
    pub fn max_payload_bytes(mut self, bytes: u64) -> Self {
        self.policy.set_max_payload_bytes(bytes);
        self
    }

    /// Test override: the opentelemetry plugin's sampling rate (0 to 1) for traces that are not
    /// already unsampled by their parent.
    pub fn trace_sampling_rate(mut self, rate: f64) -> Result<Self, GatewayError> {
        self.policy.set_trace_sampling_rate(rate)?;
        Ok(self)
    }

    /// Uses this nginx binary (default: `nginx` on PATH, then /usr/sbin/nginx).
    pub fn nginx(mut self, path: PathBuf) -> Self {
        self.nginx = Some(path);
        self
    }

    /// Keeps the prefix directory after stop (debugging).
    pub fn keep_prefix(mut self, keep: bool) -> Self {
        self.keep_prefix = keep;
        self
    }

    /// The policy as it will be rendered (after overrides).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Renders the prefix and starts nginx; returns once it accepts connections.
    pub fn start(self) -> Result<LocalGateway, GatewayError> {
        let upstream = self.upstream.ok_or(GatewayError::NoUpstream)?;
        let nginx = find_nginx(self.nginx.clone())?;
        for module in [render::NDK_MODULE, render::LUA_MODULE] {
            if !Path::new(module).exists() {
                return Err(GatewayError::MissingTool {
                    what: "the nginx Lua module (libnginx-mod-http-lua)",
                    path: module.into(),
                });
            }
        }
        let (credentials, consumers, secrets) = self.resolve()?;
        let plans = plan(&self.policy);

        let mut last_err = None;
        let attempts = if self.listen.is_some() {
            1
        } else {
            PORT_ATTEMPTS
        };
        for _ in 0..attempts {
            let listen = match self.listen {
                Some(a) => a,
                None => free_loopback_port()?,
            };
            let prefix = make_prefix()?;
            let owner = std::fs::metadata(&prefix)
                .map_err(GatewayError::io("reading the prefix"))?
                .uid();
            sweep_stale_prefixes(owner);
            let run_as_root = owner == 0;
            let input = RenderInput {
                plans: &plans,
                service: &self.policy.service,
                credentials: &credentials,
                secrets: &secrets,
                listen,
                upstream,
                prefix: &prefix,
                run_as_root,
                parent_pid: std::process::id(),
                trace_sampling_rate: self.policy.tracing().map(|o| o.sampling_rate),
            };
            // Every key and header secret, kept out of the error log.
            let hidden: Vec<String> = credentials
                .keys()
                .chain(secrets.values())
                .cloned()
                .collect();
            let started = write_prefix(&prefix, &input)
                .and_then(|()| render::policy_lua(&input))
                .and_then(|policy| Nginx::spawn(&nginx, &prefix, policy, hidden))
                .and_then(|mut n| match wait_listening(&n, &prefix, listen) {
                    Ok(()) => Ok(n),
                    Err(e) => {
                        n.stop(STOP_TIMEOUT);
                        Err(with_log(e, &prefix))
                    }
                });
            match started {
                Ok(nginx) => {
                    return Ok(LocalGateway {
                        nginx,
                        addr: listen,
                        prefix,
                        keep_prefix: self.keep_prefix,
                        consumers,
                    });
                }
                Err(e) => {
                    if !self.keep_prefix {
                        let _ = std::fs::remove_dir_all(&prefix);
                    }
                    let retry = matches!(&e, GatewayError::Start { log, .. } if log.contains("Address already in use"));
                    last_err = Some(e);
                    if !retry {
                        break;
                    }
                }
            }
        }
        Err(last_err.unwrap_or(GatewayError::Start {
            reason: "no attempt was made".into(),
            log: String::new(),
        }))
    }

    /// Resolves keys and header secrets: explicit values, then the environment if enabled.
    #[allow(clippy::type_complexity)]
    fn resolve(
        &self,
    ) -> Result<
        (
            BTreeMap<String, String>,
            Vec<String>,
            BTreeMap<String, String>,
        ),
        GatewayError,
    > {
        let mut credentials: BTreeMap<String, String> = BTreeMap::new();
        let mut consumers = Vec::new();
        for c in &self.policy.consumers {
            let keys: Vec<String> = match self.consumer_keys.get(&c.username) {
                Some(k) => vec![k.clone()],
                None => c
                    .keys
                    .iter()
                    .filter_map(|r| self.secrets.resolve(r))
                    .collect(),
            };
            if keys.is_empty() {
                tracing::warn!(
                    consumer = %c.username,
                    env = ?c.keys.iter().map(|k| k.env_var.as_str()).collect::<Vec<_>>(),
                    "no key resolved: this consumer cannot authenticate"
                );
                continue;
            }
            for key in keys {
                if let Some(other) = credentials.insert(key, c.username.clone()) {
                    return Err(GatewayError::DuplicateKey {
                        first: other,
                        second: c.username.clone(),
                    });
                }
            }
            consumers.push(c.username.clone());
        }

        let mut secrets = BTreeMap::new();
        for p in &self.policy.plugins {
            let Plugin::RequestTransformer(t) = &p.plugin else {
                continue;
            };
            for (name, value) in t.replace.iter().chain(&t.add).chain(&t.append) {
                let HeaderValue::Reference(r) = value else {
                    continue;
                };
                let explicit = self
                    .origin_secret
                    .clone()
                    .filter(|_| name.eq_ignore_ascii_case("x-origin-secret"));
                let v = explicit
                    .or_else(|| self.secrets.resolve(r))
                    .ok_or_else(|| GatewayError::MissingSecret {
                        what: format!("no value for the {name} header ({})", r.reference),
                        env_var: r.env_var.clone(),
                    })?;
                secrets.insert(r.env_var.clone(), v);
            }
        }
        Ok((credentials, consumers, secrets))
    }
}

fn find_nginx(explicit: Option<PathBuf>) -> Result<PathBuf, GatewayError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p)
        } else {
            Err(GatewayError::MissingTool {
                what: "nginx",
                path: p,
            })
        };
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
        .ok_or(GatewayError::MissingTool {
            what: "nginx",
            path: "/usr/sbin/nginx".into(),
        })
}

fn free_loopback_port() -> Result<SocketAddr, GatewayError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(GatewayError::io("finding a free port"))?;
    l.local_addr()
        .map_err(GatewayError::io("finding a free port"))
}

fn make_prefix() -> Result<PathBuf, GatewayError> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!(
        "{PREFIX_NAME}{}-{}-{nanos}",
        std::process::id(),
        PREFIX_COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let dir = std::env::temp_dir().join(name);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&dir)
        .map_err(GatewayError::io(format!("creating {}", dir.display())))?;
    Ok(dir)
}

/// Removes the prefixes that gateways of processes no longer running left behind (killed
/// with SIGKILL, say): only directories named like ours, owned by `owner`, whose process id is
/// gone. A prefix holds no key, so this is tidiness, not secrecy.
fn sweep_stale_prefixes(owner: u32) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(PREFIX_NAME))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let ours = entry
            .metadata()
            .is_ok_and(|m| m.is_dir() && m.uid() == owner);
        if ours && !Path::new(&format!("/proc/{pid}")).exists() {
            // Another starting gateway may be removing it at the same time.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn write_prefix(prefix: &Path, input: &RenderInput<'_>) -> Result<(), GatewayError> {
    for sub in ["logs", "lua", "temp"] {
        let d = prefix.join(sub);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&d)
            .map_err(GatewayError::io(format!("creating {}", d.display())))?;
    }
    // No secret in either: the policy with the keys goes to nginx through a pipe.
    write_file(&prefix.join("nginx.conf"), &render::nginx_conf(input))?;
    write_file(&prefix.join("lua/local_gateway.lua"), render::GATEWAY_LUA)
}

fn write_file(path: &Path, text: &str) -> Result<(), GatewayError> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(GatewayError::io(format!("writing {}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(GatewayError::io(format!("writing {}", path.display())))
}

/// A start failure with nginx's error log (complete once nginx was stopped and reaped).
fn with_log(e: GatewayError, prefix: &Path) -> GatewayError {
    match e {
        GatewayError::Start { reason, .. } => GatewayError::Start {
            reason,
            log: std::fs::read_to_string(nginx::error_log_path(prefix)).unwrap_or_default(),
        },
        other => other,
    }
}

/// Waits until nginx listens on `listen` (its pid file is written after it bound the socket).
fn wait_listening(nginx: &Nginx, prefix: &Path, listen: SocketAddr) -> Result<(), GatewayError> {
    let deadline = Instant::now() + START_TIMEOUT;
    let pid_file = prefix.join("nginx.pid");
    loop {
        if let Some(status) = nginx.exit_status() {
            return Err(GatewayError::Start {
                reason: format!("nginx exited with {status}"),
                log: String::new(),
            });
        }
        if pid_file.exists()
            && TcpStream::connect_timeout(&listen, Duration::from_millis(200)).is_ok()
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(GatewayError::Start {
                reason: format!(
                    "nginx (pid {}) not listening on {listen} after {START_TIMEOUT:?}",
                    nginx.pid()
                ),
                log: String::new(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

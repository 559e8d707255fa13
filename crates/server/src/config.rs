//! The one typed configuration of the server, and how it is layered.
//!
//! Precedence, lowest to highest: built-in defaults, the TOML file named by `--config`,
//! `TETHER_*` environment variables, command-line flags. Environment variable names are the
//! upper-cased key path joined by a double underscore after the `TETHER_` prefix:
//! `cwmp.listen` is `TETHER_CWMP__LISTEN`, `cwmp.connection_request.timeout` is
//! `TETHER_CWMP__CONNECTION_REQUEST__TIMEOUT`, `data_dir` is `TETHER_DATA_DIR`. Only variables
//! whose first segment is a top-level key are read, so unrelated `TETHER_*` variables are
//! ignored; unknown keys inside a section are errors, as in the file.
//!
//! Durations are written as an integer number of seconds or a string with a unit (`"500ms"`,
//! `"30s"`, `"5m"`, `"1h"`); sizes as an integer number of bytes or a string with a unit
//! (`"256KiB"`, `"1MiB"`). Every default is documented on its field and in
//! `crates/server/docs/configuration.md`; the two must agree.
//!
//! This module owns parsing and defaults only; it opens no file other than the config file.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use figment::value::{Dict, Value};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file, an environment variable or a flag holds a bad value or an unknown key.
    #[error("configuration: {0}")]
    Invalid(String),
}

impl From<figment::Error> for ConfigError {
    fn from(e: figment::Error) -> Self {
        ConfigError::Invalid(e.to_string())
    }
}

/// The common flags of `tether server`, for the binary to flatten into its subcommand.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerArgs {
    /// TOML configuration file (values there are overridden by TETHER_* variables and flags).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the embedded database, generated certificates and other state.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database: a postgres:// URL, an sqlite: URL, or a directory (default: the data dir).
    #[arg(long, value_name = "URL")]
    pub database: Option<String>,
    /// Address of the CWMP (TR-069) endpoint.
    #[arg(long, value_name = "ADDR")]
    pub cwmp_listen: Option<SocketAddr>,
    /// Address of the REST API.
    #[arg(long, value_name = "ADDR")]
    pub api_listen: Option<SocketAddr>,
    /// Address of the cloud-connection endpoint (devices' management tunnels).
    #[arg(long, value_name = "ADDR")]
    pub cloud_listen: Option<SocketAddr>,
}

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// State directory: the SQLite database (unless `database` says otherwise) and generated
    /// TLS material. Default `./tether-data`.
    pub data_dir: PathBuf,
    /// `postgres://...`, `sqlite:...`, or a directory. Default: unset, meaning SQLite in
    /// `data_dir`.
    pub database: Option<String>,
    pub cwmp: CwmpConfig,
    pub api: ApiConfig,
    pub cloud: CloudConfig,
    pub admin: AdminConfig,
    pub tasks: TaskConfig,
    pub limits: Limits,
    /// How long in-flight requests may run after shutdown begins before they are cut. Default
    /// 10 s.
    pub shutdown_grace: Secs,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data_dir: PathBuf::from("./tether-data"),
            database: None,
            cwmp: CwmpConfig::default(),
            api: ApiConfig::default(),
            cloud: CloudConfig::default(),
            admin: AdminConfig::default(),
            tasks: TaskConfig::default(),
            limits: Limits::default(),
            shutdown_grace: Secs::from_secs(10),
        }
    }
}

/// Top-level keys; environment variables whose first segment is not one of these are ignored.
const TOP_LEVEL_KEYS: &[&str] = &[
    "data_dir",
    "database",
    "cwmp",
    "api",
    "cloud",
    "admin",
    "tasks",
    "limits",
    "shutdown_grace",
];

impl ServerConfig {
    /// Loads defaults < `args.config` file < the process's `TETHER_*` variables < flags.
    pub fn load(args: &ServerArgs) -> Result<Self, ConfigError> {
        Self::load_with_env(args, std::env::vars())
    }

    /// As [`load`](Self::load), with the environment given explicitly (for tests and embedding).
    pub fn load_with_env(
        args: &ServerArgs,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(ServerConfig::default()));
        if let Some(path) = &args.config {
            if !path.is_file() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Serialized::defaults(env_dict(env)?));
        figment = figment.merge(Serialized::defaults(flags_dict(args)));
        let config: ServerConfig = figment.extract()?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: combinations and ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        for (name, tls) in [
            ("cwmp.tls", &self.cwmp.tls),
            ("api.tls", &self.api.tls),
            ("cloud.tls", &self.cloud.tls),
        ] {
            if tls.mode == TlsMode::Files && (tls.cert.is_none() || tls.key.is_none()) {
                return bad(format!("{name}: mode \"files\" needs both cert and key"));
            }
        }
        if self.api.max_body.0 == 0 || self.cwmp.max_body.0 == 0 {
            return bad("max_body must be positive".into());
        }
        if self.cwmp.session_timeout.0.is_zero()
            || self.cwmp.session_max < self.cwmp.session_timeout
        {
            return bad("cwmp.session_max must be at least cwmp.session_timeout (> 0)".into());
        }
        if self.limits.max_page == 0 {
            return bad("limits.max_page must be positive".into());
        }
        if self.limits.max_wait.0 > Duration::from_secs(3600) {
            return bad("limits.max_wait must be at most 1h".into());
        }
        self.cloud.validate().map_err(ConfigError::Invalid)?;
        if self.admin.username.is_empty() {
            return bad("admin.username must not be empty".into());
        }
        Ok(())
    }

    /// The store URL: `database`, or the data directory.
    pub fn database_url(&self) -> String {
        match &self.database {
            Some(url) => url.clone(),
            None => self.data_dir.to_string_lossy().into_owned(),
        }
    }
}

fn env_dict(env: impl IntoIterator<Item = (String, String)>) -> Result<Dict, ConfigError> {
    let mut root = Dict::new();
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix("TETHER_") else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if !TOP_LEVEL_KEYS.contains(&path[0].as_str()) {
            continue;
        }
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Invalid(format!("bad variable name {name}")));
        }
        let value: Value = raw.parse().unwrap_or_else(|_| Value::from(raw.clone()));
        insert_path(&mut root, &path, value, &name)?;
    }
    Ok(root)
}

fn insert_path(
    dict: &mut Dict,
    path: &[String],
    value: Value,
    name: &str,
) -> Result<(), ConfigError> {
    let (first, rest) = path.split_first().expect("non-empty path");
    if rest.is_empty() {
        dict.insert(first.clone(), value);
        return Ok(());
    }
    let entry = dict
        .entry(first.clone())
        .or_insert_with(|| Value::from(Dict::new()));
    match entry {
        Value::Dict(_, inner) => insert_path(inner, rest, value, name),
        _ => Err(ConfigError::Invalid(format!(
            "{name} conflicts with another TETHER_ variable"
        ))),
    }
}

fn flags_dict(args: &ServerArgs) -> Dict {
    let mut root = Dict::new();
    let mut section = |section: &str, key: &str, value: Value| {
        let entry = root
            .entry(section.to_owned())
            .or_insert_with(|| Value::from(Dict::new()));
        if let Value::Dict(_, inner) = entry {
            inner.insert(key.to_owned(), value);
        }
    };
    if let Some(addr) = args.cwmp_listen {
        section("cwmp", "listen", Value::from(addr.to_string()));
    }
    if let Some(addr) = args.api_listen {
        section("api", "listen", Value::from(addr.to_string()));
    }
    if let Some(addr) = args.cloud_listen {
        section("cloud", "listen", Value::from(addr.to_string()));
    }
    if let Some(dir) = &args.data_dir {
        root.insert(
            "data_dir".into(),
            Value::from(dir.to_string_lossy().into_owned()),
        );
    }
    if let Some(db) = &args.database {
        root.insert("database".into(), Value::from(db.clone()));
    }
    root
}

/// The CWMP (TR-069) endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CwmpConfig {
    /// Default `0.0.0.0:7547`, the port TR-069 CPEs are commonly provisioned with.
    pub listen: SocketAddr,
    pub tls: TlsConfig,
    /// The URL CPEs are given (ManagementServer.URL), shown in docs and the UI. Default unset.
    pub public_url: Option<String>,
    /// Idle time between messages of one session before it is dropped. Default 30 s.
    pub session_timeout: Secs,
    /// Hard cap on one session's length. Default 300 s.
    pub session_max: Secs,
    /// Largest accepted request body. Default 1 MiB.
    pub max_body: Bytes,
    /// What to do with a CPE the store does not know. Default `accept`.
    pub unknown_devices: UnknownDevices,
    /// Account name that owns devices registered by the `accept` policy. Default unset (the
    /// device is unowned: only admins see it).
    pub default_owner: Option<String>,
    pub auth: CpeAuthConfig,
    pub connection_request: ConnectionRequestConfig,
}

impl Default for CwmpConfig {
    fn default() -> Self {
        CwmpConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 7547)),
            tls: TlsConfig::default(),
            public_url: None,
            session_timeout: Secs::from_secs(30),
            session_max: Secs::from_secs(300),
            max_body: Bytes(1024 * 1024),
            unknown_devices: UnknownDevices::Accept,
            default_owner: None,
            auth: CpeAuthConfig::default(),
            connection_request: ConnectionRequestConfig::default(),
        }
    }
}

/// The policy for CPEs the store does not know yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownDevices {
    /// Register the device at its first Inform (owned by `cwmp.default_owner`).
    Accept,
    /// Refuse it unless pre-registered with `POST /api/v1/devices`.
    Inventory,
}

/// How CPEs authenticate to the ACS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CpeAuthConfig {
    /// Require credentials (per device, or the owner account's defaults). Default true.
    pub require: bool,
    /// Accept Basic over plain HTTP (it sends the password in clear). Default false.
    pub allow_basic_without_tls: bool,
}

impl Default for CpeAuthConfig {
    fn default() -> Self {
        CpeAuthConfig {
            require: true,
            allow_basic_without_tls: false,
        }
    }
}

/// Connection requests (ACS -> CPE).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionRequestConfig {
    /// Time allowed for one connection request. Default 5 s.
    pub timeout: Secs,
    /// Minimum time between two connection requests to one device. Default 10 s.
    pub per_device_min_interval: Secs,
    /// Answer a Basic challenge (the password crosses the network in clear). Default false.
    pub allow_basic: bool,
    /// Set the connection-request credentials on devices the ACS holds none for (and again
    /// after a `0 BOOTSTRAP`), first thing in their session. Default true.
    pub provision_credentials: bool,
}

impl Default for ConnectionRequestConfig {
    fn default() -> Self {
        ConnectionRequestConfig {
            timeout: Secs::from_secs(5),
            per_device_min_interval: Secs::from_secs(10),
            allow_basic: false,
            provision_credentials: true,
        }
    }
}

/// The REST API listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Default `127.0.0.1:7557`: loopback only, so a fresh install does not expose its
    /// management API (and its first-start admin password) to the network before TLS and
    /// accounts are set up. Set `0.0.0.0:7557` (with TLS) to open it.
    pub listen: SocketAddr,
    pub tls: TlsConfig,
    /// Largest accepted request body. Default 256 KiB.
    pub max_body: Bytes,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7557)),
            tls: TlsConfig::default(),
            max_body: Bytes(256 * 1024),
        }
    }
}

/// The cloud-connection endpoint: HTTPS handshake, main tunnels and service subconnections
/// (`docs/cloud-connection-protocol.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudConfig {
    /// Default `0.0.0.0:443`, the port devices use unless told otherwise
    /// (`cloud-management server port`). Binding it needs root or `CAP_NET_BIND_SERVICE`;
    /// tests and unprivileged runs use another port (or port 0 for any free port).
    pub listen: SocketAddr,
    /// Default mode `self_signed`: devices must not use plain `ws://` in production. `off` is
    /// for labs only.
    pub tls: TlsConfig,
    /// `host[:port]` put in the tunnel and service URLs handed to devices. Default unset:
    /// `localhost:<bound port>`.
    pub public_host: Option<String>,
    /// This server node's name in device presence. A node marks the devices it held offline
    /// when it starts, so give every node of a cluster its own. Default `local`.
    pub node_id: String,
    /// Hex of 32 bytes signing the handshake tokens; every node of a cluster needs the same.
    /// Default unset: random at each start (tokens live at most 5 minutes).
    pub token_secret: Option<String>,
    /// Lifetime of the single-use tunnel and service URLs handed to devices. Default 60 s.
    pub url_lifetime: Secs,
    /// Close a tunnel or subconnection when nothing arrives for this long. Default 90 s.
    pub read_timeout: Secs,
    /// WebSocket ping interval told to devices. Default 30 s.
    pub ping_interval: Secs,
    /// Read deadline told to devices. Default 75 s.
    pub device_read_timeout: Secs,
    /// Least time between two presence writes of one device for keepalives (state changes
    /// are always written). Default 60 s.
    pub presence_write_interval: Secs,
    /// How long an API request waits for a device's answer (config, terminal open). Default
    /// 30 s.
    pub request_timeout: Secs,
    /// Telemetry sampling interval asked of devices (0 or 10 s..1 h). Default 60 s.
    pub telemetry_interval: Secs,
    /// Telemetry samples kept in memory per device. Default 360 (6 h at 60 s).
    pub telemetry_history: usize,
    /// Bytes of telemetry (as JSON) kept in memory per device; the oldest samples go first.
    /// Default 1 MiB.
    pub telemetry_history_bytes: Bytes,
    /// Unbinding codes one account may obtain per hour. Default 10.
    pub unbind_codes_per_account: u32,
    /// Unbinding codes issued per serial per hour. Default 10.
    pub unbind_codes_per_serial: u32,
    /// Lifetime of an unbinding code. Default 30 min.
    pub unbind_code_lifetime: Secs,
    /// `/cloudlink/v1/auth` requests per minute per source address. Default 60.
    pub auth_per_address: u32,
    /// `/cloudlink/v1/auth` requests per minute per serial. Default 20.
    pub auth_per_serial: u32,
    /// WebSockets (tunnels and subconnections) open at once on this node. Default 100000.
    pub max_websockets: usize,
}

impl Default for CloudConfig {
    fn default() -> Self {
        CloudConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 443)),
            tls: TlsConfig {
                mode: TlsMode::SelfSigned,
                ..TlsConfig::default()
            },
            public_host: None,
            node_id: "local".into(),
            token_secret: None,
            url_lifetime: Secs::from_secs(60),
            read_timeout: Secs::from_secs(90),
            ping_interval: Secs::from_secs(30),
            device_read_timeout: Secs::from_secs(75),
            presence_write_interval: Secs::from_secs(60),
            request_timeout: Secs::from_secs(30),
            telemetry_interval: Secs::from_secs(60),
            telemetry_history: 360,
            telemetry_history_bytes: Bytes(1024 * 1024),
            unbind_codes_per_account: 10,
            unbind_codes_per_serial: 10,
            unbind_code_lifetime: Secs::from_secs(1800),
            auth_per_address: 60,
            auth_per_serial: 20,
            max_websockets: 100_000,
        }
    }
}

impl CloudConfig {
    fn validate(&self) -> Result<(), String> {
        let t = self.telemetry_interval.0.as_secs();
        if t != 0 && !(10..=3600).contains(&t) {
            return Err("cloud.telemetry_interval must be 0 or 10s to 1h".into());
        }
        if self.node_id.is_empty() || self.node_id.len() > 64 {
            return Err("cloud.node_id must be 1 to 64 characters".into());
        }
        if let Some(secret) = &self.token_secret
            && !matches!(hex::decode(secret), Ok(b) if b.len() == 32)
        {
            return Err("cloud.token_secret must be 64 hexadecimal digits".into());
        }
        if !(1..=3600).contains(&self.url_lifetime.0.as_secs()) {
            return Err("cloud.url_lifetime must be 1s to 1h".into());
        }
        if self.read_timeout.0.is_zero() || self.request_timeout.0.is_zero() {
            return Err("cloud.read_timeout and cloud.request_timeout must be positive".into());
        }
        if self.max_websockets == 0 {
            return Err("cloud.max_websockets must be positive".into());
        }
        Ok(())
    }
}

/// TLS for one listener.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Default `off`.
    pub mode: TlsMode,
    /// PEM certificate chain (mode `files`).
    pub cert: Option<PathBuf>,
    /// PEM private key (mode `files`).
    pub key: Option<PathBuf>,
    /// Extra DNS names or IP addresses for the self-signed certificate (always included:
    /// `localhost`, `127.0.0.1`, `::1`). Default empty.
    pub self_signed_names: Vec<String>,
}

/// Whether and how a listener speaks TLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Plain HTTP.
    #[default]
    Off,
    /// Certificate and key from PEM files.
    Files,
    /// A self-signed ECDSA P-256 certificate generated on first start into
    /// `<data_dir>/tls/` and reused afterwards.
    SelfSigned,
}

/// The administrator account created on first start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Default `admin`.
    pub username: String,
    /// Its initial password. Default unset: a random one is generated and printed once to
    /// stderr. Only used when the account does not exist yet.
    pub password: Option<String>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            username: "admin".into(),
            password: None,
        }
    }
}

/// Task queue policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TaskConfig {
    /// Expiry of a task created without `expires_in`. Default 7 days.
    pub default_expiry: Secs,
    /// How often pending tasks past their expiry are marked expired. Default 30 s.
    pub expiry_sweep_interval: Secs,
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig {
            default_expiry: Secs::from_secs(7 * 24 * 3600),
            expiry_sweep_interval: Secs::from_secs(30),
        }
    }
}

/// Bounds on what clients may ask for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Largest `limit` of a listing. Default 1000.
    pub max_page: u32,
    /// Longest `wait` on task creation. Default 60 s.
    pub max_wait: Secs,
    /// Requests waiting for task results at once, server-wide. Default 1024.
    pub max_waiters: usize,
    /// Failed logins allowed per account name and per client address within
    /// `login_window` before further attempts get 429. Default 5.
    pub login_failures: u32,
    /// Default 60 s.
    pub login_window: Secs,
    /// Entries kept by the failed-login tracker. Default 10000.
    pub login_tracker_entries: usize,
    /// Password hashes verified at once (argon2 is deliberately expensive). Default 4.
    pub concurrent_password_checks: usize,
    /// Open connections per listener. Default 10000.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_page: 1000,
            max_wait: Secs::from_secs(60),
            max_waiters: 1024,
            login_failures: 5,
            login_window: Secs::from_secs(60),
            login_tracker_entries: 10_000,
            concurrent_password_checks: 4,
            max_connections: 10_000,
        }
    }
}

/// A duration, written as integer seconds or a string with a unit (`ms`, `s`, `m`, `h`, `d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Secs(pub Duration);

impl Secs {
    pub const fn from_secs(s: u64) -> Self {
        Secs(Duration::from_secs(s))
    }
}

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl Serialize for Secs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Secs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(n) => Ok(Secs(Duration::from_secs(n))),
            NumberOrText::Text(t) => parse_duration(&t)
                .map(Secs)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// A size in bytes, written as an integer or a string with a unit (`B`, `KiB`, `MiB`, `GiB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Bytes(pub u64);

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match NumberOrText::deserialize(d)? {
            NumberOrText::Number(n) => Ok(Bytes(n)),
            NumberOrText::Text(t) => parse_size(&t).map(Bytes).map_err(serde::de::Error::custom),
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Number(u64),
    Text(String),
}

fn split_unit(text: &str) -> Result<(u64, &str), String> {
    let t = text.trim();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!("{text:?}: expected a number with an optional unit"));
    }
    let n: u64 = t[..digits]
        .parse()
        .map_err(|_| format!("{text:?}: number too large"))?;
    Ok((n, t[digits..].trim()))
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let (n, unit) = split_unit(text)?;
    let secs = |mul: u64| {
        n.checked_mul(mul)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{text:?}: too large"))
    };
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "" | "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        other => Err(format!("{text:?}: unknown unit {other:?} (ms, s, m, h, d)")),
    }
}

fn parse_size(text: &str) -> Result<u64, String> {
    let (n, unit) = split_unit(text)?;
    let mul: u64 = match unit {
        "" | "B" => 1,
        "KiB" | "K" | "KB" | "k" => 1024,
        "MiB" | "M" | "MB" => 1024 * 1024,
        "GiB" | "G" | "GB" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (B, KiB, MiB, GiB)"
            ));
        }
    };
    n.checked_mul(mul)
        .ok_or_else(|| format!("{text:?}: too large"))
}

/// Where the self-signed TLS material is kept.
pub fn tls_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tls")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("5 years").is_err());
        assert!(parse_duration("").is_err());
        assert_eq!(parse_size("256KiB").unwrap(), 262_144);
        assert_eq!(parse_size("1MiB").unwrap(), 1_048_576);
        assert!(parse_size("1XB").is_err());
    }

    #[test]
    fn defaults_validate_and_round_trip() {
        let c = ServerConfig::default();
        c.validate().unwrap();
        let again: ServerConfig = Figment::from(Serialized::defaults(&c)).extract().unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn unrelated_env_is_ignored_and_nested_keys_apply() {
        let env = vec![
            ("TETHER_TEST_POSTGRES_URL".to_owned(), "x".to_owned()),
            ("PATH".to_owned(), "/bin".to_owned()),
            (
                "TETHER_CWMP__CONNECTION_REQUEST__TIMEOUT".to_owned(),
                "2s".to_owned(),
            ),
            ("TETHER_LIMITS__MAX_PAGE".to_owned(), "50".to_owned()),
        ];
        let c = ServerConfig::load_with_env(&ServerArgs::default(), env).unwrap();
        assert_eq!(c.cwmp.connection_request.timeout, Secs::from_secs(2));
        assert_eq!(c.limits.max_page, 50);
    }

    #[test]
    fn unknown_key_in_section_is_an_error() {
        let env = vec![("TETHER_CWMP__LISTN".to_owned(), "1.2.3.4:1".to_owned())];
        assert!(ServerConfig::load_with_env(&ServerArgs::default(), env).is_err());
    }
}

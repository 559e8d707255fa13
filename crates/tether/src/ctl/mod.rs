//! `tether ctl`: operate a server from a terminal through its REST API.
//!
//! Every subcommand is one or two API calls; the answer is printed as a table or `key: value`
//! block, or as the server's JSON with `--json`. An error answer prints
//! `error: <code>: <message>` and exits 1; an unreachable server prints the address and exits 2
//! (as do usage errors).
//!
//! Credentials: `--token` (`TETHER_TOKEN`) for `Authorization: Bearer`, or `--user` with the
//! password from `TETHER_PASSWORD` or, with `--password-stdin` (given before the subcommand),
//! the first line of standard input. Commands that read another secret from standard input
//! (`accounts create`, `cloud devices add --password-stdin`) read it from the next line.

mod client;
mod output;
mod spec;
mod terminal;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use self::client::{Client, Credentials, CtlError, TlsOptions, encode};
use self::output::{cell, fields, indent, object_fields, page_note, rows, table};

/// `tether ctl` and its global options.
#[derive(Debug, Args)]
#[command(
    after_help = "Credentials: --token (or TETHER_TOKEN) for a bearer token; or --user with the \
                  password in TETHER_PASSWORD or, with --password-stdin, on the first line of \
                  standard input.\n\nErrors print `error: <code>: <message>` and exit 1; an \
                  unreachable server exits 2."
)]
pub struct CtlArgs {
    /// The server's API URL.
    #[arg(
        long,
        env = "TETHER_SERVER",
        default_value = "http://127.0.0.1:7557",
        global = true
    )]
    server: String,
    /// An API token (`tether ctl tokens create NAME` makes one).
    #[arg(long, env = "TETHER_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// An account name, for Basic authentication.
    #[arg(long, env = "TETHER_USER", global = true)]
    user: Option<String>,
    /// The password of --user (prefer --password-stdin: the environment is visible to others).
    #[arg(long, env = "TETHER_PASSWORD", hide = true, hide_env_values = true)]
    password: Option<String>,
    /// Read the password of --user from the first line of standard input.
    #[arg(long = "password-stdin", requires = "user")]
    login_password_stdin: bool,
    /// PEM CA certificates to trust for an https server (instead of the bundled roots).
    #[arg(long, value_name = "FILE", global = true)]
    ca_file: Option<PathBuf>,
    /// Do not verify the https server's certificate (labs only).
    #[arg(long, global = true)]
    insecure_skip_verify: bool,
    /// Print the server's JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// CWMP devices known to the ACS.
    Devices {
        #[command(subcommand)]
        command: DevicesCommand,
    },
    /// Tasks (RPCs queued for a device's next session).
    Tasks {
        #[command(subcommand)]
        command: TasksCommand,
    },
    /// Faults reported by devices.
    Faults {
        #[command(subcommand)]
        command: FaultsCommand,
    },
    /// API tokens of the calling account.
    Tokens {
        #[command(subcommand)]
        command: TokensCommand,
    },
    /// Accounts (admin).
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Cloud-connected devices: inventory, configuration, telemetry, remote terminal.
    Cloud {
        #[command(subcommand)]
        command: CloudCommand,
    },
}

#[derive(Debug, Args)]
struct PageArgs {
    /// Items per page.
    #[arg(long)]
    limit: Option<u32>,
    /// Items to skip.
    #[arg(long)]
    offset: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum DevicesCommand {
    /// List devices.
    List {
        /// Exact serial number.
        #[arg(long)]
        serial: Option<String>,
        /// Exact product class.
        #[arg(long)]
        product_class: Option<String>,
        /// Only devices online now.
        #[arg(long)]
        online: bool,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a device and its known parameters.
    Show {
        /// Device id (`OUI-[ProductClass-]Serial`).
        id: String,
        /// Only parameters under this path.
        #[arg(long)]
        prefix: Option<String>,
    },
    /// Pre-register a device before its first Inform.
    Register {
        /// Manufacturer OUI, six hexadecimal digits.
        oui: String,
        serial: String,
        #[arg(long)]
        product_class: Option<String>,
        #[arg(long)]
        manufacturer: Option<String>,
    },
    /// Delete a device, with its tasks and faults.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
enum TasksCommand {
    /// Queue a task for a device.
    Create(TaskCreateArgs),
    /// List the tasks of a device (of every device without DEVICE).
    List {
        device: Option<String>,
        /// Only tasks in this state (pending, dispatched, done, faulted, expired, cancelled).
        #[arg(long)]
        state: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Show a task with its spec, result and fault.
    Show { id: i64 },
    /// Cancel a pending task.
    Cancel { id: i64 },
    /// Queue a finished task again.
    Retry { id: i64 },
}

#[derive(Debug, Args)]
struct TaskCreateArgs {
    /// Device id.
    device: String,
    /// get, set, names, get-attributes, add-object, delete-object, reboot, factory-reset,
    /// schedule-inform, download, upload, change-acs (or the CWMP name).
    #[arg(long, default_value = "")]
    kind: String,
    /// The whole spec as JSON (see the API's TaskSpec); --kind may then be left out.
    #[arg(long, value_name = "JSON")]
    json_spec: Option<String>,
    /// get / get-attributes: parameter names, comma-separated; names: the path.
    #[arg(long, value_delimiter = ',')]
    names: Vec<String>,
    /// set: NAME=VALUE[:type] (type an XML Schema type: boolean, unsignedInt, ...).
    #[arg(value_name = "NAME=VALUE[:type]")]
    values: Vec<String>,
    /// change-acs, download, upload: the URL.
    #[arg(long)]
    url: Option<String>,
    /// change-acs, download, upload: credentials for the URL.
    #[arg(long)]
    username: Option<String>,
    #[arg(long = "url-password", value_name = "PASSWORD")]
    url_password: Option<String>,
    /// add-object / delete-object: the object path (ending in `.`).
    #[arg(long)]
    object: Option<String>,
    #[arg(long)]
    parameter_key: Option<String>,
    #[arg(long)]
    command_key: Option<String>,
    /// names: only the next level.
    #[arg(long)]
    next_level: bool,
    /// schedule-inform, download, upload: delay in seconds.
    #[arg(long, value_name = "SECS")]
    delay: Option<u32>,
    /// download, upload: the TR-069 file type (`1 Firmware Upgrade Image`, ...).
    #[arg(long)]
    file_type: Option<String>,
    /// Ask the device to open a session now.
    #[arg(long)]
    connection_request: bool,
    /// Wait up to SECS seconds for the outcome.
    #[arg(long, value_name = "SECS")]
    wait: Option<u64>,
    /// Seconds until the task expires if not dispatched.
    #[arg(long, value_name = "SECS")]
    expires_in: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum FaultsCommand {
    /// List faults (of one device with DEVICE).
    List {
        device: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// Clear (delete) a fault.
    Clear { id: i64 },
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Create a token; it is printed once, on standard output.
    Create {
        name: String,
        /// Seconds until it stops working (default: never).
        #[arg(long, value_name = "SECS")]
        expires_in: Option<u64>,
    },
    /// List tokens.
    List,
    /// Revoke a token.
    Revoke { id: i64 },
}

#[derive(Debug, Subcommand)]
enum AccountsCommand {
    /// Create an account; its password is read from standard input.
    Create {
        name: String,
        #[arg(long)]
        admin: bool,
    },
    /// List accounts.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
}

#[derive(Debug, Subcommand)]
enum CloudCommand {
    /// The cloud inventory.
    Devices {
        #[command(subcommand)]
        command: CloudDevicesCommand,
    },
    /// Request the code that moves a device bound to another account to this one.
    UnbindingCode { serial: String },
    /// The device's configuration.
    Config {
        #[command(subcommand)]
        command: CloudConfigCommand,
    },
    /// The device's telemetry.
    Telemetry {
        serial: String,
        /// Only samples received after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
    },
    /// Attach to the device's CLI. Ctrl-] detaches. Without a terminal on standard input,
    /// each line read is typed into the CLI and the output printed until end of input.
    Terminal {
        serial: String,
        /// Terminal width (default $COLUMNS or 80).
        #[arg(long)]
        cols: Option<u16>,
        /// Terminal height (default $LINES or 24).
        #[arg(long)]
        rows: Option<u16>,
        /// Without a terminal: seconds of device silence after the end of input before
        /// leaving.
        #[arg(long, value_name = "SECS", default_value_t = 2.0)]
        linger: f64,
    },
}

#[derive(Debug, Subcommand)]
enum CloudDevicesCommand {
    /// List cloud devices with their presence.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// Add a serial to the inventory, bound to this account.
    Add {
        serial: String,
        /// Read the device's `cloud-management server password` from standard input.
        #[arg(long, required_unless_present = "no_password")]
        password_stdin: bool,
        /// The device has no cloud-management password.
        #[arg(long, conflicts_with = "password_stdin")]
        no_password: bool,
        #[arg(long)]
        name: Option<String>,
        /// Admin: the owning account id.
        #[arg(long)]
        owner: Option<i64>,
    },
    /// Show a cloud device.
    Show { serial: String },
    /// Remove a device from the inventory (its tunnel is closed).
    Delete { serial: String },
    /// Ask the device to rebuild its tunnel.
    ResetTunnel { serial: String },
}

#[derive(Debug, Subcommand)]
enum CloudConfigCommand {
    /// Print the running configuration.
    Get { serial: String },
    /// Apply configuration commands, in order.
    Push {
        serial: String,
        #[arg(required = true, value_name = "CMD")]
        commands: Vec<String>,
        /// Stop at the first command the device refuses.
        #[arg(long)]
        stop_on_error: bool,
    },
}

/// Runs `tether ctl`.
pub fn run(args: CtlArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Reads one line of standard input (without its line ending); on a terminal, prompts on
/// standard error with echo off.
fn read_secret(prompt: &str) -> Result<String, CtlError> {
    let stdin = std::io::stdin();
    let echo_guard = if stdin.is_terminal() {
        eprint!("{prompt}: ");
        let _ = std::io::stderr().flush();
        EchoOff::enable()
    } else {
        None
    };
    let mut line = String::new();
    let n = stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| CtlError::other(format!("reading standard input: {e}")))?;
    if echo_guard.is_some() {
        eprintln!();
    }
    drop(echo_guard);
    if n == 0 {
        return Err(CtlError::Usage(format!(
            "{prompt}: expected a line on standard input"
        )));
    }
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
}

/// Turns terminal echo off until dropped.
struct EchoOff(nix::sys::termios::Termios);

impl EchoOff {
    fn enable() -> Option<EchoOff> {
        use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut quiet = saved.clone();
        quiet.local_flags.remove(LocalFlags::ECHO);
        tcsetattr(&stdin, SetArg::TCSANOW, &quiet).ok()?;
        Some(EchoOff(saved))
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        use nix::sys::termios::{SetArg, tcsetattr};
        let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, &self.0);
    }
}

fn credentials(args: &CtlArgs) -> Result<Credentials, CtlError> {
    if let Some(token) = &args.token {
        return Ok(Credentials::Bearer(token.trim().to_owned()));
    }
    let Some(user) = &args.user else {
        return Ok(Credentials::None);
    };
    let password = if args.login_password_stdin {
        read_secret(&format!("Password for {user}"))?
    } else if let Some(p) = &args.password {
        p.clone()
    } else {
        return Err(CtlError::Usage(format!(
            "--user {user}: give the password with --password-stdin or TETHER_PASSWORD"
        )));
    };
    Ok(Credentials::Basic {
        user: user.clone(),
        password,
    })
}

/// A query string from the parameters that are set.
fn query(params: &[(&str, Option<String>)]) -> String {
    let set: Vec<String> = params
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!("?{}", set.join("&"))
    }
}

fn page_params(page: &PageArgs) -> [(&'static str, Option<String>); 2] {
    [
        ("limit", page.limit.map(|l| l.to_string())),
        ("offset", page.offset.map(|o| o.to_string())),
    ]
}

/// What to print: the JSON as is, or the human rendering.
struct Out {
    json: bool,
}

impl Out {
    fn show(&self, value: &Value, human: impl FnOnce(&Value) -> String) {
        let text = if self.json {
            // An empty answer (204 No Content) prints nothing.
            if value.is_null() {
                return;
            }
            let mut s = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
            s.push('\n');
            s
        } else {
            human(value)
        };
        print!("{text}");
        let _ = std::io::stdout().flush();
    }

    /// A listing: the table, or `empty` when there is nothing; a note when partial.
    fn listing(&self, value: &Value, empty: &str, headers: &[&str], keys: &[&str]) {
        self.show(value, |v| {
            let rows = rows(&v["items"], keys);
            let mut text = if rows.is_empty() {
                format!("{empty}\n")
            } else {
                table(headers, &rows)
            };
            if let Some(note) = page_note(v) {
                text.push_str(&note);
                text.push('\n');
            }
            text
        });
    }
}

async fn execute(args: CtlArgs) -> Result<(), CtlError> {
    let tls = TlsOptions {
        ca_file: args.ca_file.clone(),
        insecure_skip_verify: args.insecure_skip_verify,
    };
    let credentials = credentials(&args)?;
    let client = Client::new(&args.server, credentials, &tls)?;
    let out = Out { json: args.json };
    match args.command {
        CtlCommand::Devices { command } => devices(&client, &out, command).await,
        CtlCommand::Tasks { command } => tasks(&client, &out, command).await,
        CtlCommand::Faults { command } => faults(&client, &out, command).await,
        CtlCommand::Tokens { command } => tokens(&client, &out, command).await,
        CtlCommand::Accounts { command } => accounts(&client, &out, command).await,
        CtlCommand::Cloud { command } => cloud(&client, &out, command).await,
    }
}

const DEVICE_FIELDS: &[(&str, &str)] = &[
    ("id", "id"),
    ("oui", "oui"),
    ("product class", "product_class"),
    ("serial number", "serial_number"),
    ("manufacturer", "manufacturer"),
    ("owner", "owner"),
    ("created", "created_at"),
    ("last inform", "last_inform_at"),
    ("remote address", "remote_addr"),
    ("online", "online"),
    ("online until", "online_until"),
    ("connection request URL", "connection_request_url"),
    ("CPE username", "cpe_username"),
];

async fn devices(client: &Client, out: &Out, command: DevicesCommand) -> Result<(), CtlError> {
    match command {
        DevicesCommand::List {
            serial,
            product_class,
            online,
            page,
        } => {
            let [limit, offset] = page_params(&page);
            let q = query(&[
                ("serial", serial),
                ("product_class", product_class),
                ("online", online.then(|| "true".to_owned())),
                limit,
                offset,
            ]);
            let v = client.get(&format!("/api/v1/devices{q}")).await?;
            out.listing(
                &v,
                "No devices.",
                &[
                    "ID",
                    "SERIAL",
                    "PRODUCT CLASS",
                    "ONLINE",
                    "LAST INFORM",
                    "OWNER",
                ],
                &[
                    "id",
                    "serial_number",
                    "product_class",
                    "online",
                    "last_inform_at",
                    "owner",
                ],
            );
        }
        DevicesCommand::Show { id, prefix } => {
            let q = query(&[("prefix", prefix)]);
            let v = client
                .get(&format!("/api/v1/devices/{}{q}", encode(&id)))
                .await?;
            out.show(&v, |v| {
                let mut text = object_fields(v, DEVICE_FIELDS);
                let params = rows(&v["parameters"], &["name", "value", "type"]);
                if !params.is_empty() {
                    text.push('\n');
                    text.push_str(&table(&["PARAMETER", "VALUE", "TYPE"], &params));
                }
                text
            });
        }
        DevicesCommand::Register {
            oui,
            serial,
            product_class,
            manufacturer,
        } => {
            let mut body = json!({"oui": oui, "serial_number": serial});
            if let Some(p) = product_class {
                body["product_class"] = p.into();
            }
            if let Some(m) = manufacturer {
                body["manufacturer"] = m.into();
            }
            let v = client.post("/api/v1/devices", Some(&body)).await?;
            out.show(&v, |v| format!("device {} registered\n", cell(&v["id"])));
        }
        DevicesCommand::Delete { id } => {
            let v = client
                .delete(&format!("/api/v1/devices/{}", encode(&id)))
                .await?;
            out.show(&v, |_| format!("device {id} deleted\n"));
        }
    }
    Ok(())
}

fn task_text(v: &Value) -> String {
    let mut text = object_fields(
        v,
        &[
            ("id", "id"),
            ("device", "device_id"),
            ("kind", "kind"),
            ("state", "state"),
            ("attempts", "attempts"),
            ("created", "created_at"),
            ("updated", "updated_at"),
            ("expires", "expires_at"),
            ("dispatched", "dispatched_at"),
        ],
    );
    for (label, key) in [("spec", "spec"), ("result", "result"), ("fault", "fault")] {
        if !v[key].is_null() {
            let pretty = serde_json::to_string_pretty(&v[key]).unwrap_or_default();
            text.push_str(&format!("{label}:\n{}", indent(&pretty, 2)));
        }
    }
    text
}

async fn tasks(client: &Client, out: &Out, command: TasksCommand) -> Result<(), CtlError> {
    match command {
        TasksCommand::Create(a) => {
            let body = spec::build(&spec::SpecInput {
                kind: a.kind.clone(),
                json_spec: a.json_spec.clone(),
                names: a.names.clone(),
                args: a.values.clone(),
                url: a.url.clone(),
                username: a.username.clone(),
                password: a.url_password.clone(),
                object: a.object.clone(),
                parameter_key: a.parameter_key.clone(),
                command_key: a.command_key.clone(),
                next_level: a.next_level,
                delay: a.delay,
                file_type: a.file_type.clone(),
            })?;
            let q = query(&[
                (
                    "connection_request",
                    a.connection_request.then(|| "true".to_owned()),
                ),
                ("wait", a.wait.map(|w| w.to_string())),
                ("expires_in", a.expires_in.map(|e| e.to_string())),
            ]);
            let path = format!("/api/v1/devices/{}/tasks{q}", encode(&a.device));
            let v = client.post(&path, Some(&body)).await?;
            out.show(&v, |v| {
                let mut text = format!(
                    "task {} created: {} for {}, {}\n",
                    cell(&v["id"]),
                    cell(&v["kind"]),
                    cell(&v["device_id"]),
                    cell(&v["state"])
                );
                let cr = &v["connection_request"];
                match cr["status"].as_str() {
                    Some("sent") => text.push_str("connection request sent\n"),
                    Some(_) => text.push_str(&format!(
                        "connection request failed: {}: {}\n",
                        cell(&cr["error"]["code"]),
                        cell(&cr["error"]["message"])
                    )),
                    None => {}
                }
                if a.wait.is_some() {
                    if v["wait"].as_str() == Some("busy") {
                        text.push_str("(too many waiters on the server; not waited)\n");
                    }
                    for (label, key) in [("result", "result"), ("fault", "fault")] {
                        if !v[key].is_null() {
                            let pretty = serde_json::to_string_pretty(&v[key]).unwrap_or_default();
                            text.push_str(&format!("{label}:\n{}", indent(&pretty, 2)));
                        }
                    }
                }
                text
            });
            if v["state"].as_str() == Some("faulted") {
                return Err(CtlError::other(format!(
                    "task {} faulted: {}: {}",
                    cell(&v["id"]),
                    cell(&v["fault"]["code"]),
                    cell(&v["fault"]["message"])
                )));
            }
        }
        TasksCommand::List {
            device,
            state,
            page,
        } => {
            let [limit, offset] = page_params(&page);
            let path = match &device {
                Some(d) => format!(
                    "/api/v1/devices/{}/tasks{}",
                    encode(d),
                    query(&[("state", state), limit, offset])
                ),
                None => format!("/api/v1/tasks{}", query(&[("state", state), limit, offset])),
            };
            let v = client.get(&path).await?;
            out.listing(
                &v,
                "No tasks.",
                &[
                    "ID", "DEVICE", "KIND", "STATE", "ATTEMPTS", "CREATED", "UPDATED",
                ],
                &[
                    "id",
                    "device_id",
                    "kind",
                    "state",
                    "attempts",
                    "created_at",
                    "updated_at",
                ],
            );
        }
        TasksCommand::Show { id } => {
            let v = client.get(&format!("/api/v1/tasks/{id}")).await?;
            out.show(&v, task_text);
        }
        TasksCommand::Cancel { id } => {
            let v = client
                .post(&format!("/api/v1/tasks/{id}/cancel"), None)
                .await?;
            out.show(&v, |v| format!("task {id} {}\n", cell(&v["state"])));
        }
        TasksCommand::Retry { id } => {
            let v = client
                .post(&format!("/api/v1/tasks/{id}/retry"), None)
                .await?;
            out.show(&v, |v| {
                format!("task {id} queued again ({})\n", cell(&v["state"]))
            });
        }
    }
    Ok(())
}

async fn faults(client: &Client, out: &Out, command: FaultsCommand) -> Result<(), CtlError> {
    match command {
        FaultsCommand::List { device, page } => {
            let [limit, offset] = page_params(&page);
            let path = match &device {
                Some(d) => format!(
                    "/api/v1/devices/{}/faults{}",
                    encode(d),
                    query(&[limit, offset])
                ),
                None => format!("/api/v1/faults{}", query(&[limit, offset])),
            };
            let v = client.get(&path).await?;
            out.listing(
                &v,
                "No faults.",
                &["ID", "DEVICE", "TASK", "CODE", "MESSAGE", "AT"],
                &["id", "device_id", "task_id", "code", "message", "at"],
            );
        }
        FaultsCommand::Clear { id } => {
            let v = client.delete(&format!("/api/v1/faults/{id}")).await?;
            out.show(&v, |_| format!("fault {id} cleared\n"));
        }
    }
    Ok(())
}

async fn tokens(client: &Client, out: &Out, command: TokensCommand) -> Result<(), CtlError> {
    match command {
        TokensCommand::Create { name, expires_in } => {
            let mut body = json!({"name": name});
            if let Some(e) = expires_in {
                body["expires_in"] = e.into();
            }
            let v = client.post("/api/v1/tokens", Some(&body)).await?;
            out.show(&v, |v| {
                eprintln!(
                    "token {} ({name}) created; it is shown only this once:",
                    cell(&v["id"])
                );
                format!("{}\n", cell(&v["token"]))
            });
        }
        TokensCommand::List => {
            let v = client.get("/api/v1/tokens").await?;
            out.listing(
                &v,
                "No tokens.",
                &["ID", "NAME", "CREATED", "EXPIRES"],
                &["id", "name", "created_at", "expires_at"],
            );
        }
        TokensCommand::Revoke { id } => {
            let v = client.delete(&format!("/api/v1/tokens/{id}")).await?;
            out.show(&v, |_| format!("token {id} revoked\n"));
        }
    }
    Ok(())
}

async fn accounts(client: &Client, out: &Out, command: AccountsCommand) -> Result<(), CtlError> {
    match command {
        AccountsCommand::Create { name, admin } => {
            let password = read_secret(&format!("Password for the new account {name}"))?;
            let body = json!({"name": name, "password": password, "admin": admin});
            let v = client.post("/api/v1/accounts", Some(&body)).await?;
            out.show(&v, |v| {
                let role = if v["admin"].as_bool() == Some(true) {
                    " (admin)"
                } else {
                    ""
                };
                format!(
                    "account {} created: {}{role}\n",
                    cell(&v["id"]),
                    cell(&v["name"])
                )
            });
        }
        AccountsCommand::List { page } => {
            let [limit, offset] = page_params(&page);
            let v = client
                .get(&format!("/api/v1/accounts{}", query(&[limit, offset])))
                .await?;
            out.listing(
                &v,
                "No accounts.",
                &["ID", "NAME", "ADMIN", "CREATED"],
                &["id", "name", "admin", "created_at"],
            );
        }
    }
    Ok(())
}

fn cloud_path(serial: &str, rest: &str) -> String {
    format!("/api/v1/cloud/devices/{}{rest}", encode(serial))
}

async fn cloud(client: &Client, out: &Out, command: CloudCommand) -> Result<(), CtlError> {
    match command {
        CloudCommand::Devices { command } => cloud_devices(client, out, command).await?,
        CloudCommand::UnbindingCode { serial } => {
            let body = json!({"serial": serial});
            let v = client
                .post("/api/v1/cloud/unbinding-codes", Some(&body))
                .await?;
            out.show(&v, |v| {
                format!(
                    "unbinding code for {serial}: {} (expires {})\n\
                     enter it on the device: cloud-management unbinding-code {}\n",
                    cell(&v["code"]),
                    cell(&v["expires_at"]),
                    cell(&v["code"])
                )
            });
        }
        CloudCommand::Config {
            command: CloudConfigCommand::Get { serial },
        } => {
            let v = client.get(&cloud_path(&serial, "/config")).await?;
            out.show(&v, |v| {
                let text = v["text"].as_str().unwrap_or_default();
                if text.ends_with('\n') || text.is_empty() {
                    text.to_owned()
                } else {
                    format!("{text}\n")
                }
            });
        }
        CloudCommand::Config {
            command:
                CloudConfigCommand::Push {
                    serial,
                    commands,
                    stop_on_error,
                },
        } => {
            let body = json!({"commands": commands, "stop_on_error": stop_on_error});
            let v = client
                .post(&cloud_path(&serial, "/config"), Some(&body))
                .await?;
            out.show(&v, |v| {
                let mut text =
                    format!("change {}: {}\n", cell(&v["change_id"]), cell(&v["status"]));
                for r in v["results"].as_array().into_iter().flatten() {
                    let mark = if r["ok"].as_bool() == Some(true) {
                        "ok   "
                    } else {
                        "error"
                    };
                    let command = r["command"].as_str().unwrap_or_default();
                    text.push_str(&format!("{mark}  {command}\n"));
                    let detail = r["output"].as_str().or(r["error"].as_str()).unwrap_or("");
                    text.push_str(&indent(detail, 7));
                }
                text
            });
            let refused = v["results"]
                .as_array()
                .is_some_and(|rs| rs.iter().any(|r| r["ok"].as_bool() != Some(true)));
            if v["status"].as_str() != Some("applied") || refused {
                return Err(CtlError::other(format!(
                    "configuration change {} on {serial}: {}{}",
                    cell(&v["change_id"]),
                    cell(&v["status"]),
                    if refused {
                        ", with commands refused"
                    } else {
                        ""
                    }
                )));
            }
        }
        CloudCommand::Telemetry { serial, since } => {
            let q = query(&[("since", since)]);
            let v = client
                .get(&cloud_path(&serial, &format!("/telemetry{q}")))
                .await?;
            out.show(&v, |v| {
                let mut text = fields(&[
                    ("serial", cell(&v["serial"])),
                    ("interval", format!("{}s", cell(&v["interval"]))),
                    ("latest", cell(&v["latest"]["received_at"])),
                ]);
                if !v["latest"]["sample"].is_null() {
                    let pretty =
                        serde_json::to_string_pretty(&v["latest"]["sample"]).unwrap_or_default();
                    text.push_str(&indent(&pretty, 2));
                }
                let n = v["samples"].as_array().map_or(0, Vec::len);
                text.push_str(&format!("({n} recent samples; --json shows them)\n"));
                text
            });
        }
        CloudCommand::Terminal {
            serial,
            cols,
            rows,
            linger,
        } => {
            let env_size = |var: &str| std::env::var(var).ok().and_then(|v| v.parse().ok());
            if !(0.0..=3600.0).contains(&linger) {
                return Err(CtlError::Usage("--linger must be 0 to 3600 seconds".into()));
            }
            let options = terminal::TerminalOptions {
                cols: cols.or_else(|| env_size("COLUMNS")).unwrap_or(80),
                rows: rows.or_else(|| env_size("LINES")).unwrap_or(24),
                linger: Duration::from_secs_f64(linger),
            };
            terminal::run(client, &serial, &options).await?;
        }
    }
    Ok(())
}

const CLOUD_DEVICE_FIELDS: &[(&str, &str)] = &[
    ("serial", "serial"),
    ("name", "name"),
    ("owner", "owner"),
    ("state", "state"),
    ("services", "services"),
    ("created", "created_at"),
    ("bound", "bound_at"),
    ("connected", "connected_at"),
    ("disconnected", "disconnected_at"),
    ("last keepalive", "last_keepalive_at"),
    ("remote address", "remote_addr"),
    ("node", "node_id"),
    ("telemetry", "telemetry_at"),
];

async fn cloud_devices(
    client: &Client,
    out: &Out,
    command: CloudDevicesCommand,
) -> Result<(), CtlError> {
    match command {
        CloudDevicesCommand::List { page } => {
            let [limit, offset] = page_params(&page);
            let v = client
                .get(&format!("/api/v1/cloud/devices{}", query(&[limit, offset])))
                .await?;
            out.listing(
                &v,
                "No cloud devices.",
                &["SERIAL", "NAME", "STATE", "OWNER", "CONNECTED", "SERVICES"],
                &[
                    "serial",
                    "name",
                    "state",
                    "owner",
                    "connected_at",
                    "services",
                ],
            );
        }
        CloudDevicesCommand::Add {
            serial,
            password_stdin,
            no_password: _,
            name,
            owner,
        } => {
            let password = if password_stdin {
                read_secret(&format!("Cloud-management password of {serial}"))?
            } else {
                String::new()
            };
            let mut body = json!({"serial": serial, "password": password});
            if let Some(n) = name {
                body["name"] = n.into();
            }
            if let Some(o) = owner {
                body["owner"] = o.into();
            }
            let v = client.post("/api/v1/cloud/devices", Some(&body)).await?;
            out.show(&v, |v| {
                format!(
                    "cloud device {} added (owner {})\n",
                    cell(&v["serial"]),
                    cell(&v["owner"])
                )
            });
        }
        CloudDevicesCommand::Show { serial } => {
            let v = client.get(&cloud_path(&serial, "")).await?;
            out.show(&v, |v| object_fields(v, CLOUD_DEVICE_FIELDS));
        }
        CloudDevicesCommand::Delete { serial } => {
            let v = client.delete(&cloud_path(&serial, "")).await?;
            out.show(&v, |_| format!("cloud device {serial} deleted\n"));
        }
        CloudDevicesCommand::ResetTunnel { serial } => {
            let v = client
                .post(&cloud_path(&serial, "/reset-tunnel"), None)
                .await?;
            out.show(&v, |_| format!("tunnel reset sent to {serial}\n"));
        }
    }
    Ok(())
}

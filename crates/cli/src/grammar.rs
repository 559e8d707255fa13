//! The command set: one tree per view, and the [`Command`] each complete path builds.
//!
//! Owns: which commands exist in which view, their keywords, argument types, ranges and help
//! texts (ranges and defaults from §8.1 and §8.4 of the requirements). Must not touch: how
//! matching works (the private `tree` module) or what a command does to the configuration (see
//! [`crate::config`]).
//!
//! Choices where the sources leave room, all documented in the crate docs:
//! * `cwmp enable` / `undo cwmp enable` work in the CWMP view (as §8.1 and Comware V7 have it)
//!   and, as a shortcut, in system view too.
//! * `cwmp acs password` takes `cipher`, `simple` or a bare value (= `simple`, the older
//!   form in §8.1); the other password commands require `cipher` or `simple`.
//! * `cloud-management keepalive` takes 10-3600 seconds (the sources give no range).
//! * `cloud-management unbinding-code` takes 1-64 printable characters.

use std::sync::LazyLock;

use crate::command::{BackupServer, Command, CwmpModel, DisplayTarget, Interface};
use crate::session::View;
use crate::tree::{ArgKind, Build, Node, arg, kw};

/// Range of `cwmp cpe inform interval` (§8.1).
pub const INFORM_INTERVAL_RANGE: (u32, u32) = (10, 86_400);
/// Range of `cwmp cpe connect retry` (§8.1).
pub const CONNECT_RETRY_RANGE: (u8, u8) = (0, 100);
/// Range of `cwmp cpe wait timeout` (§8.1).
pub const WAIT_TIMEOUT_RANGE: (u32, u32) = (30, 1800);
/// Range of `cloud-management keepalive` (our choice; the sources give only the default).
pub const CLOUD_KEEPALIVE_RANGE: (u32, u32) = (10, 3600);

/// Interface types accepted by `cwmp cpe connect interface TYPE NUMBER`.
pub const INTERFACE_TYPES: &[&str] = &[
    "Bridge-Aggregation",
    "Cellular",
    "Dialer",
    "Ethernet",
    "FortyGigE",
    "GigabitEthernet",
    "HundredGigE",
    "LoopBack",
    "M-GigabitEthernet",
    "Route-Aggregation",
    "Ten-GigabitEthernet",
    "Tunnel",
    "Twenty-FiveGigE",
    "Vlan-interface",
];

const fn int(min: u64, max: u64) -> ArgKind {
    ArgKind::Int { min, max }
}

const fn text(min: usize, max: usize) -> ArgKind {
    ArgKind::Text { min, max }
}

/// `{cipher | simple} STRING`, both building the same command.
fn password_forms(build: Build) -> [Node; 2] {
    [
        kw("cipher", "Specify a password in encrypted form").sub([arg(
            ArgKind::CipherPassword,
            "Encrypted password string",
        )
        .run(build)]),
        kw(
            "simple",
            "Specify a password in plaintext form (stored encrypted)",
        )
        .sub([arg(ArgKind::SimplePassword, "Plaintext password string").run(build)]),
    ]
}

fn display() -> Node {
    kw("display", "Display current system information").sub([
        kw("cloud-management", "Cloud management").sub([kw(
            "state",
            "Display cloud connection state information",
        )
        .run(|_| Some(Command::Display(DisplayTarget::CloudManagementState)))]),
        kw("current-configuration", "Current configuration")
            .run(|_| Some(Command::Display(DisplayTarget::CurrentConfiguration))),
        kw("cwmp", "CPE WAN Management Protocol (CWMP) module").sub([
            kw("configuration", "Display CWMP configuration")
                .run(|_| Some(Command::Display(DisplayTarget::CwmpConfiguration))),
            kw("status", "Display CWMP state information")
                .run(|_| Some(Command::Display(DisplayTarget::CwmpStatus))),
        ]),
        kw("this", "Display the configuration of the current view")
            .run(|_| Some(Command::Display(DisplayTarget::This))),
    ])
}

fn quit() -> Node {
    kw("quit", "Exit from current command view").run(|_| Some(Command::Quit))
}

fn return_() -> Node {
    kw("return", "Exit to User View").run(|_| Some(Command::Return))
}

fn user_view() -> Node {
    kw("", "").sub([
        display(),
        quit(),
        kw("reset", "Reset operation").sub([kw("cloud-management", "Cloud management").sub([kw(
            "tunnel",
            "Re-establish the cloud connection",
        )
        .run(|_| Some(Command::ResetCloudTunnel))])]),
        kw("system-view", "Enter the System View").run(|_| Some(Command::SystemView)),
    ])
}

fn cwmp_enable() -> Node {
    kw("enable", "Enable CWMP").run(|c| Some(Command::CwmpEnable(!c.has("undo"))))
}

fn cloud_management() -> Node {
    kw("cloud-management", "Cloud management").sub([
        kw("backup-server", "Backup cloud server").sub([kw(
            "domain",
            "Specify a backup cloud server by domain name",
        )
        .sub([
            arg(ArgKind::Domain, "Domain name of the backup cloud server")
                .run(|c| {
                    Some(Command::CloudBackupServerAdd(BackupServer {
                        domain: c.string(0)?,
                        port: None,
                    }))
                })
                .sub([
                    kw("port", "Specify the TCP port of the backup server").sub([arg(
                        int(1, 65_535),
                        "TCP port number",
                    )
                    .run(|c| {
                        Some(Command::CloudBackupServerAdd(BackupServer {
                            domain: c.string(0)?,
                            port: Some(c.int()?),
                        }))
                    })]),
                ]),
        ])]),
        kw("keepalive", "Set the keepalive interval").sub([arg(
            int(
                CLOUD_KEEPALIVE_RANGE.0.into(),
                CLOUD_KEEPALIVE_RANGE.1.into(),
            ),
            "Keepalive interval in seconds",
        )
        .run(|c| Some(Command::CloudKeepalive(Some(c.int()?))))]),
        kw("server", "Cloud server").sub([
            kw("domain", "Specify the cloud server by domain name").sub([arg(
                ArgKind::Domain,
                "Domain name of the cloud server",
            )
            .run(|c| Some(Command::CloudServerDomain(Some(c.string(0)?))))]),
            kw(
                "password",
                "Set the password for establishing cloud connections",
            )
            .sub(password_forms(|c| {
                Some(Command::CloudServerPassword(Some(c.password()?)))
            })),
            kw("port", "Specify the TCP port for cloud connections").sub([arg(
                int(1, 65_535),
                "TCP port number",
            )
            .run(|c| Some(Command::CloudServerPort(Some(c.int()?))))]),
        ]),
        kw(
            "unbinding-code",
            "Send a device unbinding verification code",
        )
        .sub([arg(
            text(1, 64),
            "Unbinding verification code from the cloud server",
        )
        .run(|c| Some(Command::CloudUnbindingCode(c.string(0)?)))]),
    ])
}

fn undo_cloud_management() -> Node {
    let remove = |c: &crate::tree::Captures| {
        Some(Command::CloudBackupServerRemove {
            domain: c.string(0),
            port: c.int(),
        })
    };
    kw("cloud-management", "Cloud management").sub([
        kw("backup-server", "Backup cloud server").sub([kw(
            "domain",
            "Remove backup cloud servers by domain name",
        )
        .run(remove)
        .sub([
            arg(ArgKind::Domain, "Domain name of the backup cloud server")
                .run(remove)
                .sub([kw("port", "TCP port of the backup server").sub([arg(
                    int(1, 65_535),
                    "TCP port number",
                )
                .run(remove)])]),
        ])]),
        kw("keepalive", "Restore the default keepalive interval")
            .run(|_| Some(Command::CloudKeepalive(None))),
        kw("server", "Cloud server").sub([
            kw("domain", "Remove the cloud server domain name")
                .run(|_| Some(Command::CloudServerDomain(None))),
            kw("password", "Remove the cloud connection password")
                .run(|_| Some(Command::CloudServerPassword(None))),
            kw("port", "Restore the default TCP port")
                .run(|_| Some(Command::CloudServerPort(None))),
        ]),
    ])
}

fn ip_host(undo: bool) -> Node {
    let name = arg(ArgKind::HostName, "Host name");
    let address = arg(ArgKind::Ipv4, "IPv4 address of the host");
    let tail = if undo {
        name.run(|c| {
            Some(Command::UndoIpHost {
                name: c.string(0)?,
                ip: None,
            })
        })
        .sub([address.run(|c| {
            Some(Command::UndoIpHost {
                name: c.string(0)?,
                ip: Some(c.ip()?),
            })
        })])
    } else {
        name.sub([address.run(|c| {
            Some(Command::IpHost {
                name: c.string(0)?,
                ip: c.ip()?,
            })
        })])
    };
    kw("ip", "IP configuration")
        .sub([kw("host", "Static host name to address mapping").sub([tail])])
}

fn system_view() -> Node {
    kw("", "").sub([
        cloud_management(),
        kw("cwmp", "Enter CWMP view")
            .run(|_| Some(Command::EnterCwmp(CwmpModel::Tr098)))
            .sub([
                kw("181-model", "Enter the CWMP view for the TR-181 data model")
                    .run(|_| Some(Command::EnterCwmp(CwmpModel::Tr181))),
                cwmp_enable(),
            ]),
        display(),
        ip_host(false),
        quit(),
        return_(),
        kw("undo", "Cancel current setting").sub([
            undo_cloud_management(),
            kw("cwmp", "CPE WAN Management Protocol (CWMP)").sub([cwmp_enable()]),
            ip_host(true),
        ]),
    ])
}

fn interface_types() -> Vec<Node> {
    INTERFACE_TYPES
        .iter()
        .map(|&name| {
            kw(name, "Interface type").sub([arg(ArgKind::InterfaceNumber, "Interface number").run(
                |c| {
                    Some(Command::CwmpCpeConnectInterface(Some(Interface {
                        kind: c.keyword_after("interface")?,
                        number: c.string(0)?,
                    })))
                },
            )])
        })
        .collect()
}

fn cwmp_settings() -> Node {
    let url = || {
        arg(
            ArgKind::Url,
            "ACS URL (http:// or https://), 8 to 255 characters",
        )
    };
    let user = || {
        arg(
            text(1, 255),
            "Username, case-sensitive, 1 to 255 characters",
        )
    };
    kw("cwmp", "CPE WAN Management Protocol (CWMP)").sub([
        kw("acs", "ACS attributes").sub([
            kw("default", "Default ACS attributes").sub([
                kw("password", "Set the default ACS password").sub(password_forms(|c| {
                    Some(Command::CwmpAcsDefaultPassword(Some(c.password()?)))
                })),
                kw("url", "Set the default ACS URL")
                    .sub([url().run(|c| Some(Command::CwmpAcsDefaultUrl(Some(c.string(0)?))))]),
                kw("username", "Set the default ACS username").sub([
                    user().run(|c| Some(Command::CwmpAcsDefaultUsername(Some(c.string(0)?))))
                ]),
            ]),
            kw("password", "Set the ACS password").sub(
                password_forms(|c| Some(Command::CwmpAcsPassword(Some(c.password()?))))
                    .into_iter()
                    .chain([arg(ArgKind::SimplePassword, "Plaintext password string")
                        .run(|c| Some(Command::CwmpAcsPassword(Some(c.password()?))))]),
            ),
            kw("url", "Set the ACS URL")
                .sub([url().run(|c| Some(Command::CwmpAcsUrl(Some(c.string(0)?))))]),
            kw("username", "Set the ACS username")
                .sub([user().run(|c| Some(Command::CwmpAcsUsername(Some(c.string(0)?))))]),
        ]),
        kw("cpe", "CPE attributes").sub([
            kw("connect", "Connection settings").sub([
                kw("interface", "Specify the CWMP connection interface")
                    .sub(interface_types())
                    .sub([arg(
                        ArgKind::InterfaceName,
                        "Interface type and number in one word",
                    )
                    .run(|c| Some(Command::CwmpCpeConnectInterface(Some(c.interface()?))))]),
                kw("retry", "Set the maximum number of connection retries").sub([arg(
                    int(CONNECT_RETRY_RANGE.0.into(), CONNECT_RETRY_RANGE.1.into()),
                    "Number of retries (0 means no retry)",
                )
                .run(|c| Some(Command::CwmpCpeConnectRetry(Some(c.int()?))))]),
            ]),
            kw("inform", "Inform settings").sub([
                kw("interval", "Periodic inform interval").sub([
                    arg(
                        int(
                            INFORM_INTERVAL_RANGE.0.into(),
                            INFORM_INTERVAL_RANGE.1.into(),
                        ),
                        "Periodic inform interval in seconds",
                    )
                    .run(|c| Some(Command::CwmpCpeInformInterval(Some(c.int()?)))),
                    kw("enable", "Enable periodic inform")
                        .run(|_| Some(Command::CwmpCpeInformIntervalEnable(true))),
                ]),
                kw("time", "Schedule an inform").sub([arg(
                    ArgKind::InformTime,
                    "Inform time, yyyy-mm-ddThh:mm:ss, 1970-01-01T00:00:00 to 2035-12-31T23:59:59",
                )
                .run(|c| Some(Command::CwmpCpeInformTime(Some(c.time()?))))]),
            ]),
            kw("password", "Set the password for ACS connection requests").sub(password_forms(
                |c| Some(Command::CwmpCpePassword(Some(c.password()?))),
            )),
            kw("provision-code", "Set the provisioning code").sub([arg(
                ArgKind::ProvisionCode,
                "Provisioning code: upper-case letters, digits and dots, 1 to 64 characters",
            )
            .run(|c| Some(Command::CwmpCpeProvisionCode(Some(c.string(0)?))))]),
            kw("stun", "NAT traversal (STUN)")
                .sub([kw("enable", "Enable STUN").run(|_| Some(Command::CwmpCpeStunEnable(true)))]),
            kw("username", "Set the username for ACS connection requests")
                .sub([user().run(|c| Some(Command::CwmpCpeUsername(Some(c.string(0)?))))]),
            kw("wait", "Close-wait timer").sub([kw("timeout", "Set the close-wait timeout").sub(
                [arg(
                    int(WAIT_TIMEOUT_RANGE.0.into(), WAIT_TIMEOUT_RANGE.1.into()),
                    "Timeout in seconds",
                )
                .run(|c| Some(Command::CwmpCpeWaitTimeout(Some(c.int()?))))],
            )]),
        ]),
        cwmp_enable(),
    ])
}

fn undo_cwmp_settings() -> Node {
    kw("cwmp", "CPE WAN Management Protocol (CWMP)").sub([
        kw("acs", "ACS attributes").sub([
            kw("default", "Default ACS attributes").sub([
                kw("password", "Remove the default ACS password")
                    .run(|_| Some(Command::CwmpAcsDefaultPassword(None))),
                kw("url", "Remove the default ACS URL")
                    .run(|_| Some(Command::CwmpAcsDefaultUrl(None))),
                kw("username", "Remove the default ACS username")
                    .run(|_| Some(Command::CwmpAcsDefaultUsername(None))),
            ]),
            kw("password", "Remove the ACS password").run(|_| Some(Command::CwmpAcsPassword(None))),
            kw("url", "Remove the ACS URL").run(|_| Some(Command::CwmpAcsUrl(None))),
            kw("username", "Remove the ACS username").run(|_| Some(Command::CwmpAcsUsername(None))),
        ]),
        kw("cpe", "CPE attributes").sub([
            kw("connect", "Connection settings").sub([
                kw("interface", "Remove the CWMP connection interface")
                    .run(|_| Some(Command::CwmpCpeConnectInterface(None))),
                kw("retry", "Restore unlimited connection retries")
                    .run(|_| Some(Command::CwmpCpeConnectRetry(None))),
            ]),
            kw("inform", "Inform settings").sub([
                kw("interval", "Restore the default periodic inform interval")
                    .run(|_| Some(Command::CwmpCpeInformInterval(None)))
                    .sub([kw("enable", "Disable periodic inform")
                        .run(|_| Some(Command::CwmpCpeInformIntervalEnable(false)))]),
                kw("time", "Cancel the scheduled inform")
                    .run(|_| Some(Command::CwmpCpeInformTime(None))),
            ]),
            kw("password", "Remove the connection request password")
                .run(|_| Some(Command::CwmpCpePassword(None))),
            kw("provision-code", "Restore the default provisioning code")
                .run(|_| Some(Command::CwmpCpeProvisionCode(None))),
            kw("stun", "NAT traversal (STUN)").sub([
                kw("enable", "Disable STUN").run(|_| Some(Command::CwmpCpeStunEnable(false)))
            ]),
            kw("username", "Remove the connection request username")
                .run(|_| Some(Command::CwmpCpeUsername(None))),
            kw("wait", "Close-wait timer").sub([kw(
                "timeout",
                "Restore the default close-wait timeout",
            )
            .run(|_| Some(Command::CwmpCpeWaitTimeout(None)))]),
        ]),
        cwmp_enable(),
    ])
}

fn ssl(undo: bool) -> Node {
    let policy = kw("client-policy", "SSL client policy");
    let policy = if undo {
        policy.run(|_| Some(Command::SslClientPolicy(None)))
    } else {
        policy.sub([
            arg(text(1, 31), "SSL client policy name, 1 to 31 characters")
                .run(|c| Some(Command::SslClientPolicy(Some(c.string(0)?)))),
        ])
    };
    kw("ssl", "Secure Sockets Layer (SSL)").sub([policy])
}

fn cwmp_view() -> Node {
    kw("", "").sub([
        cwmp_settings(),
        display(),
        quit(),
        return_(),
        ssl(false),
        kw("undo", "Cancel current setting").sub([undo_cwmp_settings(), ssl(true)]),
    ])
}

static USER: LazyLock<Node> = LazyLock::new(user_view);
static SYSTEM: LazyLock<Node> = LazyLock::new(system_view);
static CWMP: LazyLock<Node> = LazyLock::new(cwmp_view);

/// The command tree of a view.
pub(crate) fn root(view: View) -> &'static Node {
    match view {
        View::User => &USER,
        View::System => &SYSTEM,
        View::Cwmp(_) => &CWMP,
    }
}

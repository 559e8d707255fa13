//! The command language end to end: golden display outputs from the requirements, every
//! command and its `undo`, range boundaries, abbreviations, errors with their carets, `?`, Tab,
//! passwords, and the config → commands → config round trip.

use std::net::{IpAddr, Ipv4Addr};

use tether_cli::display::{
    self, AcsSource, CloudConnectionState, CloudDeviceState, CloudState, ConnectionStatus,
    CwmpStatus, PROCESS_MESSAGE_RECEIVED, TransferStatus,
};
use tether_cli::{
    Applied, BackupServer, Command, CwmpConfig, CwmpModel, DateTime, DisplayTarget, ErrorKind,
    Interface, Outcome, Password, RunningConfig, Session, View, decrypt_password, encrypt_password,
};

const KEY: &[u8] = b"per-device key for tests";

fn session(view: View) -> Session {
    let mut s = Session::new("Sysname", KEY);
    s.set_view(view);
    s
}

const CWMP: View = View::Cwmp(CwmpModel::Tr098);

fn parse(view: View, line: &str) -> Command {
    match session(view).parse(line) {
        Ok(c) => c,
        Err(e) => panic!("{line:?} in {view:?}:\n{}", e.render(line)),
    }
}

fn error(view: View, line: &str) -> (ErrorKind, usize) {
    match session(view).parse(line) {
        Ok(c) => panic!("{line:?} in {view:?} parsed as {c:?}"),
        Err(e) => (e.kind, e.column),
    }
}

fn pw(plain: &str) -> Password {
    Password::from_simple(plain, KEY).unwrap()
}

// ---------------------------------------------------------------- golden display outputs

/// §8.2, `display cwmp configuration`, byte for byte.
const CWMP_CONFIGURATION_SAMPLE: &str = "\
CWMP state                          : Enabled
ACS URL                             : http://www.acs.com:80/acs
ACS username                        : newname
ACS default URL                     : Null
ACS default username                : defname
Periodic inform                     : Disabled
Inform interval                     : 600s
Inform time                         : None
Wait timeout                        : 30s
Connection retries                  : Unlimited
Source IP interface                 : None
STUN state                          : Disabled
SSL policy name                     : Null
";

/// §8.2, `display cwmp status`, byte for byte.
const CWMP_STATUS_SAMPLE: &str = "\
CWMP state                                    : Enabled
ACS URL of most recent connection             : http://www.acs.com:80/acs
ACS information source                        : User
ACS username of most recent connection        : newname
Connection status                             : Disconnected
Data transfer status                          : None
Most recent successful connection attempt     : None
Length of time before next connection attempt : 1096832s
";

/// §8.4 / seed 000, `display cloud-management state`. The year is the seed's 2016: §8.4
/// prints 2019, but 27 January 2019 was a Sunday, so "Wed" fits only 2016 (as in the seed and
/// in cloud-connection.md). The two spaces before "27" are in both H3C samples.
const CLOUD_STATE_SAMPLE: &str = "\
Cloud connection state   : Established
Device state             : Request_success
Cloud server address     : 10.1.1.1
Cloud server domain name : cloud.com
Cloud server port        : 443
Connected at             : Wed Jan  27 14:18:40 2016
Duration                 : 00d 00h 02m 01s
Process state            : Message received
Failure reason           : N/A
";

#[test]
fn golden_display_cwmp_configuration() {
    let mut s = session(View::System);
    let mut config = RunningConfig::default();
    for line in [
        "cwmp",
        "cwmp enable",
        "cwmp acs url http://www.acs.com:80/acs",
        "cwmp acs username newname",
        "cwmp acs default username defname",
    ] {
        match s.execute(line) {
            Outcome::Run(c) => assert_eq!(config.apply(&c), Applied::Changed),
            Outcome::ViewChanged(_) => {}
            other => panic!("{line}: {other:?}"),
        }
    }
    assert_eq!(
        display::cwmp_configuration(&config.cwmp),
        CWMP_CONFIGURATION_SAMPLE
    );
}

#[test]
fn display_cwmp_configuration_defaults_and_values() {
    let text = display::cwmp_configuration(&CwmpConfig::default());
    assert!(text.starts_with("CWMP state                          : Disabled\n"));
    assert!(text.contains("\nACS URL                             : Null\n"));
    assert!(text.contains("\nACS username                        :\n"));
    let config = CwmpConfig {
        connect_retry: Some(0),
        periodic_inform: true,
        inform_interval: 86_400,
        inform_time: DateTime::new(2030, 5, 6, 7, 8, 9),
        connect_interface: Some(Interface {
            kind: "GigabitEthernet",
            number: "1/0/1".into(),
        }),
        stun: true,
        ssl_client_policy: Some("pol".into()),
        ..CwmpConfig::default()
    };
    let text = display::cwmp_configuration(&config);
    for line in [
        "Periodic inform                     : Enabled",
        "Inform interval                     : 86400s",
        "Inform time                         : 2030-05-06T07:08:09",
        "Connection retries                  : 0",
        "Source IP interface                 : GigabitEthernet1/0/1",
        "STUN state                          : Enabled",
        "SSL policy name                     : pol",
    ] {
        assert!(
            text.contains(&format!("{line}\n")),
            "{line} missing in\n{text}"
        );
    }
}

#[test]
fn golden_display_cwmp_status() {
    let status = CwmpStatus {
        enabled: true,
        acs_url: Some("http://www.acs.com:80/acs".into()),
        acs_source: Some(AcsSource::User),
        acs_username: Some("newname".into()),
        connection: ConnectionStatus::Disconnected,
        transfer: TransferStatus::None,
        last_success: None,
        next_attempt_in: Some(1_096_832),
    };
    assert_eq!(display::cwmp_status(&status), CWMP_STATUS_SAMPLE);
    let idle = display::cwmp_status(&CwmpStatus::default());
    assert!(idle.contains("ACS URL of most recent connection             : Null\n"));
    assert!(idle.contains("ACS information source                        : None\n"));
    assert!(idle.contains("Length of time before next connection attempt : None\n"));
    let busy = display::cwmp_status(&CwmpStatus {
        connection: ConnectionStatus::WaitingResponse,
        transfer: TransferStatus::Downloading,
        acs_source: Some(AcsSource::Dhcp),
        ..CwmpStatus::default()
    });
    assert!(busy.contains(": Waiting response\n") && busy.contains(": Downloading\n"));
    assert!(busy.contains("ACS information source                        : DHCP\n"));
}

#[test]
fn golden_display_cloud_management_state() {
    let state = CloudState {
        connection: CloudConnectionState::Established,
        device: CloudDeviceState::RequestSuccess,
        server_address: Some(IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1))),
        server_domain: Some("cloud.com".into()),
        server_port: 443,
        connected_at: DateTime::new(2016, 1, 27, 14, 18, 40),
        duration_secs: Some(121),
        process_state: Some(PROCESS_MESSAGE_RECEIVED.into()),
        failure_reason: None,
    };
    let text = display::cloud_management_state(&state);
    assert_eq!(text, CLOUD_STATE_SAMPLE);
    // The seed (H3C's own page) shows these first seven lines, blank lines aside.
    let seed = "Cloud connection state   : Established\n\nDevice state             : Request_success\n\nCloud server address     : 10.1.1.1\n\nCloud server domain name : cloud.com\n\nCloud server port        : 443\n\nConnected at             : Wed Jan  27 14:18:40 2016\n\nDuration                 : 00d 00h 02m 01s\n";
    assert!(text.starts_with(&seed.replace("\n\n", "\n")));
    let idle = display::cloud_management_state(&CloudState::default());
    assert!(idle.starts_with("Cloud connection state   : Idle\nDevice state             : Init\n"));
    assert!(idle.contains("Connected at             : N/A\n"));
}

#[test]
fn golden_display_current_configuration_and_this() {
    let mut config = RunningConfig::default();
    let mut s = session(View::System);
    for line in [
        "ip host cloud.com 10.1.1.1",
        "cloud-management server domain cloud.com",
        "cwmp",
        "cwmp enable",
        "cwmp acs url http://acs.example.com:7547/",
    ] {
        if let Outcome::Run(c) = s.execute(line) {
            config.apply(&c);
        }
    }
    assert_eq!(
        display::current_configuration(&config),
        "#\n ip host cloud.com 10.1.1.1\n#\n cloud-management server domain cloud.com\n#\ncwmp\n cwmp enable\n cwmp acs url http://acs.example.com:7547/\n#\nreturn\n"
    );
    assert_eq!(
        display::this(CWMP, &config),
        "#\ncwmp\n cwmp enable\n cwmp acs url http://acs.example.com:7547/\n#\nreturn\n"
    );
    assert_eq!(
        display::this(View::System, &config),
        "#\n ip host cloud.com 10.1.1.1\n#\n cloud-management server domain cloud.com\n#\nreturn\n"
    );
    assert_eq!(
        display::current_configuration(&RunningConfig::default()),
        "#\nreturn\n"
    );
    assert_eq!(
        display::this(CWMP, &RunningConfig::default()),
        "#\ncwmp\n#\nreturn\n"
    );
}

#[test]
fn current_configuration_shows_passwords_only_as_cipher() {
    let mut config = RunningConfig::default();
    let c = parse(CWMP, "cwmp acs password simple Sup3rSecret");
    config.apply(&c);
    let c = parse(
        View::System,
        "cloud-management server password simple CloudPass",
    );
    config.apply(&c);
    let text = display::current_configuration(&config);
    assert!(!text.contains("Sup3rSecret") && !text.contains("CloudPass"));
    assert!(text.contains(" cwmp acs password cipher $c$3$"));
    assert!(text.contains(" cloud-management server password cipher $c$3$"));
}

// ---------------------------------------------------------------- views

#[test]
fn views_prompts_and_navigation() {
    let mut s = Session::new("Device", KEY);
    assert_eq!(s.prompt(), "<Device>");
    assert_eq!(s.execute("system-view"), Outcome::ViewChanged(View::System));
    assert_eq!(s.prompt(), "[Device]");
    assert_eq!(s.execute("cwmp"), Outcome::ViewChanged(CWMP));
    assert_eq!(s.prompt(), "[Device-cwmp]");
    assert_eq!(s.execute("quit"), Outcome::ViewChanged(View::System));
    assert_eq!(
        s.execute("cwmp 181-model"),
        Outcome::ViewChanged(View::Cwmp(CwmpModel::Tr181))
    );
    assert_eq!(s.prompt(), "[Device-cwmp]");
    assert_eq!(s.execute("return"), Outcome::ViewChanged(View::User));
    assert_eq!(s.execute("sys"), Outcome::ViewChanged(View::System));
    assert_eq!(s.execute("return"), Outcome::ViewChanged(View::User));
    assert_eq!(s.execute(""), Outcome::Nothing);
    assert_eq!(s.execute("   "), Outcome::Nothing);
    assert_eq!(s.execute("quit"), Outcome::Exit);
    s.set_sysname("Other");
    assert_eq!(s.prompt(), "<Other>");
}

#[test]
fn commands_belong_to_their_views() {
    assert_eq!(error(View::User, "return"), (ErrorKind::Unrecognized, 0));
    assert_eq!(error(View::User, "cwmp"), (ErrorKind::Unrecognized, 0));
    assert_eq!(
        error(View::System, "system-view"),
        (ErrorKind::Unrecognized, 0)
    );
    assert_eq!(
        error(View::System, "reset cloud-management tunnel"),
        (ErrorKind::Unrecognized, 0)
    );
    assert_eq!(
        error(CWMP, "cloud-management keepalive 60"),
        (ErrorKind::Unrecognized, 0)
    );
    assert_eq!(
        error(View::System, "cwmp acs url http://a/b"),
        (ErrorKind::Unrecognized, 5)
    );
    assert_eq!(
        error(View::User, "ip host a 1.1.1.1"),
        (ErrorKind::Unrecognized, 0)
    );
    assert_eq!(error(CWMP, "cwmp 181-model"), (ErrorKind::Unrecognized, 5));
    // display runs everywhere
    for view in [View::User, View::System, CWMP] {
        for (line, target) in [
            (
                "display cwmp configuration",
                DisplayTarget::CwmpConfiguration,
            ),
            ("display cwmp status", DisplayTarget::CwmpStatus),
            (
                "display cloud-management state",
                DisplayTarget::CloudManagementState,
            ),
            (
                "display current-configuration",
                DisplayTarget::CurrentConfiguration,
            ),
            ("display this", DisplayTarget::This),
        ] {
            assert_eq!(
                parse(view, line),
                Command::Display(target),
                "{line} in {view:?}"
            );
        }
    }
}

// ---------------------------------------------------------------- every command and its undo

#[test]
fn every_cwmp_command_and_undo() {
    let cases: Vec<(&str, Command)> = vec![
        ("cwmp enable", Command::CwmpEnable(true)),
        ("undo cwmp enable", Command::CwmpEnable(false)),
        (
            "cwmp acs url http://acs/x",
            Command::CwmpAcsUrl(Some("http://acs/x".into())),
        ),
        ("undo cwmp acs url", Command::CwmpAcsUrl(None)),
        (
            "cwmp acs username Admin",
            Command::CwmpAcsUsername(Some("Admin".into())),
        ),
        ("undo cwmp acs username", Command::CwmpAcsUsername(None)),
        (
            "cwmp acs password simple pw",
            Command::CwmpAcsPassword(Some(pw("pw"))),
        ),
        (
            "cwmp acs password pw",
            Command::CwmpAcsPassword(Some(pw("pw"))),
        ),
        ("undo cwmp acs password", Command::CwmpAcsPassword(None)),
        (
            "cwmp acs default url https://backup:8443/acs",
            Command::CwmpAcsDefaultUrl(Some("https://backup:8443/acs".into())),
        ),
        (
            "undo cwmp acs default url",
            Command::CwmpAcsDefaultUrl(None),
        ),
        (
            "cwmp acs default username d",
            Command::CwmpAcsDefaultUsername(Some("d".into())),
        ),
        (
            "undo cwmp acs default username",
            Command::CwmpAcsDefaultUsername(None),
        ),
        (
            "cwmp acs default password simple dp",
            Command::CwmpAcsDefaultPassword(Some(pw("dp"))),
        ),
        (
            "undo cwmp acs default password",
            Command::CwmpAcsDefaultPassword(None),
        ),
        (
            "cwmp cpe username cr",
            Command::CwmpCpeUsername(Some("cr".into())),
        ),
        ("undo cwmp cpe username", Command::CwmpCpeUsername(None)),
        (
            "cwmp cpe password simple cp",
            Command::CwmpCpePassword(Some(pw("cp"))),
        ),
        ("undo cwmp cpe password", Command::CwmpCpePassword(None)),
        (
            "cwmp cpe inform interval enable",
            Command::CwmpCpeInformIntervalEnable(true),
        ),
        (
            "undo cwmp cpe inform interval enable",
            Command::CwmpCpeInformIntervalEnable(false),
        ),
        (
            "cwmp cpe inform interval 3600",
            Command::CwmpCpeInformInterval(Some(3600)),
        ),
        (
            "undo cwmp cpe inform interval",
            Command::CwmpCpeInformInterval(None),
        ),
        (
            "cwmp cpe inform time 2030-01-02T03:04:05",
            Command::CwmpCpeInformTime(DateTime::new(2030, 1, 2, 3, 4, 5)),
        ),
        (
            "undo cwmp cpe inform time",
            Command::CwmpCpeInformTime(None),
        ),
        (
            "cwmp cpe connect retry 5",
            Command::CwmpCpeConnectRetry(Some(5)),
        ),
        (
            "undo cwmp cpe connect retry",
            Command::CwmpCpeConnectRetry(None),
        ),
        (
            "cwmp cpe connect interface Vlan-interface 1",
            Command::CwmpCpeConnectInterface(Some(Interface {
                kind: "Vlan-interface",
                number: "1".into(),
            })),
        ),
        (
            "undo cwmp cpe connect interface",
            Command::CwmpCpeConnectInterface(None),
        ),
        (
            "cwmp cpe wait timeout 120",
            Command::CwmpCpeWaitTimeout(Some(120)),
        ),
        (
            "undo cwmp cpe wait timeout",
            Command::CwmpCpeWaitTimeout(None),
        ),
        (
            "cwmp cpe provision-code ABC.1",
            Command::CwmpCpeProvisionCode(Some("ABC.1".into())),
        ),
        (
            "undo cwmp cpe provision-code",
            Command::CwmpCpeProvisionCode(None),
        ),
        ("cwmp cpe stun enable", Command::CwmpCpeStunEnable(true)),
        (
            "undo cwmp cpe stun enable",
            Command::CwmpCpeStunEnable(false),
        ),
        (
            "ssl client-policy Pol1",
            Command::SslClientPolicy(Some("Pol1".into())),
        ),
        ("undo ssl client-policy", Command::SslClientPolicy(None)),
        ("display this", Command::Display(DisplayTarget::This)),
    ];
    for (line, expected) in cases {
        assert_eq!(parse(CWMP, line), expected, "{line}");
    }
    // The system-view shortcut for cwmp enable.
    assert_eq!(
        parse(View::System, "cwmp enable"),
        Command::CwmpEnable(true)
    );
    assert_eq!(
        parse(View::System, "undo cwmp enable"),
        Command::CwmpEnable(false)
    );
}

#[test]
fn every_system_and_user_command_and_undo() {
    let ip = Ipv4Addr::new(10, 1, 1, 1);
    let cases: Vec<(&str, Command)> = vec![
        ("cwmp", Command::EnterCwmp(CwmpModel::Tr098)),
        ("cwmp 181-model", Command::EnterCwmp(CwmpModel::Tr181)),
        (
            "cloud-management server domain cloud.com",
            Command::CloudServerDomain(Some("cloud.com".into())),
        ),
        (
            "undo cloud-management server domain",
            Command::CloudServerDomain(None),
        ),
        (
            "cloud-management server port 8443",
            Command::CloudServerPort(Some(8443)),
        ),
        (
            "undo cloud-management server port",
            Command::CloudServerPort(None),
        ),
        (
            "cloud-management server password simple cpw",
            Command::CloudServerPassword(Some(pw("cpw"))),
        ),
        (
            "undo cloud-management server password",
            Command::CloudServerPassword(None),
        ),
        (
            "cloud-management keepalive 60",
            Command::CloudKeepalive(Some(60)),
        ),
        (
            "undo cloud-management keepalive",
            Command::CloudKeepalive(None),
        ),
        (
            "cloud-management backup-server domain b.com",
            Command::CloudBackupServerAdd(BackupServer {
                domain: "b.com".into(),
                port: None,
            }),
        ),
        (
            "cloud-management backup-server domain b.com port 444",
            Command::CloudBackupServerAdd(BackupServer {
                domain: "b.com".into(),
                port: Some(444),
            }),
        ),
        (
            "undo cloud-management backup-server domain",
            Command::CloudBackupServerRemove {
                domain: None,
                port: None,
            },
        ),
        (
            "undo cloud-management backup-server domain b.com",
            Command::CloudBackupServerRemove {
                domain: Some("b.com".into()),
                port: None,
            },
        ),
        (
            "undo cloud-management backup-server domain b.com port 444",
            Command::CloudBackupServerRemove {
                domain: Some("b.com".into()),
                port: Some(444),
            },
        ),
        (
            "cloud-management unbinding-code X7Y8Z9",
            Command::CloudUnbindingCode("X7Y8Z9".into()),
        ),
        (
            "ip host cloud.com 10.1.1.1",
            Command::IpHost {
                name: "cloud.com".into(),
                ip,
            },
        ),
        (
            "undo ip host cloud.com",
            Command::UndoIpHost {
                name: "cloud.com".into(),
                ip: None,
            },
        ),
        (
            "undo ip host cloud.com 10.1.1.1",
            Command::UndoIpHost {
                name: "cloud.com".into(),
                ip: Some(ip),
            },
        ),
        ("quit", Command::Quit),
        ("return", Command::Return),
    ];
    for (line, expected) in cases {
        assert_eq!(parse(View::System, line), expected, "{line}");
    }
    assert_eq!(
        parse(View::User, "reset cloud-management tunnel"),
        Command::ResetCloudTunnel
    );
    assert_eq!(parse(View::User, "system-view"), Command::SystemView);
    assert_eq!(parse(View::User, "quit"), Command::Quit);
    // Actions and displays reach the agent; navigation does not.
    let mut s = session(View::User);
    assert_eq!(
        s.execute("reset cloud-management tunnel"),
        Outcome::Run(Command::ResetCloudTunnel)
    );
}

// ---------------------------------------------------------------- range boundaries

fn accepts(view: View, line: &str) -> bool {
    match session(view).parse(line) {
        Ok(_) => true,
        Err(e) if e.kind == ErrorKind::WrongParameter => false,
        Err(e) => panic!("{line}: unexpected\n{}", e.render(line)),
    }
}

#[test]
fn integer_ranges_just_inside_and_outside() {
    let table: &[(View, &str, u64, u64)] = &[
        (CWMP, "cwmp cpe inform interval", 10, 86_400),
        (CWMP, "cwmp cpe connect retry", 0, 100),
        (CWMP, "cwmp cpe wait timeout", 30, 1800),
        (View::System, "cloud-management server port", 1, 65_535),
        (View::System, "cloud-management keepalive", 10, 3600),
        (
            View::System,
            "cloud-management backup-server domain b.com port",
            1,
            65_535,
        ),
    ];
    for &(view, head, min, max) in table {
        assert!(accepts(view, &format!("{head} {min}")), "{head} {min}");
        assert!(accepts(view, &format!("{head} {max}")), "{head} {max}");
        assert!(
            !accepts(view, &format!("{head} {}", max + 1)),
            "{head} {}",
            max + 1
        );
        if min > 0 {
            assert!(
                !accepts(view, &format!("{head} {}", min - 1)),
                "{head} {}",
                min - 1
            );
        }
        assert!(!accepts(view, &format!("{head} 99999999999999999999999")));
    }
    // Not a number at all: no argument matches.
    assert_eq!(
        error(CWMP, "cwmp cpe connect retry x"),
        (ErrorKind::Unrecognized, 23)
    );
}

#[test]
fn string_lengths_just_inside_and_outside() {
    let url = |n: usize| format!("http://a/{}", "p".repeat(n - 9));
    assert!(accepts(CWMP, &format!("cwmp acs url {}", url(255))));
    assert!(!accepts(CWMP, &format!("cwmp acs url {}", url(256))));
    assert!(accepts(CWMP, "cwmp acs url http://a"));
    assert!(!accepts(CWMP, "cwmp acs url http://"));
    assert!(!accepts(CWMP, "cwmp acs url ftp://acs.example.com/"));
    assert!(accepts(CWMP, &format!("cwmp acs default url {}", url(255))));
    assert!(!accepts(
        CWMP,
        &format!("cwmp acs default url {}", url(256))
    ));
    for head in [
        "cwmp acs username",
        "cwmp acs default username",
        "cwmp cpe username",
    ] {
        assert!(accepts(CWMP, &format!("{head} u")));
        assert!(accepts(CWMP, &format!("{head} {}", "u".repeat(255))));
        assert!(!accepts(CWMP, &format!("{head} {}", "u".repeat(256))));
        assert!(!accepts(CWMP, &format!("{head} \"\"")));
    }
    for head in [
        "cwmp acs password simple",
        "cwmp acs default password simple",
        "cwmp cpe password simple",
    ] {
        assert!(accepts(CWMP, &format!("{head} p")));
        assert!(accepts(CWMP, &format!("{head} {}", "p".repeat(255))));
        assert!(!accepts(CWMP, &format!("{head} {}", "p".repeat(256))));
    }
    assert!(accepts(
        View::System,
        &format!(
            "cloud-management server password simple {}",
            "p".repeat(255)
        )
    ));
    assert!(!accepts(
        View::System,
        &format!(
            "cloud-management server password simple {}",
            "p".repeat(256)
        )
    ));
    assert!(accepts(
        CWMP,
        &format!("cwmp cpe provision-code {}", "A".repeat(64))
    ));
    assert!(!accepts(
        CWMP,
        &format!("cwmp cpe provision-code {}", "A".repeat(65))
    ));
    assert!(!accepts(CWMP, "cwmp cpe provision-code lower"));
    assert!(!accepts(CWMP, "cwmp cpe provision-code A_B"));
    assert!(accepts(
        CWMP,
        &format!("ssl client-policy {}", "s".repeat(31))
    ));
    assert!(!accepts(
        CWMP,
        &format!("ssl client-policy {}", "s".repeat(32))
    ));
    for head in [
        "cloud-management server domain",
        "cloud-management backup-server domain",
        "ip host",
    ] {
        let tail = if head == "ip host" { " 1.2.3.4" } else { "" };
        assert!(accepts(
            View::System,
            &format!("{head} {}{tail}", "d".repeat(253))
        ));
        assert!(!accepts(
            View::System,
            &format!("{head} {}{tail}", "d".repeat(254))
        ));
        assert!(!accepts(View::System, &format!("{head} bad/name{tail}")));
    }
    assert!(!accepts(View::System, "ip host 1.2.3.4 1.2.3.4"));
    assert!(!accepts(View::System, "ip host a 1.2.3.256"));
    assert!(!accepts(View::System, "ip host a 1.2.3"));
    assert!(accepts(
        View::System,
        &format!("cloud-management unbinding-code {}", "C".repeat(64))
    ));
    assert!(!accepts(
        View::System,
        &format!("cloud-management unbinding-code {}", "C".repeat(65))
    ));
    assert!(accepts(
        CWMP,
        "cwmp cpe connect interface GigabitEthernet 1/0/1.10"
    ));
    assert!(!accepts(
        CWMP,
        "cwmp cpe connect interface GigabitEthernet 1//1"
    ));
}

#[test]
fn inform_time_range() {
    assert!(accepts(CWMP, "cwmp cpe inform time 1970-01-01T00:00:00"));
    assert!(accepts(CWMP, "cwmp cpe inform time 2035-12-31T23:59:59"));
    assert!(!accepts(CWMP, "cwmp cpe inform time 1969-12-31T23:59:59"));
    assert!(!accepts(CWMP, "cwmp cpe inform time 2036-01-01T00:00:00"));
    assert!(!accepts(CWMP, "cwmp cpe inform time 2030-02-30T00:00:00"));
    assert!(!accepts(CWMP, "cwmp cpe inform time 2030-01-01"));
}

// ---------------------------------------------------------------- abbreviations

#[test]
fn unique_prefixes_work_at_every_level() {
    assert_eq!(
        parse(View::User, "dis cw st"),
        Command::Display(DisplayTarget::CwmpStatus)
    );
    assert_eq!(
        parse(View::User, "DIS CW CON"),
        Command::Display(DisplayTarget::CwmpConfiguration)
    );
    assert_eq!(
        parse(View::User, "d cu"),
        Command::Display(DisplayTarget::CurrentConfiguration)
    );
    assert_eq!(
        parse(View::User, "dis cl s"),
        Command::Display(DisplayTarget::CloudManagementState)
    );
    assert_eq!(parse(View::User, "re c t"), Command::ResetCloudTunnel);
    assert_eq!(parse(View::User, "sys"), Command::SystemView);
    assert_eq!(
        parse(View::System, "cw"),
        Command::EnterCwmp(CwmpModel::Tr098)
    );
    assert_eq!(
        parse(View::System, "cw 181"),
        Command::EnterCwmp(CwmpModel::Tr181)
    );
    assert_eq!(
        parse(View::System, "cl ser dom x.com"),
        Command::CloudServerDomain(Some("x.com".into()))
    );
    assert_eq!(
        parse(View::System, "un cl k"),
        Command::CloudKeepalive(None)
    );
    assert_eq!(
        parse(CWMP, "cw acs ur http://x/acs"),
        Command::CwmpAcsUrl(Some("http://x/acs".into()))
    );
    assert_eq!(parse(CWMP, "cw e"), Command::CwmpEnable(true));
    assert_eq!(
        parse(CWMP, "cw cpe inf int en"),
        Command::CwmpCpeInformIntervalEnable(true)
    );
    assert_eq!(
        parse(CWMP, "un cw cpe inf int"),
        Command::CwmpCpeInformInterval(None)
    );
    assert_eq!(
        parse(CWMP, "cw cpe con int g 1/0/1"),
        Command::CwmpCpeConnectInterface(Some(Interface {
            kind: "GigabitEthernet",
            number: "1/0/1".into()
        }))
    );
    assert_eq!(
        parse(CWMP, "cw cpe con int vlan 10"),
        Command::CwmpCpeConnectInterface(Some(Interface {
            kind: "Vlan-interface",
            number: "10".into()
        }))
    );
    assert_eq!(
        parse(CWMP, "ss c P"),
        Command::SslClientPolicy(Some("P".into()))
    );
}

#[test]
fn values_are_case_sensitive_keywords_are_not() {
    assert_eq!(
        parse(CWMP, "CWMP ACS USERNAME MixedCase"),
        Command::CwmpAcsUsername(Some("MixedCase".into()))
    );
    assert_eq!(
        parse(CWMP, "cwmp acs username \"field tech\""),
        Command::CwmpAcsUsername(Some("field tech".into()))
    );
    // A quoted word is a value, never a keyword.
    assert_eq!(
        error(CWMP, "cwmp \"acs\" url http://a/b"),
        (ErrorKind::Unrecognized, 5)
    );
    // An unclosed quote is refused where it opens.
    assert_eq!(
        error(CWMP, "cwmp acs username \"ab"),
        (ErrorKind::Unrecognized, 18)
    );
}

// ---------------------------------------------------------------- errors and carets

#[test]
fn ambiguous_prefixes() {
    assert_eq!(error(View::User, "dis c"), (ErrorKind::Ambiguous, 4));
    assert_eq!(error(View::System, "c"), (ErrorKind::Ambiguous, 0));
    assert_eq!(error(CWMP, "cwmp acs u x"), (ErrorKind::Ambiguous, 9));
    assert_eq!(error(CWMP, "cwmp cpe p x"), (ErrorKind::Ambiguous, 9));
    assert_eq!(
        error(CWMP, "cwmp cpe connect interface t 1"),
        (ErrorKind::Ambiguous, 27)
    );
}

#[test]
fn error_kinds_and_caret_columns() {
    assert_eq!(error(View::User, "dis xyz"), (ErrorKind::Unrecognized, 4));
    assert_eq!(error(View::User, "foo"), (ErrorKind::Unrecognized, 0));
    assert_eq!(
        error(View::User, "display cwmp"),
        (ErrorKind::Incomplete, 13)
    );
    assert_eq!(error(View::User, "display"), (ErrorKind::Incomplete, 8));
    assert_eq!(error(CWMP, "cwmp acs url"), (ErrorKind::Incomplete, 13));
    assert_eq!(
        error(CWMP, "cwmp acs password cipher"),
        (ErrorKind::Incomplete, 25)
    );
    assert_eq!(
        error(View::User, "display this now"),
        (ErrorKind::TooManyParameters, 13)
    );
    assert_eq!(
        error(CWMP, "cwmp enable  now"),
        (ErrorKind::TooManyParameters, 13)
    );
    assert_eq!(
        error(CWMP, "cwmp cpe inform interval 5"),
        (ErrorKind::WrongParameter, 25)
    );
    assert_eq!(
        error(
            View::System,
            "cloud-management backup-server domain b.com foo"
        ),
        (ErrorKind::Unrecognized, 44)
    );
}

#[test]
fn errors_render_comware_style() {
    let s = session(View::User);
    let line = "dis cwmp foo";
    let e = s.parse(line).unwrap_err();
    assert_eq!(
        e.render(line),
        "dis cwmp foo\n         ^\n % Unrecognized command found at '^' position.\n"
    );
    assert_eq!(
        s.render_error(line, &e),
        "<Sysname>dis cwmp foo\n                  ^\n % Unrecognized command found at '^' position.\n"
    );
    let messages = [
        ("dis c", "% Ambiguous command found at '^' position."),
        ("dis", "% Incomplete command found at '^' position."),
        ("dis this x", "% Too many parameters found at '^' position."),
    ];
    for (line, message) in messages {
        let e = s.parse(line).unwrap_err();
        assert_eq!(e.to_string(), message);
        assert!(e.render(line).ends_with(&format!(" {message}\n")));
    }
    let c = session(CWMP);
    let e = c.parse("cwmp cpe wait timeout 29").unwrap_err();
    assert_eq!(
        e.render("cwmp cpe wait timeout 29"),
        "cwmp cpe wait timeout 29\n                      ^\n % Wrong parameter found at '^' position.\n"
    );
    let mut u = session(View::User);
    assert!(matches!(u.execute("dis c"), Outcome::Error(e) if e.kind == ErrorKind::Ambiguous));
}

// ---------------------------------------------------------------- ? help and completion

#[test]
fn question_mark_after_space_lists_next_words() {
    let mut s = session(View::User);
    let Outcome::Help(text) = s.execute("dis ?") else {
        panic!()
    };
    assert_eq!(
        text,
        "  cloud-management       Cloud management\n\
         \x20 current-configuration  Current configuration\n\
         \x20 cwmp                   CPE WAN Management Protocol (CWMP) module\n\
         \x20 this                   Display the configuration of the current view\n"
    );
    let c = session(CWMP);
    let text = c.help("cwmp cpe inform interval ?").unwrap();
    assert_eq!(
        text,
        "  INTEGER<10-86400>  Periodic inform interval in seconds\n  enable             Enable periodic inform\n"
    );
    let text = c.help("undo cwmp cpe inform interval ?").unwrap();
    assert!(text.starts_with("  enable  Disable periodic inform\n"));
    assert!(text.ends_with("  <cr>\n"));
    let root = session(View::User).help("?").unwrap();
    for k in ["display", "quit", "reset", "system-view"] {
        assert!(root.contains(&format!("  {k} ")), "{k} in\n{root}");
    }
    assert!(
        c.help("cwmp acs url ?")
            .unwrap()
            .starts_with("  STRING<8-255>  ACS URL")
    );
    assert!(c.help("display this ?").unwrap() == "  <cr>\n");
}

#[test]
fn question_mark_after_partial_word_lists_completions() {
    let s = session(View::User);
    assert_eq!(s.help("dis cw?").unwrap(), "  cwmp\n");
    assert_eq!(
        s.help("dis c?").unwrap(),
        "  cloud-management\n  current-configuration\n  cwmp\n"
    );
    assert_eq!(s.help("s?").unwrap(), "  system-view\n");
    assert_eq!(s.help("dis zz?").unwrap_err().kind, ErrorKind::Unrecognized);
    assert_eq!(
        s.help("dis this x?").unwrap_err().kind,
        ErrorKind::TooManyParameters
    );
    assert_eq!(
        s.help("dix cwmp ?").unwrap_err(),
        s.parse("dix").unwrap_err()
    );
    let c = session(CWMP);
    assert!(
        c.help("cwmp cpe inform interval 6?")
            .unwrap()
            .starts_with("  INTEGER<10-86400>")
    );
}

#[test]
fn tab_completion() {
    let s = session(View::User);
    assert_eq!(s.complete("dis cw"), vec!["dis cwmp"]);
    assert_eq!(
        s.complete("dis c"),
        vec![
            "dis cloud-management",
            "dis current-configuration",
            "dis cwmp"
        ]
    );
    assert_eq!(
        s.complete("dis cwmp "),
        vec!["dis cwmp configuration", "dis cwmp status"]
    );
    assert_eq!(s.complete("sy"), vec!["system-view"]);
    assert!(s.complete("dis xyz").is_empty());
    assert!(s.complete("dis xyz ").is_empty());
    let c = session(CWMP);
    assert!(c.complete("cwmp acs url ").is_empty());
    assert_eq!(
        c.complete("cwmp cpe con int Gi"),
        vec!["cwmp cpe con int GigabitEthernet"]
    );
}

// ---------------------------------------------------------------- passwords

#[test]
fn passwords_simple_is_encrypted_cipher_is_verified() {
    let Command::CwmpAcsPassword(Some(p)) = parse(CWMP, "cwmp acs password simple hunter2") else {
        panic!()
    };
    assert!(p.cipher().starts_with("$c$3$"));
    assert_eq!(p.reveal(KEY).unwrap(), "hunter2");
    let line = format!("cwmp cpe password cipher {}", p.cipher());
    assert_eq!(
        parse(CWMP, &line),
        Command::CwmpCpePassword(Some(p.clone()))
    );
    // Made with another key: refused.
    let foreign = encrypt_password("hunter2", b"other device").unwrap();
    assert_eq!(
        error(CWMP, &format!("cwmp cpe password cipher {foreign}")),
        (ErrorKind::WrongParameter, 25)
    );
    // Wrong length or shape: refused.
    assert!(!accepts(
        CWMP,
        &format!("cwmp acs password cipher {}", "A".repeat(32))
    ));
    assert!(!accepts(
        CWMP,
        &format!("cwmp acs password cipher $c$3${}", "A".repeat(369))
    ));
    assert!(!accepts(
        CWMP,
        "cwmp acs password cipher $c$3$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    ));
    assert_eq!(decrypt_password(p.cipher(), KEY).unwrap(), "hunter2");
}

// ---------------------------------------------------------------- config semantics

#[test]
fn undo_restores_every_default() {
    let mut s = session(View::System);
    let mut config = RunningConfig::default();
    let set = [
        "ip host cloud.com 10.1.1.1",
        "cloud-management server domain cloud.com",
        "cloud-management server port 8443",
        "cloud-management server password simple x",
        "cloud-management keepalive 30",
        "cloud-management backup-server domain b1.com",
        "cloud-management backup-server domain b2.com port 9443",
        "cwmp",
        "cwmp enable",
        "cwmp acs url http://acs/",
        "cwmp acs username u",
        "cwmp acs password simple p",
        "cwmp acs default url http://def/",
        "cwmp acs default username du",
        "cwmp acs default password simple dp",
        "cwmp cpe username cu",
        "cwmp cpe password simple cp",
        "cwmp cpe inform interval enable",
        "cwmp cpe inform interval 60",
        "cwmp cpe inform time 2030-01-01T00:00:00",
        "cwmp cpe connect retry 3",
        "cwmp cpe connect interface LoopBack 0",
        "cwmp cpe wait timeout 60",
        "cwmp cpe provision-code CODE.2",
        "cwmp cpe stun enable",
        "ssl client-policy p",
    ];
    for line in set {
        if let Outcome::Run(c) = s.execute(line) {
            assert_eq!(config.apply(&c), Applied::Changed, "{line}");
        }
    }
    assert_ne!(config, RunningConfig::default());
    for line in [
        "undo cwmp enable",
        "undo cwmp acs url",
        "undo cwmp acs username",
        "undo cwmp acs password",
        "undo cwmp acs default url",
        "undo cwmp acs default username",
        "undo cwmp acs default password",
        "undo cwmp cpe username",
        "undo cwmp cpe password",
        "undo cwmp cpe inform interval enable",
        "undo cwmp cpe inform interval",
        "undo cwmp cpe inform time",
        "undo cwmp cpe connect retry",
        "undo cwmp cpe connect interface",
        "undo cwmp cpe wait timeout",
        "undo cwmp cpe provision-code",
        "undo cwmp cpe stun enable",
        "undo ssl client-policy",
        "quit",
        "undo ip host cloud.com",
        "undo cloud-management server domain",
        "undo cloud-management server port",
        "undo cloud-management server password",
        "undo cloud-management keepalive",
        "undo cloud-management backup-server domain",
    ] {
        if let Outcome::Run(c) = s.execute(line) {
            assert_eq!(config.apply(&c), Applied::Changed, "{line}");
        }
    }
    assert_eq!(config, RunningConfig::default());
    assert_eq!(config.cwmp.provision_code, "PROVISIONINGCODE");
    assert_eq!(config.cwmp.inform_interval, 600);
    assert_eq!(config.cwmp.wait_timeout, 30);
    assert_eq!(config.cloud.server_port, 443);
    assert_eq!(config.cloud.keepalive, 180);
    // Undoing what is already default changes nothing; actions are not configuration.
    assert_eq!(config.apply(&Command::CwmpAcsUrl(None)), Applied::Unchanged);
    assert_eq!(config.apply(&Command::ResetCloudTunnel), Applied::NotConfig);
    assert_eq!(
        config.apply(&Command::CloudUnbindingCode("X".into())),
        Applied::NotConfig
    );
}

#[test]
fn backup_servers_and_hosts() {
    let mut config = RunningConfig::default();
    let mut add = |line: &str| config.apply(&parse(View::System, line));
    assert_eq!(
        add("cloud-management backup-server domain a.com"),
        Applied::Changed
    );
    assert_eq!(
        add("cloud-management backup-server domain A.COM"),
        Applied::Unchanged
    );
    assert_eq!(
        add("cloud-management backup-server domain a.com port 1"),
        Applied::Changed
    );
    assert_eq!(
        add("cloud-management backup-server domain b.com"),
        Applied::Changed
    );
    assert_eq!(
        add("undo cloud-management backup-server domain a.com port 1"),
        Applied::Changed
    );
    assert_eq!(
        add("undo cloud-management backup-server domain a.com port 1"),
        Applied::Unchanged
    );
    assert_eq!(
        add("cloud-management backup-server domain a.com port 2"),
        Applied::Changed
    );
    assert_eq!(
        add("undo cloud-management backup-server domain a.com"),
        Applied::Changed
    );
    for i in 0..7 {
        assert_eq!(
            add(&format!("cloud-management backup-server domain s{i}.com")),
            Applied::Changed
        );
    }
    assert!(matches!(
        add("cloud-management backup-server domain full.com"),
        Applied::Refused(_)
    ));
    assert_eq!(config.cloud.backup_servers.len(), 8);
    assert_eq!(config.cloud.backup_servers[0].domain, "b.com");

    let mut config = RunningConfig::default();
    let mut add = |line: &str| config.apply(&parse(View::System, line));
    assert_eq!(add("ip host Cloud.com 10.1.1.1"), Applied::Changed);
    assert_eq!(add("ip host cloud.COM 10.1.1.1"), Applied::Unchanged);
    assert_eq!(add("ip host cloud.com 10.1.1.2"), Applied::Changed);
    assert_eq!(add("undo ip host cloud.com 10.1.1.1"), Applied::Unchanged);
    assert_eq!(add("undo ip host cloud.com 10.1.1.2"), Applied::Changed);
    assert!(config.cloud.ip_hosts.is_empty());
}

#[test]
fn config_round_trips_through_commands() {
    let cwmp = CwmpConfig {
        enabled: true,
        acs_url: Some("https://acs.example.com:7547/cwmp?x=1".into()),
        acs_username: Some("field tech".into()),
        acs_password: Some(pw("p w")),
        acs_default_url: Some("http://fallback/acs?".into()),
        acs_default_username: Some("d".into()),
        acs_default_password: Some(pw("dp")),
        cpe_username: Some("cr".into()),
        cpe_password: Some(pw("cp")),
        periodic_inform: true,
        inform_interval: 10,
        inform_time: DateTime::new(2035, 12, 31, 23, 59, 59),
        connect_retry: Some(0),
        wait_timeout: 1800,
        provision_code: "A.B.C".into(),
        connect_interface: Some(Interface {
            kind: "Ten-GigabitEthernet",
            number: "1/0/49".into(),
        }),
        stun: true,
        ssl_client_policy: Some("policy".into()),
    };
    let mut config = RunningConfig {
        cwmp,
        ..RunningConfig::default()
    };
    for line in [
        "ip host cloud.com 10.1.1.1",
        "ip host other 192.0.2.1",
        "cloud-management server domain cloud.com",
        "cloud-management server port 1",
        "cloud-management server password simple secret",
        "cloud-management keepalive 3600",
        "cloud-management backup-server domain b.com",
        "cloud-management backup-server domain c.com port 65535",
    ] {
        config.apply(&parse(View::System, line));
    }
    let lines = config.to_commands();
    let mut s = session(View::System);
    let mut rebuilt = RunningConfig::default();
    for line in &lines {
        match s.execute(line) {
            Outcome::Run(c) => {
                rebuilt.apply(&c);
            }
            Outcome::ViewChanged(_) => {}
            other => panic!("{line}: {other:?}"),
        }
    }
    assert_eq!(s.view(), View::System);
    assert_eq!(rebuilt, config);
    assert_eq!(RunningConfig::default().to_commands(), Vec::<String>::new());
}

#[test]
fn inform_time_is_returned_for_the_agent_to_check_against_now() {
    let Command::CwmpCpeInformTime(Some(t)) =
        parse(CWMP, "cwmp cpe inform time 2030-06-15T12:00:00")
    else {
        panic!()
    };
    assert_eq!(t.to_unix(), 1_907_755_200);
    assert_eq!(DateTime::from_unix(t.to_unix()), Some(t));
}

// ---------------------------------------------------------------- robustness

mod robustness {
    use super::*;
    use proptest::prelude::*;

    const WORDS: &[&str] = &[
        "cwmp",
        "cw",
        "acs",
        "url",
        "u",
        "undo",
        "un",
        "display",
        "dis",
        "cloud-management",
        "c",
        "server",
        "port",
        "domain",
        "password",
        "cipher",
        "simple",
        "cpe",
        "inform",
        "interval",
        "enable",
        "time",
        "connect",
        "interface",
        "g",
        "1/0/1",
        "0",
        "443",
        "65536",
        "?",
        "\"",
        "\"a b\"",
        "http://a/b",
        "2030-01-01T00:00:00",
        "ip",
        "host",
        "x.com",
        "10.1.1.1",
        "quit",
        "return",
        "system-view",
        "backup-server",
        "this",
        "é",
        "",
    ];

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::collection::vec(prop::sample::select(WORDS), 0..8).prop_map(|w| w.join(" ")),
            ".{0,80}",
        ]
    }

    proptest! {
        /// No line, in any view, makes the session panic, and an error's caret never points
        /// past the end of the line plus one space.
        #[test]
        fn any_line_is_answered(line in line(), view in 0..3u8) {
            let view = [View::User, View::System, CWMP][usize::from(view)];
            let mut s = session(view);
            let _ = s.help(&line);
            let _ = s.complete(&line);
            if let Outcome::Error(e) = s.execute(&line) {
                prop_assert!(e.column <= line.chars().count() + 1);
                let _ = s.render_error(&line, &e);
            }
        }

        /// Any value a user name accepts comes back from `to_commands` unchanged.
        #[test]
        fn usernames_round_trip(name in "[ -~]{1,40}") {
            let parsed = session(CWMP).parse(&format!("cwmp acs username \"{name}\""));
            prop_assume!(parsed.is_ok());
            let mut config = RunningConfig::default();
            config.apply(&parsed.unwrap());
            let mut s = session(View::System);
            let mut rebuilt = RunningConfig::default();
            for line in config.to_commands() {
                if let Outcome::Run(c) = s.execute(&line) {
                    rebuilt.apply(&c);
                }
            }
            prop_assert_eq!(rebuilt, config);
        }
    }
}

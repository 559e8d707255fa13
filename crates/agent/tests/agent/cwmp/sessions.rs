//! Sessions and events: first contact, cookies, HTTP rules, Digest, retry back-off, the ACS URL
//! move of the H3C guide (steps 6-11), reboot across a restart, value changes, periodic and
//! scheduled Informs.

use std::time::Duration;

use tether_cli::Command;
use tether_cli::display::ConnectionStatus;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_contact_bootstraps_with_forced_parameters_cookies_and_http_rules() {
    let acs = Acs::start().await;
    acs.with(|s| s.cookies = true);
    acs.push("<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType=\"xsd:string[1]\"><string>Device.ManagementServer.ParameterKey</string></ParameterNames></cwmp:GetParameterValues>");
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), cpe_config(dir.path())).await;
    let ctx = agent.context().clone();
    point_at(&ctx, &acs.url());
    let answers = acs.wait_answers(1).await;
    assert_eq!(method_of(&answers[0]), "GetParameterValuesResponse");
    acs.wait_for(10, "the final empty POST", |s| {
        s.posts.last().is_some_and(|p| p.status == 204)
    })
    .await;

    let inform = &acs.informs()[0];
    let events = events_of(inform);
    assert!(events.contains(&"0 BOOTSTRAP".to_owned()), "{events:?}");
    assert!(events.contains(&"1 BOOT".to_owned()), "{events:?}");
    assert_eq!(tag_text(inform, "RetryCount").as_deref(), Some("0"));
    // §3.3: the forced Inform parameters of Device:2.
    for name in [
        "Device.RootDataModelVersion",
        "Device.DeviceInfo.HardwareVersion",
        "Device.DeviceInfo.SoftwareVersion",
        "Device.DeviceInfo.ProvisioningCode",
        "Device.ManagementServer.ParameterKey",
        "Device.ManagementServer.ConnectionRequestURL",
    ] {
        assert!(
            param(inform, name).is_some(),
            "{name} missing from {inform}"
        );
    }
    assert!(
        cr_url(inform).starts_with("http://127.0.0.1:"),
        "{}",
        cr_url(inform)
    );
    assert_eq!(tag_text(inform, "OUI").as_deref(), Some("000000"));

    let posts = acs.with(|s| s.posts.clone());
    // HTTP-02: the Inform has Content-Type text/xml and SOAPAction; the empty POST neither.
    let first = &posts[0];
    assert!(first.headers["content-type"].starts_with("text/xml"));
    assert!(first.headers.contains_key("soapaction"));
    let empty: Vec<_> = posts.iter().filter(|p| p.body.is_empty()).collect();
    assert!(!empty.is_empty());
    for p in &empty {
        assert!(!p.headers.contains_key("content-type"), "{:?}", p.headers);
        assert!(!p.headers.contains_key("soapaction"), "{:?}", p.headers);
        assert_eq!(
            p.headers.get("content-length").map(String::as_str),
            Some("0")
        );
    }
    // HTTP-09: never Expect: 100-continue. HTTP-06: both cookies on every later request.
    assert!(posts.iter().all(|p| !p.headers.contains_key("expect")));
    assert!(!first.headers.contains_key("cookie"));
    for p in &posts[1..] {
        let cookie = p.headers.get("cookie").expect("cookies echoed");
        assert!(
            cookie.contains("session=s3cr3t") && cookie.contains("node=n1"),
            "{cookie}"
        );
    }
    // display cwmp status is live.
    let live = ctx.cwmp_live();
    assert_eq!(live.last_acs_url.as_deref(), Some(acs.url().as_str()));
    assert!(live.last_success_unix.is_some());
    for _ in 0..100 {
        if ctx.cwmp_live().connection == ConnectionStatus::Disconnected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ctx.cwmp_live().connection, ConnectionStatus::Disconnected);
    assert_eq!(
        ctx.running().last_acs_url().as_deref(),
        Some(acs.url().as_str())
    );
    assert_schema_valid(&acs.bodies());
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_authentication_to_the_acs_is_answered_and_repeated_on_every_request() {
    let acs = Acs::start().await;
    acs.with(|s| s.digest = Some(("cpe-user".into(), "cpe-secret".into())));
    acs.push("<cwmp:GetRPCMethods/>");
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), cpe_config(dir.path())).await;
    let ctx = agent.context().clone();
    cli(&ctx, Command::CwmpAcsUsername(Some("cpe-user".into())));
    cli(
        &ctx,
        Command::CwmpAcsPassword(Some(password(&ctx, "cpe-secret"))),
    );
    point_at(&ctx, &acs.url());
    acs.wait_answers(1).await;
    let posts = acs.with(|s| s.posts.clone());
    // Plain HTTP: no pre-emptive credentials (Basic only over TLS, AUT-02).
    assert!(!posts[0].headers.contains_key("authorization"));
    assert_eq!(posts[0].status, 401);
    let accepted: Vec<_> = posts.iter().filter(|p| p.status != 401).collect();
    assert!(
        accepted.len() >= 3,
        "Inform, the empty POST and the response"
    );
    for p in accepted {
        let auth = &p.headers["authorization"];
        assert!(
            auth.starts_with("Digest ") && auth.contains("qop=auth"),
            "{auth}"
        );
    }
    assert_schema_valid(&acs.bodies());
    agent.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn failed_sessions_back_off_per_the_retry_formula_with_a_paused_clock() {
    let acs = Acs::start().await;
    acs.with(|s| s.fail_informs = 3);
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), cpe_config(dir.path())).await;
    let ctx = agent.context().clone();
    point_at(&ctx, &acs.url());
    acs.wait_for(30, "4 informs", |s| s.informs.len() >= 4)
        .await;
    let informs = acs.with(|s| s.informs.clone());
    let counts: Vec<String> = informs
        .iter()
        .map(|(_, x)| tag_text(x, "RetryCount").unwrap())
        .collect();
    assert_eq!(counts[..4], ["0", "1", "2", "3"]);
    // RTY-01 with m=5, k=2000: waits in [5,10], [10,20], [20,40] seconds.
    for (n, (lo, hi)) in [(5.0, 10.0), (10.0, 20.0), (20.0, 40.0)].iter().enumerate() {
        let gap = informs[n + 1].0.duration_since(informs[n].0).as_secs_f64();
        assert!(gap >= *lo && gap <= hi + 0.5, "retry {}: {gap} s", n + 1);
    }
    // Every retried Inform carries the undelivered events again (EVT-02).
    assert!(events_of(&informs[3].1).contains(&"0 BOOTSTRAP".to_owned()));
    // After the success the count is back to 0 (next session would say RetryCount 0).
    acs.wait_for(30, "success", |s| s.posts.iter().any(|p| p.status == 204))
        .await;
    assert!(ctx.cwmp_live().last_success_unix.is_some());
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acs_url_change_by_spv_moves_the_next_session_to_the_new_acs_with_bootstrap() {
    // H3C guide steps 6-11: the ACS reads the URL, sets a new one, ends the session; the CPE
    // closes and contacts the new URL.
    let old = Acs::start().await;
    let new = Acs::start().await;
    old.push("<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType=\"xsd:string[1]\"><string>Device.ManagementServer.URL</string></ParameterNames></cwmp:GetParameterValues>");
    old.push(&format!(
        "<cwmp:SetParameterValues><ParameterList soap-enc:arrayType=\"cwmp:ParameterValueStruct[1]\"><ParameterValueStruct><Name>Device.ManagementServer.URL</Name><Value xsi:type=\"xsd:string\">{}</Value></ParameterValueStruct></ParameterList><ParameterKey>move</ParameterKey></cwmp:SetParameterValues>",
        new.url()
    ));
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), cpe_config(dir.path())).await;
    let ctx = agent.context().clone();
    point_at(&ctx, &old.url());
    let answers = old.wait_answers(2).await;
    assert_eq!(
        param(&answers[0], "Device.ManagementServer.URL"),
        Some(old.url())
    );
    assert_eq!(tag_text(&answers[1], "Status").as_deref(), Some("0"));
    let informs = informs(&new, 1).await;
    let events = events_of(&informs[0]);
    assert!(events.contains(&"0 BOOTSTRAP".to_owned()), "{events:?}");
    assert_eq!(
        param(&informs[0], "Device.ManagementServer.ParameterKey").as_deref(),
        Some("move")
    );
    assert_eq!(old.informs().len(), 1, "nothing more for the old ACS");
    // The new URL is what the CLI shows now.
    assert_eq!(ctx.running().config().cwmp.acs_url, Some(new.url()));
    let mut bodies = old.bodies();
    bodies.extend(new.bodies());
    assert_schema_valid(&bodies);
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reboot_command_runs_and_m_reboot_and_the_configuration_survive_a_restart() {
    let acs = Acs::start().await;
    acs.push("<cwmp:Reboot><CommandKey>rb-1</CommandKey></cwmp:Reboot>");
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("rebooted");
    let mut config = cpe_config(dir.path());
    config.reboot_command = Some(format!("touch {}", marker.display()));
    let agent = start(dir.path(), config.clone()).await;
    let ctx = agent.context().clone();
    point_at(&ctx, &acs.url());
    let answers = acs.wait_answers(1).await;
    assert_eq!(method_of(&answers[0]), "RebootResponse");
    for _ in 0..100 {
        if marker.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(marker.exists(), "reboot_command ran");
    // The "host" reboots: the agent stops and starts again on the same state.
    agent.shutdown().await.unwrap();
    let agent = start(dir.path(), config).await;
    let informs = informs(&acs, 2).await;
    let events = events_with_keys(&informs[1]);
    assert!(
        events.contains(&("1 BOOT".into(), String::new())),
        "{events:?}"
    );
    assert!(
        events.contains(&("M Reboot".into(), "rb-1".into())),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|(c, _)| c == "0 BOOTSTRAP"),
        "same ACS: no BOOTSTRAP after a restart"
    );
    assert_eq!(
        agent.context().running().config().cwmp.acs_url,
        Some(acs.url())
    );
    assert_schema_valid(&acs.bodies());
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_reboot_and_factory_reset_report_boot_m_reboot_and_bootstrap() {
    let acs = Acs::start().await;
    acs.push("<cwmp:Reboot><CommandKey>soft</CommandKey></cwmp:Reboot>");
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), cpe_config(dir.path())).await;
    let ctx = agent.context().clone();
    point_at(&ctx, &acs.url());
    let informs1 = informs(&acs, 2).await;
    let events = events_with_keys(&informs1[1]);
    assert!(
        events.contains(&("1 BOOT".into(), String::new())),
        "{events:?}"
    );
    assert!(
        events.contains(&("M Reboot".into(), "soft".into())),
        "{events:?}"
    );
    acs.wait_for(10, "end of the second session", |s| {
        s.informs.len() == 2 && s.posts.last().is_some_and(|p| p.status == 204)
    })
    .await;
    // FactoryReset: ParameterKey back to "", BOOTSTRAP + BOOT next.
    acs.push("<cwmp:SetParameterValues><ParameterList soap-enc:arrayType=\"cwmp:ParameterValueStruct[1]\"><ParameterValueStruct><Name>Device.ManagementServer.PeriodicInformInterval</Name><Value xsi:type=\"xsd:unsignedInt\">900</Value></ParameterValueStruct></ParameterList><ParameterKey>before-reset</ParameterKey></cwmp:SetParameterValues>");
    acs.push("<cwmp:FactoryReset/>");
    // The CLI's one-shot inform time opens the session.
    let soon = tether_cli::DateTime::from_unix(tether_agent::context::now_unix() + 1).unwrap();
    cli(&ctx, Command::CwmpCpeInformTime(Some(soon)));
    let all = informs(&acs, 4).await;
    let scheduled = events_with_keys(&all[2]);
    assert!(
        scheduled.contains(&("3 SCHEDULED".into(), String::new())),
        "{scheduled:?}"
    );
    assert!(scheduled.contains(&("M ScheduleInform".into(), String::new())));
    let after = &all[3];
    let events = events_of(after);
    assert!(events.contains(&"0 BOOTSTRAP".to_owned()), "{events:?}");
    assert!(events.contains(&"1 BOOT".to_owned()), "{events:?}");
    assert_eq!(
        param(after, "Device.ManagementServer.ParameterKey").as_deref(),
        Some("")
    );
    assert_eq!(
        ctx.running().config().cwmp.inform_interval,
        600,
        "defaults back"
    );
    assert_eq!(
        ctx.running().config().cwmp.acs_url,
        Some(acs.url()),
        "ACS kept"
    );
    assert_schema_valid(&acs.bodies());
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passive_changes_wait_and_active_changes_start_a_session_with_value_change() {
    let acs = Acs::start().await;
    // The ACS asks for passive notification of the inform interval.
    acs.push("<cwmp:SetParameterAttributes><ParameterList soap-enc:arrayType=\"cwmp:SetParameterAttributesStruct[1]\"><SetParameterAttributesStruct><Name>Device.ManagementServer.PeriodicInformInterval</Name><NotificationChange>true</NotificationChange><Notification>1</Notification><AccessListChange>false</AccessListChange><AccessList soap-enc:arrayType=\"xsd:string[0]\"></AccessList></SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>");
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), cpe_config(dir.path())).await;
    let ctx = agent.context().clone();
    point_at(&ctx, &acs.url());
    acs.wait_answers(1).await;
    acs.wait_for(10, "end of session", |s| {
        s.posts.last().is_some_and(|p| p.status == 204)
    })
    .await;
    // Passive: no session of its own.
    cli(&ctx, Command::CwmpCpeInformInterval(Some(300)));
    no_inform_within(&acs, 2500).await;
    // ProvisioningCode is forceEnabled (active): a session now, with both changes.
    cli(&ctx, Command::CwmpCpeProvisionCode(Some("LAB.7".into())));
    let all = informs(&acs, 2).await;
    let inform = &all[1];
    assert_eq!(events_of(inform), ["4 VALUE CHANGE"]);
    assert_eq!(
        param(inform, "Device.ManagementServer.PeriodicInformInterval").as_deref(),
        Some("300"),
        "{inform}"
    );
    assert_eq!(
        param(inform, "Device.DeviceInfo.ProvisioningCode").as_deref(),
        Some("LAB.7")
    );
    assert_schema_valid(&acs.bodies());
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_informs_follow_periodic_inform_time_and_schedule_inform_fires() {
    let acs = Acs::start().await;
    let phase = tether_agent::context::now_unix() + 4;
    let phase_text = tether_cli::DateTime::from_unix(phase).unwrap();
    let iso = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        phase_text.year,
        phase_text.month,
        phase_text.day,
        phase_text.hour,
        phase_text.minute,
        phase_text.second
    );
    acs.push(&format!("<cwmp:SetParameterValues><ParameterList soap-enc:arrayType=\"cwmp:ParameterValueStruct[3]\"><ParameterValueStruct><Name>Device.ManagementServer.PeriodicInformTime</Name><Value xsi:type=\"xsd:dateTime\">{iso}</Value></ParameterValueStruct><ParameterValueStruct><Name>Device.ManagementServer.PeriodicInformInterval</Name><Value xsi:type=\"xsd:unsignedInt\">3600</Value></ParameterValueStruct><ParameterValueStruct><Name>Device.ManagementServer.PeriodicInformEnable</Name><Value xsi:type=\"xsd:boolean\">true</Value></ParameterValueStruct></ParameterList><ParameterKey>p</ParameterKey></cwmp:SetParameterValues>"));
    acs.push("<cwmp:ScheduleInform><DelaySeconds>1</DelaySeconds><CommandKey>si-1</CommandKey></cwmp:ScheduleInform>");
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), cpe_config(dir.path())).await;
    let ctx = agent.context().clone();
    point_at(&ctx, &acs.url());
    let all = informs(&acs, 3).await;
    let scheduled = events_with_keys(&all[1]);
    assert!(
        scheduled.contains(&("3 SCHEDULED".into(), String::new())),
        "{scheduled:?}"
    );
    assert!(scheduled.contains(&("M ScheduleInform".into(), "si-1".into())));
    let periodic = &all[2];
    assert_eq!(events_of(periodic), ["2 PERIODIC"]);
    let at = tether_agent::context::now_unix();
    assert!(
        (at - phase).abs() <= 2,
        "periodic inform at {at}, phase {phase}"
    );
    assert_schema_valid(&acs.bodies());
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_acs_xml_fails_the_session_and_the_agent_keeps_working() {
    let acs = Acs::start().await;
    acs.push("MALFORMED");
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), cpe_config(dir.path())).await;
    let ctx = agent.context().clone();
    point_at(&ctx, &acs.url());
    // The session fails after the broken message; the BOOTSTRAP was delivered with the
    // InformResponse, so the retry is not needed for it, but a new trigger works.
    informs(&acs, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let soon = tether_cli::DateTime::from_unix(tether_agent::context::now_unix() + 1).unwrap();
    cli(&ctx, Command::CwmpCpeInformTime(Some(soon)));
    let all = informs(&acs, 2).await;
    assert!(events_of(&all[1]).contains(&"3 SCHEDULED".to_owned()));
    assert_schema_valid(&acs.bodies());
    agent.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cwmp_disabled_means_no_session_and_no_connection_request_port() {
    let acs = Acs::start().await;
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), cpe_config(dir.path())).await;
    let ctx = agent.context().clone();
    cli(&ctx, Command::CwmpAcsUrl(Some(acs.url())));
    no_inform_within(&acs, 1500).await;
    cli(&ctx, Command::CwmpEnable(true));
    let first = informs(&acs, 1).await;
    let url = cr_url(&first[0]);
    let host = url
        .strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_owned();
    assert!(tokio::net::TcpStream::connect(&host).await.is_ok());
    cli(&ctx, Command::CwmpEnable(false));
    let mut closed = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&host).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        closed,
        "the connection-request port closes with `undo cwmp enable`"
    );
    let published = ctx
        .model()
        .get("Device.ManagementServer.ConnectionRequestURL")
        .unwrap();
    assert_eq!(published.to_string(), "");
    agent.shutdown().await.unwrap();
}

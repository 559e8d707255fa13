//! File transfers: Download applied through the hook with TransferComplete, FileSize and
//! authentication failures, Upload of the configuration.

use super::*;

fn download(key: &str, url: &str, size: usize, user: &str) -> String {
    format!(
        "<cwmp:Download><CommandKey>{key}</CommandKey><FileType>3 Vendor Configuration File</FileType><URL>{url}</URL><Username>{user}</Username><Password>wrong</Password><FileSize>{size}</FileSize><TargetFileName>cfg.txt</TargetFileName><DelaySeconds>0</DelaySeconds><SuccessURL></SuccessURL><FailureURL></FailureURL></cwmp:Download>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_complete_with_transfer_complete_and_m_download_and_report_failures() {
    let acs = Acs::start().await;
    let content = b"hello configuration\n".to_vec();
    acs.with(|s| {
        s.files.insert("/files/cfg.txt".into(), content.clone());
        s.files.insert("/files/secret.txt".into(), content.clone());
        s.file_auth = Some((
            "/files/secret.txt".into(),
            "fileuser".into(),
            "filepass".into(),
        ));
    });
    let base = format!("http://{}/files", acs.addr);
    acs.push(&download(
        "dl-ok",
        &format!("{base}/cfg.txt"),
        content.len(),
        "",
    ));
    acs.push(&download(
        "dl-size",
        &format!("{base}/cfg.txt"),
        content.len() + 1,
        "",
    ));
    acs.push(&download(
        "dl-auth",
        &format!("{base}/secret.txt"),
        0,
        "fileuser",
    ));
    acs.push(&format!("<cwmp:Upload><CommandKey>up-1</CommandKey><FileType>1 Vendor Configuration File</FileType><URL>http://{}/up/cfg</URL><Username></Username><Password></Password><DelaySeconds>0</DelaySeconds></cwmp:Upload>", acs.addr));
    let dir = tempfile::tempdir().unwrap();
    let applied = dir.path().join("applied");
    let mut config = cpe_config(dir.path());
    config.download_hook = Some(format!(
        "cp \"$1\" {0} && printf '%s' \"$2\" > {0}.type",
        applied.display()
    ));
    let agent = start(dir.path(), config).await;
    let ctx = agent.context().clone();
    point_at(&ctx, &acs.url());
    let answers = acs.wait_answers(4).await;
    for a in &answers[..3] {
        assert_eq!(method_of(a), "DownloadResponse");
        assert_eq!(tag_text(a, "Status").as_deref(), Some("1"));
    }
    assert_eq!(method_of(&answers[3]), "UploadResponse");
    acs.wait_for(60, "4 TransferCompletes", |s| {
        s.transfer_completes.len() >= 4
    })
    .await;
    let tcs = acs.with(|s| s.transfer_completes.clone());
    let code_of = |key: &str| {
        let tc = tcs
            .iter()
            .find(|t| tag_text(t, "CommandKey").as_deref() == Some(key))
            .unwrap_or_else(|| panic!("no TransferComplete for {key}"));
        tag_text(tc, "FaultCode").unwrap()
    };
    assert_eq!(code_of("dl-ok"), "0");
    assert_eq!(code_of("dl-size"), "9018");
    assert_eq!(code_of("dl-auth"), "9012");
    assert_eq!(code_of("up-1"), "0");
    assert_eq!(std::fs::read(&applied).unwrap(), content);
    assert_eq!(
        std::fs::read_to_string(format!("{}.type", applied.display())).unwrap(),
        "3 Vendor Configuration File"
    );
    // RPC-17: each in a session with 7 TRANSFER COMPLETE + M Download / M Upload.
    let informs = acs.informs();
    let all_events: Vec<(String, String)> =
        informs.iter().flat_map(|i| events_with_keys(i)).collect();
    assert!(all_events.contains(&("7 TRANSFER COMPLETE".into(), String::new())));
    for key in ["dl-ok", "dl-size", "dl-auth"] {
        assert!(
            all_events.contains(&("M Download".into(), key.into())),
            "{all_events:?}"
        );
    }
    assert!(all_events.contains(&("M Upload".into(), "up-1".into())));
    let uploads = acs.with(|s| s.uploads.clone());
    let text = String::from_utf8(uploads[0].1.clone()).unwrap();
    assert!(
        text.contains(&format!("cwmp acs url {}", acs.url())),
        "{text}"
    );
    // Nothing left behind in the state directory.
    let leftovers = std::fs::read_dir(dir.path().join("state/downloads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(leftovers, 0);
    assert_schema_valid(&acs.bodies());
    agent.shutdown().await.unwrap();
}

//! Every CPE RPC, with its success and its faults, as the test ACS sees the answers.

use super::*;

fn gpv(name: &str) -> String {
    format!(
        "<cwmp:GetParameterValues><ParameterNames soap-enc:arrayType=\"xsd:string[1]\"><string>{name}</string></ParameterNames></cwmp:GetParameterValues>"
    )
}

fn spv(name: &str, xsi: &str, value: &str, key: &str) -> String {
    format!(
        "<cwmp:SetParameterValues><ParameterList soap-enc:arrayType=\"cwmp:ParameterValueStruct[1]\"><ParameterValueStruct><Name>{name}</Name><Value xsi:type=\"{xsi}\">{value}</Value></ParameterValueStruct></ParameterList><ParameterKey>{key}</ParameterKey></cwmp:SetParameterValues>"
    )
}

fn fault_codes(answer: &str) -> Vec<String> {
    all_tag_texts(answer, "FaultCode")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_parameter_and_object_rpc_answers_or_faults_per_the_specification() {
    let acs = Acs::start().await;
    let script = [
        "<cwmp:GetRPCMethods/>".to_owned(),
        gpv("Device.DeviceInfo."),
        gpv("Device.NoSuchThing"),
        spv("Device.ManagementServer.PeriodicInformInterval", "xsd:boolean", "true", "k0"),
        spv("Device.DeviceInfo.SerialNumber", "xsd:string", "X", "k0"),
        spv("Device.ManagementServer.PeriodicInformInterval", "xsd:unsignedInt", "1200", "k1"),
        gpv("Device.ManagementServer.ParameterKey"),
        "<cwmp:GetParameterNames><ParameterPath>Device.ManagementServer.</ParameterPath><NextLevel>true</NextLevel></cwmp:GetParameterNames>".to_owned(),
        "<cwmp:SetParameterAttributes><ParameterList soap-enc:arrayType=\"cwmp:SetParameterAttributesStruct[1]\"><SetParameterAttributesStruct><Name>Device.ManagementServer.PeriodicInformInterval</Name><NotificationChange>true</NotificationChange><Notification>1</Notification><AccessListChange>false</AccessListChange><AccessList soap-enc:arrayType=\"xsd:string[0]\"></AccessList></SetParameterAttributesStruct></ParameterList></cwmp:SetParameterAttributes>".to_owned(),
        "<cwmp:GetParameterAttributes><ParameterNames soap-enc:arrayType=\"xsd:string[1]\"><string>Device.ManagementServer.PeriodicInformInterval</string></ParameterNames></cwmp:GetParameterAttributes>".to_owned(),
        "<cwmp:AddObject><ObjectName>Device.ManagementServer.InformParameter.</ObjectName><ParameterKey>k2</ParameterKey></cwmp:AddObject>".to_owned(),
        "<cwmp:DeleteObject><ObjectName>Device.ManagementServer.InformParameter.1.</ObjectName><ParameterKey>k3</ParameterKey></cwmp:DeleteObject>".to_owned(),
        "<cwmp:X_ACME_Frobnicate/>".to_owned(),
        "<cwmp:ScheduleInform><DelaySeconds>0</DelaySeconds><CommandKey>x</CommandKey></cwmp:ScheduleInform>".to_owned(),
        "<cwmp:GetQueuedTransfers/>".to_owned(),
        "<cwmp:GetAllQueuedTransfers/>".to_owned(),
        "<cwmp:CancelTransfer><CommandKey>nothing</CommandKey></cwmp:CancelTransfer>".to_owned(),
        "<cwmp:Download><CommandKey>d</CommandKey><FileType>1 Firmware Upgrade Image</FileType><URL>ftp://files.example/fw.bin</URL><Username></Username><Password></Password><FileSize>0</FileSize><TargetFileName></TargetFileName><DelaySeconds>0</DelaySeconds><SuccessURL></SuccessURL><FailureURL></FailureURL></cwmp:Download>".to_owned(),
        "<cwmp:Download><CommandKey>d</CommandKey><FileType>1 Firmware Upgrade Image</FileType><URL>http://files.example/fw.bin</URL><Username></Username><Password></Password><FileSize>0</FileSize><TargetFileName></TargetFileName><DelaySeconds>0</DelaySeconds><SuccessURL></SuccessURL><FailureURL></FailureURL></cwmp:Download>".to_owned(),
    ];
    for s in &script {
        acs.push(s);
    }
    let dir = tempfile::tempdir().unwrap();
    let agent = start(dir.path(), cpe_config(dir.path())).await;
    let ctx = agent.context().clone();
    point_at(&ctx, &acs.url());
    let a = acs.wait_answers(script.len()).await;
    let name = |i: usize| method_of(&a[i]);
    assert_eq!(name(0), "GetRPCMethodsResponse");
    let methods = all_tag_texts(&a[0], "string");
    for m in [
        "GetParameterValues",
        "SetParameterValues",
        "Download",
        "Upload",
        "Reboot",
        "FactoryReset",
        "ScheduleInform",
        "CancelTransfer",
    ] {
        assert!(
            methods.contains(&m.to_owned()),
            "{m} missing from {methods:?}"
        );
    }
    assert_eq!(name(1), "GetParameterValuesResponse");
    assert!(param(&a[1], "Device.DeviceInfo.SerialNumber").is_some());
    // RPC-01: unknown name ⇒ 9005 for the whole request.
    assert_eq!(fault_codes(&a[2]), ["9005"]);
    // RPC-05: 9003 with the per-parameter 9006 (wrong type) / 9008 (read-only).
    assert_eq!(fault_codes(&a[3]), ["9003", "9006"]);
    assert_eq!(fault_codes(&a[4]), ["9003", "9008"]);
    assert_eq!(name(5), "SetParameterValuesResponse");
    assert_eq!(tag_text(&a[5], "Status").as_deref(), Some("0"));
    // RPC-06: the ParameterKey of the successful SPV only.
    assert_eq!(
        param(&a[6], "Device.ManagementServer.ParameterKey").as_deref(),
        Some("k1")
    );
    assert_eq!(
        ctx.running().config().cwmp.inform_interval,
        1200,
        "SPV reached the CLI config"
    );
    assert_eq!(name(7), "GetParameterNamesResponse");
    assert!(all_tag_texts(&a[7], "Name").contains(&"Device.ManagementServer.URL".to_owned()));
    assert_eq!(name(8), "SetParameterAttributesResponse");
    assert_eq!(tag_text(&a[9], "Notification").as_deref(), Some("1"));
    assert_eq!(tag_text(&a[10], "InstanceNumber").as_deref(), Some("1"));
    assert_eq!(name(11), "DeleteObjectResponse");
    // ENV-11: unknown method ⇒ 9000.
    assert_eq!(fault_codes(&a[12]), ["9000"]);
    // RPC-23: DelaySeconds 0 ⇒ 9003.
    assert_eq!(fault_codes(&a[13]), ["9003"]);
    assert_eq!(name(14), "GetQueuedTransfersResponse");
    assert_eq!(name(15), "GetAllQueuedTransfersResponse");
    assert_eq!(fault_codes(&a[16]), ["9003"]);
    // RPC-18: unsupported scheme ⇒ 9013; no download hook ⇒ 9001 (documented).
    assert_eq!(fault_codes(&a[17]), ["9013"]);
    assert_eq!(fault_codes(&a[18]), ["9001"]);
    // The model and its ParameterKey were saved.
    let saved = std::fs::read_to_string(dir.path().join("state/datamodel.json")).unwrap();
    assert!(saved.contains("k3"), "{saved}");
    assert_schema_valid(&acs.bodies());
    agent.shutdown().await.unwrap();
}

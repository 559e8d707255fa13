//! Every task kind, with success and with a CPE fault; TransferComplete; ChangeAcs to a second
//! server (the seed flow).

use serde_json::{Value, json};
use tether_store::{FaultFilter, Page, TaskId, TaskState};

use super::support::*;

fn specs() -> Vec<Value> {
    vec![
        json!({"kind": "GetParameterNames", "path": "Device.DeviceInfo.", "next_level": true}),
        json!({"kind": "GetParameterValues", "names": ["Device.DeviceInfo.UpTime", "Device.DeviceInfo.SoftwareVersion"]}),
        json!({"kind": "SetParameterValues", "values": [
            {"name": "Device.ManagementServer.PeriodicInformInterval", "value": "600", "type": "unsignedInt"},
            {"name": "Device.Time.NTPServer1", "value": "ntp.example.net"}], "parameter_key": "pk1"}),
        json!({"kind": "GetParameterAttributes", "names": ["Device.DeviceInfo.SoftwareVersion"]}),
        json!({"kind": "SetParameterAttributes", "attributes": [{"name": "Device.DeviceInfo.SoftwareVersion", "notification": 2}]}),
        json!({"kind": "AddObject", "object": "Device.NAT.PortMapping.", "parameter_key": "pk2"}),
        json!({"kind": "DeleteObject", "object": "Device.NAT.PortMapping.3.", "parameter_key": "pk3"}),
        json!({"kind": "Reboot", "command_key": "rb"}),
        json!({"kind": "FactoryReset"}),
        json!({"kind": "ScheduleInform", "delay_seconds": 60, "command_key": "si"}),
        json!({"kind": "Download", "file_type": "1 Firmware Upgrade Image", "url": "http://files.example.net/fw.bin", "command_key": "dl"}),
        json!({"kind": "Upload", "file_type": "1 Vendor Configuration File", "url": "http://files.example.net/up", "command_key": "ul"}),
        json!({"kind": "ChangeAcs", "url": "http://acs2.example.net:7547/", "username": "u2", "password": "p2"}),
    ]
}

async fn queue_all(acs: &TestAcs, device: &str) -> Vec<TaskId> {
    let mut ids = Vec::new();
    for s in specs() {
        ids.push(acs.queue(device, s).await);
    }
    ids
}

#[tokio::test]
async fn acs_every_task_kind_succeeds_and_results_are_stored() {
    let acs = TestAcs::start(|c| c.cwmp.auth.require = false).await;
    let mut cpe = acs.cpe("TASK1");
    cpe.inform(
        &[("2 PERIODIC", "")],
        &[("Device.ManagementServer.ParameterKey", "")],
    )
    .await
    .msg();
    let device = cpe.device_id();
    let ids = queue_all(&acs, &device).await;
    // One more, to show the queue order and SES-03 (no 204 while work remains).
    let seen = cpe.run_session(success).await;
    let names: Vec<&str> = seen.iter().map(|m| m.name.as_str()).collect();
    // First contact: the ACS gives the device connection-request credentials before the
    // queued tasks (provisioning is on by default; `provision.rs` tests it in detail).
    assert_eq!(
        seen[0].text("Name"),
        [
            "Device.ManagementServer.ConnectionRequestUsername",
            "Device.ManagementServer.ConnectionRequestPassword"
        ]
    );
    assert_eq!(
        names,
        [
            "SetParameterValues",
            "GetParameterNames",
            "GetParameterValues",
            "SetParameterValues",
            "GetParameterAttributes",
            "SetParameterAttributes",
            "AddObject",
            "DeleteObject",
            "Reboot",
            "FactoryReset",
            "ScheduleInform",
            "Download",
            "Upload",
            "SetParameterValues"
        ]
    );
    // ChangeAcs = SetParameterValues of ManagementServer.URL / Username / Password.
    let change = seen.last().unwrap();
    assert_eq!(
        change.text("Name"),
        [
            "Device.ManagementServer.URL",
            "Device.ManagementServer.Username",
            "Device.ManagementServer.Password"
        ]
    );
    let ids_of: Vec<String> = seen.iter().map(|m| m.id.clone().unwrap()).collect();
    let mut unique = ids_of.clone();
    unique.dedup();
    assert_eq!(unique.len(), ids_of.len(), "fresh cwmp:ID per request");

    for (i, id) in ids.iter().enumerate() {
        let t = acs.task(*id).await;
        if t.kind == "Download" {
            // Status 1: accepted, outcome pending until TransferComplete.
            assert_eq!(t.state, TaskState::Dispatched, "{t:?}");
        } else {
            assert_eq!(t.state, TaskState::Done, "task {i} {t:?}");
        }
    }
    let gpv = acs.task(ids[1]).await.result.unwrap();
    assert_eq!(
        gpv["values"][0]["value"],
        "value-of-Device.DeviceInfo.UpTime"
    );
    assert_eq!(acs.task(ids[5]).await.result.unwrap()["instance_number"], 7);
    assert_eq!(
        acs.task(ids[0]).await.result.unwrap()["parameters"][0]["name"],
        "Device.DeviceInfo.A"
    );
    assert_eq!(
        acs.task(ids[3]).await.result.unwrap()["attributes"][0]["notification"],
        2
    );
    // Learned parameters: GPV values, SPV values, GPN writability, GPA attributes, new object.
    let params = acs.store().list_parameters(&device, None).await.unwrap();
    let get = |n: &str| {
        params
            .iter()
            .find(|p| p.name == n)
            .unwrap_or_else(|| panic!("{n} not stored: {params:?}"))
    };
    assert_eq!(
        get("Device.DeviceInfo.UpTime").value.as_deref(),
        Some("value-of-Device.DeviceInfo.UpTime")
    );
    assert_eq!(
        get("Device.ManagementServer.PeriodicInformInterval")
            .value
            .as_deref(),
        Some("600")
    );
    assert_eq!(
        get("Device.ManagementServer.PeriodicInformInterval")
            .xsi_type
            .as_deref(),
        Some("xsd:unsignedInt")
    );
    assert_eq!(get("Device.DeviceInfo.A").writable, Some(true));
    assert_eq!(
        get("Device.DeviceInfo.SoftwareVersion").notification,
        Some(2)
    );
    get("Device.NAT.PortMapping.7.");

    // TransferComplete in a later session (pitfall #13): TransferCompleteResponse, task done.
    let mut cpe = acs.cpe("TASK1");
    cpe.inform(&[("7 TRANSFER COMPLETE", ""), ("M Download", "dl")], &[])
        .await
        .msg();
    let id = cpe.id();
    let tc = envelope(
        CWMP_1_0,
        &id,
        "<cwmp:TransferComplete><CommandKey>dl</CommandKey><FaultStruct><FaultCode>0</FaultCode><FaultString></FaultString></FaultStruct><StartTime>2026-11-22T10:01:00Z</StartTime><CompleteTime>2026-11-22T10:02:00Z</CompleteTime></cwmp:TransferComplete>",
    );
    let r = cpe.post(&tc).await.msg();
    assert_eq!(r.name, "TransferCompleteResponse");
    assert_eq!(r.id.as_deref(), Some(id.as_str()));
    // GetRPCMethods from the CPE: the ACS method list.
    let id = cpe.id();
    let r = cpe
        .post(&envelope(CWMP_1_0, &id, "<cwmp:GetRPCMethods/>"))
        .await
        .msg();
    assert_eq!(r.name, "GetRPCMethodsResponse");
    assert!(r.text("string").contains(&"TransferComplete".to_owned()));
    assert_eq!(cpe.empty().await.status, 204);
    let dl = acs.task(ids[10]).await;
    assert_eq!(dl.state, TaskState::Done);
    assert_eq!(dl.result.unwrap()["complete_time"], "2026-11-22T10:02:00Z");
    acs.stop().await;
}

#[tokio::test]
async fn acs_every_task_kind_faults_and_faults_are_stored() {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        no_provisioning(c);
    })
    .await;
    let mut cpe = acs.cpe("FAULT1");
    cpe.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    let device = cpe.device_id();
    let ids = queue_all(&acs, &device).await;
    let seen = cpe
        .run_session(|m| {
            let id = m.id.clone().unwrap();
            if m.name == "SetParameterValues" {
                let names = m.text("Name");
                fault_xml(&m.ns, &id, 9003, "Invalid arguments", &[(&names[0], 9007)])
            } else {
                fault_xml(&m.ns, &id, 9001, "Request denied", &[])
            }
        })
        .await;
    assert_eq!(seen.len(), 13);
    for id in &ids {
        let t = acs.task(*id).await;
        assert_eq!(t.state, TaskState::Faulted, "{t:?}");
    }
    let spv = acs.task(ids[2]).await.fault.unwrap();
    assert_eq!(spv.code, "9003");
    let detail = &spv.detail["set_parameter_values_faults"][0];
    assert_eq!(
        detail["parameter"],
        "Device.ManagementServer.PeriodicInformInterval"
    );
    assert_eq!(detail["code"], 9007);
    let faults = acs
        .store()
        .list_faults(
            &FaultFilter {
                device_id: Some(device.clone()),
                owner: None,
            },
            Page::new(100, 0),
        )
        .await
        .unwrap();
    assert_eq!(faults.total, 13, "one device fault per CPE fault");

    // A failed TransferComplete faults the transfer with the CPE's code.
    let dl = acs.queue(&device, json!({"kind": "Download", "file_type": "1 Firmware Upgrade Image", "url": "http://f/x", "command_key": "dl2"})).await;
    let mut cpe = acs.cpe("FAULT1");
    cpe.inform(&[("6 CONNECTION REQUEST", "")], &[]).await.msg();
    cpe.run_session(success).await;
    assert_eq!(acs.task(dl).await.state, TaskState::Dispatched);
    let mut cpe = acs.cpe("FAULT1");
    cpe.inform(&[("7 TRANSFER COMPLETE", ""), ("M Download", "dl2")], &[])
        .await
        .msg();
    let id = cpe.id();
    let tc = envelope(
        CWMP_1_0,
        &id,
        "<cwmp:TransferComplete><CommandKey>dl2</CommandKey><FaultStruct><FaultCode>9016</FaultCode><FaultString>unable to access file</FaultString></FaultStruct><StartTime>0001-01-01T00:00:00Z</StartTime><CompleteTime>0001-01-01T00:00:00Z</CompleteTime></cwmp:TransferComplete>",
    );
    assert_eq!(cpe.post(&tc).await.msg().name, "TransferCompleteResponse");
    assert_eq!(cpe.empty().await.status, 204);
    let t = acs.task(dl).await;
    assert_eq!(t.state, TaskState::Faulted);
    assert_eq!(t.fault.unwrap().code, "9016");
    acs.stop().await;
}

/// The seed flow (HP 5920 guide, steps 1-11): the ACS reads the ACS URL, sets a new one, the
/// CPE closes and informs the new ACS with 0 BOOTSTRAP.
#[tokio::test]
async fn acs_change_acs_moves_the_device_to_a_second_server() {
    let first = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        no_provisioning(c);
    })
    .await;
    let second = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        no_provisioning(c);
    })
    .await;
    let new_url = format!("http://{}/cwmp", second.handle.cwmp_addr);
    let mut cpe = first.cpe("MOVE1");
    let mut acs_url = format!("http://{}/cwmp", first.handle.cwmp_addr);
    cpe.inform(
        &[("1 BOOT", "")],
        &[("Device.ManagementServer.URL", &acs_url)],
    )
    .await
    .msg();
    let device = cpe.device_id();
    let read = first
        .queue(
            &device,
            json!({"kind": "GetParameterValues", "names": ["Device.ManagementServer.URL"]}),
        )
        .await;
    let change = first
        .queue(&device, json!({"kind": "ChangeAcs", "url": new_url}))
        .await;
    let seen = cpe
        .run_session(|m| match m.name.as_str() {
            "GetParameterValues" => {
                let body = format!(
                    "<cwmp:GetParameterValuesResponse>{}</cwmp:GetParameterValuesResponse>",
                    value_list(&[("Device.ManagementServer.URL", &acs_url)])
                );
                envelope(&m.ns, m.id.as_deref().unwrap(), &body)
            }
            "SetParameterValues" => {
                let names = m.text("Name");
                let values = m.text("Value");
                assert_eq!(names, ["Device.ManagementServer.URL"]);
                acs_url = values[0].clone();
                success(m)
            }
            other => panic!("unexpected {other}"),
        })
        .await;
    assert_eq!(seen.len(), 2);
    assert_eq!(
        first.task(read).await.result.unwrap()["values"][0]["value"],
        format!("http://{}/cwmp", first.handle.cwmp_addr)
    );
    assert_eq!(first.task(change).await.state, TaskState::Done);
    assert_eq!(acs_url, new_url);

    // Step 11: the CPE opens a new connection to the new ACS URL with 0 BOOTSTRAP.
    let mut moved = second.cpe("MOVE1");
    let r = moved
        .inform(
            &[("0 BOOTSTRAP", ""), ("1 BOOT", "")],
            &[("Device.ManagementServer.URL", &new_url)],
        )
        .await;
    assert_eq!(r.msg().name, "InformResponse");
    assert_eq!(moved.empty().await.status, 204);
    let d = second
        .store()
        .device(&device)
        .await
        .unwrap()
        .expect("registered on the second server");
    assert_eq!(d.last_inform_events[0].code, "0 BOOTSTRAP");
    first.stop().await;
    second.stop().await;
}

/// A Download the CPE accepted (Status 1) is finished by TransferComplete in a later session,
/// even when the server restarted in between (RPC-17): the start-up recovery must not fault it.
#[tokio::test]
async fn acs_accepted_download_survives_a_restart_and_completes_with_transfer_complete() {
    let acs = TestAcs::start(|c| {
        c.cwmp.auth.require = false;
        no_provisioning(c);
    })
    .await;
    let mut cpe = acs.cpe("XFER1");
    cpe.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    let device = cpe.device_id();
    let dl = acs
        .queue(
            &device,
            json!({"kind": "Download", "file_type": "1 Firmware Upgrade Image",
                   "url": "http://files.example.net/fw2.bin", "command_key": "fw2"}),
        )
        .await;
    let seen = cpe.run_session(success).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].name, "Download");
    assert_eq!(acs.task(dl).await.state, TaskState::Dispatched);

    let TestAcs {
        handle,
        dir,
        collected,
    } = acs;
    handle.shutdown().await.expect("clean shutdown");
    let mut c = config(dir.path());
    c.cwmp.auth.require = false;
    no_provisioning(&mut c);
    let acs = TestAcs {
        handle: tether_server::Server::start(c).await.expect("restart"),
        dir,
        collected,
    };
    let t = acs.task(dl).await;
    assert_eq!(t.state, TaskState::Dispatched, "not interrupted: {t:?}");

    let mut cpe = acs.cpe("XFER1");
    cpe.inform(&[("7 TRANSFER COMPLETE", ""), ("M Download", "fw2")], &[])
        .await
        .msg();
    let id = cpe.id();
    let tc = envelope(
        CWMP_1_0,
        &id,
        "<cwmp:TransferComplete><CommandKey>fw2</CommandKey><FaultStruct><FaultCode>0</FaultCode><FaultString></FaultString></FaultStruct><StartTime>2026-11-22T11:00:00Z</StartTime><CompleteTime>2026-11-22T11:05:00Z</CompleteTime></cwmp:TransferComplete>",
    );
    assert_eq!(cpe.post(&tc).await.msg().name, "TransferCompleteResponse");
    assert_eq!(cpe.empty().await.status, 204);
    let t = acs.task(dl).await;
    assert_eq!(t.state, TaskState::Done, "{t:?}");
    assert_eq!(t.result.unwrap()["complete_time"], "2026-11-22T11:05:00Z");
    acs.stop().await;
}

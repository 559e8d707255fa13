//! Integration tests of tether-datamodel, one or more per rule (rule IDs in test names).

mod schema_gen;

use std::path::PathBuf;

/// The BBF XML is vendored gzip-compressed beside the compact schema; `TETHER_BBF_DIR` may point
/// at a folder holding the uncompressed file instead (when checking a newer release).
fn bbf_dir() -> Option<PathBuf> {
    std::env::var_os("TETHER_BBF_DIR").map(PathBuf::from)
}

fn vendored_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/tr-181-2-17-0-tether.txt")
}

fn read_bbf() -> String {
    if let Some(dir) = bbf_dir() {
        let path = dir.join(schema_gen::SOURCE_FILE);
        return std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {} ({e})", path.display()));
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schema/bbf")
        .join(format!("{}.gz", schema_gen::SOURCE_FILE));
    let file = std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("cannot open {} ({e})", path.display()));
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(file), &mut text)
        .unwrap_or_else(|e| panic!("cannot decompress {} ({e})", path.display()));
    text
}

#[test]
#[ignore = "regenerates the vendored schema from the BBF XML; run with --ignored when updating"]
fn regenerate_vendored_schema() {
    std::fs::write(vendored_path(), schema_gen::generate(&read_bbf())).unwrap();
}

#[test]
fn vendored_schema_is_in_sync_with_the_bbf_xml() {
    let want = schema_gen::generate(&read_bbf());
    let have = std::fs::read_to_string(vendored_path()).unwrap();
    assert!(
        have == want,
        "schema/tr-181-2-17-0-tether.txt is stale; run the ignored regenerate_vendored_schema test"
    );
}

use std::sync::{Arc, Mutex};

use tether_datamodel::{
    DataModel, DataModelError, Handler, Options, ParameterInfo, PersistedState, RenderOptions,
    Schema, SetOutcome, SetParameterAttribute, SetParameterValue, Value,
};

fn names(infos: &[ParameterInfo]) -> Vec<&str> {
    infos.iter().map(|i| i.name.as_str()).collect()
}

fn spv(name: &str, ty: &str, value: &str) -> SetParameterValue {
    SetParameterValue::new(name, Some(ty), value)
}

fn device() -> DataModel {
    let mut dm = DataModel::new();
    dm.set_str("Device.RootDataModelVersion", "2.17").unwrap();
    dm.set_str("Device.DeviceInfo.SerialNumber", "SN0001")
        .unwrap();
    dm.set_str("Device.DeviceInfo.SoftwareVersion", "1.0")
        .unwrap();
    dm.set_str(
        "Device.ManagementServer.ConnectionRequestURL",
        "http://10.0.0.2:7547/cr",
    )
    .unwrap();
    dm.take_value_changes();
    dm
}

#[test]
fn rpc01_gpv_unknown_name_faults_the_whole_request() {
    let dm = device();
    let err = dm
        .get_parameter_values(&["Device.DeviceInfo.SerialNumber", "Device.DeviceInfo.Nope"])
        .unwrap_err();
    assert_eq!(err.cwmp_fault_code(), 9005);
    let ok = dm
        .get_parameter_values(&["Device.DeviceInfo.SerialNumber"])
        .unwrap();
    assert_eq!(ok[0].value, Value::string("SN0001"));
    assert_eq!(ok[0].value.xsi_type(), "xsd:string");
}

#[test]
fn rpc02_gpv_partial_path_returns_every_parameter_below() {
    let dm = device();
    let all = dm
        .get_parameter_values(&["Device.ManagementServer."])
        .unwrap();
    assert!(
        all.iter().all(|p| !p.name.ends_with('.')),
        "objects are not listed"
    );
    assert!(
        all.iter()
            .any(|p| p.name == "Device.ManagementServer.HeartbeatPolicy.Enable")
    );
    assert!(all.iter().any(|p| p.name == "Device.ManagementServer.URL"));
    let everything = dm.get_parameter_values(&[""]).unwrap();
    assert!(everything.len() > all.len());
    assert_eq!(everything[0].name, "Device.RootDataModelVersion");
    // Defaults and counters come out typed.
    let v = dm
        .get_parameter_values(&[
            "Device.ManagementServer.EnableCWMP",
            "Device.ManagementServer.InformParameterNumberOfEntries",
            "Device.ManagementServer.PeriodicInformTime",
        ])
        .unwrap();
    assert_eq!(v[0].value, Value::Boolean(true));
    assert_eq!(v[1].value, Value::UnsignedInt(0));
    assert_eq!(v[2].value.to_string(), "0001-01-01T00:00:00Z");
}

#[test]
fn rpc03_gpn_next_level_false_lists_item_and_all_descendants() {
    let mut dm = device();
    dm.add_object("Device.IP.Interface.", "").unwrap();
    let infos = dm.get_parameter_names("Device.IP.", false).unwrap();
    let n = names(&infos);
    assert_eq!(n[0], "Device.IP.");
    for want in [
        "Device.IP.Interface.",
        "Device.IP.Interface.1.",
        "Device.IP.Interface.1.Enable",
        "Device.IP.Interface.1.Stats.",
        "Device.IP.Interface.1.Stats.BytesSent",
        "Device.IP.Interface.1.IPv4Address.",
    ] {
        assert!(n.contains(&want), "{want}");
    }
    let one = dm
        .get_parameter_names("Device.DeviceInfo.SerialNumber", false)
        .unwrap();
    assert_eq!(names(&one), ["Device.DeviceInfo.SerialNumber"]);
    assert!(!one[0].writable);
    let all = dm.get_parameter_names("", false).unwrap();
    assert_eq!(all[0].name, "Device.");
}

#[test]
fn rpc03_gpn_next_level_true_lists_immediate_children_only() {
    let mut dm = device();
    dm.add_object("Device.IP.Interface.", "").unwrap();
    dm.add_object("Device.IP.Interface.", "").unwrap();
    let n = dm
        .get_parameter_names("Device.ManagementServer.", true)
        .unwrap();
    assert!(names(&n).contains(&"Device.ManagementServer.URL"));
    assert!(names(&n).contains(&"Device.ManagementServer.HeartbeatPolicy."));
    assert!(!names(&n).contains(&"Device.ManagementServer.HeartbeatPolicy.Enable"));
    let t = dm
        .get_parameter_names("Device.IP.Interface.", true)
        .unwrap();
    assert_eq!(
        names(&t),
        ["Device.IP.Interface.1.", "Device.IP.Interface.2."]
    );
}

#[test]
fn rpc03_gpn_empty_path_next_level_true_is_root_only() {
    let dm = device();
    let n = dm.get_parameter_names("", true).unwrap();
    assert_eq!(names(&n), ["Device."]);
}

#[test]
fn rpc03_gpn_full_name_with_next_level_is_9003_and_unknown_is_9005() {
    let dm = device();
    let e = dm
        .get_parameter_names("Device.DeviceInfo.SerialNumber", true)
        .unwrap_err();
    assert_eq!(e.cwmp_fault_code(), 9003);
    let e = dm.get_parameter_names("Device.Bogus.", false).unwrap_err();
    assert_eq!(e.cwmp_fault_code(), 9005);
    let e = dm
        .get_parameter_names("Device.IP.Interface.9.", false)
        .unwrap_err();
    assert_eq!(e.cwmp_fault_code(), 9005);
}

#[test]
fn rpc04_gpn_writable_on_objects_means_add_or_delete_allowed() {
    let mut dm = device();
    dm.add_object("Device.IP.Interface.", "").unwrap();
    let infos = dm.get_parameter_names("Device.", false).unwrap();
    let w = |name: &str| infos.iter().find(|i| i.name == name).unwrap().writable;
    assert!(w("Device.IP.Interface."), "AddObject allowed");
    assert!(w("Device.IP.Interface.1."), "DeleteObject allowed");
    assert!(!w("Device.Ethernet.Interface."), "read-only table");
    assert!(!w("Device.DeviceInfo."), "single object");
    assert!(w("Device.ManagementServer.URL"));
    assert!(!w("Device.ManagementServer.ParameterKey"));
}

#[test]
fn rpc05_spv_is_atomic_and_reports_every_offending_parameter() {
    let mut dm = device();
    let err = dm
        .set_parameter_values(
            &[
                spv(
                    "Device.ManagementServer.URL",
                    "xsd:string",
                    "http://acs.example/",
                ),
                spv("Device.ManagementServer.Nope", "xsd:string", "x"),
                spv(
                    "Device.ManagementServer.PeriodicInformInterval",
                    "xsd:string",
                    "60",
                ),
                spv(
                    "Device.ManagementServer.PeriodicInformInterval2",
                    "xsd:string",
                    "60",
                ),
                spv(
                    "Device.ManagementServer.CWMPRetryMinimumWaitInterval",
                    "xsd:unsignedInt",
                    "0",
                ),
                spv("Device.DeviceInfo.SerialNumber", "xsd:string", "X"),
            ],
            "k1",
        )
        .unwrap_err();
    assert_eq!(err.cwmp_fault_code(), 9003);
    let codes: Vec<(String, u32)> = err
        .parameter_faults()
        .iter()
        .map(|f| (f.name.clone(), f.cwmp_fault_code()))
        .collect();
    assert_eq!(
        codes,
        [
            ("Device.ManagementServer.Nope".to_owned(), 9005),
            (
                "Device.ManagementServer.PeriodicInformInterval".to_owned(),
                9006
            ),
            (
                "Device.ManagementServer.PeriodicInformInterval2".to_owned(),
                9005
            ),
            (
                "Device.ManagementServer.CWMPRetryMinimumWaitInterval".to_owned(),
                9007
            ),
            ("Device.DeviceInfo.SerialNumber".to_owned(), 9008),
        ]
    );
    // Nothing applied, the valid URL included.
    assert_eq!(
        dm.get("Device.ManagementServer.URL").unwrap(),
        Value::string("")
    );
    dm.set_parameter_values(
        &[
            spv(
                "Device.ManagementServer.URL",
                "xsd:string",
                "http://acs.example/",
            ),
            spv(
                "Device.ManagementServer.PeriodicInformEnable",
                "xsd:boolean",
                "1",
            ),
        ],
        "k2",
    )
    .unwrap();
    assert_eq!(
        dm.get("Device.ManagementServer.PeriodicInformEnable")
            .unwrap(),
        Value::Boolean(true)
    );
}

#[test]
fn rpc05_same_parameter_twice_is_9003() {
    let mut dm = device();
    let err = dm
        .set_parameter_values(
            &[
                spv("Device.ManagementServer.URL", "xsd:string", "http://a/"),
                spv("Device.ManagementServer.URL", "xsd:string", "http://b/"),
            ],
            "k",
        )
        .unwrap_err();
    assert_eq!(err.cwmp_fault_code(), 9003);
    assert!(err.parameter_faults().is_empty());
}

#[test]
fn rpc06_parameter_key_changes_only_on_success() {
    let mut dm = device();
    dm.set_parameter_values(
        &[spv("Device.ManagementServer.Username", "xsd:string", "u")],
        "ok-1",
    )
    .unwrap();
    assert_eq!(param_key(&dm), "ok-1");
    dm.set_parameter_values(
        &[spv("Device.ManagementServer.Username", "xsd:int", "1")],
        "bad",
    )
    .unwrap_err();
    assert_eq!(param_key(&dm), "ok-1");
    dm.add_object("Device.ManagementServer.InformParameter.", "ok-2")
        .unwrap();
    assert_eq!(param_key(&dm), "ok-2");
    dm.add_object("Device.DeviceInfo.", "bad").unwrap_err();
    assert_eq!(param_key(&dm), "ok-2");
    dm.delete_object("Device.ManagementServer.InformParameter.1.", "ok-3")
        .unwrap();
    assert_eq!(param_key(&dm), "ok-3");
    dm.delete_object("Device.ManagementServer.InformParameter.1.", "bad")
        .unwrap_err();
    assert_eq!(param_key(&dm), "ok-3");
    // The ParameterKey itself is not writable by SPV.
    let e = dm
        .set_parameter_values(
            &[spv(
                "Device.ManagementServer.ParameterKey",
                "xsd:string",
                "x",
            )],
            "",
        )
        .unwrap_err();
    assert_eq!(e.parameter_faults()[0].cwmp_fault_code(), 9008);
}

fn param_key(dm: &DataModel) -> String {
    dm.get("Device.ManagementServer.ParameterKey")
        .unwrap()
        .to_string()
}

#[test]
fn rpc07_hidden_parameters_read_back_empty() {
    let mut dm = device();
    dm.set_parameter_values(
        &[spv(
            "Device.ManagementServer.ConnectionRequestPassword",
            "xsd:string",
            "s3cret",
        )],
        "",
    )
    .unwrap();
    let v = dm
        .get_parameter_values(&["Device.ManagementServer.ConnectionRequestPassword"])
        .unwrap();
    assert_eq!(v[0].value, Value::string(""));
    // The device itself still sees the real value (it needs it for Digest).
    assert_eq!(
        dm.get("Device.ManagementServer.ConnectionRequestPassword")
            .unwrap(),
        Value::string("s3cret")
    );
}

#[test]
fn rpc08_acs_changes_never_notify_local_changes_do() {
    let mut dm = device();
    dm.set_parameter_attributes(&[SetParameterAttribute {
        name: "Device.ManagementServer.PeriodicInformInterval".into(),
        notification_change: true,
        notification: 1,
        ..Default::default()
    }])
    .unwrap();
    dm.set_parameter_values(
        &[spv(
            "Device.ManagementServer.PeriodicInformInterval",
            "xsd:unsignedInt",
            "300",
        )],
        "",
    )
    .unwrap();
    assert!(dm.take_value_changes().is_empty());
    // The CLI changes it: passive.
    dm.set_str("Device.ManagementServer.PeriodicInformInterval", "600")
        .unwrap();
    // A forceEnabled parameter changes locally: active.
    dm.set_str("Device.DeviceInfo.SoftwareVersion", "2.0")
        .unwrap();
    // Setting the same value again is no change.
    dm.set_str("Device.DeviceInfo.SerialNumber", "SN0001")
        .unwrap();
    let c = dm.take_value_changes();
    assert_eq!(
        c.passive.iter().collect::<Vec<_>>(),
        ["Device.ManagementServer.PeriodicInformInterval"]
    );
    assert_eq!(
        c.active.iter().collect::<Vec<_>>(),
        ["Device.DeviceInfo.SoftwareVersion"]
    );
    assert!(dm.take_value_changes().is_empty());
    dm.restore_value_changes(c.clone());
    assert_eq!(dm.pending_value_changes(), &c);
}

#[test]
fn rpc09_spa_flags_partial_paths_and_9009() {
    let mut dm = device();
    // NotificationChange=false ignores Notification; AccessListChange applies.
    dm.set_parameter_attributes(&[SetParameterAttribute {
        name: "Device.ManagementServer.URL".into(),
        notification_change: false,
        notification: 2,
        access_list_change: true,
        access_list: vec!["Subscriber".into()],
    }])
    .unwrap();
    let a = dm
        .get_parameter_attributes(&["Device.ManagementServer.URL"])
        .unwrap();
    assert_eq!(
        (a[0].notification, a[0].access_list.clone()),
        (0, vec!["Subscriber".to_owned()])
    );
    // A partial path applies to every parameter below, skipping ones that refuse.
    dm.set_parameter_attributes(&[SetParameterAttribute {
        name: "Device.DeviceInfo.".into(),
        notification_change: true,
        notification: 2,
        ..Default::default()
    }])
    .unwrap();
    let a = dm
        .get_parameter_attributes(&["Device.DeviceInfo.SerialNumber", "Device.DeviceInfo.UpTime"])
        .unwrap();
    assert_eq!((a[0].notification, a[1].notification), (2, 0));
    // canDeny named explicitly: 9009.
    let e = dm
        .set_parameter_attributes(&[SetParameterAttribute {
            name: "Device.DeviceInfo.UpTime".into(),
            notification_change: true,
            notification: 2,
            ..Default::default()
        }])
        .unwrap_err();
    assert_eq!(e.cwmp_fault_code(), 9009);
    // forceEnabled cannot be turned off: 9009.
    let e = dm
        .set_parameter_attributes(&[SetParameterAttribute {
            name: "Device.DeviceInfo.SoftwareVersion".into(),
            notification_change: true,
            notification: 0,
            ..Default::default()
        }])
        .unwrap_err();
    assert_eq!(e.cwmp_fault_code(), 9009);
    // Lightweight values are refused without support; > 6 is invalid.
    let lw = |n| SetParameterAttribute {
        name: "Device.ManagementServer.URL".into(),
        notification_change: true,
        notification: n,
        ..Default::default()
    };
    assert_eq!(
        dm.set_parameter_attributes(&[lw(3)])
            .unwrap_err()
            .cwmp_fault_code(),
        9009
    );
    assert_eq!(
        dm.set_parameter_attributes(&[lw(7)])
            .unwrap_err()
            .cwmp_fault_code(),
        9003
    );
    let mut lwdm = DataModel::with_schema(
        Schema::builtin(),
        Options {
            lightweight_notifications: true,
            ..Options::default()
        },
    );
    lwdm.set_parameter_attributes(&[lw(6)]).unwrap();
    lwdm.set_str("Device.ManagementServer.URL", "http://x/")
        .unwrap();
    let c = lwdm.take_value_changes();
    assert_eq!(c.passive.len(), 1);
    assert_eq!(c.lightweight_active.len(), 1);
    // A failing entry leaves earlier entries of the same request unapplied.
    let before = dm
        .get_parameter_attributes(&["Device.ManagementServer.Username"])
        .unwrap();
    dm.set_parameter_attributes(&[
        SetParameterAttribute {
            name: "Device.ManagementServer.Username".into(),
            notification_change: true,
            notification: 1,
            ..Default::default()
        },
        lw(9),
    ])
    .unwrap_err();
    assert_eq!(
        dm.get_parameter_attributes(&["Device.ManagementServer.Username"])
            .unwrap(),
        before
    );
}

#[test]
fn dm09_active_notify_defaults() {
    let dm = device();
    let a = dm
        .get_parameter_attributes(&[
            "Device.ManagementServer.ConnectionRequestURL",
            "Device.DeviceInfo.ProvisioningCode",
            "Device.ManagementServer.ParameterKey",
        ])
        .unwrap();
    let n: Vec<u8> = a.iter().map(|x| x.notification).collect();
    assert_eq!(n, [2, 2, 0]);
}

#[test]
fn rpc10_gpa_accepts_partial_paths() {
    let dm = device();
    let a = dm
        .get_parameter_attributes(&["Device.ManagementServer.HeartbeatPolicy."])
        .unwrap();
    let names: Vec<&str> = a.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Device.ManagementServer.HeartbeatPolicy.Enable",
            "Device.ManagementServer.HeartbeatPolicy.ReportingInterval",
            "Device.ManagementServer.HeartbeatPolicy.InitiationTime",
        ]
    );
    assert_eq!(
        dm.get_parameter_attributes(&["Device.X."])
            .unwrap_err()
            .cwmp_fault_code(),
        9005
    );
}

#[test]
fn rpc11_wildcard_in_place_of_instance_numbers() {
    let mut dm = device();
    for _ in 0..3 {
        dm.add_object("Device.IP.Interface.", "").unwrap();
    }
    dm.delete_object("Device.IP.Interface.2.", "").unwrap();
    let v = dm
        .get_parameter_values(&["Device.IP.Interface.*.Enable"])
        .unwrap();
    let n: Vec<&str> = v.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        n,
        [
            "Device.IP.Interface.1.Enable",
            "Device.IP.Interface.3.Enable"
        ]
    );
    let g = dm
        .get_parameter_names("Device.IP.Interface.*.", true)
        .unwrap();
    assert!(names(&g).contains(&"Device.IP.Interface.3.Stats."));
    let a = dm
        .get_parameter_attributes(&["Device.IP.Interface.*.Stats.BytesSent"])
        .unwrap();
    assert_eq!(a.len(), 2);
    // Not in SPV.
    let e = dm
        .set_parameter_values(
            &[spv("Device.IP.Interface.*.Enable", "xsd:boolean", "1")],
            "",
        )
        .unwrap_err();
    assert_eq!(e.parameter_faults()[0].cwmp_fault_code(), 9005);
}

#[test]
fn rpc12_add_and_delete_object() {
    let mut dm = device();
    let n = dm
        .add_object("Device.ManagementServer.InformParameter.", "")
        .unwrap();
    assert_eq!(n, 1);
    // Defaults filled.
    let v = dm
        .get_parameter_values(&["Device.ManagementServer.InformParameter.1."])
        .unwrap();
    let get = |name: &str| {
        v.iter()
            .find(|p| p.name.ends_with(name))
            .unwrap()
            .value
            .clone()
    };
    assert_eq!(get(".Enable"), Value::Boolean(false));
    assert_eq!(get(".Alias"), Value::string("cpe-1"));
    assert_eq!(
        dm.get("Device.ManagementServer.InformParameterNumberOfEntries")
            .unwrap(),
        Value::UnsignedInt(1)
    );
    // Deleted numbers are never reused.
    dm.delete_object("Device.ManagementServer.InformParameter.1.", "")
        .unwrap();
    assert_eq!(
        dm.add_object("Device.ManagementServer.InformParameter.", "")
            .unwrap(),
        2
    );
    // Non-table, read-only table, instance path for AddObject, table path for delete: 9005.
    for bad in [
        "Device.DeviceInfo.",
        "Device.Ethernet.Interface.",
        "Device.ManagementServer.InformParameter.2.",
        "Device.ManagementServer.InformParameter",
    ] {
        assert_eq!(
            dm.add_object(bad, "").unwrap_err().cwmp_fault_code(),
            9005,
            "{bad}"
        );
    }
    for bad in [
        "Device.ManagementServer.InformParameter.",
        "Device.ManagementServer.InformParameter.9.",
        "Device.DeviceInfo.",
    ] {
        assert_eq!(
            dm.delete_object(bad, "").unwrap_err().cwmp_fault_code(),
            9005,
            "{bad}"
        );
    }
    // Nested tables.
    let ip = dm.add_object("Device.IP.Interface.", "").unwrap();
    let a = dm
        .add_object(&format!("Device.IP.Interface.{ip}.IPv4Address."), "")
        .unwrap();
    assert_eq!(a, 1);
    dm.delete_object(&format!("Device.IP.Interface.{ip}."), "")
        .unwrap();
    assert!(
        dm.get_parameter_values(&["Device.IP.Interface.1.IPv4Address."])
            .is_err()
    );
}

#[test]
fn rpc12_full_table_is_9004() {
    let mut dm = DataModel::with_schema(
        Schema::builtin(),
        Options {
            default_max_entries: 2,
            ..Options::default()
        },
    );
    dm.add_object("Device.DNS.Client.Server.", "").unwrap();
    dm.add_object("Device.DNS.Client.Server.", "").unwrap();
    let e = dm.add_object("Device.DNS.Client.Server.", "k").unwrap_err();
    assert_eq!(e.cwmp_fault_code(), 9004);
    assert_eq!(param_key(&dm), "");
}

#[test]
fn rpc13_alias_addressing_and_write_once_alias() {
    let mut dm = device();
    dm.add_object("Device.IP.Interface.", "").unwrap();
    // The ACS may replace the CPE-assigned alias once.
    dm.set_parameter_values(
        &[spv("Device.IP.Interface.1.Alias", "xsd:string", "wan")],
        "",
    )
    .unwrap();
    let v = dm
        .get_parameter_values(&["Device.IP.Interface.[wan].Alias"])
        .unwrap();
    assert_eq!(v[0].name, "Device.IP.Interface.1.Alias");
    let e = dm
        .set_parameter_values(
            &[spv("Device.IP.Interface.1.Alias", "xsd:string", "lan")],
            "",
        )
        .unwrap_err();
    assert_eq!(e.parameter_faults()[0].cwmp_fault_code(), 9008);
    assert!(
        dm.get_parameter_values(&["Device.IP.Interface.[lan]."])
            .is_err()
    );
}

#[test]
fn inform_forced_parameters_device2_list() {
    let dm = device();
    let f = dm.forced_inform_parameters();
    let n: Vec<&str> = f.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        n,
        [
            "Device.RootDataModelVersion",
            "Device.DeviceInfo.HardwareVersion",
            "Device.DeviceInfo.SoftwareVersion",
            "Device.DeviceInfo.ProvisioningCode",
            "Device.ManagementServer.ParameterKey",
            "Device.ManagementServer.ConnectionRequestURL",
            "Device.ManagementServer.AliasBasedAddressing",
        ]
    );
    assert_eq!(f[0].value, Value::string("2.17"));
}

#[test]
fn dm03_dm04_dm05_typed_values_from_xsi_types() {
    let mut dm = device();
    dm.set_parameter_values(
        &[
            spv(
                "Device.ManagementServer.PeriodicInformEnable",
                "xsd:boolean",
                "false",
            ),
            spv(
                "Device.ManagementServer.PeriodicInformTime",
                "xsd:dateTime",
                "2024-01-02T03:04:05+01:00",
            ),
            spv("Device.ManagementServer.DelayReboot", "xsd:int", "-1"),
            spv(
                "Device.ManagementServer.HeartbeatPolicy.ReportingInterval",
                "xsd:unsignedInt",
                "30",
            ),
        ],
        "",
    )
    .unwrap();
    let v = dm
        .get_parameter_values(&[
            "Device.ManagementServer.PeriodicInformEnable",
            "Device.ManagementServer.PeriodicInformTime",
        ])
        .unwrap();
    let digits = RenderOptions {
        boolean_as_digit: true,
        ..Default::default()
    };
    assert_eq!(v[0].value.render(&digits), "0");
    assert_eq!(v[1].value.to_string(), "2024-01-02T02:04:05Z");
    let bad = |name: &str, ty: &str, val: &str| {
        let mut dm = device();
        dm.set_parameter_values(&[spv(name, ty, val)], "")
            .unwrap_err()
            .parameter_faults()[0]
            .cwmp_fault_code()
    };
    assert_eq!(
        bad(
            "Device.ManagementServer.HeartbeatPolicy.ReportingInterval",
            "xsd:unsignedInt",
            "29"
        ),
        9007
    );
    assert_eq!(
        bad("Device.ManagementServer.DelayReboot", "xsd:int", "-2"),
        9007
    );
    assert_eq!(
        bad(
            "Device.ManagementServer.InstanceMode",
            "xsd:string",
            "Other"
        ),
        9007
    );
    assert_eq!(
        bad(
            "Device.ManagementServer.PeriodicInformTime",
            "xsd:dateTime",
            "yesterday"
        ),
        9007
    );
    assert_eq!(
        bad("Device.ManagementServer.EnableCWMP", "xsd:boolean", "yes"),
        9007
    );
    assert_eq!(
        bad("Device.ManagementServer.EnableCWMP", "xsd:string", "true"),
        9006
    );
    let long = "x".repeat(257);
    assert_eq!(
        bad("Device.ManagementServer.Username", "xsd:string", &long),
        9007
    );
}

#[derive(Default)]
struct HostInterfaces {
    applied: Mutex<Vec<(String, String)>>,
    fail_set: bool,
}

impl Handler for HostInterfaces {
    fn get(&self, path: &str) -> Option<Value> {
        if path.ends_with(".Stats.BytesSent") {
            return Some(Value::UnsignedLong(1000));
        }
        if path.ends_with(".Name") {
            let n = path.split('.').nth(3)?;
            return Some(Value::string(format!("eth{}", n.parse::<u32>().ok()? - 1)));
        }
        None
    }
    fn validate(&self, path: &str, value: &Value) -> Result<(), DataModelError> {
        if path.ends_with(".MaxBitRate") && value.as_i128() == Some(7) {
            return Err(DataModelError::InvalidValue {
                name: path.into(),
                reason: "unsupported rate".into(),
            });
        }
        Ok(())
    }
    fn set(&self, path: &str, value: &Value) -> Result<SetOutcome, DataModelError> {
        if self.fail_set {
            return Err(DataModelError::Internal("host said no".into()));
        }
        self.applied
            .lock()
            .unwrap()
            .push((path.into(), value.to_string()));
        Ok(if path.ends_with(".Enable") {
            SetOutcome::Applied
        } else {
            SetOutcome::Store
        })
    }
    fn instances(&self, table_path: &str) -> Option<Vec<u32>> {
        (table_path == "Device.Ethernet.Interface.").then(|| vec![2, 1])
    }
}

#[test]
fn handler_backs_a_table_with_live_values() {
    let mut dm = device();
    let h = Arc::new(HostInterfaces::default());
    dm.register_handler("Device.Ethernet.Interface.", h.clone());
    let v = dm
        .get_parameter_values(&[
            "Device.Ethernet.Interface.*.Name",
            "Device.Ethernet.InterfaceNumberOfEntries",
        ])
        .unwrap();
    let got: Vec<(String, String)> = v
        .iter()
        .map(|p| (p.name.clone(), p.value.to_string()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "Device.Ethernet.Interface.1.Name".to_owned(),
                "eth0".to_owned()
            ),
            (
                "Device.Ethernet.Interface.2.Name".to_owned(),
                "eth1".to_owned()
            ),
            (
                "Device.Ethernet.InterfaceNumberOfEntries".to_owned(),
                "2".to_owned()
            ),
        ]
    );
    assert_eq!(
        dm.get("Device.Ethernet.Interface.2.Stats.BytesSent")
            .unwrap(),
        Value::UnsignedLong(1000)
    );
    // Set: the handler applies Enable itself and lets the tree store MaxBitRate.
    dm.set_parameter_values(
        &[
            spv("Device.Ethernet.Interface.1.Enable", "xsd:boolean", "true"),
            spv("Device.Ethernet.Interface.1.MaxBitRate", "xsd:int", "100"),
        ],
        "",
    )
    .unwrap();
    assert_eq!(h.applied.lock().unwrap().len(), 2);
    assert_eq!(
        dm.get("Device.Ethernet.Interface.1.MaxBitRate").unwrap(),
        Value::Int(100)
    );
    assert_eq!(
        dm.get("Device.Ethernet.Interface.1.Enable").unwrap(),
        Value::Boolean(false)
    );
    // Handler validation is a per-parameter fault; instances are the handler's: AddObject 9005
    // (table not writable) and unknown instance 9005.
    let e = dm
        .set_parameter_values(
            &[spv(
                "Device.Ethernet.Interface.1.MaxBitRate",
                "xsd:int",
                "7",
            )],
            "",
        )
        .unwrap_err();
    assert_eq!(e.parameter_faults()[0].cwmp_fault_code(), 9007);
    assert!(dm.get("Device.Ethernet.Interface.3.Name").is_err());
    // Change reported by the host side.
    dm.set_parameter_attributes(&[SetParameterAttribute {
        name: "Device.Ethernet.Interface.2.Stats.BytesSent".into(),
        notification_change: true,
        notification: 1,
        ..Default::default()
    }])
    .unwrap();
    dm.note_value_change("Device.Ethernet.Interface.2.Stats.BytesSent")
        .unwrap();
    assert_eq!(dm.take_value_changes().passive.len(), 1);
}

#[test]
fn handler_failure_during_apply_rolls_back() {
    let mut dm = device();
    dm.register_handler(
        "Device.Ethernet.Interface.",
        Arc::new(HostInterfaces {
            fail_set: true,
            ..Default::default()
        }),
    );
    let e = dm
        .set_parameter_values(
            &[
                spv("Device.ManagementServer.URL", "xsd:string", "http://new/"),
                spv("Device.Ethernet.Interface.1.MaxBitRate", "xsd:int", "100"),
            ],
            "k",
        )
        .unwrap_err();
    assert_eq!(e.cwmp_fault_code(), 9002);
    assert_eq!(
        dm.get("Device.ManagementServer.URL").unwrap(),
        Value::string("")
    );
    assert_eq!(param_key(&dm), "");
}

#[test]
fn persistence_round_trips_configuration_attributes_and_counters() {
    let mut dm = device();
    dm.set_parameter_values(
        &[
            spv(
                "Device.ManagementServer.URL",
                "xsd:string",
                "https://acs.example/",
            ),
            spv("Device.ManagementServer.Password", "xsd:string", "pw"),
        ],
        "key-6",
    )
    .unwrap();
    let a = dm
        .add_object("Device.ManagementServer.InformParameter.", "")
        .unwrap();
    let b = dm
        .add_object("Device.ManagementServer.InformParameter.", "")
        .unwrap();
    dm.delete_object(&format!("Device.ManagementServer.InformParameter.{a}."), "")
        .unwrap();
    dm.set_parameter_values(
        &[spv(
            &format!("Device.ManagementServer.InformParameter.{b}.ParameterName"),
            "xsd:string",
            "Device.DeviceInfo.UpTime",
        )],
        "key-7",
    )
    .unwrap();
    dm.set_parameter_attributes(&[SetParameterAttribute {
        name: "Device.ManagementServer.URL".into(),
        notification_change: true,
        notification: 2,
        ..Default::default()
    }])
    .unwrap();
    let json = dm.export_state().to_json();
    // Read-only device facts are not configuration.
    assert!(!json.contains("SN0001"));
    let state = PersistedState::from_json(&json).unwrap();
    let mut back = DataModel::new();
    assert!(back.import_state(&state).is_empty());
    assert_eq!(back.export_state(), dm.export_state());
    assert_eq!(
        back.get("Device.ManagementServer.Password").unwrap(),
        Value::string("pw")
    );
    assert_eq!(param_key(&back), "key-7");
    assert_eq!(
        back.get_parameter_attributes(&["Device.ManagementServer.URL"])
            .unwrap()[0]
            .notification,
        2
    );
    // Counters survive: the next instance is 3, not 2.
    assert_eq!(
        back.add_object("Device.ManagementServer.InformParameter.", "")
            .unwrap(),
        3
    );
    assert!(
        back.take_value_changes().is_empty(),
        "loading is not a change"
    );
    // Stale entries are reported, not fatal.
    let mut stale = state.clone();
    stale.values.insert("Device.Gone.Param".into(), "1".into());
    let mut fresh = DataModel::new();
    assert_eq!(fresh.import_state(&stale).len(), 1);
    assert!(
        PersistedState::from_json(
            "{\"format\":\"other\",\"tables\":{},\"values\":{},\"attributes\":{}}"
        )
        .is_err()
    );
}

#[test]
fn schema_is_shared_between_devices() {
    let a = DataModel::new();
    let b = DataModel::new();
    assert!(Arc::ptr_eq(a.schema(), b.schema()));
}

#[test]
fn dm11_path_validation_maps_to_9005() {
    let dm = device();
    let long = format!("Device.{}", "A".repeat(260));
    for bad in [
        "Device..",
        "Device.DeviceInfo.0.",
        long.as_str(),
        "Device.{i}.",
    ] {
        assert_eq!(
            dm.get_parameter_values(&[bad])
                .unwrap_err()
                .cwmp_fault_code(),
            9005,
            "{bad}"
        );
    }
}

//! Codec benchmarks: decode and encode of a typical Inform (Device:2, 20 parameters, 2 events,
//! about 3 KB) and of a GetParameterValuesResponse with 200 parameters, each beside the registry
//! crate `cwmp` 0.2.2 (the differential oracle) parsing the same bytes and generating its own
//! rendering of the same message.
//!
//! Run: `cargo bench -p tether-cwmp --bench codec`. Figures and method: BENCHMARKS.md.

use std::sync::LazyLock;
use tether_cwmp::rpc::{Body, GetParameterValuesResponse, Inform};
use tether_cwmp::{
    CwmpNamespace, DateTime, DeviceId, Envelope, Event, EventCode, ParameterValue, Value, ValueType,
};

fn main() {
    divan::main();
}

fn inform_envelope() -> Envelope {
    let p = |name: &str, value: Value| ParameterValue::new(name, value);
    let parameter_list = vec![
        p("Device.RootDataModelVersion", Value::string("2.15")),
        p(
            "Device.DeviceInfo.Manufacturer",
            Value::string("New H3C Technologies Co., Ltd."),
        ),
        p("Device.DeviceInfo.ManufacturerOUI", Value::string("00E0FC")),
        p(
            "Device.DeviceInfo.ModelName",
            Value::string("MSR2600-10-WIN"),
        ),
        p("Device.DeviceInfo.ProductClass", Value::string("MSR2600")),
        p(
            "Device.DeviceInfo.SerialNumber",
            Value::string("219801A1NM8167Q00042"),
        ),
        p("Device.DeviceInfo.HardwareVersion", Value::string("Ver.B")),
        p(
            "Device.DeviceInfo.SoftwareVersion",
            Value::string("7.1.064, Release 0821P16"),
        ),
        p(
            "Device.DeviceInfo.ProvisioningCode",
            Value::string("PROVISIONINGCODE"),
        ),
        p("Device.DeviceInfo.UpTime", Value::unsigned_int(1_234_567)),
        p(
            "Device.ManagementServer.ConnectionRequestURL",
            Value::string("http://192.0.2.17:7547/cr/6f1c2a"),
        ),
        p(
            "Device.ManagementServer.ParameterKey",
            Value::string("job-2026-11-21-001"),
        ),
        p(
            "Device.ManagementServer.PeriodicInformEnable",
            Value::boolean(true),
        ),
        p(
            "Device.ManagementServer.PeriodicInformInterval",
            Value::unsigned_int(3600),
        ),
        p(
            "Device.ManagementServer.UDPConnectionRequestAddress",
            Value::string("192.0.2.17:7547"),
        ),
        p(
            "Device.IP.Interface.1.IPv4Address.1.IPAddress",
            Value::string("192.0.2.17"),
        ),
        p("Device.IP.Interface.1.Status", Value::string("Up")),
        p(
            "Device.Ethernet.Interface.1.MACAddress",
            Value::string("00:e0:fc:12:34:56"),
        ),
        p(
            "Device.Time.CurrentLocalTime",
            Value::date_time(DateTime::parse("2026-11-21T10:00:00Z").expect("time")),
        ),
        p(
            "Device.DeviceInfo.MemoryStatus.Free",
            Value::typed(ValueType::UnsignedInt, "524288"),
        ),
    ];
    let inform = Inform {
        device_id: DeviceId {
            manufacturer: "New H3C Technologies Co., Ltd.".into(),
            oui: "00E0FC".into(),
            product_class: "MSR2600".into(),
            serial_number: "219801A1NM8167Q00042".into(),
        },
        events: vec![Event::new(EventCode::Boot), Event::new(EventCode::Periodic)],
        max_envelopes: 1,
        current_time: DateTime::parse("2026-11-21T10:00:00Z").expect("time"),
        retry_count: 0,
        parameter_list,
    };
    Envelope::new(
        CwmpNamespace::V1_0,
        Some("1732183200".into()),
        Body::Inform(inform),
    )
}

fn gpv_envelope() -> Envelope {
    let parameter_list = (1..=200)
        .map(|i| {
            let value = match i % 4 {
                0 => Value::unsigned_int(i * 1000),
                1 => Value::string(format!("SSID-{i} <guest> & co")),
                2 => Value::boolean(i % 3 == 0),
                _ => Value::int(-(i as i32)),
            };
            ParameterValue::new(
                format!("Device.WiFi.SSID.{}.Stats.Counter{}", i / 10 + 1, i),
                value,
            )
        })
        .collect();
    Envelope::new(
        CwmpNamespace::V1_0,
        Some("gpv-1".into()),
        Body::GetParameterValuesResponse(GetParameterValuesResponse { parameter_list }),
    )
}

struct Case {
    envelope: Envelope,
    bytes: Vec<u8>,
    oracle: cwmp_oracle::protocol::Envelope,
}

fn case(envelope: Envelope) -> Case {
    let bytes = tether_cwmp::encode(&envelope)
        .expect("encodes")
        .into_bytes();
    let oracle = cwmp_oracle::parse_bytes(&bytes).expect("oracle parses");
    Case {
        envelope,
        bytes,
        oracle,
    }
}

static INFORM: LazyLock<Case> = LazyLock::new(|| case(inform_envelope()));
static GPV200: LazyLock<Case> = LazyLock::new(|| case(gpv_envelope()));

mod inform {
    use super::INFORM;
    use divan::{Bencher, black_box, counter::BytesCount};

    #[divan::bench]
    fn tether_decode(b: Bencher<'_, '_>) {
        b.counter(BytesCount::of_slice(&INFORM.bytes))
            .bench(|| tether_cwmp::decode(black_box(&INFORM.bytes)).expect("decodes"));
    }

    #[divan::bench]
    fn tether_encode(b: Bencher<'_, '_>) {
        b.bench(|| tether_cwmp::encode(black_box(&INFORM.envelope)).expect("encodes"));
    }

    #[divan::bench]
    fn oracle_parse(b: Bencher<'_, '_>) {
        b.counter(BytesCount::of_slice(&INFORM.bytes))
            .bench(|| cwmp_oracle::parse_bytes(black_box(&INFORM.bytes)).expect("parses"));
    }

    #[divan::bench]
    fn oracle_generate(b: Bencher<'_, '_>) {
        b.bench(|| cwmp_oracle::generate(black_box(&INFORM.oracle)).expect("generates"));
    }
}

mod gpv_response_200 {
    use super::GPV200;
    use divan::{Bencher, black_box, counter::BytesCount};

    #[divan::bench]
    fn tether_decode(b: Bencher<'_, '_>) {
        b.counter(BytesCount::of_slice(&GPV200.bytes))
            .bench(|| tether_cwmp::decode(black_box(&GPV200.bytes)).expect("decodes"));
    }

    #[divan::bench]
    fn tether_encode(b: Bencher<'_, '_>) {
        b.bench(|| tether_cwmp::encode(black_box(&GPV200.envelope)).expect("encodes"));
    }

    #[divan::bench]
    fn oracle_parse(b: Bencher<'_, '_>) {
        b.counter(BytesCount::of_slice(&GPV200.bytes))
            .bench(|| cwmp_oracle::parse_bytes(black_box(&GPV200.bytes)).expect("parses"));
    }

    #[divan::bench]
    fn oracle_generate(b: Bencher<'_, '_>) {
        b.bench(|| cwmp_oracle::generate(black_box(&GPV200.oracle)).expect("generates"));
    }
}

//! The store test suite. Every case in `cases` is written once and run against both backends:
//! `sqlite::<case>` on a fresh data directory, `postgres::<case>` on a fresh database
//! (`tether_t_<unique>`, created on the server named by `TETHER_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`, and dropped afterwards). If PostgreSQL is not
//! reachable the postgres tests fail; they never skip. `sqlite_only` holds what only SQLite has:
//! the data directory layout and surviving `kill -9`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tether_store::{Store, open};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// What a case gets: the store, and the URL to reopen it with.
pub struct TestDb {
    pub store: Arc<dyn Store>,
    pub url: String,
}

async fn run_sqlite<F, Fut>(case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = dir
        .path()
        .join("data")
        .to_str()
        .expect("UTF-8 temp path")
        .to_owned();
    let store = open(&url).await.expect("open SQLite store");
    let outcome = tokio::spawn(case(TestDb { store, url })).await;
    drop(dir);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// `base_url` with its database name replaced by `database`.
fn with_database(base_url: &str, database: &str) -> String {
    let (base, query) = match base_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (base_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    url
}

fn unique_database_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "tether_t_{}_{}_{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn admin_execute(admin_url: &str, sql: String) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is unreachable at {admin_url}: {e}\n\
             The postgres_* store tests need a running server: start one, or point \
             TETHER_TEST_POSTGRES_URL at one (a user allowed to CREATE DATABASE)."
            )
        });
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL admin statement failed on {admin_url}: {e}"));
    conn.close().await.ok();
}

async fn run_postgres<F, Fut>(case: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let admin_url = std::env::var("TETHER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    let name = unique_database_name();
    admin_execute(&admin_url, format!("CREATE DATABASE {name}")).await;
    let url = with_database(&admin_url, &name);
    let outcome = match open(&url).await {
        Ok(store) => tokio::spawn(case(TestDb { store, url })).await,
        Err(e) => {
            admin_execute(
                &admin_url,
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            )
            .await;
            panic!("open PostgreSQL store at {url}: {e}");
        }
    };
    admin_execute(
        &admin_url,
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
    .await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Declares each case once per backend.
macro_rules! store_tests {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::run_sqlite(crate::cases::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::run_postgres(crate::cases::$case).await;
                }
            )*
        }
    };
}

store_tests!(
    migrations_are_idempotent_on_reopen,
    accounts_create_get_list_update_delete,
    token_lookup_by_hash_honours_expiry_and_revocation,
    inform_upsert_then_get_device,
    concurrent_informs_share_commits_and_each_gets_its_own_device,
    an_inform_repeating_old_values_restores_them_after_other_writes,
    concurrent_device_and_next_task_reads_each_get_their_own_answer,
    parameter_batch_of_1000_in_one_call,
    parameter_attributes_and_subtree_delete,
    device_list_filters_and_pagination_totals,
    owner_filter_isolates_accounts,
    device_credentials_and_owner,
    connection_request_credentials_record_their_origin,
    delete_device_cascades,
    task_lifecycle_dispatch_complete_fault_retry,
    task_expiry_skips_and_marks_expired,
    task_cancel_rules,
    tasks_run_in_creation_order_per_device,
    crash_recovery_requeues_safe_kinds_and_faults_others,
    accepted_transfers_are_not_interrupted_by_recovery,
    faults_record_list_clear,
    register_device_pre_registers_an_inventory_entry,
    account_cpe_credentials_set_get_clear,
    expire_tasks_sweeps_every_device,
    fault_by_id,
    cloud_inventory_binds_each_serial_to_one_account,
    cloud_presence_follows_the_current_tunnel_and_node_reset,
    cloud_unbind_codes_limits_attempts_and_atomic_move,
    cloud_config_changes_are_kept_per_owner,
    cloud_telemetry_latest_is_kept,
);

mod cases {
    use serde_json::json;
    use tether_store::*;

    use crate::TestDb;

    const T0: Timestamp = Timestamp(1_700_000_000_000);

    /// A task result as the store takes it: JSON text.
    fn raw(value: serde_json::Value) -> Box<serde_json::value::RawValue> {
        serde_json::value::to_raw_value(&value).expect("JSON")
    }

    fn at(seconds: i64) -> Timestamp {
        T0.plus_millis(seconds * 1000)
    }

    fn identity(serial: &str, class: &str) -> DeviceIdentity {
        let id = if class.is_empty() {
            format!("00D09E-{serial}")
        } else {
            format!("00D09E-{class}-{serial}")
        };
        DeviceIdentity {
            id,
            oui: "00D09E".into(),
            product_class: class.into(),
            serial_number: serial.into(),
            manufacturer: "Acme".into(),
        }
    }

    fn inform(identity: DeviceIdentity, time: Timestamp) -> InformRecord {
        InformRecord {
            identity,
            at: time,
            events: vec![InformEvent {
                code: "2 PERIODIC".into(),
                command_key: String::new(),
            }],
            remote_addr: Some("192.0.2.1:7547".into()),
            connection_request_url: None,
            online_until: None,
            parameters: Vec::new(),
        }
    }

    async fn add_device(store: &dyn Store, serial: &str) -> String {
        let id = identity(serial, "HGW");
        store
            .record_inform(&inform(id.clone(), T0))
            .await
            .expect("record inform");
        id.id
    }

    fn new_task(device: &str, kind: &str, created: Timestamp) -> NewTask {
        NewTask {
            device_id: device.into(),
            kind: kind.into(),
            payload: json!({ "kind": kind }),
            expires_at: None,
            created_at: created,
        }
    }

    fn new_account(name: &str) -> NewAccount {
        NewAccount {
            name: name.into(),
            password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt${name}"),
            is_admin: false,
        }
    }

    fn assert_conflict<T: std::fmt::Debug>(result: StoreResult<T>) {
        assert!(
            matches!(result, Err(StoreError::Conflict(_))),
            "expected Conflict, got {result:?}"
        );
    }

    fn assert_not_found<T: std::fmt::Debug>(result: StoreResult<T>) {
        assert!(
            matches!(result, Err(StoreError::NotFound(_))),
            "expected NotFound, got {result:?}"
        );
    }

    pub async fn migrations_are_idempotent_on_reopen(db: TestDb) {
        let kind = db.store.backend();
        let account = db
            .store
            .create_account(&new_account("alice"), T0)
            .await
            .unwrap();
        db.store.close().await.unwrap();
        drop(db.store);
        for _ in 0..2 {
            let store = open(&db.url)
                .await
                .expect("reopen runs migrations again without error");
            assert_eq!(store.backend(), kind);
            let found = store.account_by_name("alice").await.unwrap();
            assert_eq!(found, Some(account.clone()));
            store.close().await.unwrap();
        }
    }

    pub async fn accounts_create_get_list_update_delete(db: TestDb) {
        let s = &db.store;
        let bob = s.create_account(&new_account("bob"), T0).await.unwrap();
        let admin = s
            .create_account(
                &NewAccount {
                    is_admin: true,
                    ..new_account("admin")
                },
                at(1),
            )
            .await
            .unwrap();
        assert!(admin.is_admin && !bob.is_admin);
        assert_eq!(bob.created_at, T0);
        assert_conflict(s.create_account(&new_account("bob"), at(2)).await);
        assert!(matches!(
            s.create_account(&new_account(""), at(2)).await,
            Err(StoreError::Invalid(_))
        ));

        assert_eq!(s.account(bob.id).await.unwrap(), Some(bob.clone()));
        assert_eq!(
            s.account_by_name("admin").await.unwrap(),
            Some(admin.clone())
        );
        assert_eq!(s.account_by_name("nobody").await.unwrap(), None);
        let names: Vec<String> = s
            .list_accounts()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(names, ["admin", "bob"]);

        s.set_password_hash(bob.id, "$argon2id$new").await.unwrap();
        assert_eq!(
            s.account(bob.id).await.unwrap().unwrap().password_hash,
            "$argon2id$new"
        );

        s.delete_account(bob.id).await.unwrap();
        assert_eq!(s.account(bob.id).await.unwrap(), None);
        assert_not_found(s.delete_account(bob.id).await);
        assert_not_found(s.set_password_hash(bob.id, "x").await);
    }

    pub async fn token_lookup_by_hash_honours_expiry_and_revocation(db: TestDb) {
        let s = &db.store;
        let carol = s.create_account(&new_account("carol"), T0).await.unwrap();
        let hash = TokenHash([7; 32]);
        let token = s
            .create_token(
                &NewApiToken {
                    account_id: carol.id,
                    name: "ci".into(),
                    hash,
                    expires_at: Some(at(100)),
                },
                T0,
            )
            .await
            .unwrap();
        let forever = s
            .create_token(
                &NewApiToken {
                    account_id: carol.id,
                    name: "laptop".into(),
                    hash: TokenHash([9; 32]),
                    expires_at: None,
                },
                T0,
            )
            .await
            .unwrap();

        let owner = s
            .token_owner(hash, at(99))
            .await
            .unwrap()
            .expect("valid token resolves");
        assert_eq!(owner.token, token);
        assert_eq!(owner.account, carol);
        assert_eq!(
            s.token_owner(TokenHash([8; 32]), at(1)).await.unwrap(),
            None,
            "unknown hash"
        );
        assert_eq!(
            s.token_owner(hash, at(100)).await.unwrap(),
            None,
            "expired at expires_at"
        );
        assert!(
            s.token_owner(TokenHash([9; 32]), at(1_000_000))
                .await
                .unwrap()
                .is_some()
        );

        // Same name for the same account, or same hash: conflict. Unknown account: not found.
        assert_conflict(
            s.create_token(
                &NewApiToken {
                    account_id: carol.id,
                    name: "ci".into(),
                    hash: TokenHash([1; 32]),
                    expires_at: None,
                },
                T0,
            )
            .await,
        );
        assert_conflict(
            s.create_token(
                &NewApiToken {
                    account_id: carol.id,
                    name: "other".into(),
                    hash,
                    expires_at: None,
                },
                T0,
            )
            .await,
        );
        assert_not_found(
            s.create_token(
                &NewApiToken {
                    account_id: AccountId(9999),
                    name: "x".into(),
                    hash: TokenHash([2; 32]),
                    expires_at: None,
                },
                T0,
            )
            .await,
        );

        let listed = s.list_tokens(carol.id).await.unwrap();
        assert_eq!(listed, vec![token.clone(), forever.clone()]);

        s.revoke_token(token.id).await.unwrap();
        assert_eq!(s.token_owner(hash, at(1)).await.unwrap(), None, "revoked");
        assert_not_found(s.revoke_token(token.id).await);

        s.delete_account(carol.id).await.unwrap();
        assert_eq!(
            s.token_owner(TokenHash([9; 32]), at(1)).await.unwrap(),
            None,
            "tokens die with the account"
        );
    }

    /// Device lookups and next-task reads made together are served by shared queries: each
    /// caller gets the answer for its own key (unknown devices none; each device its own
    /// oldest pending task, not another device's and not a dispatched one).
    pub async fn concurrent_device_and_next_task_reads_each_get_their_own_answer(db: TestDb) {
        let s = db.store.clone();
        let mut expected_task = std::collections::HashMap::new();
        for n in 0..40 {
            let device = add_device(&*s, &format!("RD{n:03}")).await;
            if n % 3 != 0 {
                let first = s
                    .create_task(&new_task(&device, "Reboot", at(n)))
                    .await
                    .unwrap();
                s.create_task(&new_task(&device, "GetParameterValues", at(n + 1)))
                    .await
                    .unwrap();
                if n % 3 == 2 {
                    // Dispatched: the next pending one is the second.
                    s.mark_dispatched(first, "sess", at(100)).await.unwrap();
                    expected_task.insert(device.clone(), "GetParameterValues");
                } else {
                    expected_task.insert(device.clone(), "Reboot");
                }
            }
        }
        let mut calls = Vec::new();
        for n in 0..50 {
            let s = s.clone();
            let key = format!("00D09E-HGW-RD{n:03}");
            calls.push(tokio::spawn(async move {
                let device = s.device(&key).await.unwrap();
                let task = s.next_task(&key, at(200)).await.unwrap();
                (key, device, task)
            }));
        }
        for call in calls {
            let (key, device, task) = call.await.unwrap();
            let known = key.as_str() < "00D09E-HGW-RD040";
            assert_eq!(device.map(|d| d.identity.id), known.then(|| key.clone()));
            match expected_task.get(&key) {
                Some(kind) => {
                    let task = task.unwrap_or_else(|| panic!("{key}: no task"));
                    assert_eq!(task.device_id, key);
                    assert_eq!(task.kind, *kind, "{key}");
                }
                None => assert!(task.is_none(), "{key}: {task:?}"),
            }
        }
    }

    /// Informs arriving together are written in shared transactions (group commit): each
    /// caller still gets its own device back, a device informing twice at once ends with one
    /// of its two Informs applied whole (device row and parameters from the same Inform), and
    /// an invalid Inform in the crowd fails alone.
    pub async fn concurrent_informs_share_commits_and_each_gets_its_own_device(db: TestDb) {
        let s = db.store.clone();
        let mut calls = Vec::new();
        for n in 0..60 {
            for second in [0, 1] {
                let s = s.clone();
                let id = identity(&format!("GC{n:03}"), "HGW");
                let mut record = inform(id, at(second * 10 + 1));
                record.parameters = vec![ParameterUpdate::value(
                    "Device.DeviceInfo.UpTime",
                    record.at.0.to_string(),
                    "xsd:unsignedInt",
                )];
                calls.push(tokio::spawn(async move {
                    let got = s.record_inform(&record).await;
                    (record, got)
                }));
            }
        }
        let bad = {
            let s = s.clone();
            let mut record = inform(identity("GCBAD", "HGW"), T0);
            record.parameters = vec![ParameterUpdate::value("", "x", "xsd:string")];
            tokio::spawn(async move { s.record_inform(&record).await })
        };
        for call in calls {
            let (record, got) = call.await.unwrap();
            let device = got.unwrap_or_else(|e| panic!("{}: {e}", record.identity.id));
            assert_eq!(device.identity, record.identity);
        }
        assert!(matches!(bad.await.unwrap(), Err(StoreError::Invalid(_))));
        assert_eq!(s.device("00D09E-HGW-GCBAD").await.unwrap(), None);
        for n in 0..60 {
            let id = format!("00D09E-HGW-GC{n:03}");
            let device = s.device(&id).await.unwrap().expect("stored");
            let last = device.last_inform_at.expect("informed");
            assert!(last == at(1) || last == at(11), "{id}: {last:?}");
            let params = s.list_parameters(&id, None).await.unwrap();
            assert_eq!(params.len(), 1, "{id}");
            assert_eq!(
                params[0].value.as_deref(),
                Some(last.0.to_string().as_str()),
                "{id}: the parameters come from the Inform the device row shows"
            );
        }
    }

    /// The hot path skips an Inform's parameter upsert when the list repeats what it last
    /// stored; any other write in between (a GetParameterValues result, a subtree delete)
    /// must void that, so a device reporting its old values again is believed.
    pub async fn an_inform_repeating_old_values_restores_them_after_other_writes(db: TestDb) {
        let s = &db.store;
        let id = identity("REPEAT", "HGW");
        let mut record = inform(id.clone(), at(1));
        record.parameters = vec![
            ParameterUpdate::value("Device.X", "1", "xsd:int"),
            ParameterUpdate::value("Device.Y", "y", "xsd:string"),
        ];
        let value_of = |params: Vec<Parameter>, name: &str| {
            params
                .into_iter()
                .find(|p| p.name == name)
                .and_then(|p| p.value)
        };
        s.record_inform(&record).await.unwrap();
        s.record_inform(&record).await.unwrap();
        s.upsert_parameters(
            &id.id,
            &[ParameterUpdate::value("Device.X", "2", "xsd:int")],
            at(2),
        )
        .await
        .unwrap();
        record.at = at(3);
        s.record_inform(&record).await.unwrap();
        let params = s.list_parameters(&id.id, None).await.unwrap();
        assert_eq!(value_of(params, "Device.X").as_deref(), Some("1"));

        s.delete_parameter_subtree(&id.id, "Device.").await.unwrap();
        record.at = at(4);
        s.record_inform(&record).await.unwrap();
        let params = s.list_parameters(&id.id, None).await.unwrap();
        assert_eq!(params.len(), 2, "the Inform's parameters are stored again");
        assert_eq!(value_of(params, "Device.Y").as_deref(), Some("y"));
    }

    pub async fn inform_upsert_then_get_device(db: TestDb) {
        let s = &db.store;
        let id = identity("SN0001", "HGW");
        let mut first = inform(id.clone(), T0);
        first.events = vec![
            InformEvent {
                code: "0 BOOTSTRAP".into(),
                command_key: String::new(),
            },
            InformEvent {
                code: "M Reboot".into(),
                command_key: "ck-1".into(),
            },
        ];
        first.connection_request_url = Some("http://192.0.2.1:7547/cr".into());
        first.online_until = Some(at(600));
        first.parameters = vec![
            ParameterUpdate::value("Device.DeviceInfo.SoftwareVersion", "1.0", "xsd:string"),
            ParameterUpdate::value(
                "Device.ManagementServer.PeriodicInformInterval",
                "300",
                "xsd:unsignedInt",
            ),
        ];
        let stored = s.record_inform(&first).await.unwrap();
        assert_eq!(stored.identity, id);
        assert_eq!(stored.created_at, T0);
        assert_eq!(stored.last_inform_at, Some(T0));
        assert_eq!(stored.last_inform_events, first.events);
        assert_eq!(stored.remote_addr.as_deref(), Some("192.0.2.1:7547"));
        assert_eq!(
            stored.connection_request_url.as_deref(),
            Some("http://192.0.2.1:7547/cr")
        );
        assert!(stored.is_online(at(600)) && !stored.is_online(at(601)));
        assert_eq!(stored.owner, None);
        assert_eq!(s.device(&id.id).await.unwrap(), Some(stored.clone()));

        // A later Inform without a URL keeps the URL, replaces events and times, updates values.
        let mut second = inform(id.clone(), at(300));
        second.remote_addr = Some("198.51.100.9:1234".into());
        second.parameters = vec![ParameterUpdate::value(
            "Device.DeviceInfo.SoftwareVersion",
            "1.1",
            "xsd:string",
        )];
        let updated = s.record_inform(&second).await.unwrap();
        assert_eq!(updated.created_at, T0, "first-seen time is kept");
        assert_eq!(updated.last_inform_at, Some(at(300)));
        assert_eq!(updated.last_inform_events, second.events);
        assert_eq!(updated.remote_addr.as_deref(), Some("198.51.100.9:1234"));
        assert_eq!(
            updated.connection_request_url.as_deref(),
            Some("http://192.0.2.1:7547/cr")
        );
        assert_eq!(updated.online_until, None);

        let params = s.list_parameters(&id.id, None).await.unwrap();
        assert_eq!(params.len(), 2);
        let version = params
            .iter()
            .find(|p| p.name == "Device.DeviceInfo.SoftwareVersion")
            .unwrap();
        assert_eq!(version.value.as_deref(), Some("1.1"));
        assert_eq!(version.learned_at, at(300));
        let interval = params
            .iter()
            .find(|p| p.name.ends_with("PeriodicInformInterval"))
            .unwrap();
        assert_eq!(interval.xsi_type.as_deref(), Some("xsd:unsignedInt"));
        assert_eq!(interval.learned_at, T0);

        // An Inform repeating a value leaves its row (and `learned_at`) alone; a changed type
        // is a change; an explicit read of the same value refreshes `learned_at`.
        let mut third = inform(id.clone(), at(400));
        third.parameters = vec![
            ParameterUpdate::value("Device.DeviceInfo.SoftwareVersion", "1.1", "xsd:string"),
            ParameterUpdate::value(
                "Device.ManagementServer.PeriodicInformInterval",
                "300",
                "xsd:unsignedInt",
            ),
        ];
        let mut changed_type = third.parameters[1].clone();
        changed_type.xsi_type = Some("xsd:int".into());
        third.parameters[1] = changed_type;
        let confirmed = s.record_inform(&third).await.unwrap();
        assert_eq!(confirmed.last_inform_at, Some(at(400)));
        let params = s.list_parameters(&id.id, None).await.unwrap();
        let find = |name: &str| {
            params
                .iter()
                .find(|p| p.name.ends_with(name))
                .unwrap()
                .clone()
        };
        assert_eq!(
            find("SoftwareVersion").learned_at,
            at(300),
            "unchanged: not rewritten"
        );
        assert_eq!(find("PeriodicInformInterval").learned_at, at(400));
        assert_eq!(
            find("PeriodicInformInterval").xsi_type.as_deref(),
            Some("xsd:int")
        );
        s.upsert_parameters(
            &id.id,
            &[ParameterUpdate::value(
                "Device.DeviceInfo.SoftwareVersion",
                "1.1",
                "xsd:string",
            )],
            at(500),
        )
        .await
        .unwrap();
        let params = s.list_parameters(&id.id, None).await.unwrap();
        let version = params
            .iter()
            .find(|p| p.name.ends_with("SoftwareVersion"))
            .unwrap();
        assert_eq!(version.learned_at, at(500), "an explicit read refreshes");

        assert_eq!(s.device("00D09E-HGW-missing").await.unwrap(), None);
        let total = s
            .list_devices(&DeviceFilter::default(), Page::default())
            .await
            .unwrap()
            .total;
        assert_eq!(total, 1, "two Informs from one device make one device");
    }

    pub async fn parameter_batch_of_1000_in_one_call(db: TestDb) {
        let s = &db.store;
        let device = add_device(&**s, "BATCH").await;
        let batch: Vec<ParameterUpdate> = (0..1000)
            .map(|i| ParameterUpdate {
                writable: Some(i % 2 == 0),
                ..ParameterUpdate::value(
                    format!("Device.Test.{i:04}.Value"),
                    format!("v{i}"),
                    "xsd:string",
                )
            })
            .collect();
        s.upsert_parameters(&device, &batch, at(5)).await.unwrap();
        let stored = s.list_parameters(&device, None).await.unwrap();
        assert_eq!(stored.len(), 1000);
        for (i, p) in stored.iter().enumerate() {
            assert_eq!(
                p.name,
                format!("Device.Test.{i:04}.Value"),
                "ordered by name"
            );
            assert_eq!(p.value.as_deref(), Some(format!("v{i}").as_str()));
            assert_eq!(p.writable, Some(i % 2 == 0));
            assert_eq!(p.learned_at, at(5));
        }

        // The same 1,000 again with new values: updates, not duplicates.
        let again: Vec<ParameterUpdate> = (0..1000)
            .map(|i| {
                ParameterUpdate::value(
                    format!("Device.Test.{i:04}.Value"),
                    format!("w{i}"),
                    "xsd:string",
                )
            })
            .collect();
        s.upsert_parameters(&device, &again, at(6)).await.unwrap();
        let stored = s.list_parameters(&device, None).await.unwrap();
        assert_eq!(stored.len(), 1000);
        assert!(
            stored
                .iter()
                .all(|p| p.value.as_deref().is_some_and(|v| v.starts_with('w')))
        );
        assert_eq!(
            stored[2].writable,
            Some(true),
            "fields not in the update are kept"
        );

        assert_not_found(s.upsert_parameters("00D09E-HGW-nope", &again, at(7)).await);
    }

    pub async fn parameter_attributes_and_subtree_delete(db: TestDb) {
        let s = &db.store;
        let device = add_device(&**s, "ATTR").await;
        let names = [
            "Device.WiFi.SSID.1.",
            "Device.WiFi.SSID.1.SSID",
            "Device.WiFi.SSID.1.Enable",
            "Device.WiFi.SSID.10.SSID",
            "Device.WiFi.SSID.2.SSID",
            "Device.WiFi.SSIDNumberOfEntries",
        ];
        let values: Vec<ParameterUpdate> = names
            .iter()
            .map(|n| ParameterUpdate::value(*n, "x", "xsd:string"))
            .collect();
        s.upsert_parameters(&device, &values, at(1)).await.unwrap();

        // Attributes alone (as from GetParameterAttributes) keep the value; duplicates in one
        // batch merge, later fields winning.
        let attrs = vec![
            ParameterUpdate {
                name: "Device.WiFi.SSID.1.SSID".into(),
                notification: Some(1),
                ..Default::default()
            },
            ParameterUpdate {
                name: "Device.WiFi.SSID.1.SSID".into(),
                notification: Some(2),
                access_list: Some(vec!["Subscriber".into()]),
                ..Default::default()
            },
        ];
        s.upsert_parameters(&device, &attrs, at(2)).await.unwrap();
        let ssid = s
            .list_parameters(&device, Some("Device.WiFi.SSID.1.SSID"))
            .await
            .unwrap();
        assert_eq!(ssid.len(), 1);
        assert_eq!(ssid[0].value.as_deref(), Some("x"));
        assert_eq!(ssid[0].xsi_type.as_deref(), Some("xsd:string"));
        assert_eq!(ssid[0].notification, Some(2));
        assert_eq!(ssid[0].access_list, Some(vec!["Subscriber".to_owned()]));
        assert_eq!(ssid[0].learned_at, at(2));

        let under: Vec<String> = s
            .list_parameters(&device, Some("Device.WiFi.SSID.1."))
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(
            under,
            [
                "Device.WiFi.SSID.1.",
                "Device.WiFi.SSID.1.Enable",
                "Device.WiFi.SSID.1.SSID"
            ]
        );

        let deleted = s
            .delete_parameter_subtree(&device, "Device.WiFi.SSID.1.")
            .await
            .unwrap();
        assert_eq!(deleted, 3);
        let left: Vec<String> = s
            .list_parameters(&device, None)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(
            left,
            [
                "Device.WiFi.SSID.10.SSID",
                "Device.WiFi.SSID.2.SSID",
                "Device.WiFi.SSIDNumberOfEntries"
            ]
        );
    }

    pub async fn device_list_filters_and_pagination_totals(db: TestDb) {
        let s = &db.store;
        // 25 devices: serial SN_00..SN_24; classes alternate; inform at i*10 s; the first
        // five online until 1000 s.
        for i in 0..25 {
            let class = if i % 2 == 0 { "HGW" } else { "ONT" };
            let mut record = inform(identity(&format!("SN_{i:02}"), class), at(i * 10));
            record.online_until = (i < 5).then(|| at(1000));
            s.record_inform(&record).await.unwrap();
        }
        let mut odd = inform(identity("snx9", "HGW"), at(500));
        odd.online_until = Some(at(10));
        s.record_inform(&odd).await.unwrap();

        let list = |filter: DeviceFilter, page: Page| {
            let s = s.clone();
            async move { s.list_devices(&filter, page).await.unwrap() }
        };
        let serials = |page: &Paged<Device>| -> Vec<String> {
            page.items
                .iter()
                .map(|d| d.identity.serial_number.clone())
                .collect()
        };

        let all = list(DeviceFilter::default(), Page::new(100, 0)).await;
        assert_eq!(all.total, 26);
        assert_eq!(all.items.len(), 26);

        let exact = list(
            DeviceFilter {
                serial: Some(SerialMatch::Exact("SN_07".into())),
                ..Default::default()
            },
            Page::default(),
        )
        .await;
        assert_eq!(
            (exact.total, serials(&exact)),
            (1, vec!["SN_07".to_owned()])
        );

        // Contains ignores ASCII case, and `_` is literal, not a wildcard.
        let contains = list(
            DeviceFilter {
                serial: Some(SerialMatch::Contains("sn_1".into())),
                ..Default::default()
            },
            Page::default(),
        )
        .await;
        assert_eq!(contains.total, 10, "SN_10..SN_19");
        let underscore = list(
            DeviceFilter {
                serial: Some(SerialMatch::Contains("n_".into())),
                ..Default::default()
            },
            Page::default(),
        )
        .await;
        assert_eq!(underscore.total, 25, "snx9 has no underscore");

        let ont = list(
            DeviceFilter {
                product_class: Some("ONT".into()),
                ..Default::default()
            },
            Page::default(),
        )
        .await;
        assert_eq!(ont.total, 12);
        assert!(ont.items.iter().all(|d| d.identity.product_class == "ONT"));

        let window = list(
            DeviceFilter {
                last_inform_after: Some(at(50)),
                last_inform_before: Some(at(100)),
                ..Default::default()
            },
            Page::default(),
        )
        .await;
        let mut in_window = serials(&window);
        in_window.sort();
        assert_eq!(in_window, ["SN_05", "SN_06", "SN_07", "SN_08", "SN_09"]);

        let online = list(
            DeviceFilter {
                online: Some((true, at(20))),
                ..Default::default()
            },
            Page::default(),
        )
        .await;
        assert_eq!(online.total, 5);
        let offline = list(
            DeviceFilter {
                online: Some((false, at(20))),
                ..Default::default()
            },
            Page::default(),
        )
        .await;
        assert_eq!(
            offline.total, 21,
            "20 never online + snx9 whose window closed"
        );

        let combined = list(
            DeviceFilter {
                product_class: Some("HGW".into()),
                online: Some((true, at(20))),
                ..Default::default()
            },
            Page::default(),
        )
        .await;
        assert_eq!(serials(&combined), ["SN_00", "SN_02", "SN_04"]);

        // Pages of 10 over 26: totals stay 26, the pages tile the listing in order.
        let mut seen = Vec::new();
        for offset in [0, 10, 20] {
            let page = list(DeviceFilter::default(), Page::new(10, offset)).await;
            assert_eq!(page.total, 26);
            assert_eq!(page.items.len(), if offset == 20 { 6 } else { 10 });
            seen.extend(page.items.into_iter().map(|d| d.identity.id));
        }
        let everything: Vec<String> = all.items.into_iter().map(|d| d.identity.id).collect();
        assert_eq!(seen, everything);
        let mut sorted = everything.clone();
        sorted.sort();
        assert_eq!(everything, sorted, "ordered by device id");
        let beyond = list(DeviceFilter::default(), Page::new(10, 100)).await;
        assert_eq!((beyond.total, beyond.items.len()), (26, 0));
    }

    pub async fn owner_filter_isolates_accounts(db: TestDb) {
        let s = &db.store;
        let alice = s.create_account(&new_account("alice"), T0).await.unwrap();
        let bob = s.create_account(&new_account("bob"), T0).await.unwrap();
        for (serial, owner) in [
            ("A1", Some(alice.id)),
            ("A2", Some(alice.id)),
            ("B1", Some(bob.id)),
            ("N1", None),
        ] {
            let device = add_device(&**s, serial).await;
            s.set_device_owner(&device, owner).await.unwrap();
            s.create_task(&new_task(&device, "Reboot", T0))
                .await
                .unwrap();
            s.record_fault(&NewFault {
                device_id: device.clone(),
                task_id: None,
                code: "9002".into(),
                message: "Internal error".into(),
                detail: json!({}),
                at: T0,
            })
            .await
            .unwrap();
        }

        let of = |owner: AccountId| DeviceFilter {
            owner: Some(owner),
            ..Default::default()
        };
        let alice_devices = s
            .list_devices(&of(alice.id), Page::default())
            .await
            .unwrap();
        assert_eq!(alice_devices.total, 2);
        assert!(
            alice_devices
                .items
                .iter()
                .all(|d| d.owner == Some(alice.id))
        );
        let bob_devices = s.list_devices(&of(bob.id), Page::default()).await.unwrap();
        assert_eq!(
            bob_devices
                .items
                .iter()
                .map(|d| d.identity.serial_number.as_str())
                .collect::<Vec<_>>(),
            ["B1"]
        );
        assert_eq!(
            s.list_devices(&DeviceFilter::default(), Page::default())
                .await
                .unwrap()
                .total,
            4,
            "admin sees all"
        );

        let tasks = s
            .list_tasks(
                &TaskFilter {
                    owner: Some(bob.id),
                    ..Default::default()
                },
                Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(tasks.total, 1);
        assert_eq!(tasks.items[0].device_id, "00D09E-HGW-B1");
        let faults = s
            .list_faults(
                &FaultFilter {
                    owner: Some(alice.id),
                    ..Default::default()
                },
                Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(faults.total, 2);
        assert!(
            faults
                .items
                .iter()
                .all(|f| f.device_id.starts_with("00D09E-HGW-A"))
        );

        // Deleting an account leaves its devices unowned, not deleted.
        s.delete_account(bob.id).await.unwrap();
        assert_eq!(
            s.device("00D09E-HGW-B1").await.unwrap().unwrap().owner,
            None
        );
    }

    pub async fn device_credentials_and_owner(db: TestDb) {
        let s = &db.store;
        let one = add_device(&**s, "C1").await;
        let two = add_device(&**s, "C2").await;
        let cpe = Credentials {
            username: "cpe-c1".into(),
            password: "secret".into(),
        };
        s.set_cpe_credentials(&one, Some(&cpe)).await.unwrap();
        let found = s
            .device_by_cpe_username("cpe-c1")
            .await
            .unwrap()
            .expect("found by CPE username");
        assert_eq!(found.identity.id, one);
        assert_eq!(found.cpe_credentials, Some(cpe.clone()));
        assert_conflict(s.set_cpe_credentials(&two, Some(&cpe)).await);

        let cr = Credentials {
            username: "acs".into(),
            password: "cr-pass".into(),
        };
        s.set_connection_request_credentials(&one, Some(&cr))
            .await
            .unwrap();
        assert_eq!(
            s.device(&one)
                .await
                .unwrap()
                .unwrap()
                .connection_request_credentials,
            Some(cr)
        );
        s.set_connection_request_credentials(&one, None)
            .await
            .unwrap();
        s.set_cpe_credentials(&one, None).await.unwrap();
        let cleared = s.device(&one).await.unwrap().unwrap();
        assert_eq!(
            (
                cleared.connection_request_credentials,
                cleared.cpe_credentials
            ),
            (None, None)
        );
        assert_eq!(s.device_by_cpe_username("cpe-c1").await.unwrap(), None);

        assert_not_found(s.set_device_owner(&one, Some(AccountId(4242))).await);
        assert_not_found(s.set_device_owner("00D09E-HGW-none", None).await);
        assert_not_found(s.set_cpe_credentials("00D09E-HGW-none", None).await);
    }

    pub async fn connection_request_credentials_record_their_origin(db: TestDb) {
        let s = &db.store;
        let one = add_device(&**s, "O1").await;
        let fresh = s.device(&one).await.unwrap().unwrap();
        assert_eq!(fresh.connection_request_credentials, None);
        assert_eq!(fresh.connection_request_credentials_origin, None);

        let provisioned = Credentials {
            username: one.clone(),
            password: "Zk3-random_24_characters".into(),
        };
        s.set_provisioned_connection_request_credentials(&one, &provisioned)
            .await
            .unwrap();
        let d = s.device(&one).await.unwrap().unwrap();
        assert_eq!(d.connection_request_credentials, Some(provisioned.clone()));
        assert_eq!(
            d.connection_request_credentials_origin,
            Some(CredentialsOrigin::Provisioned)
        );
        // Listings decode the origin too.
        let listed = s
            .list_devices(&DeviceFilter::default(), Page::new(10, 0))
            .await
            .unwrap();
        assert_eq!(
            listed.items[0].connection_request_credentials_origin,
            Some(CredentialsOrigin::Provisioned)
        );

        // An operator's credentials replace them and are marked configured.
        let manual = Credentials {
            username: "ops".into(),
            password: "ops-pass".into(),
        };
        s.set_connection_request_credentials(&one, Some(&manual))
            .await
            .unwrap();
        let d = s.device(&one).await.unwrap().unwrap();
        assert_eq!(d.connection_request_credentials, Some(manual));
        assert_eq!(
            d.connection_request_credentials_origin,
            Some(CredentialsOrigin::Configured)
        );
        // Provisioning again replaces those.
        s.set_provisioned_connection_request_credentials(&one, &provisioned)
            .await
            .unwrap();
        let d = s.device(&one).await.unwrap().unwrap();
        assert_eq!(d.connection_request_credentials, Some(provisioned));
        assert_eq!(
            d.connection_request_credentials_origin,
            Some(CredentialsOrigin::Provisioned)
        );
        // Clearing clears the origin with them.
        s.set_connection_request_credentials(&one, None)
            .await
            .unwrap();
        let d = s.device(&one).await.unwrap().unwrap();
        assert_eq!(
            (
                d.connection_request_credentials,
                d.connection_request_credentials_origin
            ),
            (None, None)
        );
        assert_eq!(
            CredentialsOrigin::parse("provisioned"),
            Some(CredentialsOrigin::Provisioned)
        );
        assert_eq!(
            CredentialsOrigin::parse("configured"),
            Some(CredentialsOrigin::Configured)
        );
        assert_eq!(CredentialsOrigin::parse("other"), None);
        assert_not_found(
            s.set_provisioned_connection_request_credentials(
                "00D09E-HGW-none",
                &Credentials {
                    username: "u".into(),
                    password: "p".into(),
                },
            )
            .await,
        );
    }

    pub async fn delete_device_cascades(db: TestDb) {
        let s = &db.store;
        let device = add_device(&**s, "DEL").await;
        let keep = add_device(&**s, "KEEP").await;
        s.upsert_parameters(
            &device,
            &[ParameterUpdate::value("Device.X", "1", "xsd:int")],
            T0,
        )
        .await
        .unwrap();
        let task = s
            .create_task(&new_task(&device, "Reboot", T0))
            .await
            .unwrap();
        let kept_task = s.create_task(&new_task(&keep, "Reboot", T0)).await.unwrap();
        s.record_fault(&NewFault {
            device_id: device.clone(),
            task_id: Some(task),
            code: "9001".into(),
            message: "Request denied".into(),
            detail: json!({ "rpc": "Reboot" }),
            at: T0,
        })
        .await
        .unwrap();

        s.delete_device(&device).await.unwrap();
        assert_eq!(s.device(&device).await.unwrap(), None);
        assert_eq!(
            s.task(task).await.unwrap(),
            None,
            "tasks go with the device"
        );
        assert_not_found(s.list_parameters(&device, None).await);
        assert_eq!(
            s.list_faults(&FaultFilter::default(), Page::default())
                .await
                .unwrap()
                .total,
            0
        );
        assert!(
            s.task(kept_task).await.unwrap().is_some(),
            "other devices untouched"
        );
        assert_not_found(s.delete_device(&device).await);
    }

    pub async fn task_lifecycle_dispatch_complete_fault_retry(db: TestDb) {
        let s = &db.store;
        let device = add_device(&**s, "TASK").await;
        let gpv = s
            .create_task(&new_task(&device, "GetParameterValues", at(1)))
            .await
            .unwrap();
        let spv = s
            .create_task(&new_task(&device, "SetParameterValues", at(2)))
            .await
            .unwrap();
        let created = s.task(gpv).await.unwrap().unwrap();
        assert_eq!(
            (created.state, created.attempts, created.created_at),
            (TaskState::Pending, 0, at(1))
        );
        assert_eq!(created.payload, json!({ "kind": "GetParameterValues" }));
        assert_not_found(
            s.create_task(&new_task("00D09E-HGW-none", "Reboot", T0))
                .await,
        );

        // First in creation order comes first; dispatch it and complete it.
        let next = s.next_task(&device, at(10)).await.unwrap().unwrap();
        assert_eq!(next.id, gpv);
        let dispatched = s.mark_dispatched(gpv, "session-1", at(10)).await.unwrap();
        assert_eq!(dispatched.state, TaskState::Dispatched);
        assert_eq!(dispatched.session_id.as_deref(), Some("session-1"));
        assert_eq!(
            (dispatched.dispatched_at, dispatched.attempts),
            (Some(at(10)), 1)
        );
        assert_conflict(s.mark_dispatched(gpv, "session-2", at(11)).await);
        s.complete_task(gpv, &raw(json!({ "Device.X": "1" })), at(11))
            .await
            .unwrap();
        let done = s.task(gpv).await.unwrap().unwrap();
        assert_eq!(done.state, TaskState::Done);
        assert_eq!(done.result, Some(json!({ "Device.X": "1" })));
        assert_eq!(done.updated_at, at(11));
        assert_conflict(s.complete_task(gpv, &raw(json!(null)), at(12)).await);
        assert_conflict(s.retry_task(gpv, None, at(12)).await);

        // The second faults; a pending task can be neither completed nor faulted.
        assert_eq!(s.next_task(&device, at(12)).await.unwrap().unwrap().id, spv);
        let fault = TaskFault {
            code: "9007".into(),
            message: "Invalid parameter value".into(),
            detail: json!({ "name": "Device.X" }),
        };
        assert_conflict(s.fail_task(spv, &fault, at(12)).await);
        assert_conflict(s.complete_task(spv, &raw(json!(null)), at(12)).await);
        s.mark_dispatched(spv, "session-1", at(12)).await.unwrap();
        s.fail_task(spv, &fault, at(13)).await.unwrap();
        let faulted = s.task(spv).await.unwrap().unwrap();
        assert_eq!(faulted.state, TaskState::Faulted);
        assert_eq!(faulted.fault, Some(fault));
        assert_eq!(
            s.next_task(&device, at(14)).await.unwrap(),
            None,
            "nothing pending"
        );

        // Retry: back to pending, attempts kept, fault cleared; runs again and completes.
        s.retry_task(spv, Some(at(1000)), at(20)).await.unwrap();
        let retried = s.task(spv).await.unwrap().unwrap();
        assert_eq!(
            (retried.state, retried.attempts, retried.fault.clone()),
            (TaskState::Pending, 1, None)
        );
        assert_eq!(
            (retried.expires_at, retried.session_id.clone()),
            (Some(at(1000)), None)
        );
        assert_eq!(s.next_task(&device, at(21)).await.unwrap().unwrap().id, spv);
        assert_eq!(
            s.mark_dispatched(spv, "session-3", at(21))
                .await
                .unwrap()
                .attempts,
            2
        );
        s.complete_task(spv, &raw(json!({ "status": 0 })), at(22))
            .await
            .unwrap();

        let by_state = s
            .list_tasks(
                &TaskFilter {
                    state: Some(TaskState::Done),
                    ..Default::default()
                },
                Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(
            by_state.items.iter().map(|t| t.id).collect::<Vec<_>>(),
            [gpv, spv]
        );
        assert_not_found(s.mark_dispatched(TaskId(987_654), "s", at(1)).await);
        assert_eq!(s.task(TaskId(987_654)).await.unwrap(), None);
    }

    pub async fn task_expiry_skips_and_marks_expired(db: TestDb) {
        let s = &db.store;
        let device = add_device(&**s, "EXP").await;
        let short = s
            .create_task(&NewTask {
                expires_at: Some(at(60)),
                ..new_task(&device, "Reboot", at(1))
            })
            .await
            .unwrap();
        let long = s
            .create_task(&NewTask {
                expires_at: Some(at(3600)),
                ..new_task(&device, "GetParameterValues", at(2))
            })
            .await
            .unwrap();

        // Before expiry the first is next and nothing changes.
        assert_eq!(
            s.next_task(&device, at(59)).await.unwrap().unwrap().id,
            short
        );
        assert_eq!(
            s.task(short).await.unwrap().unwrap().state,
            TaskState::Pending
        );

        // At its expiry it is marked expired and skipped.
        assert_eq!(
            s.next_task(&device, at(60)).await.unwrap().unwrap().id,
            long
        );
        let expired = s.task(short).await.unwrap().unwrap();
        assert_eq!(
            (expired.state, expired.updated_at),
            (TaskState::Expired, at(60))
        );
        assert_conflict(s.mark_dispatched(short, "s", at(61)).await);

        // Both expired: nothing to run.
        assert_eq!(s.next_task(&device, at(3600)).await.unwrap(), None);
        assert_eq!(
            s.task(long).await.unwrap().unwrap().state,
            TaskState::Expired
        );

        // An expired task can be retried with a new deadline, and then runs first again.
        s.retry_task(short, Some(at(7200)), at(3601)).await.unwrap();
        assert_eq!(
            s.next_task(&device, at(3602)).await.unwrap().unwrap().id,
            short
        );
        let pending = s
            .list_tasks(
                &TaskFilter {
                    state: Some(TaskState::Pending),
                    ..Default::default()
                },
                Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(pending.total, 1);
    }

    pub async fn task_cancel_rules(db: TestDb) {
        let s = &db.store;
        let device = add_device(&**s, "CANCEL").await;
        let first = s
            .create_task(&new_task(&device, "Download", at(1)))
            .await
            .unwrap();
        let second = s
            .create_task(&new_task(&device, "Upload", at(2)))
            .await
            .unwrap();

        s.cancel_task(first, at(3)).await.unwrap();
        assert_eq!(
            s.task(first).await.unwrap().unwrap().state,
            TaskState::Cancelled
        );
        s.cancel_task(first, at(4))
            .await
            .expect("cancelling a cancelled task is a no-op");
        assert_eq!(
            s.task(first).await.unwrap().unwrap().updated_at,
            at(3),
            "no-op leaves it untouched"
        );
        assert_eq!(
            s.next_task(&device, at(5)).await.unwrap().unwrap().id,
            second,
            "cancelled tasks do not run"
        );

        s.mark_dispatched(second, "s1", at(5)).await.unwrap();
        s.complete_task(second, &raw(json!({})), at(6))
            .await
            .unwrap();
        assert_conflict(s.cancel_task(second, at(7)).await);
        assert_eq!(
            s.task(second).await.unwrap().unwrap().state,
            TaskState::Done
        );

        s.retry_task(first, None, at(8)).await.unwrap();
        assert_eq!(
            s.task(first).await.unwrap().unwrap().state,
            TaskState::Pending
        );
        assert_not_found(s.cancel_task(TaskId(424_242), at(9)).await);
    }

    pub async fn tasks_run_in_creation_order_per_device(db: TestDb) {
        let s = &db.store;
        let a = add_device(&**s, "ORDA").await;
        let b = add_device(&**s, "ORDB").await;
        let mut ids_a = Vec::new();
        let mut ids_b = Vec::new();
        for i in 0..5 {
            ids_a.push(
                s.create_task(&new_task(&a, &format!("A{i}"), at(i)))
                    .await
                    .unwrap(),
            );
            ids_b.push(
                s.create_task(&new_task(&b, &format!("B{i}"), at(i)))
                    .await
                    .unwrap(),
            );
        }
        let mut run_a = Vec::new();
        while let Some(task) = s.next_task(&a, at(100)).await.unwrap() {
            assert_eq!(task.device_id, a);
            s.mark_dispatched(task.id, "sa", at(100)).await.unwrap();
            s.complete_task(task.id, &raw(json!(null)), at(100))
                .await
                .unwrap();
            run_a.push(task.id);
        }
        assert_eq!(run_a, ids_a);

        let listed = s
            .list_tasks(
                &TaskFilter {
                    device_id: Some(b.clone()),
                    ..Default::default()
                },
                Page::new(2, 1),
            )
            .await
            .unwrap();
        assert_eq!(listed.total, 5);
        assert_eq!(
            listed.items.iter().map(|t| t.id).collect::<Vec<_>>(),
            ids_b[1..3]
        );
        let kinds: Vec<String> = listed.items.into_iter().map(|t| t.kind).collect();
        assert_eq!(kinds, ["B1", "B2"]);
        assert_eq!(
            s.next_task(&b, at(100)).await.unwrap().unwrap().id,
            ids_b[0]
        );
        assert_eq!(
            s.next_task("00D09E-HGW-unknown", at(100)).await.unwrap(),
            None
        );
    }

    /// A Download the device accepted (Status 1) finishes in a later session with
    /// TransferComplete: neither a broken session nor a restart may fault it meanwhile.
    pub async fn accepted_transfers_are_not_interrupted_by_recovery(db: TestDb) {
        let device = add_device(&*db.store, "ACCEPTED").await;
        let s = &db.store;
        let download = s
            .create_task(&new_task(&device, "Download", at(1)))
            .await
            .unwrap();
        let reboot = s
            .create_task(&new_task(&device, "Reboot", at(2)))
            .await
            .unwrap();
        s.mark_dispatched(download, "sess", at(10)).await.unwrap();
        s.mark_accepted(download, &json!({"status": 1}), at(11))
            .await
            .unwrap();
        s.mark_dispatched(reboot, "sess", at(12)).await.unwrap();

        // The session breaks: the unanswered Reboot is interrupted, the Download is not.
        let outcome = s
            .recover_interrupted(
                &RecoveryScope::Session("sess".into()),
                &RecoveryPolicy::default(),
                at(20),
            )
            .await
            .unwrap();
        assert_eq!(
            outcome,
            RecoveryOutcome {
                requeued: 0,
                faulted: 1
            }
        );
        assert_eq!(
            s.task(reboot).await.unwrap().unwrap().state,
            TaskState::Faulted
        );

        // The server restarts: still not interrupted.
        s.close().await.unwrap();
        let s = open(&db.url).await.unwrap();
        let outcome = s
            .recover_interrupted(
                &RecoveryScope::DispatchedBefore(at(100)),
                &RecoveryPolicy::default(),
                at(100),
            )
            .await
            .unwrap();
        assert_eq!(outcome, RecoveryOutcome::default());
        let t = s.task(download).await.unwrap().unwrap();
        assert_eq!((t.state, t.session_id), (TaskState::Dispatched, None));
        assert_eq!(t.result, Some(json!({"status": 1})));

        // TransferComplete arrives: done with the final result; accepting twice is a conflict.
        s.complete_task(download, &raw(json!({"status": 0})), at(200))
            .await
            .unwrap();
        assert_eq!(
            s.task(download).await.unwrap().unwrap().state,
            TaskState::Done
        );
        assert!(matches!(
            s.mark_accepted(download, &json!({}), at(201)).await,
            Err(StoreError::Conflict(_))
        ));
    }

    pub async fn crash_recovery_requeues_safe_kinds_and_faults_others(db: TestDb) {
        let device = add_device(&*db.store, "CRASH").await;
        let s = &db.store;
        let gpv = s
            .create_task(&new_task(&device, "GetParameterValues", at(1)))
            .await
            .unwrap();
        let reboot = s
            .create_task(&new_task(&device, "FactoryReset", at(2)))
            .await
            .unwrap();
        let later = s
            .create_task(&new_task(&device, "GetParameterValues", at(3)))
            .await
            .unwrap();
        let waiting = s
            .create_task(&new_task(&device, "Reboot", at(4)))
            .await
            .unwrap();
        s.mark_dispatched(gpv, "old-session", at(10)).await.unwrap();
        s.mark_dispatched(reboot, "old-session", at(11))
            .await
            .unwrap();
        s.mark_dispatched(later, "new-session", at(50))
            .await
            .unwrap();

        // The process dies; a new one opens the same database and recovers what was dispatched
        // before it started.
        s.close().await.unwrap();
        let s = open(&db.url).await.unwrap();
        let policy = RecoveryPolicy {
            requeue_kinds: vec!["GetParameterValues".into(), "GetParameterNames".into()],
        };
        let outcome = s
            .recover_interrupted(&RecoveryScope::DispatchedBefore(at(40)), &policy, at(60))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            RecoveryOutcome {
                requeued: 1,
                faulted: 1
            }
        );

        let requeued = s.task(gpv).await.unwrap().unwrap();
        assert_eq!((requeued.state, requeued.attempts), (TaskState::Pending, 1));
        assert_eq!((requeued.session_id, requeued.dispatched_at), (None, None));
        let faulted = s.task(reboot).await.unwrap().unwrap();
        assert_eq!(faulted.state, TaskState::Faulted);
        assert_eq!(
            faulted.fault.unwrap().code,
            TaskFault::INTERRUPTED,
            "a FactoryReset is never run twice"
        );
        assert_eq!(
            s.task(later).await.unwrap().unwrap().state,
            TaskState::Dispatched,
            "outside the scope"
        );
        assert_eq!(
            s.task(waiting).await.unwrap().unwrap().state,
            TaskState::Pending,
            "pending untouched"
        );

        // The requeued task runs first again, counting a second attempt.
        assert_eq!(s.next_task(&device, at(61)).await.unwrap().unwrap().id, gpv);
        assert_eq!(
            s.mark_dispatched(gpv, "third", at(61))
                .await
                .unwrap()
                .attempts,
            2
        );

        // A broken session: recover by session id; an empty policy faults everything.
        let outcome = s
            .recover_interrupted(
                &RecoveryScope::Session("new-session".into()),
                &RecoveryPolicy::default(),
                at(70),
            )
            .await
            .unwrap();
        assert_eq!(
            outcome,
            RecoveryOutcome {
                requeued: 0,
                faulted: 1
            }
        );
        assert_eq!(
            s.task(later).await.unwrap().unwrap().state,
            TaskState::Faulted
        );
        assert_eq!(
            s.task(gpv).await.unwrap().unwrap().state,
            TaskState::Dispatched,
            "other session untouched"
        );

        // Nothing left in scope: recovery is idempotent.
        let again = s
            .recover_interrupted(&RecoveryScope::DispatchedBefore(at(40)), &policy, at(80))
            .await
            .unwrap();
        assert_eq!(again, RecoveryOutcome::default());
    }

    pub async fn faults_record_list_clear(db: TestDb) {
        let s = &db.store;
        let one = add_device(&**s, "F1").await;
        let two = add_device(&**s, "F2").await;
        let task = s
            .create_task(&new_task(&one, "SetParameterValues", T0))
            .await
            .unwrap();
        let mut ids = Vec::new();
        for (i, device) in [&one, &one, &two].into_iter().enumerate() {
            let id = s
                .record_fault(&NewFault {
                    device_id: device.clone(),
                    task_id: (i == 0).then_some(task),
                    code: format!("900{i}"),
                    message: format!("fault {i}"),
                    detail: json!({ "i": i }),
                    at: at(i as i64),
                })
                .await
                .unwrap();
            ids.push(id);
        }
        assert_not_found(
            s.record_fault(&NewFault {
                device_id: "00D09E-HGW-none".into(),
                task_id: None,
                code: "9000".into(),
                message: String::new(),
                detail: json!(null),
                at: T0,
            })
            .await,
        );

        let of_one = s
            .list_faults(
                &FaultFilter {
                    device_id: Some(one.clone()),
                    ..Default::default()
                },
                Page::default(),
            )
            .await
            .unwrap();
        assert_eq!(of_one.total, 2);
        assert_eq!(
            of_one.items.iter().map(|f| f.id).collect::<Vec<_>>(),
            [ids[1], ids[0]],
            "newest first"
        );
        let oldest = &of_one.items[1];
        assert_eq!(
            (
                oldest.task_id,
                oldest.code.as_str(),
                oldest.message.as_str()
            ),
            (Some(task), "9000", "fault 0")
        );
        assert_eq!(
            (oldest.detail.clone(), oldest.at),
            (json!({ "i": 0 }), at(0))
        );

        let all = s
            .list_faults(&FaultFilter::default(), Page::new(1, 0))
            .await
            .unwrap();
        assert_eq!((all.total, all.items.len()), (3, 1));

        s.clear_fault(ids[2]).await.unwrap();
        assert_not_found(s.clear_fault(ids[2]).await);
        assert_eq!(s.clear_device_faults(&one).await.unwrap(), 2);
        assert_eq!(
            s.list_faults(&FaultFilter::default(), Page::default())
                .await
                .unwrap()
                .total,
            0
        );
        assert_not_found(s.clear_device_faults("00D09E-HGW-none").await);
    }

    pub async fn register_device_pre_registers_an_inventory_entry(db: TestDb) {
        let s = &db.store;
        let owner = s.create_account(&new_account("inv"), T0).await.unwrap();
        let id = identity("INV1", "HGW");
        let creds = Credentials {
            username: "cpe-inv1".into(),
            password: "secret".into(),
        };
        let device = s
            .register_device(&id, Some(owner.id), Some(&creds), at(5))
            .await
            .unwrap();
        assert_eq!(device.identity, id);
        assert_eq!(device.owner, Some(owner.id));
        assert_eq!(device.created_at, at(5));
        assert_eq!(device.last_inform_at, None);
        assert_eq!(device.cpe_credentials, Some(creds.clone()));
        assert_eq!(s.device(&id.id).await.unwrap(), Some(device.clone()));
        assert_eq!(
            s.device_by_cpe_username("cpe-inv1").await.unwrap(),
            Some(device)
        );

        // The same id again, or another device with the same CPE username, conflicts.
        assert_conflict(s.register_device(&id, None, None, at(6)).await);
        assert_conflict(
            s.register_device(&identity("INV2", "HGW"), None, Some(&creds), at(6))
                .await,
        );
        assert_eq!(s.device(&identity("INV2", "HGW").id).await.unwrap(), None);

        // The first Inform keeps the owner and credentials and fills in the rest.
        let informed = s.record_inform(&inform(id.clone(), at(10))).await.unwrap();
        assert_eq!(informed.owner, Some(owner.id));
        assert_eq!(informed.cpe_credentials, Some(creds));
        assert_eq!(informed.created_at, at(5));
        assert_eq!(informed.last_inform_at, Some(at(10)));

        let invalid = DeviceIdentity {
            id: String::new(),
            ..identity("X", "Y")
        };
        assert!(matches!(
            s.register_device(&invalid, None, None, T0).await,
            Err(StoreError::Invalid(_))
        ));
    }

    pub async fn account_cpe_credentials_set_get_clear(db: TestDb) {
        let s = &db.store;
        let a = s.create_account(&new_account("cred-a"), T0).await.unwrap();
        let b = s.create_account(&new_account("cred-b"), T0).await.unwrap();
        assert_eq!(s.account_cpe_credentials(a.id).await.unwrap(), None);
        let creds = Credentials {
            username: "fleet".into(),
            password: "pw".into(),
        };
        s.set_account_cpe_credentials(a.id, Some(&creds))
            .await
            .unwrap();
        assert_eq!(s.account_cpe_credentials(a.id).await.unwrap(), Some(creds));
        assert_eq!(s.account_cpe_credentials(b.id).await.unwrap(), None);
        s.set_account_cpe_credentials(a.id, None).await.unwrap();
        assert_eq!(s.account_cpe_credentials(a.id).await.unwrap(), None);

        let missing = AccountId(a.id.0 + b.id.0 + 100);
        assert_not_found(s.account_cpe_credentials(missing).await);
        assert_not_found(s.set_account_cpe_credentials(missing, None).await);
        // The account itself is unchanged by credential updates.
        assert_eq!(s.account(a.id).await.unwrap(), Some(a));
    }

    pub async fn expire_tasks_sweeps_every_device(db: TestDb) {
        let s = &db.store;
        let one = add_device(&**s, "SW1").await;
        let two = add_device(&**s, "SW2").await;
        let mut ids = Vec::new();
        for (device, expiry) in [
            (&one, Some(at(10))),
            (&one, Some(at(100))),
            (&two, Some(at(10))),
            (&two, None),
        ] {
            ids.push(
                s.create_task(&NewTask {
                    expires_at: expiry,
                    ..new_task(device, "Reboot", T0)
                })
                .await
                .unwrap(),
            );
        }
        // A dispatched task is never expired by the sweep.
        let dispatched = s
            .create_task(&NewTask {
                expires_at: Some(at(10)),
                ..new_task(&two, "Reboot", T0)
            })
            .await
            .unwrap();
        // (`two` has an earlier pending task, so dispatch this one directly.)
        s.mark_dispatched(dispatched, "sess", at(1)).await.unwrap();

        assert_eq!(s.expire_tasks(at(9)).await.unwrap(), 0);
        assert_eq!(s.expire_tasks(at(10)).await.unwrap(), 2);
        assert_eq!(s.expire_tasks(at(10)).await.unwrap(), 0);
        let states: Vec<TaskState> = {
            let mut v = Vec::new();
            for id in &ids {
                v.push(s.task(*id).await.unwrap().unwrap().state);
            }
            v
        };
        assert_eq!(
            states,
            [
                TaskState::Expired,
                TaskState::Pending,
                TaskState::Expired,
                TaskState::Pending
            ]
        );
        let expired = s.task(ids[0]).await.unwrap().unwrap();
        assert_eq!(expired.updated_at, at(10));
        assert_eq!(
            s.task(dispatched).await.unwrap().unwrap().state,
            TaskState::Dispatched
        );
        // Expired tasks can be retried like any other.
        s.retry_task(ids[0], Some(at(1000)), at(11)).await.unwrap();
        assert_eq!(
            s.task(ids[0]).await.unwrap().unwrap().state,
            TaskState::Pending
        );
    }

    pub async fn fault_by_id(db: TestDb) {
        let s = &db.store;
        let device = add_device(&**s, "FID").await;
        let id = s
            .record_fault(&NewFault {
                device_id: device.clone(),
                task_id: None,
                code: "9002".into(),
                message: "internal".into(),
                detail: json!({ "k": 1 }),
                at: at(3),
            })
            .await
            .unwrap();
        let fault = s.fault(id).await.unwrap().unwrap();
        assert_eq!(fault.id, id);
        assert_eq!(fault.device_id, device);
        assert_eq!(fault.code, "9002");
        assert_eq!(fault.detail, json!({ "k": 1 }));
        assert_eq!(fault.at, at(3));
        s.clear_fault(id).await.unwrap();
        assert_eq!(s.fault(id).await.unwrap(), None);
    }

    // ----- cloud connection -----

    fn new_cloud(serial: &str, owner: AccountId, key: u8) -> NewCloudDevice {
        NewCloudDevice {
            serial: serial.into(),
            owner,
            name: format!("{serial} name"),
            device_key: [key; 32],
        }
    }

    pub async fn cloud_inventory_binds_each_serial_to_one_account(db: TestDb) {
        let s = &db.store;
        let alice = s.create_account(&new_account("alice"), T0).await.unwrap();
        let bob = s.create_account(&new_account("bob"), T0).await.unwrap();
        let d = s
            .add_cloud_device(&new_cloud("C1", alice.id, 7), at(1))
            .await
            .unwrap();
        assert_eq!(d.owner, alice.id);
        assert_eq!(d.device_key, [7; 32]);
        assert_eq!(d.bound_at, at(1));
        assert!(!d.presence.online);
        assert!(d.telemetry.is_none());
        // One account per serial, whoever asks second.
        for owner in [alice.id, bob.id] {
            let e = s
                .add_cloud_device(&new_cloud("C1", owner, 8), at(2))
                .await
                .unwrap_err();
            assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
        }
        s.add_cloud_device(&new_cloud("C2", alice.id, 1), at(2))
            .await
            .unwrap();
        s.add_cloud_device(&new_cloud("C0", bob.id, 1), at(2))
            .await
            .unwrap();
        let all = s.list_cloud_devices(None, Page::default()).await.unwrap();
        assert_eq!(all.total, 3);
        let serials: Vec<_> = all.items.iter().map(|d| d.serial.as_str()).collect();
        assert_eq!(serials, ["C0", "C1", "C2"]);
        let alices = s
            .list_cloud_devices(Some(alice.id), Page::new(1, 1))
            .await
            .unwrap();
        assert_eq!(alices.total, 2);
        assert_eq!(alices.items[0].serial, "C2");
        s.delete_cloud_device("C1").await.unwrap();
        assert!(s.cloud_device("C1").await.unwrap().is_none());
        assert!(matches!(
            s.delete_cloud_device("C1").await,
            Err(StoreError::NotFound(_))
        ));
        // Deleting the owner's account removes its inventory.
        s.delete_account(bob.id).await.unwrap();
        assert!(s.cloud_device("C0").await.unwrap().is_none());
    }

    pub async fn cloud_presence_follows_the_current_tunnel_and_node_reset(db: TestDb) {
        let s = &db.store;
        let alice = s.create_account(&new_account("alice"), T0).await.unwrap();
        for serial in ["P1", "P2", "P3"] {
            s.add_cloud_device(&new_cloud(serial, alice.id, 1), T0)
                .await
                .unwrap();
        }
        let up = |node: &str, tunnel: &str| TunnelUp {
            node_id: node.into(),
            tunnel_id: tunnel.into(),
            remote_addr: "192.0.2.1:5000".into(),
        };
        s.cloud_tunnel_up("P1", &up("n1", "t1"), at(10))
            .await
            .unwrap();
        s.cloud_tunnel_up("P2", &up("n1", "t2"), at(10))
            .await
            .unwrap();
        s.cloud_tunnel_up("P3", &up("n2", "t3"), at(10))
            .await
            .unwrap();
        let p = s.cloud_device("P1").await.unwrap().unwrap().presence;
        assert!(p.online);
        assert_eq!(p.connected_at, Some(at(10)));
        assert_eq!(p.node_id.as_deref(), Some("n1"));
        assert_eq!(p.remote_addr.as_deref(), Some("192.0.2.1:5000"));
        // A keepalive of a stale tunnel changes nothing; the current one moves the time.
        s.cloud_keepalive("P1", "old", at(20)).await.unwrap();
        s.cloud_keepalive("P1", "t1", at(30)).await.unwrap();
        let p = s.cloud_device("P1").await.unwrap().unwrap().presence;
        assert_eq!(p.last_keepalive_at, Some(at(30)));
        // A replaced tunnel going down late does not take the device offline.
        s.cloud_tunnel_up("P1", &up("n1", "t9"), at(40))
            .await
            .unwrap();
        assert!(!s.cloud_tunnel_down("P1", "t1", at(41)).await.unwrap());
        assert!(s.cloud_device("P1").await.unwrap().unwrap().presence.online);
        assert!(s.cloud_tunnel_down("P1", "t9", at(42)).await.unwrap());
        let p = s.cloud_device("P1").await.unwrap().unwrap().presence;
        assert!(!p.online);
        assert_eq!(p.disconnected_at, Some(at(42)));
        // Node n1 restarts: its devices go offline, n2's stay.
        assert_eq!(s.cloud_reset_node("n1", at(50)).await.unwrap(), 1);
        assert!(!s.cloud_device("P2").await.unwrap().unwrap().presence.online);
        assert!(s.cloud_device("P3").await.unwrap().unwrap().presence.online);
        assert!(matches!(
            s.cloud_tunnel_up("nope", &up("n1", "x"), at(1)).await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub async fn cloud_unbind_codes_limits_attempts_and_atomic_move(db: TestDb) {
        let s = &db.store;
        let alice = s.create_account(&new_account("alice"), T0).await.unwrap();
        let bob = s.create_account(&new_account("bob"), T0).await.unwrap();
        let carol = s.create_account(&new_account("carol"), T0).await.unwrap();
        s.add_cloud_device(&new_cloud("U1", alice.id, 1), T0)
            .await
            .unwrap();
        let limits = UnbindIssueLimits {
            per_account: 2,
            per_serial: 3,
            window_start: T0,
        };
        let code = |account: AccountId, code: &str, t: i64| NewUnbindCode {
            serial: "U1".into(),
            account,
            code: code.into(),
            issued_at: at(t),
            expires_at: at(t + 1800),
        };
        let issue =
            |c: NewUnbindCode| async move { s.issue_unbind_code(&c, limits).await.unwrap() };
        assert_eq!(
            issue(code(bob.id, "BBBBBBB1", 1)).await,
            UnbindIssue::Issued
        );
        assert_eq!(
            issue(code(bob.id, "BBBBBBB2", 2)).await,
            UnbindIssue::Issued
        );
        assert_eq!(
            issue(code(bob.id, "BBBBBBB3", 3)).await,
            UnbindIssue::AccountLimited
        );
        assert_eq!(
            issue(code(carol.id, "CCCCCCC1", 4)).await,
            UnbindIssue::Issued
        );
        assert_eq!(
            issue(code(carol.id, "CCCCCCC2", 5)).await,
            UnbindIssue::SerialLimited
        );

        // The judge sees every outstanding code: Bob's second (his first is void) and Carol's.
        let seen = std::sync::Mutex::new(Vec::new());
        let wrong = |records: &mut [UnbindCodeRecord]| {
            *seen.lock().unwrap() = records.iter().map(|r| r.code.clone()).collect();
            for r in records.iter_mut() {
                r.failed_attempts += 1;
            }
            None
        };
        assert_eq!(
            s.redeem_unbind_code("U1", &wrong, at(10)).await.unwrap(),
            UnbindRedeem::Refused
        );
        assert_eq!(*seen.lock().unwrap(), ["BBBBBBB2", "CCCCCCC1"]);
        let attempts = std::sync::Mutex::new(Vec::new());
        let right = |records: &mut [UnbindCodeRecord]| {
            *attempts.lock().unwrap() = records.iter().map(|r| r.failed_attempts).collect();
            records.iter().position(|r| r.code == "CCCCCCC1")
        };
        assert_eq!(
            s.redeem_unbind_code("U1", &right, at(11)).await.unwrap(),
            UnbindRedeem::Moved {
                from: alice.id,
                to: carol.id
            }
        );
        assert_eq!(*attempts.lock().unwrap(), [1, 1], "attempts were saved");
        let d = s.cloud_device("U1").await.unwrap().unwrap();
        assert_eq!(d.owner, carol.id);
        assert_eq!(d.bound_at, at(11));
        // Every code of the serial is spent: nothing outstanding remains.
        let none = |records: &mut [UnbindCodeRecord]| {
            assert!(records.is_empty());
            None
        };
        assert_eq!(
            s.redeem_unbind_code("U1", &none, at(12)).await.unwrap(),
            UnbindRedeem::Refused
        );
        let changes = s.binding_changes("U1").await.unwrap();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].from, Some(alice.id));
        assert_eq!(changes[0].to, carol.id);
        assert_eq!(changes[0].reason, "unbinding_code");
        assert_eq!(changes[0].at, at(11));
        assert!(matches!(
            s.redeem_unbind_code("nope", &none, at(12)).await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub async fn cloud_config_changes_are_kept_per_owner(db: TestDb) {
        let s = &db.store;
        let alice = s.create_account(&new_account("alice"), T0).await.unwrap();
        let bob = s.create_account(&new_account("bob"), T0).await.unwrap();
        s.add_cloud_device(&new_cloud("K1", alice.id, 1), T0)
            .await
            .unwrap();
        for i in 0..3 {
            s.record_config_change(&NewConfigChange {
                serial: "K1".into(),
                account: alice.id,
                at: at(i),
                status: "applied".into(),
                commands: json!([format!("sysname r{i}")]),
                results: json!([{"command": format!("sysname r{i}"), "ok": true, "output": ""}]),
            })
            .await
            .unwrap();
        }
        let page = s.list_config_changes("K1", Page::new(2, 0)).await.unwrap();
        assert_eq!(page.total, 3);
        assert_eq!(page.items.len(), 2);
        assert_eq!(
            page.items[0].commands,
            json!(["sysname r2"]),
            "newest first"
        );
        assert_eq!(page.items[0].account, Some(alice.id));
        assert_eq!(page.items[0].results[0]["ok"], true);
        // After the binding moves to Bob, Alice's history is not Bob's to see.
        s.issue_unbind_code(
            &NewUnbindCode {
                serial: "K1".into(),
                account: bob.id,
                code: "XXXXXXXX".into(),
                issued_at: at(5),
                expires_at: at(100),
            },
            UnbindIssueLimits {
                per_account: 10,
                per_serial: 10,
                window_start: T0,
            },
        )
        .await
        .unwrap();
        let accept = |r: &mut [UnbindCodeRecord]| (!r.is_empty()).then_some(0);
        s.redeem_unbind_code("K1", &accept, at(6)).await.unwrap();
        assert_eq!(
            s.list_config_changes("K1", Page::default())
                .await
                .unwrap()
                .total,
            0
        );
        assert!(matches!(
            s.record_config_change(&NewConfigChange {
                serial: "nope".into(),
                account: bob.id,
                at: at(1),
                status: "applied".into(),
                commands: json!([]),
                results: json!([]),
            })
            .await,
            Err(StoreError::NotFound(_))
        ));
    }

    pub async fn cloud_telemetry_latest_is_kept(db: TestDb) {
        let s = &db.store;
        let alice = s.create_account(&new_account("alice"), T0).await.unwrap();
        s.add_cloud_device(&new_cloud("T1", alice.id, 1), T0)
            .await
            .unwrap();
        s.set_cloud_telemetry("T1", &json!({"seq": 1}), at(1))
            .await
            .unwrap();
        s.set_cloud_telemetry("T1", &json!({"seq": 2}), at(2))
            .await
            .unwrap();
        let d = s.cloud_device("T1").await.unwrap().unwrap();
        assert_eq!(d.telemetry, Some((at(2), json!({"seq": 2}))));
        assert!(matches!(
            s.set_cloud_telemetry("nope", &json!({}), at(1)).await,
            Err(StoreError::NotFound(_))
        ));
    }
}

/// What only the SQLite backend has: the data-directory layout and crash durability.
mod sqlite_only {
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use serde_json::json;
    use tether_store::*;

    const CHILD_DIR_VAR: &str = "TETHER_STORE_TEST_KILL_DIR";
    const T0: Timestamp = Timestamp(1_700_000_000_000);

    #[tokio::test]
    async fn data_directory_is_created_with_tether_db() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("nested").join("tether-data");
        let store = open(dir.to_str().unwrap()).await.unwrap();
        assert_eq!(store.backend(), BackendKind::Sqlite);
        assert!(dir.join("tether.db").is_file());
        store.close().await.unwrap();
    }

    #[tokio::test]
    async fn in_memory_url_keeps_data_between_calls() {
        let store = open("sqlite::memory:").await.unwrap();
        let account = NewAccount {
            name: "mem".into(),
            password_hash: "$argon2id$x".into(),
            is_admin: false,
        };
        store.create_account(&account, T0).await.unwrap();
        for _ in 0..20 {
            assert!(store.account_by_name("mem").await.unwrap().is_some());
        }
    }

    /// Informs go through the hot path's own write connection, other writes through the sqlx
    /// writer; they take turns instead of contending for SQLite's lock. With no busy timeout at
    /// all, any overlap would fail at once with "database is locked" (Unavailable).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn informs_and_other_writes_take_turns_without_waiting_on_a_busy_database() {
        let tmp = tempfile::tempdir().unwrap();
        let mut options = OpenOptions::new(tmp.path().join("data").to_str().unwrap());
        options.sqlite_busy_timeout = Duration::ZERO;
        let store = open_with(&options).await.unwrap();
        let mut calls = Vec::new();
        for n in 0..200 {
            let s = store.clone();
            calls.push(tokio::spawn(async move {
                let identity = DeviceIdentity {
                    id: format!("00D09E-HGW-TURN{n:03}"),
                    oui: "00D09E".into(),
                    product_class: "HGW".into(),
                    serial_number: format!("TURN{n:03}"),
                    manufacturer: "Acme".into(),
                };
                let inform = InformRecord {
                    identity: identity.clone(),
                    at: T0,
                    events: Vec::new(),
                    remote_addr: None,
                    connection_request_url: None,
                    online_until: None,
                    parameters: (0..20)
                        .map(|i| ParameterUpdate::value(format!("Device.P.{i}"), "1", "xsd:int"))
                        .collect(),
                };
                s.record_inform(&inform).await?;
                // Through the sqlx writer, while other devices' Informs are being written.
                let updates: Vec<ParameterUpdate> = (0..50)
                    .map(|i| ParameterUpdate::value(format!("Device.Q.{i}"), "2", "xsd:int"))
                    .collect();
                s.upsert_parameters(&identity.id, &updates, T0).await?;
                s.create_task(&NewTask {
                    device_id: identity.id.clone(),
                    kind: "Reboot".into(),
                    payload: json!({}),
                    expires_at: None,
                    created_at: T0,
                })
                .await?;
                s.record_inform(&inform).await.map(drop)
            }));
        }
        for (n, call) in calls.into_iter().enumerate() {
            if let Err(e) = call.await.unwrap() {
                panic!("device {n}: {e}");
            }
        }
        for n in [0, 99, 199] {
            let id = format!("00D09E-HGW-TURN{n:03}");
            assert_eq!(store.list_parameters(&id, None).await.unwrap().len(), 70);
            assert!(store.next_task(&id, T0).await.unwrap().is_some());
        }
    }

    /// The end of a session asks for the device's next task; after its Inform, a device with
    /// none queued is answered from what the Inform's transaction found (`task_hints.rs`).
    /// Every way a task becomes pending afterwards must still be seen.
    #[tokio::test]
    async fn a_task_queued_or_requeued_after_an_inform_is_the_next_task() {
        let tmp = tempfile::tempdir().unwrap();
        let store = open(tmp.path().join("data").to_str().unwrap())
            .await
            .unwrap();
        let id = "00D09E-HGW-HINT";
        let inform = InformRecord {
            identity: DeviceIdentity {
                id: id.into(),
                oui: "00D09E".into(),
                product_class: "HGW".into(),
                serial_number: "HINT".into(),
                manufacturer: "Acme".into(),
            },
            at: T0,
            events: Vec::new(),
            remote_addr: None,
            connection_request_url: None,
            online_until: None,
            parameters: vec![ParameterUpdate::value("Device.X", "1", "xsd:int")],
        };
        store.record_inform(&inform).await.unwrap();
        assert!(store.next_task(id, T0).await.unwrap().is_none());
        // Queued after the Inform (the API, or another session's provisioning).
        let reboot = NewTask {
            device_id: id.into(),
            kind: "Reboot".into(),
            payload: json!({}),
            expires_at: None,
            created_at: T0,
        };
        let task = store.create_task(&reboot).await.unwrap();
        assert_eq!(
            store.next_task(id, T0).await.unwrap().map(|t| t.id),
            Some(task)
        );
        // Dispatched, then a new Inform: nothing is pending.
        store.mark_dispatched(task, "s1", T0).await.unwrap();
        store.record_inform(&inform).await.unwrap();
        assert!(store.next_task(id, T0).await.unwrap().is_none());
        // The old session's task goes back to pending after the new Inform was written (a
        // session replaced by a new one is ended after the new one's Inform).
        let policy = RecoveryPolicy {
            requeue_kinds: vec!["Reboot".into()],
        };
        let outcome = store
            .recover_interrupted(&RecoveryScope::Session("s1".into()), &policy, T0)
            .await
            .unwrap();
        assert_eq!(outcome.requeued, 1);
        assert_eq!(
            store.next_task(id, T0).await.unwrap().map(|t| t.id),
            Some(task)
        );
        // An Inform while it is pending does not hide it.
        store.record_inform(&inform).await.unwrap();
        assert_eq!(
            store.next_task(id, T0).await.unwrap().map(|t| t.id),
            Some(task)
        );
        store.close().await.unwrap();
    }

    #[tokio::test]
    async fn unsupported_url_is_invalid() {
        let result = open("mysql://localhost/x").await;
        assert!(
            matches!(result, Err(StoreError::Invalid(_))),
            "got {:?}",
            result.err()
        );
    }

    /// Child half of `survives_kill_9`: writes, acknowledges with a marker file, then waits to be
    /// killed. Does nothing unless started by that test.
    #[tokio::test]
    #[ignore = "helper process for survives_kill_9"]
    async fn kill_9_child_writer() {
        let Ok(dir) = std::env::var(CHILD_DIR_VAR) else {
            return;
        };
        let store = open(&format!("{dir}/data")).await.unwrap();
        let identity = DeviceIdentity {
            id: "00D09E-HGW-KILL".into(),
            oui: "00D09E".into(),
            product_class: "HGW".into(),
            serial_number: "KILL".into(),
            manufacturer: "Acme".into(),
        };
        let parameters: Vec<ParameterUpdate> = (0..1000)
            .map(|i| ParameterUpdate::value(format!("Device.P.{i}"), i.to_string(), "xsd:int"))
            .collect();
        let inform = InformRecord {
            identity,
            at: T0,
            events: Vec::new(),
            remote_addr: None,
            connection_request_url: None,
            online_until: None,
            parameters,
        };
        store.record_inform(&inform).await.unwrap();
        let task = NewTask {
            device_id: "00D09E-HGW-KILL".into(),
            kind: "Reboot".into(),
            payload: json!({}),
            expires_at: None,
            created_at: T0,
        };
        store.create_task(&task).await.unwrap();
        std::fs::write(Path::new(&dir).join("acknowledged"), b"ok").unwrap();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }

    #[tokio::test]
    async fn survives_kill_9() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_str().unwrap().to_owned();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "sqlite_only::kill_9_child_writer",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR_VAR, &dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the child writer");
        let marker = tmp.path().join("acknowledged");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !marker.exists() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("child writer exited before acknowledging: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "child writer did not acknowledge within 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().expect("SIGKILL the child"); // SIGKILL on Unix: no destructors, no close
        child.wait().unwrap();

        let store = open(&format!("{dir}/data")).await.unwrap();
        let device = store
            .device("00D09E-HGW-KILL")
            .await
            .unwrap()
            .expect("device survived");
        assert_eq!(device.last_inform_at, Some(T0));
        assert_eq!(
            store
                .list_parameters("00D09E-HGW-KILL", None)
                .await
                .unwrap()
                .len(),
            1000
        );
        let task = store
            .next_task("00D09E-HGW-KILL", T0)
            .await
            .unwrap()
            .expect("task survived");
        assert_eq!(task.kind, "Reboot");
    }
}

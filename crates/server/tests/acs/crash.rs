//! `kill -9` of the server while tasks are queued and sessions are running.
//!
//! The server runs in a child process: this test binary itself, started with
//! `TETHER_ACS_CRASH_CHILD=<data dir>` so that [`acs_crash_child_process`] runs `Server::start`
//! and blocks. The parent drives CPEs against it, SIGKILLs it mid-session, restarts it on the
//! same data directory and checks that no accepted task is lost, non-idempotent ones are not
//! run twice (faulted "interrupted"), idempotent ones run again, and the store is consistent.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use tether_store::{Page, Store, TaskFilter, TaskState};

use super::support::*;

const CHILD_ENV: &str = "TETHER_ACS_CRASH_CHILD";

/// Not a test on its own: the server process of `acs_kill_9_mid_session_loses_no_task`.
#[tokio::test]
async fn acs_crash_child_process() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let dir = Path::new(&dir);
    let mut c = config(dir);
    c.cwmp.auth.require = false;
    no_provisioning(&mut c);
    let handle = tether_server::Server::start(c)
        .await
        .expect("child server starts");
    let addrs = format!("{}\n{}\n", handle.cwmp_addr, handle.api_addr);
    std::fs::write(dir.join("addrs.tmp"), addrs).unwrap();
    std::fs::rename(dir.join("addrs.tmp"), dir.join("addrs")).unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
}

fn spawn_child(dir: &Path) -> (Child, std::net::SocketAddr) {
    let _ = std::fs::remove_file(dir.join("addrs"));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "acs::crash::acs_crash_child_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(dir.join("addrs")) {
            let cwmp = text.lines().next().unwrap().parse().unwrap();
            return (child, cwmp);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the child server did not start");
}

async fn queue(store: &dyn Store, device: &str, spec: serde_json::Value) -> tether_store::TaskId {
    store
        .create_task(&tether_store::NewTask {
            device_id: device.into(),
            kind: spec["kind"].as_str().unwrap().into(),
            payload: spec,
            expires_at: None,
            created_at: now(),
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn acs_kill_9_mid_session_loses_no_task() {
    let dir = tempfile::tempdir().unwrap();
    let collected = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (mut child, addr) = spawn_child(dir.path());
    let store = tether_store::open(dir.path().to_str().unwrap())
        .await
        .unwrap();

    // Two devices known to the server.
    let mut a = Cpe::new(addr, "KILLA", collected.clone());
    let mut b = Cpe::new(addr, "KILLB", collected.clone());
    for cpe in [&mut a, &mut b] {
        cpe.inform(&[("1 BOOT", "")], &[]).await.msg();
        assert_eq!(cpe.empty().await.status, 204);
    }
    let (da, db) = (a.device_id(), b.device_id());
    let a_read = queue(
        &*store,
        &da,
        json!({"kind": "GetParameterValues", "names": ["Device.A"]}),
    )
    .await;
    let a_reboot = queue(&*store, &da, json!({"kind": "Reboot", "command_key": "k9"})).await;
    let a_set = queue(
        &*store,
        &da,
        json!({"kind": "SetParameterValues", "values": [{"name": "Device.B", "value": "1"}]}),
    )
    .await;
    let b_read = queue(
        &*store,
        &db,
        json!({"kind": "GetParameterValues", "names": ["Device.C"]}),
    )
    .await;
    let b_reset = queue(&*store, &db, json!({"kind": "FactoryReset"})).await;

    // A: the read is answered, the Reboot is outstanding. B: the read is outstanding.
    a.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    let m = a.empty().await.msg();
    assert_eq!(m.name, "GetParameterValues");
    assert_eq!(a.post(&success(&m)).await.msg().name, "Reboot");
    b.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    assert_eq!(b.empty().await.msg().name, "GetParameterValues");

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (mut child, addr) = spawn_child(dir.path());
    let task = |id| {
        let store = store.clone();
        async move { store.task(id).await.unwrap().unwrap() }
    };
    assert_eq!(
        task(a_read).await.state,
        TaskState::Done,
        "answered before the crash"
    );
    let reboot = task(a_reboot).await;
    assert_eq!(reboot.state, TaskState::Faulted, "not run twice");
    assert_eq!(reboot.fault.unwrap().code, "interrupted");
    assert_eq!(
        task(b_read).await.state,
        TaskState::Pending,
        "idempotent: requeued"
    );
    assert_eq!(task(a_set).await.state, TaskState::Pending);
    assert_eq!(task(b_reset).await.state, TaskState::Pending);

    // The devices come back: the requeued read runs again, the reboot does not.
    let mut a = Cpe::new(addr, "KILLA", collected.clone());
    a.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    let seen: Vec<String> = a
        .run_session(success)
        .await
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(seen, ["SetParameterValues"]);
    let mut b = Cpe::new(addr, "KILLB", collected.clone());
    b.inform(&[("2 PERIODIC", "")], &[]).await.msg();
    let seen: Vec<String> = b
        .run_session(success)
        .await
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(seen, ["GetParameterValues", "FactoryReset"]);

    // Consistent: every accepted task is accounted for, none left dispatched.
    let all = store
        .list_tasks(&TaskFilter::default(), Page::new(100, 0))
        .await
        .unwrap();
    assert_eq!(all.total, 5);
    for t in &all.items {
        assert!(
            matches!(t.state, TaskState::Done | TaskState::Faulted),
            "{t:?}"
        );
    }
    assert_eq!(task(b_read).await.attempts, 2);
    child.kill().unwrap();
    child.wait().unwrap();
    store.close().await.unwrap();
    validate_with_xmllint(&collected.lock().unwrap());
}

//! The [`Store`] trait: every persistence operation the server and agent need, independent of
//! the backend behind it.
//!
//! Methods return boxed futures so the trait is dyn-compatible and usable as `Arc<dyn Store>`.
//! Every time the store records or compares is an argument; the store never reads the clock.
//! Getters return `Ok(None)` when the thing is absent; operations on a missing thing return
//! [`StoreError::NotFound`](crate::StoreError::NotFound).

use std::future::Future;
use std::pin::Pin;

use crate::{
    Account, AccountId, ApiToken, BindingChange, CloudDevice, ConfigChange, Credentials, Device,
    DeviceFilter, DeviceIdentity, Fault, FaultId, InformRecord, NewAccount, NewApiToken, NewFault,
    NewTask, Page, Paged, Parameter, ParameterUpdate, RecoveryOutcome, RecoveryPolicy,
    RecoveryScope, StoreResult, Task, TaskFault, TaskFilter, TaskId, Timestamp, TokenHash, TokenId,
    TokenOwner,
};
use crate::{
    NewCloudDevice, NewConfigChange, NewUnbindCode, TunnelUp, UnbindIssue, UnbindIssueLimits,
    UnbindJudge, UnbindRedeem,
};

/// The future every [`Store`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

/// Which database a store writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// Which faults a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultFilter {
    pub device_id: Option<String>,
    /// Only faults of devices owned by this account.
    pub owner: Option<AccountId>,
}

/// Persistence for Tether. Implemented for SQLite and PostgreSQL; obtain one with
/// [`open`](crate::open).
pub trait Store: Send + Sync + 'static {
    /// The backend in use.
    fn backend(&self) -> BackendKind;

    /// Waits for in-flight operations and closes every connection. Later calls fail.
    fn close(&self) -> StoreFuture<'_, ()>;

    // ----- accounts -----

    /// Creates an account. [`Conflict`](crate::StoreError::Conflict) if the name is taken.
    fn create_account<'a>(
        &'a self,
        account: &'a NewAccount,
        now: Timestamp,
    ) -> StoreFuture<'a, Account>;
    fn account(&self, id: AccountId) -> StoreFuture<'_, Option<Account>>;
    fn account_by_name<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<Account>>;
    /// Every account, by name.
    fn list_accounts(&self) -> StoreFuture<'_, Vec<Account>>;
    /// Replaces the stored PHC string.
    fn set_password_hash<'a>(
        &'a self,
        id: AccountId,
        password_hash: &'a str,
    ) -> StoreFuture<'a, ()>;
    /// Deletes the account and its tokens; its devices become unowned.
    fn delete_account(&self, id: AccountId) -> StoreFuture<'_, ()>;
    /// The default credentials CPEs owned by this account present when they have none of their
    /// own. `Ok(None)` if unset; [`NotFound`](crate::StoreError::NotFound) if no such account.
    fn account_cpe_credentials(&self, id: AccountId) -> StoreFuture<'_, Option<Credentials>>;
    /// Sets (or with `None` clears) the account's default CPE credentials.
    fn set_account_cpe_credentials<'a>(
        &'a self,
        id: AccountId,
        credentials: Option<&'a Credentials>,
    ) -> StoreFuture<'a, ()>;

    // ----- API tokens -----

    /// Stores a token's hash. [`Conflict`](crate::StoreError::Conflict) if the hash or the
    /// (account, name) pair exists.
    fn create_token<'a>(
        &'a self,
        token: &'a NewApiToken,
        now: Timestamp,
    ) -> StoreFuture<'a, ApiToken>;
    /// The token with this hash and its account, unless unknown or expired at `now`.
    fn token_owner(&self, hash: TokenHash, now: Timestamp) -> StoreFuture<'_, Option<TokenOwner>>;
    /// The account's tokens, by name.
    fn list_tokens(&self, account: AccountId) -> StoreFuture<'_, Vec<ApiToken>>;
    /// Deletes the token.
    fn revoke_token(&self, id: TokenId) -> StoreFuture<'_, ()>;

    // ----- devices -----

    /// Creates or updates the device from an Inform and writes its parameters, in one
    /// transaction. Returns the device as stored afterwards.
    fn record_inform<'a>(&'a self, inform: &'a InformRecord) -> StoreFuture<'a, Device>;
    /// Pre-registers a device that has not informed yet (an inventory entry), owned by `owner`
    /// and optionally with the credentials it must present.
    /// [`Conflict`](crate::StoreError::Conflict) if the device id or the CPE username is taken.
    fn register_device<'a>(
        &'a self,
        identity: &'a DeviceIdentity,
        owner: Option<AccountId>,
        cpe_credentials: Option<&'a Credentials>,
        now: Timestamp,
    ) -> StoreFuture<'a, Device>;
    fn device<'a>(&'a self, device_id: &'a str) -> StoreFuture<'a, Option<Device>>;
    /// The device whose CPE credentials have this username (for authenticating a CPE).
    fn device_by_cpe_username<'a>(&'a self, username: &'a str) -> StoreFuture<'a, Option<Device>>;
    /// Devices matching `filter`, ordered by canonical device id, one page of them, with the
    /// total.
    fn list_devices<'a>(
        &'a self,
        filter: &'a DeviceFilter,
        page: Page,
    ) -> StoreFuture<'a, Paged<Device>>;
    /// Deletes the device with its parameters, tasks and faults.
    fn delete_device<'a>(&'a self, device_id: &'a str) -> StoreFuture<'a, ()>;
    fn set_device_owner<'a>(
        &'a self,
        device_id: &'a str,
        owner: Option<AccountId>,
    ) -> StoreFuture<'a, ()>;
    /// Sets (or with `None` clears) the credentials the CPE must present.
    /// [`Conflict`](crate::StoreError::Conflict) if another device uses the username.
    fn set_cpe_credentials<'a>(
        &'a self,
        device_id: &'a str,
        credentials: Option<&'a Credentials>,
    ) -> StoreFuture<'a, ()>;
    /// Sets (or clears) the credentials the ACS uses for connection requests, as configured by
    /// an operator ([`CredentialsOrigin::Configured`](crate::CredentialsOrigin::Configured)).
    fn set_connection_request_credentials<'a>(
        &'a self,
        device_id: &'a str,
        credentials: Option<&'a Credentials>,
    ) -> StoreFuture<'a, ()>;
    /// Records connection-request credentials the ACS itself set on the device (the device
    /// acknowledged them), replacing any stored ones
    /// ([`CredentialsOrigin::Provisioned`](crate::CredentialsOrigin::Provisioned)).
    fn set_provisioned_connection_request_credentials<'a>(
        &'a self,
        device_id: &'a str,
        credentials: &'a Credentials,
    ) -> StoreFuture<'a, ()>;

    // ----- parameters -----

    /// Creates or updates many parameters of one device in one transaction, in batched
    /// statements. Fields left `None` keep their stored values.
    fn upsert_parameters<'a>(
        &'a self,
        device_id: &'a str,
        parameters: &'a [ParameterUpdate],
        at: Timestamp,
    ) -> StoreFuture<'a, ()>;
    /// The device's parameters ordered by name, optionally only those starting with `prefix`.
    fn list_parameters<'a>(
        &'a self,
        device_id: &'a str,
        prefix: Option<&'a str>,
    ) -> StoreFuture<'a, Vec<Parameter>>;
    /// Deletes every parameter whose name starts with `prefix` (an object path ending in `.`),
    /// as after a DeleteObject. Returns how many were deleted.
    fn delete_parameter_subtree<'a>(
        &'a self,
        device_id: &'a str,
        prefix: &'a str,
    ) -> StoreFuture<'a, u64>;

    // ----- tasks -----

    /// Queues a task as pending. Durable when this returns.
    fn create_task<'a>(&'a self, task: &'a NewTask) -> StoreFuture<'a, TaskId>;
    fn task(&self, id: TaskId) -> StoreFuture<'_, Option<Task>>;
    /// Tasks matching `filter` in creation order, one page of them, with the total.
    fn list_tasks<'a>(&'a self, filter: &'a TaskFilter, page: Page)
    -> StoreFuture<'a, Paged<Task>>;
    /// The device's oldest pending task. Pending tasks whose expiry is at or before `now` are
    /// first marked expired and skipped. Does not change the returned task.
    fn next_task<'a>(&'a self, device_id: &'a str, now: Timestamp)
    -> StoreFuture<'a, Option<Task>>;
    /// Pending -> dispatched in `session_id`; counts an attempt.
    /// [`Conflict`](crate::StoreError::Conflict) if the task is no longer pending.
    fn mark_dispatched<'a>(
        &'a self,
        id: TaskId,
        session_id: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, Task>;
    /// A dispatched task the device accepted but will finish later (Download/Upload answered
    /// with Status 1; the outcome comes with TransferComplete in another session): records
    /// `progress` as its result so far and detaches it from its session, so neither the
    /// recovery of a broken session nor the start-up recovery after a crash treats it as
    /// interrupted. It stays `dispatched` until [`complete_task`](Store::complete_task) or
    /// [`fail_task`](Store::fail_task). [`Conflict`](crate::StoreError::Conflict) if it is not
    /// dispatched.
    fn mark_accepted<'a>(
        &'a self,
        id: TaskId,
        progress: &'a serde_json::Value,
        now: Timestamp,
    ) -> StoreFuture<'a, ()>;
    /// Dispatched -> done with `result`. [`Conflict`](crate::StoreError::Conflict) otherwise.
    /// The result is JSON text as stored: a large one (the values of a whole data model) costs
    /// its text, not a tree of maps, while it waits for the write.
    fn complete_task<'a>(
        &'a self,
        id: TaskId,
        result: &'a serde_json::value::RawValue,
        now: Timestamp,
    ) -> StoreFuture<'a, ()>;
    /// Dispatched -> faulted. [`Conflict`](crate::StoreError::Conflict) otherwise.
    fn fail_task<'a>(
        &'a self,
        id: TaskId,
        fault: &'a TaskFault,
        now: Timestamp,
    ) -> StoreFuture<'a, ()>;
    /// Any state but done -> cancelled (cancelling a cancelled task is a no-op).
    /// [`Conflict`](crate::StoreError::Conflict) if done.
    fn cancel_task(&self, id: TaskId, now: Timestamp) -> StoreFuture<'_, ()>;
    /// Faulted, expired or cancelled -> pending with a new expiry; attempts are kept, result
    /// and fault cleared. [`Conflict`](crate::StoreError::Conflict) from other states.
    fn retry_task(
        &self,
        id: TaskId,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> StoreFuture<'_, ()>;
    /// Marks every pending task whose expiry is at or before `now` expired, on every device.
    /// Returns how many.
    fn expire_tasks(&self, now: Timestamp) -> StoreFuture<'_, u64>;
    /// Recovers dispatched tasks in `scope` whose session can no longer report back, following
    /// `policy`: safe kinds back to pending, the rest faulted as interrupted.
    fn recover_interrupted<'a>(
        &'a self,
        scope: &'a RecoveryScope,
        policy: &'a RecoveryPolicy,
        now: Timestamp,
    ) -> StoreFuture<'a, RecoveryOutcome>;

    // ----- faults -----

    fn record_fault<'a>(&'a self, fault: &'a NewFault) -> StoreFuture<'a, FaultId>;
    fn fault(&self, id: FaultId) -> StoreFuture<'_, Option<Fault>>;
    /// Faults matching `filter`, newest first, one page of them, with the total.
    fn list_faults<'a>(
        &'a self,
        filter: &'a FaultFilter,
        page: Page,
    ) -> StoreFuture<'a, Paged<Fault>>;
    fn clear_fault(&self, id: FaultId) -> StoreFuture<'_, ()>;
    /// Clears every fault of the device; returns how many.
    fn clear_device_faults<'a>(&'a self, device_id: &'a str) -> StoreFuture<'a, u64>;

    // ----- cloud connection -----

    /// Adds a serial number to `owner`'s cloud inventory.
    /// [`Conflict`](crate::StoreError::Conflict) if the serial is bound to any account.
    fn add_cloud_device<'a>(
        &'a self,
        device: &'a NewCloudDevice,
        now: Timestamp,
    ) -> StoreFuture<'a, CloudDevice>;
    fn cloud_device<'a>(&'a self, serial: &'a str) -> StoreFuture<'a, Option<CloudDevice>>;
    /// Cloud devices by serial, only `owner`'s if given, one page of them, with the total.
    fn list_cloud_devices(
        &self,
        owner: Option<AccountId>,
        page: Page,
    ) -> StoreFuture<'_, Paged<CloudDevice>>;
    /// Removes the serial from the inventory with its configuration history.
    fn delete_cloud_device<'a>(&'a self, serial: &'a str) -> StoreFuture<'a, ()>;
    /// The tunnel of `serial` came up: online, connected now, keepalive now.
    fn cloud_tunnel_up<'a>(
        &'a self,
        serial: &'a str,
        tunnel: &'a TunnelUp,
        now: Timestamp,
    ) -> StoreFuture<'a, ()>;
    /// A keepalive arrived on tunnel `tunnel_id` (ignored if that tunnel is no longer current).
    fn cloud_keepalive<'a>(
        &'a self,
        serial: &'a str,
        tunnel_id: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, ()>;
    /// Tunnel `tunnel_id` went down; the device goes offline unless a newer tunnel replaced it.
    /// Returns whether the row changed.
    fn cloud_tunnel_down<'a>(
        &'a self,
        serial: &'a str,
        tunnel_id: &'a str,
        now: Timestamp,
    ) -> StoreFuture<'a, bool>;
    /// Marks every device shown online on `node_id` offline (that node restarted). Returns how
    /// many.
    fn cloud_reset_node<'a>(&'a self, node_id: &'a str, now: Timestamp) -> StoreFuture<'a, u64>;
    /// Keeps `sample` as the device's latest telemetry.
    fn set_cloud_telemetry<'a>(
        &'a self,
        serial: &'a str,
        sample: &'a serde_json::Value,
        at: Timestamp,
    ) -> StoreFuture<'a, ()>;
    /// Records an unbinding code unless a limit is reached, voiding the same account's earlier
    /// outstanding code for the serial, in one transaction.
    fn issue_unbind_code<'a>(
        &'a self,
        code: &'a NewUnbindCode,
        limits: UnbindIssueLimits,
    ) -> StoreFuture<'a, UnbindIssue>;
    /// Judges a code submitted by `serial` against its outstanding codes and, if `judge`
    /// accepts one, moves the binding to that code's account, voids the other codes and
    /// records the change, all in one transaction.
    fn redeem_unbind_code<'a>(
        &'a self,
        serial: &'a str,
        judge: UnbindJudge<'a>,
        now: Timestamp,
    ) -> StoreFuture<'a, UnbindRedeem>;
    /// Binding moves of `serial`, oldest first.
    fn binding_changes<'a>(&'a self, serial: &'a str) -> StoreFuture<'a, Vec<BindingChange>>;
    /// Records a configuration push (the device's current owner is kept with it).
    fn record_config_change<'a>(&'a self, change: &'a NewConfigChange) -> StoreFuture<'a, i64>;
    /// Configuration pushes made on `serial` under its current owner, newest first.
    fn list_config_changes<'a>(
        &'a self,
        serial: &'a str,
        page: Page,
    ) -> StoreFuture<'a, Paged<ConfigChange>>;
}

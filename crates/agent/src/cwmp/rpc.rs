//! The CPE RPC executor: every method the ACS may call, run against the agent's data model
//! and the driver's durable state.
//!
//! Owns [`execute`] and the conversions between the protocol crate's types and the data
//! model's, plus the single mapping of [`DataModelError`] to a CWMP [`Fault`] (the codes
//! themselves come from `DataModelError::cwmp_fault_code`).
//!
//! Behaviour per method:
//!
//! * GetRPCMethods: [`SUPPORTED_METHODS`].
//! * Get/SetParameterValues, GetParameterNames, Get/SetParameterAttributes, AddObject,
//!   DeleteObject: the data model's RPC semantics (RPC-01..12): SPV is atomic with one fault per
//!   offending parameter under 9003, ParameterKey only on success. The model is saved after
//!   every successful change (the driver does it when the RPC returns).
//! * Reboot: answered at once; the driver finishes the session, records `M Reboot` with the
//!   CommandKey, then runs `reboot_command`, or, without one, restarts its sessions in-process
//!   (a *soft reboot*: `1 BOOT` + `M Reboot` next) (RPC-14).
//! * FactoryReset: answered at once; after the session the driver resets the data model and the
//!   running configuration (keeping the ACS connection settings, so the device can find its
//!   ACS again: the "factory ACS URL" of RPC-15) and the next Inform carries `0 BOOTSTRAP` +
//!   `1 BOOT`.
//! * ScheduleInform: a one-shot `3 SCHEDULED` + `M ScheduleInform` after DelaySeconds;
//!   DelaySeconds 0 ⇒ 9003 (RPC-23).
//! * Download, ScheduleDownload, Upload: checked here (scheme ⇒ 9013, credentials in the URL or
//!   a bad window list ⇒ 9003, no `download_hook` configured ⇒ 9001, queue full ⇒ 9004) and
//!   queued; always `Status 1`, the result follows as TransferComplete (RPC-17, see
//!   `transfer.rs`). Upload FileTypes: `1 Vendor Configuration File` (and `3 ...`) = the running
//!   configuration, `2 Vendor Log File` (and `4 ...`) = the driver's log; others ⇒ 9001.
//! * GetQueuedTransfers / GetAllQueuedTransfers: the queue (state 1 waiting, 2 running).
//! * CancelTransfer: removes a waiting transfer (no TransferComplete follows); a running one ⇒
//!   9021; an unknown CommandKey ⇒ 9003.
//! * ChangeDUState, SetVouchers, GetOptions: 9000 (not supported, not listed).
//!
//! Must not touch: sockets, the session machine.

use tether_cwmp::fault::{Fault, FaultCode, SetParameterValuesFault};
use tether_cwmp::rpc::{
    AddObjectResponse, AllQueuedTransfer, Body, DeleteObjectResponse,
    GetAllQueuedTransfersResponse, GetParameterAttributesResponse, GetParameterNamesResponse,
    GetParameterValuesResponse, GetQueuedTransfersResponse, GetRpcMethodsResponse,
    ParameterAttribute, ParameterInfo, QueuedTransfer, SetParameterValuesResponse,
    TransferResponse,
};
use tether_cwmp::{ParameterValue, Value, ValueType};
use tether_datamodel::{DataModelError, RenderOptions, SetParameterAttribute, SetParameterValue};

use super::http::{HttpError, Target};
use super::state::{
    CwmpState, MAX_SCHEDULED, MAX_TRANSFERS, ScheduledInform, TransferJob, TransferKind,
};
use super::transfer::{split_checksum, upload_source};
use crate::context::AgentContext;

/// The methods GetRPCMethods lists.
pub const SUPPORTED_METHODS: &[&str] = &[
    "GetRPCMethods",
    "SetParameterValues",
    "GetParameterValues",
    "GetParameterNames",
    "SetParameterAttributes",
    "GetParameterAttributes",
    "AddObject",
    "DeleteObject",
    "Reboot",
    "Download",
    "Upload",
    "FactoryReset",
    "ScheduleInform",
    "GetQueuedTransfers",
    "GetAllQueuedTransfers",
    "ScheduleDownload",
    "CancelTransfer",
];

/// What an RPC asks the driver to do once it returns or once the session ends.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Effects {
    /// Reboot with this CommandKey after the session.
    pub reboot: Option<String>,
    /// Factory reset after the session.
    pub factory_reset: bool,
    /// The data model changed: save it.
    pub model_changed: bool,
    /// Parameters the ACS set (their new values are not value changes, RPC-08).
    pub set_by_acs: Vec<String>,
    /// The durable state changed: save it.
    pub state_changed: bool,
}

/// The data model's value as a protocol value.
pub fn to_wire(value: &tether_datamodel::Value) -> Value {
    Value::typed(
        ValueType::from_xsd_name(value.primitive().xsd_name()),
        value.render(&RenderOptions::default()),
    )
}

/// The one mapping of data-model errors to CWMP faults.
pub fn fault_of(error: &DataModelError) -> Fault {
    let code = FaultCode(error.cwmp_fault_code());
    let per_parameter: Vec<SetParameterValuesFault> = error
        .parameter_faults()
        .iter()
        .map(|f| SetParameterValuesFault {
            parameter_name: f.name.clone(),
            code: FaultCode(f.cwmp_fault_code()),
            string: truncate(&f.error.to_string()),
        })
        .collect();
    if per_parameter.is_empty() {
        Fault::with_message(code, truncate(&error.to_string()))
    } else {
        Fault::set_parameter_values(per_parameter)
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(256).collect()
}

fn invalid(message: &str) -> Fault {
    Fault::with_message(FaultCode::INVALID_ARGUMENTS, message)
}

/// Runs one ACS request at `now_unix` (see the module docs).
pub fn execute(
    ctx: &AgentContext,
    state: &mut CwmpState,
    now_unix: i64,
    effects: &mut Effects,
    body: Body,
) -> Result<Body, Fault> {
    match body {
        Body::GetRPCMethods => Ok(Body::GetRPCMethodsResponse(GetRpcMethodsResponse {
            method_list: SUPPORTED_METHODS.iter().map(|m| (*m).to_owned()).collect(),
        })),
        Body::GetParameterValues(req) => {
            let names: Vec<&str> = req.parameter_names.iter().map(String::as_str).collect();
            let values = ctx
                .model()
                .get_parameter_values(&names)
                .map_err(|e| fault_of(&e))?;
            Ok(Body::GetParameterValuesResponse(
                GetParameterValuesResponse {
                    parameter_list: values
                        .iter()
                        .map(|p| ParameterValue::new(p.name.clone(), to_wire(&p.value)))
                        .collect(),
                },
            ))
        }
        Body::SetParameterValues(req) => {
            let params: Vec<SetParameterValue> = req
                .parameter_list
                .iter()
                .map(|p| SetParameterValue {
                    name: p.name.clone(),
                    xsi_type: Some(format!("xsd:{}", p.value.kind.xsd_name())),
                    value: p.value.text.clone(),
                })
                .collect();
            ctx.model()
                .set_parameter_values(&params, &req.parameter_key)
                .map_err(|e| fault_of(&e))?;
            effects.model_changed = true;
            effects
                .set_by_acs
                .extend(req.parameter_list.iter().map(|p| p.name.clone()));
            Ok(Body::SetParameterValuesResponse(
                SetParameterValuesResponse { status: 0 },
            ))
        }
        Body::GetParameterNames(req) => {
            let infos = ctx
                .model()
                .get_parameter_names(&req.parameter_path, req.next_level)
                .map_err(|e| fault_of(&e))?;
            Ok(Body::GetParameterNamesResponse(GetParameterNamesResponse {
                parameter_list: infos
                    .into_iter()
                    .map(|i| ParameterInfo {
                        name: i.name,
                        writable: i.writable,
                    })
                    .collect(),
            }))
        }
        Body::GetParameterAttributes(req) => {
            let names: Vec<&str> = req.parameter_names.iter().map(String::as_str).collect();
            let attrs = ctx
                .model()
                .get_parameter_attributes(&names)
                .map_err(|e| fault_of(&e))?;
            Ok(Body::GetParameterAttributesResponse(
                GetParameterAttributesResponse {
                    parameter_list: attrs
                        .into_iter()
                        .map(|a| ParameterAttribute {
                            name: a.name,
                            notification: i32::from(a.notification),
                            access_list: a.access_list,
                        })
                        .collect(),
                },
            ))
        }
        Body::SetParameterAttributes(req) => {
            let mut items = Vec::with_capacity(req.parameter_list.len());
            for p in req.parameter_list {
                let notification = u8::try_from(p.notification)
                    .ok()
                    .filter(|n| *n <= 6 || !p.notification_change)
                    .ok_or_else(|| invalid("Notification must be 0 to 6"))?;
                items.push(SetParameterAttribute {
                    name: p.name,
                    notification_change: p.notification_change,
                    notification,
                    access_list_change: p.access_list_change,
                    access_list: p.access_list,
                });
            }
            ctx.model()
                .set_parameter_attributes(&items)
                .map_err(|e| fault_of(&e))?;
            effects.model_changed = true;
            Ok(Body::SetParameterAttributesResponse)
        }
        Body::AddObject(req) => {
            let n = ctx
                .model()
                .add_object(&req.object_name, &req.parameter_key)
                .map_err(|e| fault_of(&e))?;
            effects.model_changed = true;
            Ok(Body::AddObjectResponse(AddObjectResponse {
                instance_number: n,
                status: 0,
            }))
        }
        Body::DeleteObject(req) => {
            ctx.model()
                .delete_object(&req.object_name, &req.parameter_key)
                .map_err(|e| fault_of(&e))?;
            effects.model_changed = true;
            Ok(Body::DeleteObjectResponse(DeleteObjectResponse {
                status: 0,
            }))
        }
        Body::Reboot(req) => {
            check_key(&req.command_key)?;
            effects.reboot = Some(req.command_key);
            Ok(Body::RebootResponse)
        }
        Body::FactoryReset => {
            effects.factory_reset = true;
            Ok(Body::FactoryResetResponse)
        }
        Body::ScheduleInform(req) => {
            check_key(&req.command_key)?;
            if req.delay_seconds == 0 {
                return Err(invalid("DelaySeconds must be greater than 0"));
            }
            if state.scheduled.len() >= MAX_SCHEDULED {
                return Err(Fault::new(FaultCode::RESOURCES_EXCEEDED));
            }
            state.scheduled.push(ScheduledInform {
                at_unix: now_unix + i64::from(req.delay_seconds),
                command_key: req.command_key,
            });
            effects.state_changed = true;
            Ok(Body::ScheduleInformResponse)
        }
        Body::Download(req) => {
            let job = TransferJob {
                kind: TransferKind::Download,
                command_key: req.command_key,
                file_type: req.file_type,
                url: req.url,
                username: req.username,
                password: req.password,
                file_size: req.file_size,
                target_file_name: req.target_file_name,
                start_at_unix: now_unix + i64::from(req.delay_seconds),
                deadline_unix: None,
                in_progress: false,
            };
            queue_transfer(ctx, state, effects, job)?;
            Ok(Body::DownloadResponse(TransferResponse::default()))
        }
        Body::ScheduleDownload(req) => {
            let windows = &req.time_window_list;
            let ordered = windows.iter().all(|w| w.window_start < w.window_end)
                && windows
                    .windows(2)
                    .all(|p| p[0].window_end <= p[1].window_start);
            if windows.is_empty() || windows.len() > 2 || !ordered {
                return Err(invalid(
                    "TimeWindowList must hold one or two ordered windows",
                ));
            }
            let job = TransferJob {
                kind: TransferKind::ScheduleDownload,
                command_key: req.command_key,
                file_type: req.file_type,
                url: req.url,
                username: req.username,
                password: req.password,
                file_size: req.file_size,
                target_file_name: req.target_file_name,
                start_at_unix: now_unix + i64::from(windows[0].window_start),
                deadline_unix: windows.last().map(|w| now_unix + i64::from(w.window_end)),
                in_progress: false,
            };
            queue_transfer(ctx, state, effects, job)?;
            Ok(Body::ScheduleDownloadResponse)
        }
        Body::Upload(req) => {
            let job = TransferJob {
                kind: TransferKind::Upload,
                command_key: req.command_key,
                file_type: req.file_type,
                url: req.url,
                username: req.username,
                password: req.password,
                file_size: 0,
                target_file_name: String::new(),
                start_at_unix: now_unix + i64::from(req.delay_seconds),
                deadline_unix: None,
                in_progress: false,
            };
            queue_transfer(ctx, state, effects, job)?;
            Ok(Body::UploadResponse(TransferResponse::default()))
        }
        Body::GetQueuedTransfers => Ok(Body::GetQueuedTransfersResponse(
            GetQueuedTransfersResponse {
                transfer_list: state
                    .transfers
                    .iter()
                    .map(|t| QueuedTransfer {
                        command_key: t.command_key.clone(),
                        state: if t.in_progress { 2 } else { 1 },
                    })
                    .collect(),
            },
        )),
        Body::GetAllQueuedTransfers => Ok(Body::GetAllQueuedTransfersResponse(
            GetAllQueuedTransfersResponse {
                transfer_list: state
                    .transfers
                    .iter()
                    .map(|t| AllQueuedTransfer {
                        command_key: t.command_key.clone(),
                        state: if t.in_progress { 2 } else { 1 },
                        is_download: t.kind.is_download(),
                        file_type: t.file_type.clone(),
                        file_size: t.file_size,
                        target_file_name: t.target_file_name.clone(),
                    })
                    .collect(),
            },
        )),
        Body::CancelTransfer(req) => {
            let Some(pos) = state
                .transfers
                .iter()
                .position(|t| t.command_key == req.command_key)
            else {
                return Err(invalid("no transfer with this CommandKey"));
            };
            if state.transfers[pos].in_progress {
                return Err(Fault::new(FaultCode::CANCEL_NOT_PERMITTED));
            }
            state.transfers.remove(pos);
            effects.state_changed = true;
            Ok(Body::CancelTransferResponse)
        }
        _ => Err(Fault::new(FaultCode::METHOD_NOT_SUPPORTED)),
    }
}

fn check_key(key: &str) -> Result<(), Fault> {
    if key.chars().count() > 32 {
        return Err(invalid("CommandKey longer than 32 characters"));
    }
    Ok(())
}

fn queue_transfer(
    ctx: &AgentContext,
    state: &mut CwmpState,
    effects: &mut Effects,
    job: TransferJob,
) -> Result<(), Fault> {
    check_key(&job.command_key)?;
    let (url, _) = split_checksum(&job.url);
    match Target::parse(url) {
        Ok(_) => {}
        Err(HttpError::UnsupportedScheme) => {
            return Err(Fault::new(FaultCode::UNSUPPORTED_TRANSFER_PROTOCOL));
        }
        Err(HttpError::UserInfo) => return Err(invalid("credentials belong in Username/Password")),
        Err(_) => return Err(invalid("URL is not a valid http(s) URL")),
    }
    match job.kind {
        TransferKind::Upload => {
            if upload_source(&job.file_type).is_none() {
                return Err(Fault::with_message(
                    FaultCode::REQUEST_DENIED,
                    "unsupported upload FileType",
                ));
            }
        }
        _ => {
            if ctx.config().download_hook.is_none() {
                return Err(Fault::with_message(
                    FaultCode::REQUEST_DENIED,
                    "no download hook configured: downloaded files cannot be applied",
                ));
            }
            if u64::from(job.file_size) > super::transfer::MAX_DOWNLOAD_BYTES {
                return Err(Fault::new(FaultCode::RESOURCES_EXCEEDED));
            }
        }
    }
    if state.transfers.len() >= MAX_TRANSFERS {
        return Err(Fault::new(FaultCode::RESOURCES_EXCEEDED));
    }
    state.transfers.push(job);
    effects.state_changed = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_parameter_faults_map_under_9003() {
        let err = DataModelError::SetParameterValues(vec![tether_datamodel::ParameterFault {
            name: "Device.X".into(),
            error: DataModelError::InvalidName("Device.X".into()),
        }]);
        let f = fault_of(&err);
        assert_eq!(f.code, FaultCode::INVALID_ARGUMENTS);
        assert_eq!(f.set_parameter_values_faults[0].code, FaultCode(9005));
        assert_eq!(
            fault_of(&DataModelError::NotWritable("x".into())).code,
            FaultCode(9008)
        );
    }

    #[test]
    fn values_keep_their_type_on_the_wire() {
        let v = to_wire(&tether_datamodel::Value::UnsignedInt(7));
        assert_eq!((v.kind, v.text.as_str()), (ValueType::UnsignedInt, "7"));
        let v = to_wire(&tether_datamodel::Value::Boolean(true));
        assert_eq!(v.text, "true");
    }
}

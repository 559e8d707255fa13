//! What a finished task's result is stored as, and returned by the API as: JSON text, built
//! straight from the CPE's response.
//!
//! Never built as a tree of `serde_json` values first: a GetParameterValues of a whole data
//! model is about 0.1 MiB of text but was about 0.6 MiB as a tree of maps (heaptrack,
//! BENCHMARKS.md "Fourth round"), held while the session waited for the store. The shapes:
//! `{"parameters": [{"name", "writable"}]}` (GetParameterNames), `{"values": [{"name",
//! "value", "type"}]}` (GetParameterValues), `{"attributes": [{"name", "notification",
//! "access_list"}]}` (GetParameterAttributes); smaller results are written with `json!`.

use serde::Serialize;
use serde_json::value::RawValue;
use tether_cwmp::rpc::{
    GetParameterAttributesResponse, GetParameterNamesResponse, GetParameterValuesResponse,
};
use tether_store::StoreError;

/// `result` as JSON text.
pub fn text(result: &impl Serialize) -> Result<Box<RawValue>, StoreError> {
    serde_json::value::to_raw_value(result)
        .map_err(|e| StoreError::Invalid(format!("a task result is not JSON: {e}")))
}

/// The result of a GetParameterNames task.
pub fn names(r: &GetParameterNamesResponse) -> Result<Box<RawValue>, StoreError> {
    #[derive(Serialize)]
    struct Name<'a> {
        name: &'a str,
        writable: bool,
    }
    #[derive(Serialize)]
    struct Names<'a> {
        parameters: Vec<Name<'a>>,
    }
    let parameters = r
        .parameter_list
        .iter()
        .map(|p| Name {
            name: &p.name,
            writable: p.writable,
        })
        .collect();
    text(&Names { parameters })
}

/// The result of a GetParameterValues task.
pub fn values(r: &GetParameterValuesResponse) -> Result<Box<RawValue>, StoreError> {
    #[derive(Serialize)]
    struct Value<'a> {
        name: &'a str,
        value: &'a str,
        #[serde(rename = "type")]
        kind: String,
    }
    #[derive(Serialize)]
    struct Values<'a> {
        values: Vec<Value<'a>>,
    }
    let values = r
        .parameter_list
        .iter()
        .map(|p| Value {
            name: &p.name,
            value: &p.value.text,
            kind: p.value.kind.xsi_type(),
        })
        .collect();
    text(&Values { values })
}

/// The result of a GetParameterAttributes task.
pub fn attributes(r: &GetParameterAttributesResponse) -> Result<Box<RawValue>, StoreError> {
    #[derive(Serialize)]
    struct Attribute<'a> {
        name: &'a str,
        notification: i32,
        access_list: &'a [String],
    }
    #[derive(Serialize)]
    struct Attributes<'a> {
        attributes: Vec<Attribute<'a>>,
    }
    let attributes = r
        .parameter_list
        .iter()
        .map(|p| Attribute {
            name: &p.name,
            notification: p.notification,
            access_list: &p.access_list,
        })
        .collect();
    text(&Attributes { attributes })
}

#[cfg(test)]
mod tests {
    use tether_cwmp::rpc::ParameterInfo;
    use tether_cwmp::{ParameterValue, Value};

    use super::*;

    #[test]
    fn values_are_stored_in_the_shape_the_api_documents() {
        let r = GetParameterValuesResponse {
            parameter_list: vec![ParameterValue {
                name: "Device.A".into(),
                value: Value::string("x"),
            }],
        };
        let stored: serde_json::Value = serde_json::from_str(values(&r).unwrap().get()).unwrap();
        assert_eq!(
            stored,
            serde_json::json!({"values": [{"name": "Device.A", "value": "x", "type": "xsd:string"}]})
        );
    }

    #[test]
    fn names_are_stored_in_the_shape_the_api_documents() {
        let r = GetParameterNamesResponse {
            parameter_list: vec![ParameterInfo {
                name: "Device.A".into(),
                writable: true,
            }],
        };
        let stored: serde_json::Value = serde_json::from_str(names(&r).unwrap().get()).unwrap();
        assert_eq!(
            stored,
            serde_json::json!({"parameters": [{"name": "Device.A", "writable": true}]})
        );
    }
}

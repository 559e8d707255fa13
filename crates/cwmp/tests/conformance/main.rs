//! The conformance suite of `tether-cwmp`: one integration-test binary (link time matters on
//! small machines), one module per concern. Rule IDs refer to the project's TR-069 requirements.

mod corpus;
mod differential;
mod never_panics;
mod roundtrip;
mod rules;
mod samples;
mod schema;
mod strategies;
mod support;

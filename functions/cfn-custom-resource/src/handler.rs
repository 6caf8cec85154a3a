//! What a custom resource implements: create, update (old and new properties), delete — on typed properties.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The request as a handler sees it: who is asking, for which resource.
#[derive(Clone, Debug)]
pub struct Request {
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// Present on Update and Delete.
    pub physical_resource_id: Option<String>,
    /// When the watchdog stops the handler. A handler that waits on something (a build, a status) should
    /// give up cleanly before this, undoing what it started, rather than be cut off.
    pub work_deadline: tokio::time::Instant,
}

impl Request {
    /// A short stable token for this stack + logical resource: handlers name what they create with it, so two
    /// stacks (or two resources of one stack) never overwrite each other's things.
    pub fn owner_scope(&self) -> String {
        let digest = Sha256::digest(format!("{}|{}", self.stack_id, self.logical_resource_id));
        hex::encode(&digest[..5])
    }

    /// The stack name, from `arn:…:stack/<name>/<uuid>`.
    pub fn stack_name(&self) -> &str {
        self.stack_id.split('/').nth(1).unwrap_or(&self.stack_id)
    }
}

/// What a handler returns on success.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    /// Attributes for `!GetAtt`.
    pub data: Map<String, Value>,
    /// Mask `data` in CloudFormation's output (and keep it out of our logs).
    pub no_echo: bool,
    /// On Update only: answer with a new PhysicalResourceId, so CloudFormation deletes the old resource.
    pub replace: bool,
}

impl Outcome {
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_owned(), value.into());
        self
    }

    pub fn replacing(mut self) -> Self {
        self.replace = true;
        self
    }
}

/// A custom resource's behaviour. The runtime owns the protocol (ids, response, deadline); a handler only
/// does the work and says how it went. Delete must be idempotent: it can arrive twice, or for things gone.
pub trait CustomResource: Send + Sync + 'static {
    type Properties: DeserializeOwned + Send + Sync + 'static;
    type Error: std::error::Error + Send + Sync + 'static;

    fn create(
        &self,
        request: &Request,
        properties: &Self::Properties,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;

    fn update(
        &self,
        request: &Request,
        old: &Self::Properties,
        new: &Self::Properties,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;

    fn delete(
        &self,
        request: &Request,
        properties: &Self::Properties,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;
}

/// An error and its causes on one line, for a Reason.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

//! What a custom resource implements: create, update (old and new properties), delete — on typed properties.

use std::future::Future;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The request as a handler sees it: who is asking, for which resource.
///
/// Plain data, so a handler can be unit-tested without Lambda:
///
/// ```
/// use cloudformation_custom_resource::Request;
/// use std::time::Duration;
///
/// let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
/// let request = Request::new("arn:aws:cloudformation:us-east-1:123456789012:stack/demo/1111", "req-1", "Greeting", deadline)
///     .with_physical_resource_id("greeting-1");
/// assert_eq!(request.stack_name(), "demo");
/// assert_eq!(request.physical_resource_id.as_deref(), Some("greeting-1"));
/// ```
///
/// Non-exhaustive: the runtime may tell handlers more in a later version; build one with [`Request::new`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Request {
    /// The stack's ARN, `arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>`.
    pub stack_id: String,
    /// CloudFormation's id for this request (the same when it retries it).
    pub request_id: String,
    /// The resource's logical id in the template.
    pub logical_resource_id: String,
    /// Present on Update and Delete.
    pub physical_resource_id: Option<String>,
    /// When the watchdog stops the handler. A handler that waits on something (a build, a status) should
    /// give up cleanly before this, undoing what it started, rather than be cut off.
    pub work_deadline: tokio::time::Instant,
}

impl Request {
    /// A Create request (no physical id yet); the handler is stopped at `work_deadline`.
    pub fn new(
        stack_id: impl Into<String>,
        request_id: impl Into<String>,
        logical_resource_id: impl Into<String>,
        work_deadline: tokio::time::Instant,
    ) -> Self {
        Self {
            stack_id: stack_id.into(),
            request_id: request_id.into(),
            logical_resource_id: logical_resource_id.into(),
            physical_resource_id: None,
            work_deadline,
        }
    }

    /// The same request for an existing resource (Update, Delete).
    pub fn with_physical_resource_id(mut self, id: impl Into<String>) -> Self {
        self.physical_resource_id = Some(id.into());
        self
    }

    /// A short stable token for this stack + logical resource: handlers name what they create with it, so two
    /// stacks (or two resources of one stack) never overwrite each other's things.
    ///
    /// ```
    /// # let request = cloudformation_custom_resource::Request::new("arn:aws:cloudformation:us-east-1:1:stack/s/1",
    /// #     "r", "Bucket", tokio::time::Instant::now());
    /// let scope = request.owner_scope();
    /// assert_eq!(scope.len(), 10);
    /// assert_eq!(scope, request.clone().owner_scope());
    /// ```
    pub fn owner_scope(&self) -> String {
        let digest = Sha256::digest(format!("{}|{}", self.stack_id, self.logical_resource_id));
        hex::encode(&digest[..5])
    }

    /// The stack name, from `arn:…:stack/<name>/<uuid>`.
    pub fn stack_name(&self) -> &str {
        self.stack_id.split('/').nth(1).unwrap_or(&self.stack_id)
    }
}

/// What a handler returns on success: `Data` for `!GetAtt`, and whether to replace the resource.
///
/// ```
/// use cloudformation_custom_resource::Outcome;
///
/// let outcome = Outcome::default().with("Url", "https://example.com").with("Count", 5);
/// assert_eq!(outcome.data["Count"], 5);
/// assert!(!outcome.replace && outcome.replacing().replace);
/// ```
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
    /// Adds the attribute `key` to `data`.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.data.insert(key.to_owned(), value.into());
        self
    }

    /// Asks for a new PhysicalResourceId (on Update only), so CloudFormation deletes the old resource.
    pub fn replacing(mut self) -> Self {
        self.replace = true;
        self
    }
}

/// A custom resource's behaviour. The runtime owns the protocol (ids, response, deadline); a handler only
/// does the work and says how it went. Delete must be idempotent: it can arrive twice, or for things gone.
///
/// An `Err` is answered FAILED with the error and its sources as the Reason; a panic or the watchdog
/// likewise. The README has a complete example.
///
/// ```
/// use cloudformation_custom_resource::{CustomResource, Outcome, Request};
///
/// struct Noop;
///
/// impl CustomResource for Noop {
///     type Properties = serde_json::Map<String, serde_json::Value>;
///     type Error = std::io::Error;
///
///     async fn create(&self, _: &Request, _: &Self::Properties) -> Result<Outcome, Self::Error> {
///         Ok(Outcome::default())
///     }
///     async fn update(&self, _: &Request, _: &Self::Properties, _: &Self::Properties) -> Result<Outcome, Self::Error> {
///         Ok(Outcome::default())
///     }
///     async fn delete(&self, _: &Request, _: &Self::Properties) -> Result<Outcome, Self::Error> {
///         Ok(Outcome::default())
///     }
/// }
/// ```
pub trait CustomResource: Send + Sync + 'static {
    /// The resource's properties (`ResourceProperties` without `ServiceToken`/`ServiceTimeout`), read with
    /// [`properties::parse`](crate::properties::parse): errors name the field.
    type Properties: DeserializeOwned + Send + Sync + 'static;
    /// What a failure is; its `Display` and sources become the FAILED response's Reason.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Create the resource. A failed Create is answered with a sentinel id, whose Delete never reaches
    /// the handler.
    fn create(
        &self,
        request: &Request,
        properties: &Self::Properties,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;

    /// Update from `old` to `new` properties; [`Outcome::replacing`] asks for replacement.
    fn update(
        &self,
        request: &Request,
        old: &Self::Properties,
        new: &Self::Properties,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;

    /// Delete the resource; only called for ids this function issued for this stack and logical id.
    fn delete(
        &self,
        request: &Request,
        properties: &Self::Properties,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;
}

/// An error and its causes on one line, for a Reason.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
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

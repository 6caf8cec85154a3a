//! `Custom::ExecutionRolePolicies`: gives listed SageMaker execution roles what S3 project templates need.
//!
//! Properties: `ExecutionRoles` (role ARNs or names, paths allowed), `LaunchRoleArn`, `TemplateBucket`,
//! `TemplatePrefix`, `TemplateBucketKmsKeyArn` and `ProjectIsolation` (optional). Policies are named for this
//! stack + logical resource; Update removes them
//! from roles that left the list; Delete removes exactly what this resource put.
//!
//! Bounded by the stack (see [`super::bounds`]): the request must come from the stack that deployed the
//! function, and the launch role, bucket, key and every role granted must be the ones it configured
//! (`LAUNCH_ROLE_ARN`, `TEMPLATE_BUCKET`, `TEMPLATE_KMS_KEY_ARN`, `EXECUTION_ROLES`); a role out of reach
//! ([`policies::check_reachable`]) is refused even then.

use std::collections::BTreeSet;

use cloudformation_custom_resource::{CustomResource, Outcome, Request};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;

use super::bounds::{Bounds, BoundsError};
use crate::names::{self, NameError, RoleArn};
use crate::policies::{self, Isolation, PolicyError, PolicySet};

/// The environment variables that bound this resource's properties (set by infra/bootstrap.yaml).
pub const BOUNDS: &[&str] = &[
    "LAUNCH_ROLE_ARN",
    "TEMPLATE_BUCKET",
    "TEMPLATE_KMS_KEY_ARN",
    "EXECUTION_ROLES",
    "PROJECT_ISOLATION",
];

/// IAM allows few writes per second per account: a handful of roles at a time is plenty.
const CONCURRENCY: usize = 4;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Properties {
    #[serde(deserialize_with = "cloudformation_custom_resource::properties::list_from_string")]
    pub execution_roles: Vec<String>,
    pub launch_role_arn: String,
    pub template_bucket: String,
    #[serde(default)]
    pub template_prefix: String,
    /// The template bucket's SSE-KMS key, when it has one: the roles may then decrypt the templates.
    #[serde(default)]
    pub template_bucket_kms_key_arn: String,
    /// `Account` (the default) or `Domain`: under `Domain` the roles may create project stacks from the
    /// templates but update or delete none (the onboarder grants that per domain).
    #[serde(default = "account")]
    pub project_isolation: String,
}

fn account() -> String {
    "Account".to_owned()
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("ExecutionRoles: expected at least one role ARN or name")]
    NoRoles,
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Bounds(#[from] BoundsError),
    #[error("{0}")]
    Isolation(String),
}

/// Validated properties: role names (deduplicated, in the launch role's account) and the rendered policies.
struct Plan {
    roles: BTreeSet<String>,
    set: PolicySet,
}

impl Properties {
    fn plan(&self, request: &Request, bounds: &Bounds) -> Result<Plan, Error> {
        let owner = request.owner_scope();
        bounds.stack(request)?;
        bounds.equal(
            "LaunchRoleArn",
            "launch role",
            "LAUNCH_ROLE_ARN",
            &self.launch_role_arn,
        )?;
        bounds.equal(
            "TemplateBucket",
            "template bucket",
            "TEMPLATE_BUCKET",
            &self.template_bucket,
        )?;
        bounds.equal(
            "TemplateBucketKmsKeyArn",
            "template bucket key",
            "TEMPLATE_KMS_KEY_ARN",
            &self.template_bucket_kms_key_arn,
        )?;
        let launch = RoleArn::parse("LaunchRoleArn", &self.launch_role_arn)?;
        // the launch role, and so every role granted, must be of the stack's own account
        let stack_account = request.stack_id.split(':').nth(4).filter(|a| !a.is_empty());
        if let Some(expected) = stack_account.filter(|a| *a != launch.account) {
            return Err(NameError::OtherAccount {
                field: "LaunchRoleArn",
                value: self.launch_role_arn.clone(),
                found: launch.account,
                expected: expected.to_owned(),
            }
            .into());
        }
        let bucket = names::bucket("TemplateBucket", &self.template_bucket)?;
        let prefix = names::prefix("TemplatePrefix", &self.template_prefix)?;
        let roles = self
            .execution_roles
            .iter()
            .map(|r| names::role_name("ExecutionRoles", r, &launch.account))
            .collect::<Result<BTreeSet<_>, _>>()?;
        if roles.is_empty() {
            return Err(Error::NoRoles);
        }
        bounds.subset(
            "ExecutionRoles",
            "ExistingExecutionRoles",
            "EXECUTION_ROLES",
            &self.execution_roles,
            |r| names::role_name("ExecutionRoles", r, &launch.account).ok(),
        )?;
        let key = match self.template_bucket_kms_key_arn.as_str() {
            "" => None,
            k => Some(names::kms_key_arn("TemplateBucketKmsKeyArn", k)?),
        };
        let isolation = Isolation::parse("ProjectIsolation", &self.project_isolation)
            .map_err(Error::Isolation)?;
        bounds.equal(
            "ProjectIsolation",
            "project isolation",
            "PROJECT_ISOLATION",
            &self.project_isolation,
        )?;
        let region = request.stack_id.split(':').nth(3).unwrap_or_default();
        let scope = isolation.scope(region, None);
        let set = PolicySet::render(&launch, &bucket, &prefix, key.as_deref(), &owner, &scope)?;
        Ok(Plan { roles, set })
    }

    /// Role names for removal: whatever of the list still parses (a Delete must not fail on an old typo).
    fn role_names_lenient(&self) -> BTreeSet<String> {
        let account = RoleArn::parse("LaunchRoleArn", &self.launch_role_arn)
            .map(|a| a.account)
            .unwrap_or_default();
        self.execution_roles
            .iter()
            .filter_map(|r| names::role_name("ExecutionRoles", r, &account).ok())
            .collect()
    }
}

pub struct ExecutionRolePolicies {
    iam: aws_sdk_iam::Client,
    bounds: Bounds,
}

impl ExecutionRolePolicies {
    /// `bounds`: [`Bounds::from_env`] of [`BOUNDS`] in the function.
    pub fn new(iam: aws_sdk_iam::Client, bounds: Bounds) -> Self {
        Self { iam, bounds }
    }

    async fn grant_all(
        &self,
        roles: &BTreeSet<String>,
        set: &PolicySet,
    ) -> Result<(), PolicyError> {
        let iam = &self.iam;
        // owned names: a closure over `&String` trips the Send check of the handler's future
        stream::iter(roles.iter().cloned())
            .map(|role| async move { policies::grant(iam, &role, set).await })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await
    }

    async fn revoke_all(&self, roles: &BTreeSet<String>, owner: &str) -> Result<(), PolicyError> {
        let iam = &self.iam;
        stream::iter(roles.iter().cloned())
            .map(|role| async move { policies::revoke(iam, &role, owner).await })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await
    }

    fn outcome(plan: &Plan) -> Outcome {
        Outcome::default()
            .with(
                "Roles",
                plan.roles.iter().cloned().collect::<Vec<_>>().join(","),
            )
            .with(
                "PolicyNames",
                plan.set.names().collect::<Vec<_>>().join(","),
            )
    }
}

impl CustomResource for ExecutionRolePolicies {
    type Properties = Properties;
    type Error = Error;

    async fn create(&self, request: &Request, props: &Properties) -> Result<Outcome, Error> {
        let owner = request.owner_scope();
        let plan = props.plan(request, &self.bounds)?;
        if let Err(e) = self.grant_all(&plan.roles, &plan.set).await {
            // a failed Create is answered with a sentinel id whose Delete touches nothing: undo here
            if let Err(undo) = self.revoke_all(&plan.roles, &owner).await {
                tracing::warn!(error = %undo, "could not undo a partial create");
            }
            return Err(e.into());
        }
        Ok(Self::outcome(&plan))
    }

    async fn update(
        &self,
        request: &Request,
        old: &Properties,
        new: &Properties,
    ) -> Result<Outcome, Error> {
        let owner = request.owner_scope();
        let plan = new.plan(request, &self.bounds)?;
        self.grant_all(&plan.roles, &plan.set).await?;
        let left: BTreeSet<String> = old
            .role_names_lenient()
            .difference(&plan.roles)
            .cloned()
            .collect();
        self.revoke_all(&left, &owner).await?;
        Ok(Self::outcome(&plan))
    }

    async fn delete(&self, request: &Request, props: &Properties) -> Result<Outcome, Error> {
        // only the stack: a Delete removes what this owner (stack + logical id) wrote and nothing else
        self.bounds.stack(request)?;
        self.revoke_all(&props.role_names_lenient(), &request.owner_scope())
            .await?;
        Ok(Outcome::default())
    }
}

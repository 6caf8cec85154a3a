//! Onboarding: what a SageMaker domain or user profile needs to use the S3 project templates, and the steps
//! that get it there — idempotently, so duplicate events, replays and sweeps converge on one end state.
//!
//! For a domain: the execution-role policies and launch-access tag on its default user and space roles (the
//! same `policies` module as `Custom::ExecutionRolePolicies`); once `InService`, the
//! `sagemaker:projectS3TemplatesLocation` tag; then, when configured, one project.

pub mod config;
pub mod events;
pub mod handler;
pub mod projects;
pub mod sweep;

use std::collections::HashSet;
use std::sync::Mutex;

use aws_sdk_sagemaker::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemaker::types::{DomainStatus, Tag};
use serde::Serialize;

pub use config::Config;

use crate::policies::{self, PolicyError, PolicySet};

/// The domain tag Studio reads to find the S3 templates.
pub const LOCATION_TAG: &str = "sagemaker:projectS3TemplatesLocation";

#[derive(Debug, thiserror::Error)]
pub enum OnboardError {
    #[error("SageMaker {operation} for {target} failed: {code}: {message}")]
    SageMaker {
        operation: &'static str,
        target: String,
        code: String,
        message: String,
    },
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("domain {domain}: {message}")]
    Project { domain: String, message: String },
}

impl OnboardError {
    pub(crate) fn sagemaker<
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    >(
        operation: &'static str,
        target: &str,
        e: &SdkError<E, R>,
    ) -> Self {
        let (code, message) = crate::aws::error_parts(e);
        Self::SageMaker {
            operation,
            target: target.to_owned(),
            code,
            message,
        }
    }

    /// Worth a retry: throttling, 5xx, transport. Not: a validation error that would fail again.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::SageMaker { code, .. } => matches!(
                code.as_str(),
                "RequestFailed"
                    | "ThrottlingException"
                    | "Throttling"
                    | "InternalFailure"
                    | "ServiceUnavailable"
                    | "Unknown"
            ),
            Self::Policy(PolicyError::Iam { code, .. }) => {
                matches!(
                    code.as_str(),
                    "RequestFailed" | "Throttling" | "ServiceFailure" | "Unknown"
                )
            }
            _ => false,
        }
    }
}

pub(crate) fn is_not_found<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|c| {
            c == "ResourceNotFound" || c == "ValidationException" && se_message_says_missing(e)
        })
}

fn se_message_says_missing<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    let m = e
        .as_service_error()
        .and_then(|se| se.message())
        .unwrap_or("")
        .to_ascii_lowercase();
    m.contains("does not exist") || m.contains("not found")
}

/// Where a domain ended up after one pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "Outcome")]
pub enum DomainOutcome {
    /// Roles granted, domain tagged, project ensured (when configured).
    Onboarded {
        domain: String,
        roles: Vec<String>,
        project: Option<String>,
    },
    /// Roles granted; the domain is not `InService` yet: look again later.
    Waiting { domain: String, status: String },
    /// The domain will never be ready (Failed, Deleting…): nothing more to do.
    Abandoned { domain: String, status: String },
    /// The domain carries the opt-out tag.
    OptedOut { domain: String },
    /// The domain no longer exists.
    Gone { domain: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "Outcome")]
pub enum ProfileOutcome {
    Onboarded {
        domain: String,
        profile: String,
        role: Option<String>,
    },
    OptedOut {
        domain: String,
        profile: String,
    },
    Gone {
        domain: String,
        profile: String,
    },
}

pub struct Onboarder {
    pub(crate) sagemaker: aws_sdk_sagemaker::Client,
    pub(crate) iam: aws_sdk_iam::Client,
    pub(crate) config: Config,
    policy_set: PolicySet,
    /// Roles already granted in this process: a sweep over many domains sharing a role writes IAM once.
    granted: Mutex<HashSet<String>>,
}

impl Onboarder {
    pub fn new(
        sagemaker: aws_sdk_sagemaker::Client,
        iam: aws_sdk_iam::Client,
        config: Config,
    ) -> Result<Self, PolicyError> {
        let policy_set = PolicySet::render(
            &config.launch_role,
            &config.location.bucket,
            &config.location.prefix,
            &config.policy_owner,
        )?;
        Ok(Self {
            sagemaker,
            iam,
            config,
            policy_set,
            granted: Mutex::new(HashSet::new()),
        })
    }

    /// Forget which roles were granted (each invocation starts fresh: a role may have changed meanwhile).
    pub fn forget_granted(&self) {
        self.granted.lock().map(|mut g| g.clear()).unwrap_or(());
    }

    async fn grant_role(&self, role_arn: &str) -> Result<String, OnboardError> {
        let account = &self.config.launch_role.account;
        let role = crate::names::role_name("ExecutionRole", role_arn, account).map_err(|e| {
            OnboardError::Project {
                domain: String::new(),
                message: e.to_string(),
            }
        })?;
        let first = self
            .granted
            .lock()
            .map(|mut g| g.insert(role.clone()))
            .unwrap_or(true);
        if first {
            if let Err(e) = policies::grant(&self.iam, &role, &self.policy_set).await {
                self.granted
                    .lock()
                    .map(|mut g| g.remove(&role))
                    .unwrap_or(false);
                return Err(e.into());
            }
        }
        Ok(role)
    }

    async fn tags(&self, arn: &str) -> Result<Vec<Tag>, OnboardError> {
        let mut tags = Vec::new();
        let mut pages = self
            .sagemaker
            .list_tags()
            .resource_arn(arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| OnboardError::sagemaker("ListTags", arn, &e))?;
            tags.extend(page.tags.unwrap_or_default());
        }
        Ok(tags)
    }

    fn opted_out(&self, tags: &[Tag]) -> bool {
        tags.iter().any(|t| {
            t.key() == Some(self.config.opt_out_tag.as_str())
                && t.value().is_some_and(|v| v != "false")
        })
    }

    /// One pass over a domain. Safe to repeat at any time.
    pub async fn onboard_domain(&self, domain_id: &str) -> Result<DomainOutcome, OnboardError> {
        let domain = domain_id.to_owned();
        let described = match self
            .sagemaker
            .describe_domain()
            .domain_id(domain_id)
            .send()
            .await
        {
            Ok(d) => d,
            Err(e) if is_not_found(&e) => return Ok(DomainOutcome::Gone { domain }),
            Err(e) => return Err(OnboardError::sagemaker("DescribeDomain", domain_id, &e)),
        };
        let status = described.status().cloned().unwrap_or(DomainStatus::Pending);
        if matches!(
            status,
            DomainStatus::Failed | DomainStatus::Deleting | DomainStatus::DeleteFailed
        ) {
            return Ok(DomainOutcome::Abandoned {
                domain,
                status: status.as_str().to_owned(),
            });
        }
        let arn = described.domain_arn().unwrap_or_default().to_owned();
        let tags = if arn.is_empty() {
            Vec::new()
        } else {
            self.tags(&arn).await?
        };
        if self.opted_out(&tags) {
            return Ok(DomainOutcome::OptedOut { domain });
        }
        let role_arns: Vec<&str> = [
            described
                .default_user_settings()
                .and_then(|s| s.execution_role()),
            described
                .default_space_settings()
                .and_then(|s| s.execution_role()),
        ]
        .into_iter()
        .flatten()
        .collect();
        let mut roles = Vec::new();
        for arn in role_arns {
            let role = self.grant_role(arn).await?;
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        if status != DomainStatus::InService {
            // AWS: tag the domain once it has finished creating
            return Ok(DomainOutcome::Waiting {
                domain,
                status: status.as_str().to_owned(),
            });
        }
        let location = self.config.location.s3_uri();
        let tagged = tags
            .iter()
            .any(|t| t.key() == Some(LOCATION_TAG) && t.value() == Some(location.as_str()));
        if !tagged {
            let tag = Tag::builder().key(LOCATION_TAG).value(&location).build();
            // AddTags adds or overwrites the keys given and leaves every other tag alone
            self.sagemaker
                .add_tags()
                .resource_arn(&arn)
                .tags(tag)
                .send()
                .await
                .map_err(|e| OnboardError::sagemaker("AddTags", &arn, &e))?;
        }
        let project = projects::ensure_project(self, &domain, &tags).await?;
        Ok(DomainOutcome::Onboarded {
            domain,
            roles,
            project,
        })
    }

    /// One pass over a user profile: its own execution role, if it has one.
    pub async fn onboard_user_profile(
        &self,
        domain_id: &str,
        profile: &str,
    ) -> Result<ProfileOutcome, OnboardError> {
        let (domain, name) = (domain_id.to_owned(), profile.to_owned());
        let described = match self
            .sagemaker
            .describe_user_profile()
            .domain_id(domain_id)
            .user_profile_name(profile)
            .send()
            .await
        {
            Ok(d) => d,
            Err(e) if is_not_found(&e) => {
                return Ok(ProfileOutcome::Gone {
                    domain,
                    profile: name,
                })
            }
            Err(e) => return Err(OnboardError::sagemaker("DescribeUserProfile", profile, &e)),
        };
        if let Some(arn) = described.user_profile_arn() {
            if self.opted_out(&self.tags(arn).await?) {
                return Ok(ProfileOutcome::OptedOut {
                    domain,
                    profile: name,
                });
            }
        }
        let role = match described.user_settings().and_then(|s| s.execution_role()) {
            Some(arn) => Some(self.grant_role(arn).await?),
            None => None,
        };
        Ok(ProfileOutcome::Onboarded {
            domain,
            profile: name,
            role,
        })
    }
}

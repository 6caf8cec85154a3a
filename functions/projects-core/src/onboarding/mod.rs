//! Onboarding: what a SageMaker domain or user profile needs to use the S3 project templates, and the steps
//! that get it there — idempotently, so duplicate events, replays and sweeps converge on one end state.
//!
//! For a domain: the execution-role policies and launch-access tag on its default user and space roles (the
//! same `policies` module as `Custom::ExecutionRolePolicies`); once `InService`, the
//! `sagemaker:projectS3TemplatesLocation` tag; then, when configured, one project.

pub mod config;
pub mod dead_letter;
pub mod events;
pub mod handler;
pub mod projects;
pub mod sweep;

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;

use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
use aws_sdk_sagemaker::operation::describe_user_profile::DescribeUserProfileOutput;
use aws_sdk_sagemaker::types::{DomainStatus, Tag};
use serde::Serialize;

pub use config::Config;

use crate::aws::{sagemaker_not_found, AwsSdkError, CallError, OperationError};
use crate::policies::{self, Isolation, PolicyError, PolicySet};

/// The domain tag Studio reads to find the S3 templates.
pub const LOCATION_TAG: &str = "sagemaker:projectS3TemplatesLocation";

#[derive(Debug, thiserror::Error)]
pub enum OnboardError {
    #[error(transparent)]
    Aws(#[from] CallError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("domain {domain}: {message}")]
    Project { domain: String, message: String },
    /// An execution role ARN this product cannot act on (another account, not a role).
    #[error(transparent)]
    Role(#[from] crate::names::NameError),
    /// Reading what the template bucket serves failed.
    #[error(transparent)]
    Templates(#[from] crate::publishing::PublishError),
    /// A batch that claims to come from SQS but is not SQS's event shape.
    #[error("an SQS batch that is not SQS's event shape: {0}")]
    Batch(#[source] serde_json::Error),
}

impl OnboardError {
    /// Worth a retry: a call that failed for a passing reason (throttling, 5xx, transport), as the call
    /// error decided. Not: a validation error or AccessDenied, which would fail again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Aws(e) => e.retryable,
            Self::Policy(e) => e.is_retryable(),
            Self::Templates(crate::publishing::PublishError::S3(e)) => e.retryable,
            Self::Templates(_) | Self::Project { .. } | Self::Role(_) | Self::Batch(_) => false,
        }
    }

    /// The AWS call that failed, when the failure was one.
    pub fn call(&self) -> Option<&CallError> {
        match self {
            Self::Aws(c)
            | Self::Policy(PolicyError::Iam(c))
            | Self::Templates(crate::publishing::PublishError::S3(c)) => Some(c),
            _ => None,
        }
    }
}

/// A failed SageMaker call about `target` (`domain d-…`, `user profile d-…/alice`, a project name).
pub(crate) fn sagemaker<E: OperationError>(
    operation: &'static str,
    target: impl Into<String>,
    e: AwsSdkError<E>,
) -> OnboardError {
    OnboardError::Aws(CallError::new("SageMaker", operation, target, e))
}

/// Every domain of the account and region, (id, name), all pages: a domain left unlisted is a domain left
/// unonboarded (or, for `projects doctor`, unchecked).
pub async fn list_domains(
    sagemaker: &aws_sdk_sagemaker::Client,
) -> Result<Vec<(String, Option<String>)>, CallError> {
    let mut ids = Vec::new();
    let mut pages = sagemaker.list_domains().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| CallError::new("SageMaker", "ListDomains", "", e))?;
        ids.extend(
            page.domains
                .unwrap_or_default()
                .into_iter()
                .filter_map(|d| Some((d.domain_id?, d.domain_name))),
        );
    }
    Ok(ids)
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
    /// Reads which version of a template the bucket serves, to pin a project's TemplateURL to it.
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) config: Config,
    policy_set: PolicySet,
    /// Roles already granted in this process: a sweep over many domains sharing a role writes IAM once.
    granted: Mutex<HashSet<String>>,
}

impl Onboarder {
    pub fn new(
        sagemaker: aws_sdk_sagemaker::Client,
        iam: aws_sdk_iam::Client,
        s3: aws_sdk_s3::Client,
        config: Config,
    ) -> Result<Self, PolicyError> {
        let policy_set = Self::render(&config, None)?;
        Ok(Self {
            sagemaker,
            iam,
            s3,
            config,
            policy_set,
            granted: Mutex::new(HashSet::new()),
        })
    }

    /// The same onboarder pointing domains at `location` (a `Custom::ReconcileDomains` request's): its clients,
    /// its configuration otherwise, and the policies rendered for that location.
    pub fn at(&self, location: crate::publishing::Location) -> Result<Self, PolicyError> {
        let config = Config {
            location,
            ..self.config.clone()
        };
        Self::new(
            self.sagemaker.clone(),
            self.iam.clone(),
            self.s3.clone(),
            config,
        )
    }

    /// The policies for the roles of `domain` (under `Account` isolation the same for every domain).
    fn render(config: &Config, domain: Option<&str>) -> Result<PolicySet, PolicyError> {
        PolicySet::render(
            &config.launch_role,
            &config.location.bucket,
            &config.location.prefix,
            config.template_key.as_deref(),
            &config.policy_owner,
            &config.isolation.scope(&config.region, domain),
        )
    }

    /// Forget which roles were granted (each invocation starts fresh: a role may have changed meanwhile).
    pub fn forget_granted(&self) {
        self.granted.lock().map(|mut g| g.clear()).unwrap_or(());
    }

    /// After a sweep under domain isolation that granted every domain's roles: removes each role's per-domain
    /// grants for the domains it no longer serves. (Under `Account` isolation the grant itself removes them.)
    pub(crate) async fn prune_domain_grants(&self) -> Result<(), PolicyError> {
        let granted: Vec<String> = self
            .granted
            .lock()
            .map(|g| g.iter().cloned().collect())
            .unwrap_or_default();
        let mut serving: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
        // keys are `role domain` under Domain isolation
        for (role, domain) in granted.iter().filter_map(|k| k.split_once(' ')) {
            serving
                .entry(role.to_owned())
                .or_default()
                .insert(domain.to_owned());
        }
        for (role, domains) in &serving {
            let removed =
                policies::prune_domains(&self.iam, role, &self.config.policy_owner, domains)
                    .await?;
            if removed > 0 {
                tracing::info!(role = %role, removed, "per-domain grants of domains the role left removed");
            }
        }
        Ok(())
    }

    /// Grants the role of `domain`'s users; under domain isolation its rights reach that domain's stacks.
    async fn grant_role(&self, role_arn: &str, domain: &str) -> Result<String, OnboardError> {
        let account = &self.config.launch_role.account;
        let role = crate::names::role_name("ExecutionRole", role_arn, account)?;
        let key = match self.config.isolation {
            Isolation::Account => role.clone(),
            Isolation::Domain => format!("{role} {domain}"),
        };
        let first = self
            .granted
            .lock()
            .map(|mut g| g.insert(key.clone()))
            .unwrap_or(true);
        if first {
            // rendered only for a grant that is made: a sweep meets each shared role once per domain
            let set = match self.config.isolation {
                Isolation::Account => std::borrow::Cow::Borrowed(&self.policy_set),
                Isolation::Domain => {
                    std::borrow::Cow::Owned(Self::render(&self.config, Some(domain))?)
                }
            };
            if let Err(e) = policies::grant(&self.iam, &role, &set).await {
                self.granted
                    .lock()
                    .map(|mut g| g.remove(&key))
                    .unwrap_or(false);
                return Err(e.into());
            }
        }
        Ok(role)
    }

    async fn tags(&self, arn: &str) -> Result<Vec<Tag>, OnboardError> {
        Ok(resource_tags(&self.sagemaker, arn).await?)
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
        let Some(described) = self.describe_domain(domain_id).await? else {
            return Ok(DomainOutcome::Gone { domain });
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
        let mut roles = Vec::new();
        for (_, arn) in domain_roles(&described) {
            let role = self.grant_role(arn, domain_id).await?;
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
                .map_err(|e| sagemaker("AddTags", &arn, e))?;
            // the tag makes the templates show in Studio: this is when a domain becomes onboarded
            lambda_glue::metrics::count(lambda_glue::metrics::DOMAINS_ONBOARDED, 1);
        }
        let project = projects::ensure_project(self, &domain, &arn, &tags).await?;
        Ok(DomainOutcome::Onboarded {
            domain,
            roles,
            project,
        })
    }

    /// Takes this product's templates-location tag off a domain, if it still names this stack's location (a
    /// value somebody else set is theirs). Returns whether it removed it; a domain that is gone has none.
    pub async fn untag_domain(&self, domain_id: &str) -> Result<bool, OnboardError> {
        let Some(described) = self.describe_domain(domain_id).await? else {
            return Ok(false);
        };
        let Some(arn) = described.domain_arn() else {
            return Ok(false);
        };
        let location = self.config.location.s3_uri();
        let ours = self
            .tags(arn)
            .await?
            .iter()
            .any(|t| t.key() == Some(LOCATION_TAG) && t.value() == Some(location.as_str()));
        if ours {
            self.sagemaker
                .delete_tags()
                .resource_arn(arn)
                .tag_keys(LOCATION_TAG)
                .send()
                .await
                .map_err(|e| sagemaker("DeleteTags", arn, e))?;
        }
        Ok(ours)
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
            Err(e) if sagemaker_not_found(&e) => {
                return Ok(ProfileOutcome::Gone {
                    domain,
                    profile: name,
                })
            }
            Err(e) => {
                return Err(sagemaker(
                    "DescribeUserProfile",
                    format!("user profile {domain_id}/{profile}"),
                    e,
                ))
            }
        };
        if let Some(arn) = described.user_profile_arn() {
            if self.opted_out(&self.tags(arn).await?) {
                return Ok(ProfileOutcome::OptedOut {
                    domain,
                    profile: name,
                });
            }
        }
        let role = match profile_role(&described) {
            Some(arn) => Some(self.grant_role(arn, domain_id).await?),
            None => None,
        };
        Ok(ProfileOutcome::Onboarded {
            domain,
            profile: name,
            role,
        })
    }

    /// DescribeDomain; `None` when the domain is gone.
    async fn describe_domain(
        &self,
        domain_id: &str,
    ) -> Result<Option<DescribeDomainOutput>, OnboardError> {
        match self
            .sagemaker
            .describe_domain()
            .domain_id(domain_id)
            .send()
            .await
        {
            Ok(d) => Ok(Some(d)),
            Err(e) if sagemaker_not_found(&e) => Ok(None),
            Err(e) => Err(sagemaker(
                "DescribeDomain",
                format!("domain {domain_id}"),
                e,
            )),
        }
    }

    /// Every domain of the account and region: (id, name).
    pub async fn domains(&self) -> Result<Vec<(String, Option<String>)>, OnboardError> {
        Ok(list_domains(&self.sagemaker).await?)
    }

    /// The user profiles of a domain, by name.
    pub async fn user_profiles(&self, domain_id: &str) -> Result<Vec<String>, OnboardError> {
        let mut names = Vec::new();
        let mut pages = self
            .sagemaker
            .list_user_profiles()
            .domain_id_equals(domain_id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| sagemaker("ListUserProfiles", format!("domain {domain_id}"), e))?;
            names.extend(
                page.user_profiles
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|p| p.user_profile_name),
            );
        }
        Ok(names)
    }

    /// Every execution role a domain's users run as (ARNs): its default user and space roles and each user
    /// profile's own. A domain or profile that is gone has none; any other failed call fails the whole
    /// answer, so nobody acts on half a list.
    pub async fn execution_roles(&self, domain_id: &str) -> Result<BTreeSet<String>, OnboardError> {
        let Some(described) = self.describe_domain(domain_id).await? else {
            return Ok(BTreeSet::new());
        };
        let mut arns: BTreeSet<String> = domain_roles(&described)
            .map(|(_, arn)| arn.to_owned())
            .collect();
        for profile in self.user_profiles(domain_id).await? {
            match self
                .sagemaker
                .describe_user_profile()
                .domain_id(domain_id)
                .user_profile_name(&profile)
                .send()
                .await
            {
                Ok(p) => arns.extend(profile_role(&p).map(str::to_owned)),
                Err(e) if sagemaker_not_found(&e) => {}
                Err(e) => {
                    return Err(sagemaker(
                        "DescribeUserProfile",
                        format!("user profile {domain_id}/{profile}"),
                        e,
                    ))
                }
            }
        }
        Ok(arns)
    }
}

/// A domain's default user and space execution roles, each with what it is (for a report).
pub(crate) fn domain_roles(d: &DescribeDomainOutput) -> impl Iterator<Item = (&'static str, &str)> {
    [
        (
            "default user role",
            d.default_user_settings().and_then(|s| s.execution_role()),
        ),
        (
            "default space role",
            d.default_space_settings().and_then(|s| s.execution_role()),
        ),
    ]
    .into_iter()
    .filter_map(|(label, arn)| Some((label, arn?)))
}

/// Every tag of a SageMaker resource (a domain, a user profile), all pages.
pub(crate) async fn resource_tags(
    sagemaker: &aws_sdk_sagemaker::Client,
    arn: &str,
) -> Result<Vec<Tag>, CallError> {
    let mut tags = Vec::new();
    let mut pages = sagemaker
        .list_tags()
        .resource_arn(arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| CallError::new("SageMaker", "ListTags", arn, e))?;
        tags.extend(page.tags.unwrap_or_default());
    }
    Ok(tags)
}

/// A user profile's own execution role, if it has one.
pub(crate) fn profile_role(p: &DescribeUserProfileOutput) -> Option<&str> {
    p.user_settings().and_then(|s| s.execution_role())
}

//! What an execution role needs to use S3 project templates: three inline policies (pass the launch role,
//! manage `SP-*` stacks, read the templates and their tags) and the tag the launch role's trust asks for.
//! The documents live in `iam/execution-role/` — one source of truth for this code and the manual path.
//! With a template bucket under SSE-KMS (`TemplateBucketKmsKeyArn`), a fourth: `kms:Decrypt` on that key,
//! through S3 only. Under domain isolation ([`StackScope::Isolated`]) the stack rights are split: stacks are
//! created and updated from the template location only, and updated or deleted only when tagged with one of
//! the role's domains (one `DomainStacks` policy per domain, README "Security model").

use aws_sdk_iam::types::Tag;
use aws_sdk_iam::Client as Iam;
use percent_encoding::percent_decode_str;

use crate::aws::{iam_no_such_entity, AwsSdkError, CallError, OperationError};
use crate::names::RoleArn;

/// The principal tag the launch role's trust policy requires (see iam/README.md).
pub const LAUNCH_ACCESS_TAG: &str = "sagemaker-projects-launch-access";
pub const LAUNCH_ACCESS_VALUE: &str = "true";
/// Every inline policy this product writes starts with this.
pub const POLICY_PREFIX: &str = "SageMakerProjects-";
/// IAM's quota for all inline policies of one role together, whitespace not counted.
pub const INLINE_QUOTA: usize = 10_240;

/// (purpose, document template)
const DOCUMENTS: [(&str, &str); 3] = [
    (
        "PassLaunchRole",
        include_str!("../../../iam/execution-role/pass-launch-role.json"),
    ),
    (
        "ProjectStacks",
        include_str!("../../../iam/execution-role/project-stacks.json"),
    ),
    (
        "TemplateRead",
        include_str!("../../../iam/execution-role/template-read.json"),
    ),
];

/// Only when the template bucket uses a customer KMS key: decrypt the templates through S3.
const KEY_DOCUMENT: (&str, &str) = (
    "TemplateKey",
    include_str!("../../../iam/execution-role/template-key.json"),
);

/// Under domain isolation, in place of `project-stacks.json`: create (and update) `SP-*` stacks only from the
/// template location, update and delete none.
const ISOLATED_STACKS_DOCUMENT: &str =
    include_str!("../../../iam/execution-role/project-stacks-isolated.json");

/// Under domain isolation, one per domain the role serves: update, delete and tag the `SP-*` stacks tagged
/// `sagemaker:domain-arn` = that domain.
const DOMAIN_DOCUMENT: (&str, &str) = (
    "DomainStacks",
    include_str!("../../../iam/execution-role/domain-stacks.json"),
);

/// The stack's `ProjectIsolation`: how far the execution roles' rights over project stacks reach.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Isolation {
    /// Every `SP-*` stack of the account, as upstream's policy.
    #[default]
    Account,
    /// The stacks of the role's own domains, from the template location only.
    Domain,
}

impl Isolation {
    /// `Account` or `Domain` (any case); empty is `Account`.
    pub fn parse(field: &str, value: &str) -> Result<Self, String> {
        match value.to_ascii_lowercase().as_str() {
            "" | "account" => Ok(Self::Account),
            "domain" => Ok(Self::Domain),
            _ => Err(format!("{field} must be Account or Domain, got {value:?}")),
        }
    }

    /// The scope of one grant: for `domain`'s roles (the onboarder), or for roles of no known domain (`None`:
    /// the roles a stack lists, which under isolation may create project stacks but update or delete none).
    pub fn scope(self, region: &str, domain: Option<&str>) -> StackScope {
        match self {
            Self::Account => StackScope::Account,
            Self::Domain => StackScope::Isolated {
                region: region.to_owned(),
                domain: domain.map(str::to_owned),
            },
        }
    }
}

/// What one grant gives over `SP-*` stacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StackScope {
    Account,
    /// Create from the template location in `region`; update and delete only `domain`'s stacks.
    Isolated {
        region: String,
        domain: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{field}: {value:?} is not a valid {what}")]
    Value {
        field: &'static str,
        what: &'static str,
        value: String,
    },
    #[error("policy document {name} is not valid JSON after rendering: {source}")]
    Render {
        name: String,
        source: serde_json::Error,
    },
    #[error("execution role {role} does not exist")]
    NoSuchRole { role: String },
    #[error("execution role {role}: its inline policies would total {total} characters, over IAM's {INLINE_QUOTA}-character quota ({foreign} already used by policies this product does not own); remove some or use managed policies")]
    Quota {
        role: String,
        total: usize,
        foreign: usize,
    },
    /// A role this product never writes to, whoever asks (see [`check_reachable`]).
    #[error("role {role} is out of this product's reach ({why}): its policies and tags are never changed")]
    OutOfReach { role: String, why: &'static str },
    #[error(transparent)]
    Iam(#[from] CallError),
}

impl PolicyError {
    /// `NoSuchRole` when IAM says the role is gone, else the failed call.
    fn iam<E: OperationError>(operation: &'static str, role: &str, e: AwsSdkError<E>) -> Self {
        if iam_no_such_entity(&e) {
            Self::NoSuchRole {
                role: role.to_owned(),
            }
        } else {
            Self::Iam(CallError::new("IAM", operation, format!("role {role}"), e))
        }
    }

    /// Worth trying again: only a call that failed for a passing reason.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Iam(e) if e.retryable)
    }
}

/// The three documents rendered for one launch role and template location, with the names they carry for
/// one owner (a stack + logical resource, or the onboarder), so owners never overwrite each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySet {
    pub policies: Vec<(String, String)>,
    /// The purpose of each policy, in the same order (`PassLaunchRole`, `DomainStacks`…).
    purposes: Vec<&'static str>,
    owner: String,
    /// Account-wide stack rights: the owner's per-domain policies are not wanted beside them.
    account_wide: bool,
    /// The launch role's name: never granted itself.
    launch_role: String,
}

impl PolicySet {
    /// `template_key`: the bucket's SSE-KMS key ARN, when it has one (validated by `names::kms_key_arn`).
    pub fn render(
        launch_role: &RoleArn,
        bucket: &str,
        prefix: &str,
        template_key: Option<&str>,
        owner: &str,
        scope: &StackScope,
    ) -> Result<Self, PolicyError> {
        let (region, domain) = match scope {
            StackScope::Account => ("", None),
            StackScope::Isolated { region, domain } => (
                checked("region", "AWS region", region, crate::names::is_region)?,
                domain.as_deref(),
            ),
        };
        let domain = domain
            .map(|d| {
                checked(
                    "DomainId",
                    "SageMaker domain id",
                    d,
                    crate::names::is_domain_id,
                )
            })
            .transpose()?;
        let s3_domain = if launch_role.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        // values were validated (names module, `checked`): none can break out of a JSON string
        let substitutions = [
            ("${LaunchRoleArn}", launch_role.to_string()),
            ("${Partition}", launch_role.partition.clone()),
            ("${AccountId}", launch_role.account.clone()),
            ("${TemplateBucket}", bucket.to_owned()),
            ("${TemplatePrefix}", prefix.to_owned()),
            (
                "${TemplateKeyArn}",
                template_key.unwrap_or_default().to_owned(),
            ),
            ("${Region}", region.to_owned()),
            ("${S3Domain}", s3_domain.to_owned()),
            ("${DomainId}", domain.unwrap_or_default().to_owned()),
        ];
        let isolated = matches!(scope, StackScope::Isolated { .. });
        let documents = DOCUMENTS
            .iter()
            .map(|&(purpose, template)| match purpose {
                "ProjectStacks" if isolated => {
                    (purpose, ISOLATED_STACKS_DOCUMENT, owner.to_owned())
                }
                _ => (purpose, template, owner.to_owned()),
            })
            .chain(
                template_key
                    .is_some()
                    .then(|| (KEY_DOCUMENT.0, KEY_DOCUMENT.1, owner.to_owned())),
            )
            .chain(domain.map(|d| (DOMAIN_DOCUMENT.0, DOMAIN_DOCUMENT.1, format!("{owner}-{d}"))));
        let mut policies = Vec::new();
        let mut purposes = Vec::new();
        for (purpose, template, named_for) in documents {
            let name = policy_name(purpose, &named_for);
            let rendered = substitutions
                .iter()
                .fold(template.to_string(), |doc, (k, v)| doc.replace(k, v));
            let minified = serde_json::from_str::<serde_json::Value>(&rendered)
                .map_err(|source| PolicyError::Render {
                    name: name.clone(),
                    source,
                })?
                .to_string();
            policies.push((name, minified));
            purposes.push(purpose);
        }
        Ok(Self {
            policies,
            purposes,
            owner: owner.to_owned(),
            account_wide: !isolated,
            launch_role: launch_role.name.clone(),
        })
    }

    /// The purposes this set grants (`PassLaunchRole`, `ProjectStacks`, `TemplateRead`, …).
    pub fn purposes(&self) -> &[&'static str] {
        &self.purposes
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.policies.iter().map(|(n, _)| n.as_str())
    }

    fn size(&self) -> usize {
        self.policies.iter().map(|(_, d)| non_whitespace(d)).sum()
    }
}

pub fn policy_name(purpose: &str, owner: &str) -> String {
    format!("{POLICY_PREFIX}{purpose}-{owner}")
}

/// A value that goes into a policy document, as `valid` (a `names` check) has it: none can break out of a JSON
/// string.
fn checked<'a>(
    field: &'static str,
    what: &'static str,
    value: &'a str,
    valid: fn(&str) -> bool,
) -> Result<&'a str, PolicyError> {
    if valid(value) {
        Ok(value)
    } else {
        Err(PolicyError::Value {
            field,
            what,
            value: value.to_owned(),
        })
    }
}

/// Whether `name` is one of `owner`'s per-domain policies (`…DomainStacks-<owner>-<domain id>`).
fn is_domain_policy_of(name: &str, owner: &str) -> bool {
    name.strip_prefix(&policy_name(DOMAIN_DOCUMENT.0, owner))
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(crate::names::is_domain_id)
}

/// The names `owner` writes, without rendering anything (for removal).
pub fn owned_names(owner: &str) -> Vec<String> {
    DOCUMENTS
        .iter()
        .chain([&KEY_DOCUMENT])
        .map(|(purpose, _)| policy_name(purpose, owner))
        .collect()
}

fn non_whitespace(doc: &str) -> usize {
    doc.chars().filter(|c| !c.is_whitespace()).count()
}

/// Makes `role` carry the set and the launch-access tag, writing only what differs (a sweep over many
/// domains sharing one role must not spend IAM's write quota). Checks IAM's inline quota first, counting the
/// role's other inline policies as they are.
pub async fn grant(iam: &Iam, role: &str, set: &PolicySet) -> Result<(), PolicyError> {
    check_reachable(iam, role, &set.launch_role).await?;
    let existing = list_inline(iam, role).await?;
    let ours = owned_names(&set.owner);
    let mut foreign = 0;
    let mut current = std::collections::HashMap::new();
    let mut stale = Vec::new();
    for name in &existing {
        if set.names().any(|n| n == name) {
            current.insert(name.as_str(), document(iam, role, name).await?);
        } else if ours.contains(name) || (set.account_wide && is_domain_policy_of(name, &set.owner))
        {
            // ours, no longer in the set (the template key was dropped, isolation turned off): removed below,
            // not counted
            stale.push(name);
        } else {
            foreign += non_whitespace(&document(iam, role, name).await?);
        }
    }
    let total = foreign + set.size();
    if total > INLINE_QUOTA {
        return Err(PolicyError::Quota {
            role: role.to_owned(),
            total,
            foreign,
        });
    }
    let mut written = false;
    for (name, wanted) in &set.policies {
        if current
            .get(name.as_str())
            .is_some_and(|have| same_document(have, wanted))
        {
            continue;
        }
        written = true;
        iam.put_role_policy()
            .role_name(role)
            .policy_name(name)
            .policy_document(wanted)
            .send()
            .await
            .map_err(|e| PolicyError::iam("PutRolePolicy", role, e))?;
    }
    for name in stale {
        delete_inline(iam, role, name).await?;
    }
    // after the policies: `revoke` relies on this order to see a grant whose tag it may have removed
    tag_for_launch(iam, role).await?;
    if written {
        lambda_glue::metrics::count(lambda_glue::metrics::ROLES_GRANTED, 1);
    }
    Ok(())
}

/// The names of iam/roles.yaml's launch role and service roles start with this: never granted.
pub const PROJECT_ROLES_PREFIX: &str = "AmazonSageMakerProjects";
/// AWS managed policies that make a role an administrator (of the account, or of IAM and so of the account).
const ADMIN_POLICIES: [&str; 2] = ["AdministratorAccess", "IAMFullAccess"];

/// Refuses the roles this product must never write to, whatever asks: the launch role and the service roles
/// (a role that may pass or assume them would gain their power), and any role with an administrator policy
/// attached (nothing to gain there, and a write to it is never what an operator meant). The IAM policy of the
/// functions denies the first two as well; this also covers a launch role named otherwise.
pub async fn check_reachable(iam: &Iam, role: &str, launch_role: &str) -> Result<(), PolicyError> {
    let out_of_reach = |why| {
        Err(PolicyError::OutOfReach {
            role: role.to_owned(),
            why,
        })
    };
    if role == launch_role {
        return out_of_reach("the projects' launch role");
    }
    if role.starts_with(PROJECT_ROLES_PREFIX) {
        return out_of_reach("a launch or service role of the projects (iam/roles.yaml)");
    }
    let mut pages = iam
        .list_attached_role_policies()
        .role_name(role)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| PolicyError::iam("ListAttachedRolePolicies", role, e))?;
        let admin = page.attached_policies().iter().any(|p| {
            p.policy_arn().is_some_and(|arn| {
                ADMIN_POLICIES
                    .iter()
                    .any(|a| arn.ends_with(&format!(":iam::aws:policy/{a}")))
            })
        });
        if admin {
            return out_of_reach("an administrator policy is attached to it");
        }
    }
    Ok(())
}

/// What a role lacks of what an execution role needs (for `projects doctor`): the purposes (`PassLaunchRole`,
/// `ProjectStacks`, `TemplateRead`, `TemplateKey`, and under isolation `DomainStacks` for the scope's domain) no
/// inline policy of this product grants as rendered for these values — any owner's counts — and whether the
/// launch-access tag is missing.
pub async fn inspect(
    iam: &Iam,
    role: &str,
    launch_role: &RoleArn,
    bucket: &str,
    prefix: &str,
    template_key: Option<&str>,
    scope: &StackScope,
) -> Result<(Vec<&'static str>, bool), PolicyError> {
    let existing = list_inline(iam, role).await?;
    let domain_suffix = match scope {
        StackScope::Isolated {
            domain: Some(d), ..
        } => format!("-{d}"),
        _ => String::new(),
    };
    // every owner whose policies are on the role: the name's part after `<prefix><purpose>-`
    let mut owners = std::collections::BTreeSet::new();
    for name in &existing {
        let Some(rest) = name.strip_prefix(POLICY_PREFIX) else {
            continue;
        };
        if let Some((purpose, owner)) = rest.split_once('-') {
            let owner = match purpose {
                "DomainStacks" => owner.strip_suffix(&domain_suffix).unwrap_or(owner),
                _ => owner,
            };
            owners.insert(owner.to_owned());
        }
    }
    let wanted = PolicySet::render(launch_role, bucket, prefix, template_key, "-", scope)?;
    // each owner's set rendered once: its policy of a purpose is at the same index as in `wanted`
    let sets = owners
        .iter()
        .map(|owner| PolicySet::render(launch_role, bucket, prefix, template_key, owner, scope))
        .collect::<Result<Vec<_>, _>>()?;
    let mut documents = std::collections::HashMap::new();
    let mut missing = Vec::new();
    for (i, purpose) in wanted.purposes().iter().enumerate() {
        let mut granted = false;
        for set in &sets {
            let (name, want) = &set.policies[i];
            if !existing.contains(name) {
                continue;
            }
            if !documents.contains_key(name) {
                documents.insert(name.clone(), document(iam, role, name).await?);
            }
            if same_document(&documents[name], want) {
                granted = true;
                break;
            }
        }
        if !granted {
            missing.push(*purpose);
        }
    }
    let tags = iam
        .list_role_tags()
        .role_name(role)
        .send()
        .await
        .map_err(|e| PolicyError::iam("ListRoleTags", role, e))?;
    let tagged = tags
        .tags()
        .iter()
        .any(|t| t.key() == LAUNCH_ACCESS_TAG && t.value() == LAUNCH_ACCESS_VALUE);
    Ok((missing, !tagged))
}

/// Deletes one inline policy; one that (or whose role) is already gone is fine.
async fn delete_inline(iam: &Iam, role: &str, name: &str) -> Result<(), PolicyError> {
    match iam
        .delete_role_policy()
        .role_name(role)
        .policy_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if iam_no_such_entity(&e) => Ok(()),
        Err(e) => Err(PolicyError::iam("DeleteRolePolicy", role, e)),
    }
}

fn same_document(a: &str, b: &str) -> bool {
    let parse = |d: &str| serde_json::from_str::<serde_json::Value>(d).ok();
    matches!((parse(a), parse(b)), (Some(x), Some(y)) if x == y)
}

/// Removes `owner`'s policies from `role`; untags the role when no pass-launch-role policy of this product
/// remains on it. A role or policy that is already gone is fine.
pub async fn revoke(iam: &Iam, role: &str, owner: &str) -> Result<(), PolicyError> {
    let existing = match list_inline(iam, role).await {
        Err(PolicyError::NoSuchRole { .. }) => return Ok(()),
        other => other?,
    };
    let ours = owned_names(owner);
    for name in existing
        .iter()
        .filter(|n| ours.contains(n) || is_domain_policy_of(n, owner))
    {
        delete_inline(iam, role, name).await?;
    }
    // Whether another owner still grants is read after our deletes, not from the listing before them: two owners
    // revoking at once would each see the other and leave the tag on a role nobody grants any more.
    if granted_by_another(iam, role).await? {
        return Ok(());
    }
    match iam
        .untag_role()
        .role_name(role)
        .tag_keys(LAUNCH_ACCESS_TAG)
        .send()
        .await
    {
        Ok(_) => {}
        Err(e) if iam_no_such_entity(&e) => return Ok(()),
        Err(e) => return Err(PolicyError::iam("UntagRole", role, e)),
    }
    // A grant that wrote its policy after our read may have tagged before our untag: `grant` writes its policies
    // before its tag, so a second read sees any grant whose tag we could have removed, and puts the tag back.
    if granted_by_another(iam, role).await? {
        tag_for_launch(iam, role).await?;
    }
    Ok(())
}

/// Removes `owner`'s per-domain policies from `role` for every domain not in `serving` (the domains whose users
/// run as it now): a role that left a domain loses its reach into that domain's stacks. Returns how many went.
pub async fn prune_domains(
    iam: &Iam,
    role: &str,
    owner: &str,
    serving: &std::collections::BTreeSet<String>,
) -> Result<usize, PolicyError> {
    let existing = match list_inline(iam, role).await {
        Err(PolicyError::NoSuchRole { .. }) => return Ok(0),
        other => other?,
    };
    let keep: Vec<String> = serving
        .iter()
        .map(|d| policy_name(DOMAIN_DOCUMENT.0, &format!("{owner}-{d}")))
        .collect();
    let mut removed = 0;
    for name in existing
        .iter()
        .filter(|n| is_domain_policy_of(n, owner) && !keep.contains(n))
    {
        delete_inline(iam, role, name).await?;
        removed += 1;
    }
    Ok(removed)
}

/// Some owner's PassLaunchRole policy is on `role` (ours are gone by the time this is asked).
async fn granted_by_another(iam: &Iam, role: &str) -> Result<bool, PolicyError> {
    let pass_prefix = policy_name("PassLaunchRole", "");
    match list_inline(iam, role).await {
        Ok(names) => Ok(names.iter().any(|n| n.starts_with(&pass_prefix))),
        Err(PolicyError::NoSuchRole { .. }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// TagRole is idempotent: one write is cheaper than a read to decide whether to write.
async fn tag_for_launch(iam: &Iam, role: &str) -> Result<(), PolicyError> {
    let tag = Tag::builder()
        .key(LAUNCH_ACCESS_TAG)
        .value(LAUNCH_ACCESS_VALUE)
        .build()
        .expect("a tag with a key and a value builds");
    iam.tag_role()
        .role_name(role)
        .tags(tag)
        .send()
        .await
        .map_err(|e| PolicyError::iam("TagRole", role, e))?;
    Ok(())
}

async fn list_inline(iam: &Iam, role: &str) -> Result<Vec<String>, PolicyError> {
    let mut names = Vec::new();
    let mut pages = iam
        .list_role_policies()
        .role_name(role)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| PolicyError::iam("ListRolePolicies", role, e))?;
        names.extend(page.policy_names);
    }
    Ok(names)
}

/// A role's inline policy document, decoded (IAM returns it URL-encoded).
async fn document(iam: &Iam, role: &str, name: &str) -> Result<String, PolicyError> {
    let out = iam
        .get_role_policy()
        .role_name(role)
        .policy_name(name)
        .send()
        .await
        .map_err(|e| PolicyError::iam("GetRolePolicy", role, e))?;
    Ok(percent_decode_str(&out.policy_document)
        .decode_utf8_lossy()
        .into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
    use aws_sdk_iam::types::AttachedPolicy;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    /// `check_reachable` for `role` when IAM lists `attached` as its managed policies; the calls IAM got.
    async fn reachable(
        role: &str,
        attached: &'static [&'static str],
    ) -> (Result<(), PolicyError>, usize) {
        let list = mock!(aws_sdk_iam::Client::list_attached_role_policies).then_output(move || {
            ListAttachedRolePoliciesOutput::builder()
                .set_attached_policies(Some(
                    attached
                        .iter()
                        .map(|a| AttachedPolicy::builder().policy_arn(*a).build())
                        .collect(),
                ))
                .build()
        });
        let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, [&list]);
        let result = check_reachable(&iam, role, "AmazonSageMakerProjectsLaunchRole").await;
        (result, list.num_calls())
    }

    #[tokio::test]
    async fn the_launch_and_service_roles_are_out_of_reach_without_a_call() {
        for role in [
            "AmazonSageMakerProjectsLaunchRole",
            "AmazonSageMakerProjectsCodeBuildRole",
        ] {
            let (result, calls) = reachable(role, &[]).await;
            assert!(
                matches!(result, Err(PolicyError::OutOfReach { .. })),
                "{role}"
            );
            assert_eq!(calls, 0);
        }
    }

    #[tokio::test]
    async fn a_role_with_an_administrator_policy_is_out_of_reach() {
        const SAGEMAKER: &str = "arn:aws:iam::aws:policy/AmazonSageMakerFullAccess";
        for policies in [
            &[SAGEMAKER, "arn:aws:iam::aws:policy/AdministratorAccess"],
            &[SAGEMAKER, "arn:aws-us-gov:iam::aws:policy/IAMFullAccess"],
        ] {
            let (result, _) = reachable("DeployRole", policies).await;
            let e = result.unwrap_err();
            assert_eq!(
                e.to_string(),
                "role DeployRole is out of this product's reach (an administrator policy is attached to it): its policies and tags are never changed"
            );
        }
    }

    #[tokio::test]
    async fn an_execution_role_is_within_reach() {
        let (result, calls) = reachable(
            "AmazonSageMaker-ExecutionRole-1",
            &["arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"],
        )
        .await;
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(calls, 1);
    }

    /// Revokes owner A's grant from a role whose inline policies IAM lists as `listings`, one per read in turn;
    /// the UntagRole and TagRole calls IAM got.
    async fn revoke_seeing(listings: &[&'static [&'static str]]) -> (usize, usize) {
        use aws_sdk_iam::operation::delete_role_policy::DeleteRolePolicyOutput;
        use aws_sdk_iam::operation::list_role_policies::ListRolePoliciesOutput;
        use aws_sdk_iam::operation::tag_role::TagRoleOutput;
        use aws_sdk_iam::operation::untag_role::UntagRoleOutput;
        let mut reads = mock!(aws_sdk_iam::Client::list_role_policies).sequence();
        for names in listings {
            let names: Vec<String> = names
                .iter()
                .map(|n| format!("{POLICY_PREFIX}{n}"))
                .collect();
            reads = reads.output(move || {
                ListRolePoliciesOutput::builder()
                    .set_policy_names(Some(names.clone()))
                    .is_truncated(false)
                    .build()
                    .unwrap()
            });
        }
        let reads = reads.build();
        let delete = mock!(aws_sdk_iam::Client::delete_role_policy)
            .then_output(|| DeleteRolePolicyOutput::builder().build());
        let untag = mock!(aws_sdk_iam::Client::untag_role)
            .then_output(|| UntagRoleOutput::builder().build());
        let tag =
            mock!(aws_sdk_iam::Client::tag_role).then_output(|| TagRoleOutput::builder().build());
        let iam = mock_client!(
            aws_sdk_iam,
            RuleMode::MatchAny,
            [&reads, &delete, &untag, &tag]
        );
        revoke(&iam, "TeamRole", "A").await.unwrap();
        assert_eq!(
            reads.num_calls(),
            listings.len(),
            "IAM was read once per listing"
        );
        (untag.num_calls(), tag.num_calls())
    }

    #[tokio::test]
    async fn revoking_the_last_grant_untags_the_role() {
        assert_eq!(
            revoke_seeing(&[&["PassLaunchRole-A"], &[], &[]]).await,
            (1, 0)
        );
    }

    #[tokio::test]
    async fn a_grant_by_another_owner_keeps_the_tag() {
        assert_eq!(
            revoke_seeing(&[
                &["PassLaunchRole-A", "PassLaunchRole-B"],
                &["PassLaunchRole-B"]
            ])
            .await,
            (0, 0)
        );
    }

    #[tokio::test]
    async fn another_owner_revoking_at_the_same_time_does_not_leave_the_tag_behind() {
        // B was there when we read, and gone by the time our deletes were done
        assert_eq!(
            revoke_seeing(&[&["PassLaunchRole-A", "PassLaunchRole-B"], &[], &[]]).await,
            (1, 0)
        );
    }

    #[tokio::test]
    async fn a_grant_landing_while_we_untag_gets_its_tag_back() {
        // B's policy was written after our second read, and its tag before our untag
        assert_eq!(
            revoke_seeing(&[&["PassLaunchRole-A"], &[], &["PassLaunchRole-B"]]).await,
            (1, 1)
        );
    }

    fn launch() -> RoleArn {
        RoleArn::parse(
            "L",
            "arn:aws:iam::123456789012:role/AmazonSageMakerProjectsLaunchRole",
        )
        .unwrap()
    }

    #[test]
    fn the_documents_render_scoped_to_the_launch_role_bucket_and_account() {
        let set = PolicySet::render(
            &launch(),
            "sagemaker-templates",
            "projects/",
            None,
            "abc123",
            &StackScope::Account,
        )
        .unwrap();
        let names: Vec<_> = set.names().collect();
        assert_eq!(
            names,
            [
                "SageMakerProjects-PassLaunchRole-abc123",
                "SageMakerProjects-ProjectStacks-abc123",
                "SageMakerProjects-TemplateRead-abc123"
            ]
        );
        let docs: Vec<serde_json::Value> = set
            .policies
            .iter()
            .map(|(_, d)| serde_json::from_str(d).unwrap())
            .collect();
        assert_eq!(
            docs[0]["Statement"][0]["Resource"],
            "arn:aws:iam::123456789012:role/AmazonSageMakerProjectsLaunchRole"
        );
        assert_eq!(docs[0]["Statement"][0]["Action"], "iam:PassRole");
        assert_eq!(
            docs[1]["Statement"][0]["Resource"],
            "arn:aws:cloudformation:*:123456789012:stack/SP-*"
        );
        assert_eq!(
            docs[1]["Statement"][1]["Condition"]["Null"]["aws:ResourceTag/sagemaker:project-name"],
            "false"
        );
        assert_eq!(
            docs[2]["Statement"][0]["Resource"],
            "arn:aws:s3:::sagemaker-templates/projects/*"
        );
        for (_, d) in &set.policies {
            assert!(!d.contains("${"), "every placeholder is filled: {d}");
            assert!(!d.contains(' ') && !d.contains('\n'), "minified");
        }
    }

    #[test]
    fn three_sets_fit_the_inline_quota_with_room_to_spare() {
        let set = PolicySet::render(
            &launch(),
            &"b".repeat(63),
            &format!("{}/", "p".repeat(200)),
            Some("arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
            "abcdef0123",
            &StackScope::Account,
        )
        .unwrap();
        assert!(set.size() * 3 < INLINE_QUOTA, "{}", set.size());
    }

    #[test]
    fn owners_never_share_a_policy_name() {
        assert_ne!(owned_names("aaaa"), owned_names("bbbb"));
        assert!(owned_names("aaaa")
            .iter()
            .all(|n| n.len() <= 128 && n.starts_with(POLICY_PREFIX)));
    }

    #[test]
    fn with_a_template_key_a_fourth_policy_decrypts_through_s3_only_with_that_key() {
        let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
        let set = PolicySet::render(
            &launch(),
            "sagemaker-templates",
            "",
            Some(key),
            "abc123",
            &StackScope::Account,
        )
        .unwrap();
        let (name, doc) = set.policies.last().unwrap();
        assert_eq!(name, "SageMakerProjects-TemplateKey-abc123");
        let doc: serde_json::Value = serde_json::from_str(doc).unwrap();
        let statement = &doc["Statement"][0];
        assert_eq!(statement["Action"], "kms:Decrypt");
        assert_eq!(statement["Resource"], key);
        assert_eq!(
            statement["Condition"]["StringLike"]["kms:ViaService"],
            "s3.*.amazonaws.com*"
        );
        assert!(
            owned_names("abc123").contains(name),
            "removed with the rest"
        );
        let without = PolicySet::render(
            &launch(),
            "sagemaker-templates",
            "",
            None,
            "abc123",
            &StackScope::Account,
        );
        assert_eq!(without.unwrap().policies.len(), 3);
    }

    fn isolated(domain: Option<&str>) -> PolicySet {
        PolicySet::render(
            &launch(),
            "sagemaker-templates",
            "projects/",
            None,
            "abc123",
            &Isolation::Domain.scope("eu-west-1", domain),
        )
        .unwrap()
    }

    #[test]
    fn under_domain_isolation_stacks_are_run_from_the_templates_and_changed_only_in_the_roles_domain(
    ) {
        let set = isolated(Some("d-team1"));
        let names: Vec<_> = set.names().collect();
        assert_eq!(
            names,
            [
                "SageMakerProjects-PassLaunchRole-abc123",
                "SageMakerProjects-ProjectStacks-abc123",
                "SageMakerProjects-TemplateRead-abc123",
                "SageMakerProjects-DomainStacks-abc123-d-team1"
            ]
        );
        let doc = |i: usize| serde_json::from_str::<serde_json::Value>(&set.policies[i].1).unwrap();
        let stacks = doc(1);
        assert_eq!(stacks["Statement"][1]["Effect"], "Deny");
        let urls =
            &stacks["Statement"][1]["Condition"]["StringNotLike"]["cloudformation:TemplateUrl"];
        assert!(urls
            .as_array()
            .unwrap()
            .contains(&"https://sagemaker-templates.s3.eu-west-1.amazonaws.com/projects/*".into()));
        let domain = doc(3);
        assert_eq!(
            domain["Statement"][0]["Condition"]["StringEquals"]
                ["aws:ResourceTag/sagemaker:domain-arn"],
            "arn:aws:sagemaker:eu-west-1:123456789012:domain/d-team1"
        );
        for (_, d) in &set.policies {
            assert!(!d.contains("${"), "every placeholder is filled: {d}");
        }
        // a role of no known domain (listed by the stack): creates from the templates, updates and deletes nothing
        assert_eq!(isolated(None).policies.len(), 3);
    }

    #[test]
    fn a_domain_id_or_region_that_could_break_out_of_the_document_is_refused() {
        for (region, domain) in [
            ("eu-west-1", "d-1\""),
            ("eu-west-1", "D-Upper"),
            ("eu\"-1", "d-1"),
        ] {
            let e = PolicySet::render(
                &launch(),
                "b",
                "",
                None,
                "o",
                &Isolation::Domain.scope(region, Some(domain)),
            )
            .unwrap_err();
            assert!(matches!(e, PolicyError::Value { .. }), "{e}");
        }
    }

    #[test]
    fn isolation_is_account_or_domain() {
        assert_eq!(Isolation::parse("P", "").unwrap(), Isolation::Account);
        assert_eq!(Isolation::parse("P", "Domain").unwrap(), Isolation::Domain);
        assert_eq!(
            Isolation::parse("ProjectIsolation", "team").unwrap_err(),
            "ProjectIsolation must be Account or Domain, got \"team\""
        );
    }

    #[test]
    fn many_domains_sharing_one_role_fit_the_inline_quota() {
        let shared = isolated(None).size();
        let per_domain = isolated(Some("d-abcdefghijkl")).size() - shared;
        assert!(
            shared + 10 * per_domain < INLINE_QUOTA,
            "{shared} + 10 x {per_domain}"
        );
    }
}

//! `projects doctor`: the installation checked, not the projects — the checklist behind "templates not visible"
//! and "project creation fails", each line OK or what to do, and with `--fix` the grants and the domain tag
//! applied by the onboarder's own code ([`policies::grant`] with the onboarder's policy owner, its domain
//! listing, role discovery and tag reading from `onboarding`).

use aws_sdk_sagemaker::operation::describe_domain::DescribeDomainOutput;
use aws_sdk_sagemaker::types::{MlTools, Tag};
use serde::Serialize;

use crate::aws::{sagemaker_not_found, CallError};
use crate::names::{self, RoleArn};
use crate::onboarding::dead_letter;
use crate::onboarding::events::{self, Parsed};
use crate::onboarding::{domain_roles, list_domains, profile_role, resource_tags, LOCATION_TAG};
use crate::policies::{self, Isolation, PolicyError, PolicySet, LAUNCH_ACCESS_TAG};
use crate::projects::LaunchError;
use crate::publishing::VISIBILITY_TAG;

/// CORS Studio needs on the template bucket.
pub const STUDIO_ORIGIN: &str = "https://*.sagemaker.aws";
const STUDIO_METHODS: [&str; 5] = ["GET", "PUT", "POST", "HEAD", "DELETE"];
/// The bootstrap stack's seed-code function and the SSM parameter the templates resolve it from.
const SEED_RESOURCES: [&str; 2] = ["SeedCodeFunction", "SeedCodeFunctionArnParameter"];

/// What the doctor checks against.
#[derive(Debug, Clone)]
pub struct Setup {
    pub stack: String,
    pub launch_role: RoleArn,
    /// `s3://bucket/prefix/`
    pub location: String,
    /// The onboarder's policy owner (the bootstrap stack id's last part): `--fix` grants under it.
    pub owner: String,
    /// The template bucket's SSE-KMS key, when it has one: execution roles then need a fourth policy.
    pub template_key: Option<String>,
    /// The stack's `ProjectIsolation` and region: what a domain's roles should be granted over project stacks.
    pub isolation: Isolation,
    pub region: String,
    /// The onboarder's queue and the two dead-letter queues (stack outputs), when the stack names them.
    pub onboarder_queue: Option<String>,
    pub onboarder_dead_letters: Option<String>,
    pub events_dead_letters: Option<String>,
}

impl Setup {
    /// The installation as the bootstrap stack `stack` describes it: its outputs (LaunchRoleArn,
    /// TemplatesLocation, TemplateBucketKmsKeyArn, ProjectIsolation) and its id (the region, and the
    /// onboarder's policy owner: the id's last part).
    pub fn from_stack(
        stack: &str,
        outputs: &[(String, String)],
        stack_id: Option<&str>,
    ) -> Result<Self, LaunchError> {
        let catalog = crate::projects::Catalog::from_outputs(stack, outputs)?;
        let output = |key: &str| outputs.iter().find(|(k, _)| k == key).map(|(_, v)| v);
        let not_bootstrap = |problem: &str| LaunchError::NotBootstrapStack {
            stack: stack.to_owned(),
            problem: problem.to_owned(),
        };
        Ok(Self {
            stack: stack.to_owned(),
            launch_role: RoleArn::parse("LaunchRoleArn", catalog.launch_role()?)
                .map_err(|e| not_bootstrap(&format!(", output LaunchRoleArn: {e}")))?,
            location: catalog
                .templates_location
                .clone()
                .ok_or_else(|| not_bootstrap(" has no output TemplatesLocation"))?,
            owner: stack_id
                .and_then(|id| id.split('/').nth(2))
                .map(str::to_owned)
                .ok_or_else(|| not_bootstrap(" has no stack id to own the grants"))?,
            template_key: output("TemplateBucketKmsKeyArn").cloned(),
            // a stack from before the output had account-wide stack rights
            isolation: output("ProjectIsolation")
                .map(|v| {
                    Isolation::parse("ProjectIsolation", v)
                        .map_err(|e| not_bootstrap(&format!(", output {e}")))
                })
                .transpose()?
                .unwrap_or_default(),
            region: stack_id
                .and_then(|id| id.split(':').nth(3))
                .unwrap_or_default()
                .to_owned(),
            onboarder_queue: output("OnboarderQueueUrl").cloned(),
            onboarder_dead_letters: output("OnboarderDeadLetterQueueUrl").cloned(),
            events_dead_letters: output("EventsDeadLetterQueueUrl").cloned(),
        })
    }

    fn bucket_and_prefix(&self) -> (String, String) {
        let rest = self.location.trim_start_matches("s3://");
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        (bucket.to_owned(), prefix.to_owned())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum State {
    Ok,
    Failed,
    /// Failed, then repaired by `--fix`.
    Fixed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub state: State,
    /// What was checked, in words.
    pub what: String,
    /// What is wrong, or what was found.
    pub detail: String,
    /// What to do, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.state != State::Failed)
    }

    fn ok(&mut self, what: String, detail: String) {
        self.checks.push(Check {
            state: State::Ok,
            what,
            detail,
            fix: None,
        });
    }

    fn failed(&mut self, what: String, detail: String, fix: String) {
        self.checks.push(Check {
            state: State::Failed,
            what,
            detail,
            fix: Some(fix),
        });
    }

    fn fixed(&mut self, what: String, detail: String) {
        self.checks.push(Check {
            state: State::Fixed,
            what,
            detail,
            fix: None,
        });
    }
}

pub struct Clients<'a> {
    pub cloudtrail: &'a aws_sdk_cloudtrail::Client,
    pub sagemaker: &'a aws_sdk_sagemaker::Client,
    pub s3: &'a aws_sdk_s3::Client,
    pub iam: &'a aws_sdk_iam::Client,
    pub cloudformation: &'a aws_sdk_cloudformation::Client,
    pub sqs: &'a aws_sdk_sqs::Client,
}

/// What to look at.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// One domain; `None`: every domain of the region.
    pub domain: Option<String>,
    pub user_profile: Option<String>,
    pub fix: bool,
    /// Put the onboarder's dead letters back on its queue (after their cause was fixed).
    pub redrive: bool,
}

fn policy(e: PolicyError) -> LaunchError {
    match e {
        PolicyError::Iam(call) => LaunchError::Aws(call),
        other => LaunchError::State(other.to_string()),
    }
}

/// Runs every check; AWS calls that fail stop the doctor (a check it cannot make is no pass).
pub async fn doctor(c: &Clients<'_>, setup: &Setup, scope: &Scope) -> Result<Report, LaunchError> {
    let mut report = Report::default();
    templates(c, setup, &mut report).await?;
    cors(c, setup, &mut report).await?;
    launch_role(c, setup, &mut report).await?;
    seed_code(c, setup, &mut report).await?;
    trail(c, &mut report).await?;
    dead_letters(c, setup, scope, &mut report).await?;
    let domains = match &scope.domain {
        Some(d) => vec![d.clone()],
        None => list_domains(c.sagemaker)
            .await?
            .into_iter()
            .map(|(id, _)| id)
            .collect(),
    };
    for d in &domains {
        domain(c, setup, scope, d, &mut report).await?;
    }
    Ok(report)
}

/// The dead-letter queues: each message with what it was about, how often it was delivered and its last
/// error; with `--redrive`, the onboarder's put back on its queue first.
async fn dead_letters(
    c: &Clients<'_>,
    setup: &Setup,
    scope: &Scope,
    r: &mut Report,
) -> Result<(), LaunchError> {
    let account = setup.launch_role.account.clone();
    let region = setup.region.clone();
    let describe = move |event: &serde_json::Value| describe_event(event, &account, &region);
    let queues = [
        (
            "the onboarder's dead-letter queue",
            &setup.onboarder_dead_letters,
            true,
        ),
        (
            "the events dead-letter queue",
            &setup.events_dead_letters,
            false,
        ),
    ];
    for (name, url, redrivable) in queues {
        let Some(url) = url else { continue };
        if scope.redrive && redrivable {
            if let Some(queue) = &setup.onboarder_queue {
                let moved = dead_letter::redrive(c.sqs, url, queue).await?;
                if moved > 0 {
                    r.fixed(
                        format!("{name}: --redrive"),
                        format!("{moved} put back on the onboarder's queue"),
                    );
                }
            }
        }
        let letters = dead_letter::peek(c.sqs, url, &describe).await?;
        if letters.is_empty() {
            r.ok(name.to_owned(), "empty".into());
            continue;
        }
        let fix = if redrivable {
            "fix the cause, then projects doctor --redrive (the onboarder takes them again)"
        } else {
            "fix the cause; domains are swept again on schedule, a template is judged again when uploaded again"
        };
        for letter in letters {
            let deliveries = letter
                .deliveries
                .map(|n| format!("{n} deliveries"))
                .unwrap_or_else(|| "deliveries unknown".into());
            let reason = if letter.reason.is_empty() {
                "no error recorded".to_owned()
            } else {
                letter.reason
            };
            r.failed(
                format!("{name}: {}", letter.subject),
                format!("{deliveries}; {reason}"),
                fix.to_owned(),
            );
        }
    }
    Ok(())
}

/// What an event in a dead-letter queue was about: the onboarder's work, or a template upload.
fn describe_event(event: &serde_json::Value, account: &str, region: &str) -> Option<String> {
    if let Parsed::Work(work) = events::parse(event, account, region) {
        return Some(work.subject());
    }
    let detail = event.get("detail")?;
    let bucket = detail.pointer("/bucket/name")?.as_str()?;
    let key = detail.pointer("/object/key")?.as_str()?;
    Some(format!("the upload of s3://{bucket}/{key}"))
}

async fn templates(c: &Clients<'_>, setup: &Setup, r: &mut Report) -> Result<(), LaunchError> {
    let (bucket, prefix) = setup.bucket_and_prefix();
    let what = format!("templates under {}", setup.location);
    let listed =
        c.s3.list_objects_v2()
            .bucket(&bucket)
            .prefix(&prefix)
            .send()
            .await
            .map_err(|e| CallError::new("S3", "ListObjectsV2", setup.location.as_str(), e))?;
    let keys: Vec<String> = listed
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .filter(|k| k.ends_with(".yaml") || k.ends_with(".yml"))
        .map(str::to_owned)
        .collect();
    let mut hidden = Vec::new();
    for key in &keys {
        let tags =
            c.s3.get_object_tagging()
                .bucket(&bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| {
                    CallError::new("S3", "GetObjectTagging", format!("s3://{bucket}/{key}"), e)
                })?;
        if !tags
            .tag_set()
            .iter()
            .any(|t| t.key() == VISIBILITY_TAG && t.value() == "true")
        {
            hidden.push(key.rsplit('/').next().unwrap_or(key).to_owned());
        }
    }
    if keys.is_empty() {
        r.failed(
            what,
            "no .yaml templates".into(),
            "publish them: deploy or update the bootstrap stack (Custom::ProjectTemplates)".into(),
        );
    } else if hidden.is_empty() {
        r.ok(
            what,
            format!("{} templates, all tagged {VISIBILITY_TAG}=true", keys.len()),
        );
    } else {
        r.failed(
            what,
            format!("not tagged {VISIBILITY_TAG}=true: {}", hidden.join(", ")),
            "the template-tagger rejects templates that are not project templates (see the object's \
             sagemaker-projects-bootstrap:rejected tag); fix and upload them again"
                .into(),
        );
    }
    Ok(())
}

async fn cors(c: &Clients<'_>, setup: &Setup, r: &mut Report) -> Result<(), LaunchError> {
    let (bucket, _) = setup.bucket_and_prefix();
    let what = format!("CORS of bucket {bucket} for Studio");
    let rules = match c.s3.get_bucket_cors().bucket(&bucket).send().await {
        Ok(out) => out.cors_rules().to_vec(),
        Err(e) => {
            let call = CallError::new("S3", "GetBucketCors", bucket.as_str(), e);
            if !call.is("NoSuchCORSConfiguration") {
                return Err(call.into());
            }
            Vec::new()
        }
    };
    let fits = rules.iter().any(|rule| {
        rule.allowed_origins().iter().any(|o| o == STUDIO_ORIGIN)
            && STUDIO_METHODS
                .iter()
                .all(|m| rule.allowed_methods().iter().any(|a| a == m))
            && rule.allowed_headers().iter().any(|h| h == "*")
    });
    if fits {
        r.ok(
            what,
            format!(
                "origin {STUDIO_ORIGIN}, methods {}",
                STUDIO_METHODS.join(" ")
            ),
        );
    } else {
        r.failed(
            what,
            format!("no rule allows origin {STUDIO_ORIGIN} with {} and headers *", STUDIO_METHODS.join(" ")),
            "restore the bucket's CorsConfiguration from infra/bootstrap.yaml (update the bootstrap stack)".into(),
        );
    }
    Ok(())
}

async fn launch_role(c: &Clients<'_>, setup: &Setup, r: &mut Report) -> Result<(), LaunchError> {
    let name = &setup.launch_role.name;
    let what = format!("launch role {name}");
    match c.iam.get_role().role_name(name).send().await {
        Ok(out) => {
            let trust = out
                .role()
                .and_then(|role| role.assume_role_policy_document())
                .map(|d| {
                    percent_encoding::percent_decode_str(d)
                        .decode_utf8_lossy()
                        .into_owned()
                })
                .unwrap_or_default();
            if trust.contains(LAUNCH_ACCESS_TAG) {
                r.ok(
                    what,
                    format!("trusts roles tagged {LAUNCH_ACCESS_TAG}=true"),
                );
            } else {
                r.failed(
                    what,
                    format!("its trust policy does not trust roles tagged {LAUNCH_ACCESS_TAG}"),
                    "deploy iam/roles.yaml (make deploy-iam)".into(),
                );
            }
        }
        Err(e) if crate::aws::iam_no_such_entity(&e) => r.failed(
            what,
            "does not exist".into(),
            "deploy iam/roles.yaml (make deploy-iam)".into(),
        ),
        Err(e) => return Err(CallError::new("IAM", "GetRole", name.as_str(), e).into()),
    }
    Ok(())
}

async fn seed_code(c: &Clients<'_>, setup: &Setup, r: &mut Report) -> Result<(), LaunchError> {
    let what = "seed-code function and its SSM parameter".to_owned();
    let out = c
        .cloudformation
        .list_stack_resources()
        .stack_name(&setup.stack)
        .send()
        .await
        .map_err(|e| {
            CallError::new(
                "CloudFormation",
                "ListStackResources",
                setup.stack.as_str(),
                e,
            )
        })?;
    let problems: Vec<String> = SEED_RESOURCES
        .iter()
        .filter_map(|id| {
            let found = out
                .stack_resource_summaries()
                .iter()
                .find(|s| s.logical_resource_id() == Some(*id));
            match found.and_then(|s| s.resource_status()).map(|s| s.as_str()) {
                Some(s) if s.ends_with("_COMPLETE") && !s.starts_with("DELETE") => None,
                Some(s) => Some(format!("{id} is {s}")),
                None => Some(format!("{id} is missing")),
            }
        })
        .collect();
    if problems.is_empty() {
        r.ok(
            what,
            format!("{} in stack {}", SEED_RESOURCES.join(", "), setup.stack),
        );
    } else {
        r.failed(
            what,
            problems.join("; "),
            format!(
                "update stack {} (the project templates' Custom::SeedCode needs both)",
                setup.stack
            ),
        );
    }
    Ok(())
}

/// A trail that applies to this region, is logging, and logs management write events (CreateDomain,
/// CreateUserProfile): else new domains are caught only by the hourly sweep.
async fn trail(c: &Clients<'_>, r: &mut Report) -> Result<(), LaunchError> {
    let what = "a CloudTrail trail logging management events".to_owned();
    let trails = c
        .cloudtrail
        .describe_trails()
        .send()
        .await
        .map_err(|e| CallError::new("CloudTrail", "DescribeTrails", "", e))?;
    let mut seen = Vec::new();
    for t in trails.trail_list() {
        let Some(arn) = t.trail_arn().or(t.name()) else {
            continue;
        };
        let name = t.name().unwrap_or(arn);
        let status = c
            .cloudtrail
            .get_trail_status()
            .name(arn)
            .send()
            .await
            .map_err(|e| CallError::new("CloudTrail", "GetTrailStatus", name, e))?;
        if status.is_logging() != Some(true) {
            seen.push(format!("{name} is not logging"));
            continue;
        }
        let selectors = c
            .cloudtrail
            .get_event_selectors()
            .trail_name(arn)
            .send()
            .await
            .map_err(|e| CallError::new("CloudTrail", "GetEventSelectors", name, e))?;
        if logs_management_writes(&selectors) {
            r.ok(what, format!("{name} (logging)"));
            return Ok(());
        }
        seen.push(format!("{name} logs no management write events"));
    }
    let detail = if seen.is_empty() {
        "no trail applies to this region".to_owned()
    } else {
        seen.join("; ")
    };
    r.failed(
        what,
        detail,
        "new domains are noticed only by the hourly sweep: deploy the bootstrap stack with CreateTrail=true, or \
         log management events in an existing trail"
            .into(),
    );
    Ok(())
}

fn logs_management_writes(
    s: &aws_sdk_cloudtrail::operation::get_event_selectors::GetEventSelectorsOutput,
) -> bool {
    use aws_sdk_cloudtrail::types::ReadWriteType;
    let basic = s.event_selectors().iter().any(|e| {
        e.include_management_events() != Some(false)
            && !matches!(e.read_write_type(), Some(ReadWriteType::ReadOnly))
    });
    let advanced = s.advanced_event_selectors().iter().any(|a| {
        a.field_selectors()
            .iter()
            .any(|f| f.field() == "eventCategory" && f.equals().iter().any(|v| v == "Management"))
    });
    // a trail without selectors logs all management events (CloudTrail's default)
    basic || advanced || (s.event_selectors().is_empty() && s.advanced_event_selectors().is_empty())
}

async fn domain(
    c: &Clients<'_>,
    setup: &Setup,
    scope: &Scope,
    id: &str,
    r: &mut Report,
) -> Result<(), LaunchError> {
    let described = match c.sagemaker.describe_domain().domain_id(id).send().await {
        Ok(d) => d,
        Err(e) if sagemaker_not_found(&e) => {
            r.failed(
                format!("domain {id}"),
                "does not exist".into(),
                "check the domain id".into(),
            );
            return Ok(());
        }
        Err(e) => return Err(CallError::new("SageMaker", "DescribeDomain", id, e).into()),
    };
    domain_tag(c, setup, scope, id, &described, r).await?;
    let mut roles: Vec<(String, String)> = domain_roles(&described)
        .map(|(label, arn)| (label.to_owned(), arn.to_owned()))
        .collect();
    let mut hidden = hides_projects(&described);
    if let Some(profile) = &scope.user_profile {
        let p = c
            .sagemaker
            .describe_user_profile()
            .domain_id(id)
            .user_profile_name(profile)
            .send()
            .await
            .map_err(|e| {
                CallError::new(
                    "SageMaker",
                    "DescribeUserProfile",
                    format!("{id}/{profile}"),
                    e,
                )
            })?;
        if let Some(arn) = profile_role(&p) {
            roles.push((format!("user profile {profile}'s role"), arn.to_owned()));
        }
        if let Some(settings) = p.user_settings() {
            if let Some(portal) = settings.studio_web_portal_settings() {
                hidden |= portal.hidden_ml_tools().contains(&MlTools::Projects);
            }
        }
    }
    let what = format!("domain {id}: Projects shown in Studio");
    if hidden {
        r.failed(
            what,
            "Projects is among the hidden ML tools (StudioWebPortalSettings.HiddenMlTools)".into(),
            "remove Projects from HiddenMlTools (UpdateDomain / UpdateUserProfile)".into(),
        );
    } else {
        r.ok(what, "not hidden".into());
    }
    roles.dedup_by(|a, b| a.1 == b.1);
    for (label, arn) in roles {
        role(c, setup, scope, id, &label, &arn, r).await?;
    }
    Ok(())
}

fn hides_projects(d: &DescribeDomainOutput) -> bool {
    d.default_user_settings()
        .and_then(|s| s.studio_web_portal_settings())
        .is_some_and(|p| p.hidden_ml_tools().contains(&MlTools::Projects))
}

async fn domain_tag(
    c: &Clients<'_>,
    setup: &Setup,
    scope: &Scope,
    id: &str,
    described: &DescribeDomainOutput,
    r: &mut Report,
) -> Result<(), LaunchError> {
    let arn = described.domain_arn().unwrap_or_default();
    let what = format!("domain {id}: tag {LOCATION_TAG}");
    let tags = resource_tags(c.sagemaker, arn).await?;
    let value = tags
        .iter()
        .find(|t| t.key() == Some(LOCATION_TAG))
        .and_then(|t| t.value())
        .map(str::to_owned);
    if value.as_deref() == Some(setup.location.as_str()) {
        r.ok(what, setup.location.clone());
        return Ok(());
    }
    let detail = match &value {
        Some(v) => format!("{v}, not the published location {}", setup.location),
        None => "missing".to_owned(),
    };
    if scope.fix {
        c.sagemaker
            .add_tags()
            .resource_arn(arn)
            .tags(
                Tag::builder()
                    .key(LOCATION_TAG)
                    .value(&setup.location)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| CallError::new("SageMaker", "AddTags", arn, e))?;
        r.fixed(what, format!("{detail}: set to {}", setup.location));
    } else {
        r.failed(
            what,
            detail,
            format!("projects doctor --domain {id} --fix (AddTags)"),
        );
    }
    Ok(())
}

async fn role(
    c: &Clients<'_>,
    setup: &Setup,
    scope: &Scope,
    domain: &str,
    label: &str,
    arn: &str,
    r: &mut Report,
) -> Result<(), LaunchError> {
    let name = match names::role_name("ExecutionRole", arn, &setup.launch_role.account) {
        Ok(name) => name,
        // one role this installation cannot reach is one failed check, not the end of the report
        Err(e) => {
            r.failed(
                format!("domain {domain}: {label} {arn}"),
                e.to_string(),
                format!(
                    "grant it in its own account, or give the domain a role of account {}",
                    setup.launch_role.account
                ),
            );
            return Ok(());
        }
    };
    let what = format!("domain {domain}: {label} {name}");
    let (bucket, prefix) = setup.bucket_and_prefix();
    let stack_scope = setup.isolation.scope(&setup.region, Some(domain));
    let (missing, untagged) = match policies::inspect(
        c.iam,
        &name,
        &setup.launch_role,
        &bucket,
        &prefix,
        setup.template_key.as_deref(),
        &stack_scope,
    )
    .await
    {
        Ok(found) => found,
        Err(PolicyError::NoSuchRole { .. }) => {
            r.failed(
                what,
                "does not exist".into(),
                "fix the domain's execution role".into(),
            );
            return Ok(());
        }
        Err(e) => return Err(policy(e)),
    };
    let mut lacks: Vec<String> = missing
        .iter()
        .map(|p| match *p {
            "PassLaunchRole" => format!("iam:PassRole on {}", setup.launch_role),
            "ProjectStacks" => "CloudFormation on SP-* stacks".to_owned(),
            "DomainStacks" => format!("CloudFormation on the SP-* stacks of domain {domain}"),
            "TemplateKey" => "kms:Decrypt of the templates' key".to_owned(),
            _ => "s3:GetObjectTagging on the templates".to_owned(),
        })
        .collect();
    if untagged {
        lacks.push(format!("the tag {LAUNCH_ACCESS_TAG}=true"));
    }
    if lacks.is_empty() {
        r.ok(
            what,
            "PassRole, SP-* stacks, GetObjectTagging, launch-access tag".into(),
        );
        return Ok(());
    }
    if scope.fix {
        let set = PolicySet::render(
            &setup.launch_role,
            &bucket,
            &prefix,
            setup.template_key.as_deref(),
            &setup.owner,
            &stack_scope,
        )
        .map_err(policy)?;
        match policies::grant(c.iam, &name, &set).await {
            Ok(()) => r.fixed(what, format!("lacked {}: granted", lacks.join(", "))),
            // a role the grant refuses (out of reach, over quota) stays one failed check with the reason
            Err(e @ (PolicyError::OutOfReach { .. } | PolicyError::Quota { .. })) => r.failed(
                what,
                format!("lacks {}; not granted: {e}", lacks.join(", ")),
                "give the domain a role of its own for SageMaker".into(),
            ),
            Err(e) => return Err(policy(e)),
        }
    } else {
        r.failed(
            what,
            format!("lacks {}", lacks.join(", ")),
            format!("projects doctor --domain {domain} --fix (the onboarder's grant)"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use aws_sdk_sagemaker::operation::list_domains::{ListDomainsInput, ListDomainsOutput};
    use aws_sdk_sagemaker::types::DomainDetails;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    const STACK_ID: &str =
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/projects-bootstrap/6f1c2a3b-1111";

    #[test]
    fn the_setup_is_read_from_the_bootstrap_stacks_outputs_and_id() {
        let mut outputs = crate::projects::testing::stack_outputs();
        outputs.push(("ProjectIsolation".into(), "Domain".into()));
        let setup = Setup::from_stack("projects-bootstrap", &outputs, Some(STACK_ID)).unwrap();
        assert_eq!(
            (setup.owner.as_str(), setup.region.as_str(), setup.isolation),
            ("6f1c2a3b-1111", "eu-west-1", Isolation::Domain)
        );
        // a stack from before the output: account-wide, as it was deployed
        let older = crate::projects::testing::stack_outputs();
        let setup = Setup::from_stack("projects-bootstrap", &older, Some(STACK_ID)).unwrap();
        assert_eq!(setup.isolation, Isolation::Account);
        let no_location: Vec<_> = older
            .into_iter()
            .filter(|(k, _)| k != "TemplatesLocation")
            .collect();
        let e = Setup::from_stack("projects-bootstrap", &no_location, Some(STACK_ID)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "stack projects-bootstrap has no output TemplatesLocation"
        );
    }

    fn page(id: &str, next: Option<&str>) -> ListDomainsOutput {
        ListDomainsOutput::builder()
            .domains(DomainDetails::builder().domain_id(id).build())
            .set_next_token(next.map(str::to_owned))
            .build()
    }

    #[tokio::test]
    async fn every_page_of_domains_is_checked() {
        let first = mock!(aws_sdk_sagemaker::Client::list_domains)
            .match_requests(|r: &ListDomainsInput| r.next_token().is_none())
            .then_output(|| page("d-1", Some("t-2")));
        let second = mock!(aws_sdk_sagemaker::Client::list_domains)
            .match_requests(|r: &ListDomainsInput| r.next_token() == Some("t-2"))
            .then_output(|| page("d-2", None));
        let sm = mock_client!(aws_sdk_sagemaker, RuleMode::MatchAny, [&first, &second]);
        let ids: Vec<String> = list_domains(&sm)
            .await
            .unwrap()
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, ["d-1", "d-2"]);
    }
}

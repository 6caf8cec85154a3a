//! Moving a project to another version of its template (`projects update`, and each step of `upgrade`):
//! the project's parameters carried over, overrides applied, everything checked against the target version
//! before SageMaker is called; UpdateProject with the version-pinned TemplateURL; after UpdateCompleted, the
//! version tags moved. A dry run compares the project's current template (its SP- stack's, GetTemplate) with
//! the target, resource by logical id.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_sagemaker::types::{
    CfnStackUpdateParameter, CfnUpdateTemplateProvider, Tag, UpdateTemplateProvider,
};
use serde::Serialize;
use serde_yaml_ng::Value;

use super::catalog::TemplateRef;
use super::error::{sagemaker, LaunchError};
use super::follow::{follow_from, Before, FollowOutcome, FollowSettings, Goal, Progress, Settled};
use super::launch::{describe_project, version_tags, ProjectView};
use super::s3_url::{parse_s3_url, pinned_url, template_stem, unpinned, url_version_id};
use super::template_spec::{read_version, TemplateSpec};
use super::version::{short, template_versions, TemplateVersions, Version};
use crate::aws::CallError;
use crate::labels::{DIGEST_TAG, TEMPLATE_TAG};
use crate::templates::REQUIRED_PARAMETERS;

/// Which version to move to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The version published now.
    Current,
    /// A published version, by (a unique prefix of) its digest.
    Digest(String),
}

impl Target {
    pub fn parse(s: &str) -> Self {
        match s.trim() {
            "current" | "" => Target::Current,
            d => Target::Digest(d.to_owned()),
        }
    }
}

/// What the caller asks of one project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub overrides: BTreeMap<String, String>,
    /// Parameters to leave out (removed or renamed in the target version).
    pub drop: Vec<String>,
}

/// A project as `update` finds it: its view, its tags, the template it runs and that template's versions.
#[derive(Debug, Clone)]
pub struct Subject {
    pub project: ProjectView,
    pub tags: BTreeMap<String, String>,
    pub template: TemplateRef,
    pub versions: TemplateVersions,
    /// The digest it runs: its tag, else the version its TemplateURL is pinned to.
    pub digest: Option<String>,
}

/// One parameter's change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParameterChange {
    pub name: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Resources of the target template against the current one, by logical id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ResourceDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Declared in both, with a different definition.
    pub modified: Vec<String>,
}

/// What UpdateProject will be sent: checked already.
#[derive(Debug, Clone, Serialize)]
pub struct UpdatePlan {
    pub project: String,
    pub arn: Option<String>,
    pub template: String,
    /// The CfnTemplateProvider's TemplateName, as the project has it.
    pub template_label: String,
    pub from: Option<String>,
    pub to: String,
    pub template_url: String,
    pub parameters: BTreeMap<String, String>,
    pub parameter_changes: Vec<ParameterChange>,
    /// How the project read before the update.
    #[serde(skip)]
    pub before: Before,
    #[serde(skip)]
    pub target: TemplateSpec,
}

impl UpdatePlan {
    /// Nothing to do: the same version and the same parameters.
    pub fn is_noop(&self) -> bool {
        self.from.as_deref() == Some(self.to.as_str()) && self.parameter_changes.is_empty()
    }

    pub fn from_short(&self) -> &str {
        self.from.as_deref().map_or("?", short)
    }

    pub fn to_short(&self) -> &str {
        short(&self.to)
    }
}

/// DescribeProject, ListTags and ListObjectVersions: the project, the template it runs and its versions.
pub async fn find(
    sm: &aws_sdk_sagemaker::Client,
    s3: &aws_sdk_s3::Client,
    name: &str,
) -> Result<Subject, LaunchError> {
    let project = describe_project(sm, name)
        .await?
        .ok_or_else(|| LaunchError::NoSuchProject(name.to_owned()))?;
    let arn = project.arn.clone().unwrap_or_default();
    let tags: BTreeMap<String, String> = sm
        .list_tags()
        .resource_arn(&arn)
        .send()
        .await
        .map_err(|e| sagemaker("ListTags", name, e))?
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or("").to_owned())))
        .collect();
    let url = project.template_url.clone().unwrap_or_default();
    let base = unpinned(&url).to_owned();
    let stem = parse_s3_url(&base)
        .map(|o| template_stem(&o.key).to_owned())
        .map_err(|_| LaunchError::UnknownTemplate {
            project: name.to_owned(),
            url: url.clone(),
            catalog: "template bucket".to_owned(),
        })?;
    let template = TemplateRef {
        name: tags.get(TEMPLATE_TAG).cloned().unwrap_or(stem),
        url: base,
    };
    let mut versions = template_versions(s3, &template.name, &template.url).await?;
    if tags.get(DIGEST_TAG).is_some_and(|d| !versions.knows(d)) {
        versions.read_digests(s3).await?; // under SSE-KMS (version module)
    }
    let digest = tags.get(DIGEST_TAG).cloned().or_else(|| {
        let id = url_version_id(&url)?;
        versions
            .versions
            .iter()
            .find(|v| v.version_id.as_deref() == Some(id.as_str()))
            .map(|v| v.digest.clone())
    });
    Ok(Subject {
        project,
        tags,
        template,
        versions,
        digest,
    })
}

impl Subject {
    /// The version `target` names.
    pub fn version(&self, target: &Target) -> Result<Version, LaunchError> {
        match target {
            Target::Current => {
                self.versions
                    .current()
                    .cloned()
                    .ok_or_else(|| LaunchError::NoSuchVersion {
                        template: self.template.name.clone(),
                        digest: "current".to_owned(),
                        known: "the template is not published now".to_owned(),
                    })
            }
            Target::Digest(d) => self.versions.find(d).cloned(),
        }
    }

    /// Reads the target version and checks the carried-over parameters, the drops and the overrides against it.
    pub async fn plan(
        &self,
        s3: &aws_sdk_s3::Client,
        target: &Target,
        request: &Request,
    ) -> Result<UpdatePlan, LaunchError> {
        let version = self.version(target)?;
        let spec = read_version(s3, &self.template, &version).await?;
        plan(self, spec, version, request)
    }
}

/// The parameters UpdateProject will be sent, and how they change.
pub fn plan(
    subject: &Subject,
    mut target: TemplateSpec,
    version: Version,
    request: &Request,
) -> Result<UpdatePlan, LaunchError> {
    let p = &subject.project;
    let mut parameters: BTreeMap<String, String> = p
        .parameters
        .iter()
        .filter(|(k, _)| !REQUIRED_PARAMETERS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let before = parameters.clone();
    for d in &request.drop {
        if parameters.remove(d).is_none() {
            return Err(LaunchError::Invalid(format!(
                "--drop-param {d}: project {} has no parameter {d}",
                p.name
            )));
        }
    }
    target.version = Some(version.clone());
    let removed = target.undeclared(parameters.keys());
    if !removed.is_empty() {
        return Err(LaunchError::RemovedParameters {
            project: p.name.clone(),
            template: target.name.clone(),
            version: format!("version {}", version.short()),
            names: removed,
            takes: target.takes(),
        });
    }
    parameters.extend(request.overrides.clone());
    target.check(&p.name, &parameters)?;
    let names: BTreeSet<&String> = before.keys().chain(parameters.keys()).collect();
    let parameter_changes = names
        .into_iter()
        .filter(|n| before.get(*n) != parameters.get(*n))
        .map(|n| ParameterChange {
            name: n.clone(),
            from: before.get(n).cloned(),
            to: parameters.get(n).cloned(),
        })
        .collect();
    Ok(UpdatePlan {
        project: p.name.clone(),
        arn: p.arn.clone(),
        template: subject.template.name.clone(),
        template_label: p
            .template_name
            .clone()
            .unwrap_or_else(|| super::s3_url::template_name(&target.name)),
        from: subject.digest.clone(),
        to: version.digest.clone(),
        template_url: pinned_url(&subject.template.url, version.version_id.as_deref()),
        parameters,
        parameter_changes,
        before: Before::of(p),
        target,
    })
}

/// The resources of `target` against `current` (two template texts), by logical id.
pub fn resource_diff(current: &str, target: &str) -> Result<ResourceDiff, String> {
    let resources = |text: &str, which: &str| -> Result<BTreeMap<String, Value>, String> {
        let doc: Value = serde_yaml_ng::from_str(text)
            .map_err(|e| format!("the {which} template is not YAML or JSON: {e}"))?;
        Ok(doc
            .get("Resources")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                    .collect()
            })
            .unwrap_or_default())
    };
    let (old, new) = (resources(current, "current")?, resources(target, "target")?);
    Ok(ResourceDiff {
        added: new
            .keys()
            .filter(|k| !old.contains_key(*k))
            .cloned()
            .collect(),
        removed: old
            .keys()
            .filter(|k| !new.contains_key(*k))
            .cloned()
            .collect(),
        modified: new
            .iter()
            .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
            .map(|(k, _)| k.clone())
            .collect(),
    })
}

/// The project's current template: its stack's (CloudFormation GetTemplate).
pub async fn current_template(
    cfn: &aws_sdk_cloudformation::Client,
    project: &ProjectView,
) -> Result<String, LaunchError> {
    let stack = project
        .stack_id
        .clone()
        .or_else(|| project.stack_name.clone())
        .ok_or_else(|| {
            LaunchError::State(format!(
                "project {} has no stack yet ({})",
                project.name, project.status
            ))
        })?;
    let out = cfn
        .get_template()
        .stack_name(&stack)
        .send()
        .await
        .map_err(|e| CallError::new("CloudFormation", "GetTemplate", stack.as_str(), e))?;
    Ok(out.template_body().unwrap_or_default().to_owned())
}

/// The dry run: what [`update`] would change.
pub async fn dry_run(
    cfn: &aws_sdk_cloudformation::Client,
    subject: &Subject,
    plan: &UpdatePlan,
) -> Result<ResourceDiff, LaunchError> {
    let current = current_template(cfn, &subject.project).await?;
    resource_diff(&current, &plan.target.body).map_err(|reason| LaunchError::NotATemplate {
        name: plan.template.clone(),
        url: plan.template_url.clone(),
        reason,
    })
}

/// UpdateProject with the plan's pinned TemplateURL and parameters (CfnUpdateTemplateProvider has no RoleARN:
/// the project keeps its launch role).
pub async fn update_project(
    sm: &aws_sdk_sagemaker::Client,
    plan: &UpdatePlan,
) -> Result<(), LaunchError> {
    let mut cfn = CfnUpdateTemplateProvider::builder()
        .template_name(&plan.template_label)
        .template_url(&plan.template_url);
    for (k, v) in &plan.parameters {
        cfn = cfn.parameters(CfnStackUpdateParameter::builder().key(k).value(v).build());
    }
    sm.update_project()
        .project_name(&plan.project)
        .template_providers_to_update(
            UpdateTemplateProvider::builder()
                .cfn_template_provider(cfn.build())
                .build(),
        )
        .send()
        .await
        .map_err(|e| sagemaker("UpdateProject", &plan.project, e))?;
    Ok(())
}

/// Whether the project's stack runs exactly the target's text already, with the same parameters: its version
/// unknown (created without version tags, from an unpinned URL) but nothing for CloudFormation to change, which
/// would answer UpdateStack "No updates are to be performed." One GetTemplate, only when the version is unknown.
pub async fn runs_target_already(
    cfn: &aws_sdk_cloudformation::Client,
    subject: &Subject,
    plan: &UpdatePlan,
) -> Result<bool, LaunchError> {
    if plan.is_noop() {
        return Ok(true);
    }
    if plan.from.is_some() || !plan.parameter_changes.is_empty() {
        return Ok(false);
    }
    Ok(current_template(cfn, &subject.project).await? == plan.target.body)
}

/// After UpdateCompleted: the tags name the version the project runs now (AddTags keeps the others).
pub async fn retag(sm: &aws_sdk_sagemaker::Client, plan: &UpdatePlan) -> Result<(), LaunchError> {
    let tags: Vec<Tag> = version_tags(&plan.target);
    sm.add_tags()
        .resource_arn(plan.arn.clone().unwrap_or_default())
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| sagemaker("AddTags", &plan.project, e))?;
    Ok(())
}

/// UpdateProject, then follow the project to UpdateCompleted or UpdateFailed; once completed, the version tags
/// name the new version (a failed update leaves them: CloudFormation rolled the stack back to the old one).
pub async fn apply(
    sm: &aws_sdk_sagemaker::Client,
    plan: &UpdatePlan,
    settings: FollowSettings,
    observe: impl FnMut(&Progress<'_>),
) -> Result<Settled, LaunchError> {
    update_project(sm, plan).await?;
    let settled = follow_from(
        sm,
        &plan.project,
        Goal::Updated,
        Some(&plan.before),
        settings,
        observe,
    )
    .await?;
    if settled.outcome == FollowOutcome::Completed {
        retag(sm, plan).await?;
    }
    Ok(settled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::testing::*;

    const V1: &str = "Parameters:\n  SageMakerProjectName: {Type: String}\n  SageMakerProjectId: {Type: String}\n  Purpose: {Type: String, AllowedValues: [training, inference]}\n  Old: {Type: String, Default: x}\nResources:\n  Queue: {Type: AWS::SQS::Queue, Properties: {QueueName: !Sub 'q-${SageMakerProjectId}'}}\n  Bucket: {Type: AWS::S3::Bucket}\n";
    const V2: &str = "Parameters:\n  SageMakerProjectName: {Type: String}\n  SageMakerProjectId: {Type: String}\n  Purpose: {Type: String, AllowedValues: [training, inference]}\n  Size: {Type: String, Default: small}\nResources:\n  Queue: {Type: AWS::SQS::Queue, Properties: {QueueName: !Sub 'q-${SageMakerProjectId}-v2'}}\n  Topic: {Type: AWS::SNS::Topic}\n";

    fn spec(body: &str) -> TemplateSpec {
        TemplateSpec::parse(
            &TemplateRef {
                name: "team".into(),
                url: url("team"),
            },
            body.as_bytes(),
        )
        .unwrap()
    }

    fn subject(parameters: &[(&str, &str)]) -> Subject {
        let mut project = ProjectView::from_output(
            "demo",
            &described(
                aws_sdk_sagemaker::types::ProjectStatus::CreateCompleted,
                "CREATE_COMPLETE",
            ),
        );
        project.parameters = parameters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Subject {
            project,
            tags: BTreeMap::new(),
            template: TemplateRef {
                name: "team".into(),
                url: url("team"),
            },
            versions: TemplateVersions {
                name: "team".into(),
                url: url("team"),
                versions: vec![],
                withdrawn: false,
            },
            digest: Some("1111111111111111".into()),
        }
    }

    fn v2() -> Version {
        Version {
            digest: "2222222222222222".into(),
            version_id: Some("v2".into()),
        }
    }

    #[test]
    fn parameters_are_carried_over_overrides_applied_and_the_changes_listed() {
        let s = subject(&[("Purpose", "training")]);
        let request = Request {
            overrides: params(&["Size=large"]),
            drop: vec![],
        };
        let plan = plan(&s, spec(V2), v2(), &request).unwrap();
        assert_eq!(plan.parameters, params(&["Purpose=training", "Size=large"]));
        assert_eq!(
            plan.parameter_changes,
            [ParameterChange {
                name: "Size".into(),
                from: None,
                to: Some("large".into())
            }]
        );
        assert_eq!(plan.template_url, format!("{}?versionId=v2", url("team")));
        assert_eq!(
            (plan.from_short(), plan.to_short()),
            ("111111111111", "222222222222")
        );
        assert_eq!(plan.template_label, "deploy");
        assert!(!plan.is_noop());
    }

    #[test]
    fn a_parameter_the_target_no_longer_declares_is_named_until_dropped() {
        let s = subject(&[("Purpose", "training"), ("Old", "y")]);
        let e = plan(&s, spec(V2), v2(), &Request::default()).unwrap_err();
        assert!(e.is_invalid_input());
        assert_eq!(
            e.to_string(),
            "project demo has parameter Old that template team version 222222222222 no longer declares; it \
             takes Purpose, Size (pass --drop-param Old to leave it out)"
        );
        let dropped = Request {
            overrides: BTreeMap::new(),
            drop: vec!["Old".into()],
        };
        let plan = plan(&s, spec(V2), v2(), &dropped).unwrap();
        assert_eq!(plan.parameter_changes[0].name, "Old");
        assert_eq!(plan.parameter_changes[0].to, None);
    }

    #[test]
    fn overrides_are_checked_against_the_target_before_any_call() {
        let s = subject(&[("Purpose", "training")]);
        let bad = |o: &[&str]| {
            plan(
                &s,
                spec(V2),
                v2(),
                &Request {
                    overrides: params(o),
                    drop: vec![],
                },
            )
            .unwrap_err()
            .to_string()
        };
        assert!(bad(&["Old=1"])
            .starts_with("template team has no parameter Old; it takes Purpose, Size"));
        assert_eq!(
            bad(&["Purpose=storage"]),
            "parameter Purpose: \"storage\" is not one of training, inference"
        );
        assert!(bad(&["SageMakerProjectId=x"]).contains("filled in by SageMaker"));
    }

    #[test]
    fn the_same_version_and_parameters_is_nothing_to_do() {
        let mut s = subject(&[("Purpose", "training")]);
        s.digest = Some(v2().digest);
        assert!(plan(&s, spec(V2), v2(), &Request::default())
            .unwrap()
            .is_noop());
    }

    #[test]
    fn resources_are_compared_by_logical_id() {
        let diff = resource_diff(V1, V2).unwrap();
        assert_eq!(
            diff,
            ResourceDiff {
                added: vec!["Topic".into()],
                removed: vec!["Bucket".into()],
                modified: vec!["Queue".into()],
            }
        );
        assert_eq!(resource_diff(V1, V1).unwrap(), ResourceDiff::default());
        // a stack's template may come back as JSON
        let json = r#"{"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}"#;
        assert_eq!(resource_diff(json, V2).unwrap().modified, ["Queue"]);
    }

    #[tokio::test]
    async fn update_project_sends_the_pinned_url_and_every_parameter_without_a_role() {
        use aws_sdk_sagemaker::operation::update_project::UpdateProjectOutput;
        use aws_smithy_mocks::{mock, mock_client};
        let s = subject(&[("Purpose", "training")]);
        let plan = plan(&s, spec(V2), v2(), &Request::default()).unwrap();
        let update = mock!(aws_sdk_sagemaker::Client::update_project)
            .match_requests(|r| {
                let p = r.template_providers_to_update()[0]
                    .cfn_template_provider()
                    .unwrap();
                r.project_name() == Some("demo")
                    && p.template_name() == Some("deploy")
                    && p.template_url() == Some(format!("{}?versionId=v2", url("team")).as_str())
                    && p.parameters().len() == 1
                    && p.parameters()[0].key() == Some("Purpose")
            })
            .then_output(|| UpdateProjectOutput::builder().project_arn("arn").build());
        let sm = mock_client!(aws_sdk_sagemaker, [&update]);
        update_project(&sm, &plan).await.unwrap();
        assert_eq!(update.num_calls(), 1);
    }
}

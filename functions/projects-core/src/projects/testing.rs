//! What the tests of this module share: the published templates' URLs and outputs, parameter sets, mocked
//! SageMaker answers.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sagemaker::operation::describe_project::DescribeProjectOutput;
use aws_sdk_sagemaker::types::{
    CfnStackDetail, CfnStackParameter, CfnTemplateProviderDetail, ProjectStatus,
    TemplateProviderDetail,
};

use super::*;
use crate::templates;

pub(crate) const BUCKET: &str = "sagemaker-projects-templates-123456789012";
pub(crate) const ROLE: &str = "arn:aws:iam::123456789012:role/AmazonSageMakerProjectsLaunchRole";

pub(crate) fn url(name: &str) -> String {
    format!("https://{BUCKET}.s3.us-east-1.amazonaws.com/templates/{name}.yaml")
}

pub(crate) fn stack_outputs() -> Vec<(String, String)> {
    let mut out = vec![
        (LAUNCH_ROLE_OUTPUT.to_owned(), ROLE.to_owned()),
        ("TemplateBucket".to_owned(), BUCKET.to_owned()),
        (
            TEMPLATES_LOCATION_OUTPUT.to_owned(),
            format!("s3://{BUCKET}/templates/"),
        ),
    ];
    for (file, _) in templates::EMBEDDED {
        let stem = file.trim_end_matches(".yaml");
        let pascal: String = stem
            .split('-')
            .map(|w| w[..1].to_ascii_uppercase() + &w[1..])
            .collect();
        out.push((format!("{pascal}TemplateUrl"), url(stem)));
    }
    out
}

pub(crate) fn embedded(stem: &str) -> TemplateSpec {
    let file = format!("{stem}.yaml");
    let (_, content) = templates::EMBEDDED
        .iter()
        .find(|(f, _)| *f == file)
        .unwrap();
    TemplateSpec::parse(
        &TemplateRef {
            name: stem.to_owned(),
            url: url(stem),
        },
        content.as_bytes(),
    )
    .unwrap()
}

pub(crate) fn params(pairs: &[&str]) -> BTreeMap<String, String> {
    parse_parameters(&pairs.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap()
}

pub(crate) const DEPLOY: [&str; 3] = [
    "SourceModelPackageGroupName=models",
    "CodeConnectionArn=arn:aws:codeconnections:us-east-1:123456789012:connection/0a1b2c3d-1111-2222-3333-444455556666",
    "ModelDeployCodeRepositoryFullname=acme/model-deploy",
];

pub(crate) fn invalid(e: LaunchError) -> String {
    assert!(e.is_invalid_input(), "{e}");
    e.to_string()
}

pub(crate) fn json_error(kind: &str, message: &str) -> (u16, Option<String>) {
    crate::aws::answers::json_error(400, kind, message)
}

pub(crate) fn described(status: ProjectStatus, message: &str) -> DescribeProjectOutput {
    DescribeProjectOutput::builder()
        .project_name("demo")
        .project_id("p-abcdefghijkl")
        .project_arn("arn:aws:sagemaker:us-east-1:123456789012:project/demo")
        .project_status(status)
        .template_provider_details(
            TemplateProviderDetail::builder()
                .cfn_template_provider_detail(
                    CfnTemplateProviderDetail::builder()
                        .template_name("deploy")
                        .template_url(url("deploy-codepipeline"))
                        .role_arn(ROLE)
                        .parameters(CfnStackParameter::builder().key("A").value("1").build())
                        .stack_detail(
                            CfnStackDetail::builder()
                                .name("SP-p-abcdefghijkl")
                                .status_message(message)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build()
}

pub(crate) fn fast() -> FollowSettings {
    FollowSettings {
        interval: Duration::from_secs(2),
        timeout: Duration::from_secs(60),
        appear_grace: Duration::from_secs(10),
    }
}

/// One version of an S3 object as ListObjectVersions lists it: its key, its ETag (quoted, as S3 sends it),
/// its version id and whether it is the latest.
pub(crate) fn object_version(
    key: &str,
    etag: &str,
    id: &str,
    latest: bool,
) -> aws_sdk_s3::types::ObjectVersion {
    aws_sdk_s3::types::ObjectVersion::builder()
        .key(key)
        .e_tag(format!("\"{etag}\""))
        .version_id(id)
        .is_latest(latest)
        .build()
}

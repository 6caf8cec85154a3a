//! What names a project's template and its projects: the labels CreateProject gets and the tag keys this
//! product puts on projects. A leaf: both `onboarding` and `projects` use it, it uses neither.

use sha2::{Digest, Sha256};

/// Tag on projects this product created, naming their domain.
pub const DOMAIN_TAG: &str = "sagemaker-projects-bootstrap:domain";

/// SageMaker's tag on what was made in a domain (its ARN), which Studio puts on the resources it creates and
/// domain resource isolation conditions on; this product puts it on the projects it creates for a domain.
pub const DOMAIN_ARN_TAG: &str = "sagemaker:domain-arn";

/// Tag on a project (and on a template object) that SageMaker Studio lists it by: `true` shows it. Studio lists
/// a project created through the API only with it (as the Terraform and Pulumi providers document).
pub const STUDIO_VISIBILITY_TAG: &str = "sagemaker:studio-visibility";

/// [`STUDIO_VISIBILITY_TAG`]`=true`, as CreateProject takes it.
pub fn studio_visibility_tag() -> aws_sdk_sagemaker::types::Tag {
    aws_sdk_sagemaker::types::Tag::builder()
        .key(STUDIO_VISIBILITY_TAG)
        .value("true")
        .build()
}

/// Tag on a project: the name of the template it was created from (`deploy-codepipeline`).
pub const TEMPLATE_TAG: &str = "sagemaker-projects-bootstrap:template";
/// Tag on a project: the digest of the template version it runs.
pub const DIGEST_TAG: &str = "sagemaker-projects-bootstrap:template-digest";

/// `mlops-<domain id>`; a project name is at most 32 of `[a-zA-Z0-9-]` and must not end in `-`.
pub fn project_name(domain_id: &str) -> String {
    let name = format!("mlops-{domain_id}");
    if name.len() <= 32 {
        return name;
    }
    format!(
        "mlops-{}",
        &hex::encode(Sha256::digest(domain_id.as_bytes()))[..26]
    )
}

/// CreateProject's TemplateName is at most 32 characters.
pub fn template_label(template: &str) -> String {
    let short = template.strip_suffix("-codepipeline").unwrap_or(template);
    short
        .chars()
        .take(32)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::templates::EMBEDDED;

    fn valid_name(n: &str) -> bool {
        !n.is_empty()
            && n.len() <= 32
            && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && n.as_bytes()[0].is_ascii_alphanumeric()
            && !n.ends_with('-')
    }

    #[test]
    fn project_names_are_deterministic_and_valid() {
        assert_eq!(project_name("d-abc123def456"), "mlops-d-abc123def456");
        let long = project_name(&format!("d-{}", "a".repeat(61)));
        assert!(valid_name(&long) && long == project_name(&format!("d-{}", "a".repeat(61))));
        assert!(valid_name(&project_name("d-abc123def456")));
    }

    #[test]
    fn template_labels_fit_32_characters() {
        for (file, _) in EMBEDDED {
            let label = template_label(file.trim_end_matches(".yaml"));
            assert!(!label.is_empty() && label.len() <= 32, "{label}");
        }
    }
}

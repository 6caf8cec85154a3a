//! Projects from the published S3 templates (the `projects` command): which templates the bootstrap stack
//! published (its outputs, or URLs given on the command line), what a template takes, the caller's parameters
//! checked against the template's declarations before any SageMaker call, CreateProject with the S3 template,
//! and following a project's status until it settles.
//!
//! One concern per file: [`input`] (names, descriptions, `KEY=VALUE`), [`s3_url`] (object URLs, template
//! names), [`catalog`] (where the templates are), [`template_spec`] (what a template takes), [`launch`]
//! (create, describe, delete), [`follow`] (until it settles). Nothing here prints: the caller renders
//! [`Progress`] and the results.

pub mod catalog;
pub mod error;
pub mod explain;
pub mod fleet;
pub mod follow;
pub mod input;
pub mod launch;
pub mod s3_url;
pub mod template_spec;
#[cfg(test)]
pub(crate) mod testing;
pub mod update;
pub mod upgrade;
pub mod version;

pub use catalog::{
    Catalog, Chosen, TemplateRef, DEFAULT_STACK, LAUNCH_ROLE_OUTPUT, TEMPLATES_LOCATION_OUTPUT,
    TEMPLATE_URL_SUFFIX,
};
pub use error::LaunchError;
pub use fleet::{FleetProject, Listing};
pub use follow::{
    follow, follow_from, format_elapsed, verdict, Before, FollowOutcome, FollowSettings, Goal,
    Progress, Settled, Verdict,
};
pub use input::{
    check_description, check_project_name, parse_parameters, MAX_DESCRIPTION, MAX_PARAMETERS,
};
pub use launch::{
    create_project, delete_project, describe_project, Created, LaunchPlan, ProjectView,
};
pub use s3_url::{parse_s3_url, pinned_url, template_name, template_stem, S3Object};
pub use template_spec::{load_template, load_template_version, ParameterSpec, TemplateSpec};
pub use version::{TemplateVersions, Version};

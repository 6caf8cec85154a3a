//! The product's custom resources: each a [`cloudformation_custom_resource::CustomResource`] on typed properties.

pub mod bounds;
pub mod execution_role_policies;
pub mod project_templates;
pub mod reconcile_domains;
pub mod seed_code;
pub mod seed_code_in_use;

//! The product's logic, free of Lambda types: what an execution role needs, how templates are published
//! and checked, how a domain is onboarded. Binaries build the clients ([`aws`]) and hand events here.

pub mod aws;
pub mod doctor;
pub mod labels;
pub mod names;
pub mod onboarding;
pub mod policies;
pub mod projects;
pub mod publishing;
pub mod resources;
pub mod templates;
pub mod upload_tagger;

#[cfg(test)]
mod fuzz_targets;

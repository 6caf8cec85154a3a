//! Custom::ProjectTemplates — wiring only; the behaviour is in projects_core::resources::project_templates.

use projects_core::aws::Clients;
use projects_core::resources::bounds::Bounds;
use projects_core::resources::project_templates::{ProjectTemplates, BOUNDS};

#[tokio::main]
async fn main() -> Result<(), lambda_glue::Error> {
    let clients = Clients::from_env().await;
    lambda_glue::run_custom_resource(ProjectTemplates::new(clients.s3, Bounds::from_env(BOUNDS)))
        .await
}

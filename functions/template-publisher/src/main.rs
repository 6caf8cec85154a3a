//! Custom::ProjectTemplates — wiring only; the behaviour is in projects_core::resources::project_templates.

use projects_core::aws::Clients;
use projects_core::resources::project_templates::ProjectTemplates;

#[tokio::main]
async fn main() -> Result<(), lambda_glue::Error> {
    lambda_glue::telemetry::init();
    let clients = Clients::from_env().await;
    cfn_custom_resource::run(ProjectTemplates::new(clients.s3)).await
}

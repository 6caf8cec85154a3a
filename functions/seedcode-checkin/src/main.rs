//! Custom::SeedCode — wiring only; the behaviour is in projects_core::resources::seed_code.
//! Deployed as `sagemaker-projects-seedcode`: the launch role may invoke only `sagemaker-*` functions.

use projects_core::aws::Clients;
use projects_core::resources::seed_code::SeedCode;

#[tokio::main]
async fn main() -> Result<(), lambda_glue::Error> {
    lambda_glue::telemetry::init();
    let clients = Clients::from_env().await;
    cfn_custom_resource::run(SeedCode::new(clients.codebuild)).await
}

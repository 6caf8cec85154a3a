//! Custom::ExecutionRolePolicies — wiring only; the behaviour is in projects_core::resources.

use projects_core::aws::Clients;
use projects_core::resources::execution_role_policies::ExecutionRolePolicies;

#[tokio::main]
async fn main() -> Result<(), lambda_glue::Error> {
    lambda_glue::telemetry::init();
    let clients = Clients::from_env().await;
    cfn_custom_resource::run(ExecutionRolePolicies::new(clients.iam)).await
}

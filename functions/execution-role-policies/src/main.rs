//! Custom::ExecutionRolePolicies — wiring only; the behaviour is in projects_core::resources.

use projects_core::aws::Clients;
use projects_core::resources::bounds::Bounds;
use projects_core::resources::execution_role_policies::{ExecutionRolePolicies, BOUNDS};

#[tokio::main]
async fn main() -> Result<(), lambda_glue::Error> {
    let clients = Clients::from_env().await;
    lambda_glue::run_custom_resource(ExecutionRolePolicies::new(
        clients.iam,
        Bounds::from_env(BOUNDS),
    ))
    .await
}

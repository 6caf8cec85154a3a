//! The seed-code function — wiring only. It serves two custom resources: the project templates'
//! `Custom::SeedCode` (projects_core::resources::seed_code) and the bootstrap stack's `Custom::SeedCodeInUse`
//! guard, which refuses to let the stack delete this function while project stacks still need it
//! (projects_core::resources::seed_code_in_use).
//! Deployed as `sagemaker-projects-seedcode`, the one function the launch role may invoke.

use std::sync::Arc;

use cloudformation_custom_resource::Settings;
use projects_core::aws::Clients;
use projects_core::resources::bounds::Bounds;
use projects_core::resources::seed_code::SeedCode;
use projects_core::resources::seed_code_in_use::SeedCodeInUse;

const GUARD_TYPE: &str = "Custom::SeedCodeInUse";

#[tokio::main]
async fn main() -> Result<(), lambda_glue::Error> {
    let clients = Clients::from_env().await;
    let seed_code = Arc::new(SeedCode::new(clients.codebuild, Bounds::from_env(&[])));
    let guard = Arc::new(SeedCodeInUse::new(
        clients.sagemaker,
        clients.cloudformation,
    ));
    let settings = Arc::new(Settings::from_env());
    lambda_glue::run(move |event, context| {
        let (seed_code, guard, settings) = (seed_code.clone(), guard.clone(), settings.clone());
        async move {
            // anything else, a malformed event included, is the seed-code resource's to answer
            if event.get("ResourceType").and_then(|t| t.as_str()) == Some(GUARD_TYPE) {
                lambda_glue::answer(guard, event, &context, &settings).await
            } else {
                lambda_glue::answer(seed_code, event, &context, &settings).await
            }
        }
    })
    .await
}

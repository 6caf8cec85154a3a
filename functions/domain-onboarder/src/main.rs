//! The domain onboarder — wiring only. One function takes four kinds of event: CloudTrail domain and user
//! profile events and delayed re-checks (through the SQS queue), the reconcile schedule, and the install-time
//! sweep (`Custom::ReconcileDomains`, answered through the custom-resource runtime).

use std::sync::Arc;

use cloudformation_custom_resource::Settings;
use projects_core::aws::Clients;
use projects_core::onboarding::handler::OnboarderFunction;
use projects_core::onboarding::{Config, Onboarder};
use projects_core::resources::bounds::Bounds;
use projects_core::resources::reconcile_domains::{ReconcileDomains, BOUNDS};

#[tokio::main]
async fn main() -> Result<(), lambda_glue::Error> {
    let config = Config::from_env()?;
    let clients = Clients::from_env().await;
    let onboarder = Arc::new(Onboarder::new(
        clients.sagemaker,
        clients.iam,
        clients.s3,
        config,
    )?);
    let reconcile = Arc::new(ReconcileDomains::new(
        onboarder.clone(),
        Bounds::from_env(BOUNDS),
    ));
    let function = OnboarderFunction::new(onboarder, clients.sqs);
    let settings = Settings::from_env();
    let (function, settings) = (&function, &settings);
    lambda_glue::run(move |event, context| {
        let reconcile = reconcile.clone();
        async move {
            if cloudformation_custom_resource::is_request(&event) {
                lambda_glue::answer(reconcile, event, &context, settings).await
            } else {
                Ok(function.handle(event).await?)
            }
        }
    })
    .await
}

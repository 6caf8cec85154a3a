//! The edge every function shares: structured logs, events taken as raw JSON (never dropped for a parse
//! error before our code runs), CloudWatch metrics as EMF lines, and the Lambda poll loop.

pub mod metrics;
pub mod telemetry;

/// Events taken as raw JSON: the layer lives in `cloudformation-custom-resource`, whose runtime needs it on its own.
pub use cloudformation_custom_resource::raw_event;

use std::future::Future;
use std::sync::Arc;

use cloudformation_custom_resource::{deadline_of, CustomResource, Settings};

use lambda_runtime::{layers::TracingLayer, service_fn, LambdaEvent, Runtime};
use serde_json::Value;

pub use lambda_runtime::{Context, Error};

/// Runs the Lambda loop with `handler`, which receives every event as JSON: a body that is not JSON arrives
/// as `{"$unparseable": "<text>"}` (see [`raw_event`]) so the handler still decides what happens. What the
/// invocation recorded with [`metrics`] is written as one EMF line once the handler has returned.
pub async fn run<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Value, Context) -> Fut,
    Fut: Future<Output = Result<Value, Error>>,
{
    telemetry::init();
    let handler = &handler;
    let service = service_fn(|event: LambdaEvent<Value>| async move {
        let answer = handler(event.payload, event.context).await;
        metrics::flush();
        answer
    });
    Runtime::new(service)
        .layer(TracingLayer::new())
        .layer(raw_event::KeepUnparseableLayer)
        .run()
        .await
}

/// Runs a function that is only a custom resource: [`run`] (logs, metrics) around [`answer`].
pub async fn run_custom_resource<H: CustomResource>(resource: H) -> Result<(), Error> {
    let (resource, settings) = (Arc::new(resource), Arc::new(Settings::from_env()));
    run(move |event, context| {
        let (resource, settings) = (resource.clone(), settings.clone());
        async move { answer(resource, event, &context, &settings).await }
    })
    .await
}

/// One custom-resource request, answered by [`cloudformation_custom_resource::handle`] within the invocation's
/// deadline; the response it decided is counted (SUCCESS or FAILED), whether or not its delivery then failed.
pub async fn answer<H: CustomResource>(
    resource: Arc<H>,
    event: Value,
    context: &Context,
    settings: &Settings,
) -> Result<Value, Error> {
    let deadline = deadline_of(context.deadline);
    let result = cloudformation_custom_resource::handle(resource, event, deadline, settings).await;
    let decided = match &result {
        Ok(answer) => answer.decided(),
        Err(e) => e.decided(),
    };
    if let Some(decided) = decided {
        let name = if decided.succeeded {
            metrics::CUSTOM_RESOURCE_SUCCEEDED
        } else {
            metrics::CUSTOM_RESOURCE_FAILED
        };
        metrics::count(name, 1);
    }
    Ok(serde_json::to_value(result?)?)
}

//! A minimal custom resource, `Custom::Greeting`: nothing outside CloudFormation, only the protocol.
//!
//! ```yaml
//! Greeting:
//!   Type: Custom::Greeting
//!   Properties:
//!     ServiceToken: !GetAtt GreetingFunction.Arn
//!     Name: World          # a new Name replaces the resource (a new PhysicalResourceId)
//!     Shout: "false"       # optional; changing it updates in place
//! ```
//!
//! `!GetAtt Greeting.Text` is "Hello, World!". An empty Name is answered FAILED, naming it.
//! Locally: `cargo lambda watch --only-lambda-apis` serves the Lambda APIs and prints the environment to run the
//! function with (`AWS_LAMBDA_RUNTIME_API=… cargo run --example greeting`); then
//! `cargo lambda invoke --data-file event.json` sends it a request.

use cloudformation_custom_resource::properties::bool_from_string;
use cloudformation_custom_resource::{CustomResource, Outcome, Request};

struct Greeting;

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Properties {
    name: String,
    #[serde(default, deserialize_with = "bool_from_string")]
    shout: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("Name must not be empty")]
struct EmptyName;

impl Greeting {
    fn greet(p: &Properties) -> Result<Outcome, EmptyName> {
        if p.name.trim().is_empty() {
            return Err(EmptyName);
        }
        let text = format!("Hello, {}!", p.name);
        let text = if p.shout { text.to_uppercase() } else { text };
        Ok(Outcome::default().with("Text", text))
    }
}

impl CustomResource for Greeting {
    type Properties = Properties;
    type Error = EmptyName;

    async fn create(&self, _: &Request, p: &Properties) -> Result<Outcome, EmptyName> {
        Self::greet(p)
    }

    async fn update(
        &self,
        _: &Request,
        old: &Properties,
        new: &Properties,
    ) -> Result<Outcome, EmptyName> {
        let outcome = Self::greet(new)?;
        Ok(if new.name == old.name {
            outcome
        } else {
            outcome.replacing()
        })
    }

    async fn delete(&self, _: &Request, _: &Properties) -> Result<Outcome, EmptyName> {
        Ok(Outcome::default())
    }
}

#[tokio::main]
async fn main() -> Result<(), cloudformation_custom_resource::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    cloudformation_custom_resource::run(Greeting).await
}

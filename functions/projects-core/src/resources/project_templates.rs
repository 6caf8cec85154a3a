//! `Custom::ProjectTemplates`: publishes the embedded templates to the template bucket, each in ONE request
//! (PutObject carrying the Studio-visibility and ownership tags), skipping unchanged ones.
//!
//! Properties: `Bucket`, `Prefix` (optional), `Digest` (optional: the template set's digest, so that a new
//! set makes CloudFormation send an Update), `Retain` (optional "true": Delete leaves the objects).
//! Bounded by the stack ([`super::bounds`]): requests from the stack that deployed the function only, and only
//! for its template bucket (`TEMPLATE_BUCKET`).

use cloudformation_custom_resource::{CustomResource, Outcome, Request};
use serde::Deserialize;

use super::bounds::{Bounds, BoundsError};
use crate::names::{self, NameError};

/// The environment variables that bound this resource's properties (set by infra/bootstrap.yaml).
pub const BOUNDS: &[&str] = &["TEMPLATE_BUCKET"];
use crate::publishing::{self, Location, PublishError, Template};
use crate::templates::EMBEDDED;
use lambda_glue::metrics;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Properties {
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub digest: String,
    #[serde(
        default,
        deserialize_with = "cloudformation_custom_resource::properties::bool_from_string"
    )]
    pub retain: bool,
}

impl Properties {
    /// The location, once the request is known to be the stack's and the bucket its template bucket.
    fn location(&self, request: &Request, bounds: &Bounds) -> Result<Location, Error> {
        bounds.stack(request)?;
        bounds.equal("Bucket", "template bucket", "TEMPLATE_BUCKET", &self.bucket)?;
        Ok(self.location_unbounded()?)
    }

    fn location_unbounded(&self) -> Result<Location, NameError> {
        Ok(Location {
            bucket: names::bucket("Bucket", &self.bucket)?,
            prefix: names::prefix("Prefix", &self.prefix)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Bounds(#[from] BoundsError),
}

pub struct ProjectTemplates {
    s3: aws_sdk_s3::Client,
    templates: Vec<Template>,
    bounds: Bounds,
}

impl ProjectTemplates {
    /// The publisher of the templates embedded at build time; `bounds`: [`Bounds::from_env`] of [`BOUNDS`].
    pub fn new(s3: aws_sdk_s3::Client, bounds: Bounds) -> Self {
        Self::with_templates(
            s3,
            EMBEDDED
                .iter()
                .map(|(n, c)| Template::new(n, c.as_bytes().to_vec()))
                .collect(),
            bounds,
        )
    }

    pub fn with_templates(
        s3: aws_sdk_s3::Client,
        templates: Vec<Template>,
        bounds: Bounds,
    ) -> Self {
        Self {
            s3,
            templates,
            bounds,
        }
    }

    async fn publish(&self, request: &Request, location: &Location) -> Result<Outcome, Error> {
        let report =
            publishing::publish(&self.s3, location, &request.owner_scope(), &self.templates)
                .await?;
        metrics::count(metrics::TEMPLATES_WRITTEN, report.written);
        metrics::count(metrics::TEMPLATES_UNCHANGED, report.unchanged);
        metrics::count(metrics::TEMPLATES_REMOVED, report.removed);
        let region = self
            .s3
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_else(|| "us-east-1".to_owned());
        let mut outcome = Outcome::default()
            .with("TemplatesLocation", location.s3_uri())
            .with("TemplateCount", self.templates.len().to_string())
            .with("Written", report.written.to_string())
            .with("Removed", report.removed.to_string());
        for t in &self.templates {
            outcome = outcome.with(
                &format!("{}Url", t.attribute_name()),
                location.https_url(&region, &t.name),
            );
        }
        Ok(outcome)
    }
}

impl CustomResource for ProjectTemplates {
    type Properties = Properties;
    type Error = Error;

    async fn create(&self, request: &Request, props: &Properties) -> Result<Outcome, Error> {
        let location = props.location(request, &self.bounds)?;
        match self.publish(request, &location).await {
            Ok(outcome) => Ok(outcome),
            Err(e) => {
                // a failed Create is answered with a sentinel id whose Delete touches nothing: undo here what
                // this owner wrote, so a rollback leaves no template behind
                if let Err(undo) =
                    publishing::unpublish(&self.s3, &location, &request.owner_scope()).await
                {
                    tracing::warn!(error = %undo, "could not undo a partial publish");
                }
                Err(e)
            }
        }
    }

    async fn update(
        &self,
        request: &Request,
        old: &Properties,
        new: &Properties,
    ) -> Result<Outcome, Error> {
        let location = new.location(request, &self.bounds)?;
        let outcome = self.publish(request, &location).await?;
        // a new place is a new resource: CloudFormation then deletes the old one, with the old properties
        let moved = old
            .location_unbounded()
            .map(|o| o != location)
            .unwrap_or(true);
        Ok(if moved { outcome.replacing() } else { outcome })
    }

    async fn delete(&self, request: &Request, props: &Properties) -> Result<Outcome, Error> {
        if !props.retain {
            let location = props.location(request, &self.bounds)?;
            publishing::unpublish(&self.s3, &location, &request.owner_scope()).await?;
        }
        Ok(Outcome::default())
    }
}

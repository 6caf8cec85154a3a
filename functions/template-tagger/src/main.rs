//! S3 "Object Created" → template verdict tags — wiring only; the behaviour is in projects_core::upload_tagger.

use projects_core::aws::Clients;
use projects_core::upload_tagger::{self, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_glue::Error> {
    let config = Config::from_env()?;
    let clients = Clients::from_env().await;
    let (s3, config) = (&clients.s3, &config);
    lambda_glue::run(|event, _context| async move {
        Ok(upload_tagger::handle(s3, config, event).await?)
    })
    .await
}

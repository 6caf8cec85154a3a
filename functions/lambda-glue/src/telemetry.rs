//! One JSON log line per event, machine-readable in CloudWatch Logs Insights.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once; `RUST_LOG` / `AWS_LAMBDA_LOG_LEVEL` choose the level (default info).
pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .or_else(|| {
            std::env::var("AWS_LAMBDA_LOG_LEVEL")
                .ok()
                .map(|l| l.to_lowercase())
        })
        .unwrap_or_else(|| "info".to_owned());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::new(filter))
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time() // CloudWatch stamps every line
        .try_init();
}

//! One JSON log line per event, machine-readable in CloudWatch Logs Insights.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber once, at the level [`filter`] chooses.
pub fn init() {
    let filter = filter(|name| std::env::var(name).ok());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::new(filter))
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .without_time() // CloudWatch stamps every line
        .try_init();
}

/// The log filter, as the Lambda runtime's own subscriber chooses it: the function's log-level setting
/// (`AWS_LAMBDA_LOG_LEVEL`, set by Lambda's advanced logging controls) wins over `RUST_LOG`; default `info`.
pub fn filter(env: impl Fn(&str) -> Option<String>) -> String {
    env("AWS_LAMBDA_LOG_LEVEL")
        .map(|l| l.to_lowercase())
        .or_else(|| env("RUST_LOG"))
        .unwrap_or_else(|| "info".to_owned())
}

#[cfg(test)]
mod tests {
    use super::filter;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_functions_log_level_wins_over_rust_log() {
        let both = [("AWS_LAMBDA_LOG_LEVEL", "DEBUG"), ("RUST_LOG", "warn")];
        assert_eq!(filter(env(&both)), "debug");
        assert_eq!(filter(env(&[("RUST_LOG", "warn")])), "warn");
        assert_eq!(filter(env(&[])), "info");
    }
}

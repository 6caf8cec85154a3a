//! Delivering the one response: HTTP PUT, empty Content-Type, exact length; bounded jittered retries on
//! transport errors and 5xx; a 4xx is final; nothing is attempted past the deadline.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use tokio::time::Instant;

use crate::response_url::ResponseUrl;

/// How the response is delivered: PUT attempts with full-jitter backoff, each bounded by a timeout, none
/// started past the invocation's deadline.
///
/// ```
/// use std::time::Duration;
/// use cloudformation_custom_resource::{Sender, Settings};
///
/// let mut settings = Settings::default();
/// settings.sender.max_attempts = 3;
/// settings.sender.base_delay = Duration::from_millis(50);
/// # let _: &Sender = &settings.sender;
/// ```
#[derive(Clone, Debug)]
pub struct Sender {
    /// The HTTP client, or why it could not be built (reported by every send, instead of a panic at start).
    client: Result<reqwest::Client, String>,
    /// PUT attempts at most (default 6).
    pub max_attempts: u32,
    /// The first retry waits up to this long (default 200 ms); each further one up to twice as long.
    pub base_delay: Duration,
    /// No wait between attempts is longer (default 5 s).
    pub max_delay: Duration,
    /// One attempt's time limit (default 10 s).
    pub attempt_timeout: Duration,
}

/// Why a response was not delivered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The ResponseURL answered 4xx, which no retry can change (e.g. an expired presigned URL).
    #[error("the response URL answered HTTP {status} (final, not retried)")]
    Rejected {
        /// The HTTP status.
        status: u16,
    },
    /// The HTTP client could not be built (no TLS roots, no crypto provider…): nothing can be sent.
    #[error("no response can be sent: the HTTP client could not be built: {0}")]
    NoClient(String),
    /// Transport errors or 5xx until the attempts or the time ran out.
    #[error("the response was not delivered after {attempts} attempts: {last}")]
    GaveUp {
        /// PUTs made.
        attempts: u32,
        /// The last attempt's error.
        last: String,
    },
}

/// What a delivery took: how many PUTs, and the final HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivered {
    pub attempts: u32,
    pub status: u16,
}

/// TLS with rustls and ring for this client alone, certificates checked against the platform's roots as reqwest
/// checks them: the process-wide default provider stays as the caller has it (`reqwest` is built without a
/// provider of its own, so the crate does not build aws-lc's C library).
fn tls_config() -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
        .map_err(|e| format!("no certificate verifier: {e}"))?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("no TLS version in common: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth())
}

impl Default for Sender {
    fn default() -> Self {
        Self {
            // `Client::default()` as a fallback would panic on the same failure and hide its cause
            client: tls_config().and_then(|tls| {
                reqwest::Client::builder()
                    .tls_backend_preconfigured(tls)
                    .connect_timeout(Duration::from_secs(5))
                    .build()
                    .map_err(|e| format!("{e} ({:?})", std::error::Error::source(&e)))
            }),
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(10),
        }
    }
}

impl Sender {
    pub(crate) async fn send(
        &self,
        url: &ResponseUrl,
        body: Vec<u8>,
        deadline: Instant,
    ) -> Result<Delivered, SendError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| SendError::NoClient(e.clone()))?;
        let mut last = String::from("no attempt fitted before the deadline");
        let mut attempts = 0;
        while attempts < self.max_attempts {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            attempts += 1;
            let put = client
                .put(url.as_str())
                .header(CONTENT_TYPE, "")
                .header(CONTENT_LENGTH, body.len())
                .body(body.clone())
                .timeout(self.attempt_timeout.min(left))
                .send();
            match put.await {
                Ok(resp) if resp.status().is_success() => {
                    let status = resp.status().as_u16();
                    tracing::info!(status, attempts, url = %url.redacted(), "response delivered");
                    return Ok(Delivered { attempts, status });
                }
                Ok(resp) if resp.status().is_client_error() => {
                    let status = resp.status().as_u16();
                    tracing::error!(status, attempts, url = %url.redacted(), "response URL refused the response");
                    return Err(SendError::Rejected { status });
                }
                Ok(resp) => last = format!("HTTP {}", resp.status().as_u16()),
                // without_url: reqwest errors print the URL, query and all
                Err(e) => last = e.without_url().to_string(),
            }
            tracing::warn!(attempt = attempts, error = %last, url = %url.redacted(), "response PUT failed, retrying");
            let delay = self.backoff(attempts);
            if Instant::now() + delay >= deadline {
                break;
            }
            tokio::time::sleep(delay).await;
        }
        Err(SendError::GaveUp { attempts, last })
    }

    /// Full jitter: uniform in [0, min(max_delay, base·2^(attempt-1))].
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1 << attempt.min(16).saturating_sub(1))
            .min(self.max_delay);
        ceiling.mul_f64(fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_that_could_not_be_built_says_why_on_every_send() {
        let sender = Sender {
            client: Err("no native root CA certificates found".to_owned()),
            ..Sender::default()
        };
        let url = ResponseUrl::parse("http://127.0.0.1:9/x", true).unwrap();
        let e = sender
            .send(
                &url,
                b"{}".to_vec(),
                Instant::now() + Duration::from_secs(1),
            )
            .await
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "no response can be sent: the HTTP client could not be built: no native root CA certificates found"
        );
    }

    #[tokio::test]
    async fn tls_is_this_clients_own_and_installs_nothing_process_wide() {
        let sender = Sender {
            max_attempts: 1,
            ..Sender::default()
        };
        assert!(sender.client.is_ok(), "{:?}", sender.client);
        assert!(
            rustls::crypto::CryptoProvider::get_default().is_none(),
            "a process-wide crypto provider was installed"
        );
        // the TLS handshake runs (with ring, no provider installed): a server that speaks no TLS fails it
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            use std::io::Write;
            if let Ok((mut s, _)) = listener.accept() {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            }
        });
        let url = ResponseUrl::unchecked(&format!("https://127.0.0.1:{port}/x"));
        let e = sender
            .send(
                &url,
                b"{}".to_vec(),
                Instant::now() + Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, SendError::GaveUp { attempts: 1, .. }), "{e}");
    }

    #[test]
    fn backoff_is_bounded_and_grows() {
        let s = Sender::default();
        for attempt in 1..40 {
            assert!(s.backoff(attempt) <= s.max_delay);
        }
        assert!(s.backoff(1) <= s.base_delay);
    }
}

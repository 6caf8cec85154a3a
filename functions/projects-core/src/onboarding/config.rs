//! The onboarder's settings, from the environment the bootstrap stack gives the function.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::names::{self, RoleArn};
use crate::policies::Isolation;
use crate::publishing::Location;
use crate::templates::EMBEDDED;

#[derive(Clone, Debug)]
pub struct Config {
    pub launch_role: RoleArn,
    pub location: Location,
    /// `TEMPLATE_KMS_KEY_ARN`: the template bucket's SSE-KMS key, when it has one.
    pub template_key: Option<String>,
    pub region: String,
    /// One of the five template names (file name without `.yaml`): every new domain gets a project from it.
    pub default_template: Option<String>,
    pub default_parameters: BTreeMap<String, String>,
    /// A domain tag whose value names the template to create a project from (opt-in per domain).
    pub opt_in_tag: String,
    /// A domain tag whose value names the template's parameters, `Key=Value Key2=Value2`.
    pub parameters_tag: String,
    /// A domain (or user profile) tag that opts it out of onboarding entirely.
    pub opt_out_tag: String,
    /// Names the inline policies this onboarder writes (unique per bootstrap stack).
    pub policy_owner: String,
    pub recheck_queue_url: Option<String>,
    /// `DEAD_LETTER_QUEUE_URL`: where a record goes, with its last error, once delivered
    /// `max_receive_count` times (the queue's RedrivePolicy, `MAX_RECEIVE_COUNT`, default 10).
    pub dead_letter_queue_url: Option<String>,
    pub max_receive_count: u32,
    /// The delay of every re-check of a domain that is not `InService` yet (constant: the lag to onboarding
    /// is at most one delay).
    pub recheck_delay: Duration,
    /// How long after a domain was first seen re-checks go on (then the scheduled sweep takes over).
    pub recheck_for: Duration,
    pub sweep_concurrency: usize,
    /// `PROJECT_STUDIO_VISIBILITY` (`true`, the default, or `false`): tag the projects it creates
    /// `sagemaker:studio-visibility=true`, so Studio lists them.
    pub studio_visibility: bool,
    /// `PROJECT_ISOLATION` (`Account`, the default, or `Domain`): how far the execution roles' rights over
    /// project stacks reach (README "Security model").
    pub isolation: Isolation,
}

#[derive(Debug, thiserror::Error)]
#[error("onboarder configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads `LAUNCH_ROLE_ARN`, `TEMPLATE_BUCKET`, `TEMPLATE_PREFIX`, `AWS_REGION`, `DEFAULT_TEMPLATE`,
    /// `DEFAULT_TEMPLATE_PARAMETERS` (a JSON object), `OPT_IN_TAG`, `PARAMETERS_TAG`, `OPT_OUT_TAG`,
    /// `POLICY_OWNER`, `RECHECK_QUEUE_URL`, `DEAD_LETTER_QUEUE_URL`, `MAX_RECEIVE_COUNT`, `RECHECK_DELAY_SECONDS`, `RECHECK_MAX_MINUTES`, `SWEEP_CONCURRENCY`,
    /// `PROJECT_STUDIO_VISIBILITY`, `PROJECT_ISOLATION`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let need = |k: &str| get(k).ok_or_else(|| ConfigError(format!("{k} is not set")));
        let err = |e: names::NameError| ConfigError(e.to_string());
        let launch_role =
            RoleArn::parse("LAUNCH_ROLE_ARN", &need("LAUNCH_ROLE_ARN")?).map_err(err)?;
        let location = Location {
            bucket: names::bucket("TEMPLATE_BUCKET", &need("TEMPLATE_BUCKET")?).map_err(err)?,
            prefix: names::prefix(
                "TEMPLATE_PREFIX",
                &get("TEMPLATE_PREFIX").unwrap_or_default(),
            )
            .map_err(err)?,
        };
        let template_key = get("TEMPLATE_KMS_KEY_ARN")
            .map(|k| names::kms_key_arn("TEMPLATE_KMS_KEY_ARN", &k))
            .transpose()
            .map_err(err)?;
        let default_template =
            get("DEFAULT_TEMPLATE").map(|t| t.trim_end_matches(".yaml").to_owned());
        if let Some(t) = &default_template {
            check_template_name("DEFAULT_TEMPLATE", t)?;
        }
        let default_parameters = match get("DEFAULT_TEMPLATE_PARAMETERS") {
            None => BTreeMap::new(),
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                ConfigError(format!(
                    "DEFAULT_TEMPLATE_PARAMETERS must be a JSON object of strings ({e})"
                ))
            })?,
        };
        let number = |k: &str, default: u64| -> Result<u64, ConfigError> {
            get(k).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| ConfigError(format!("{k} must be a whole number, got {v:?}")))
            })
        };
        let studio_visibility = match get("PROJECT_STUDIO_VISIBILITY").as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(ConfigError(format!(
                    "PROJECT_STUDIO_VISIBILITY must be true or false, got {other:?}"
                )))
            }
        };
        let isolation = Isolation::parse(
            "PROJECT_ISOLATION",
            &get("PROJECT_ISOLATION").unwrap_or_default(),
        )
        .map_err(ConfigError)?;
        Ok(Self {
            studio_visibility,
            isolation,
            launch_role,
            location,
            template_key,
            region: get("AWS_REGION").unwrap_or_else(|| "us-east-1".to_owned()),
            default_template,
            default_parameters,
            opt_in_tag: get("OPT_IN_TAG")
                .unwrap_or_else(|| "sagemaker-projects-bootstrap:template".to_owned()),
            parameters_tag: get("PARAMETERS_TAG")
                .unwrap_or_else(|| "sagemaker-projects-bootstrap:template-parameters".to_owned()),
            opt_out_tag: get("OPT_OUT_TAG")
                .unwrap_or_else(|| "sagemaker-projects-bootstrap:opt-out".to_owned()),
            policy_owner: get("POLICY_OWNER").unwrap_or_else(|| "onboarder".to_owned()),
            recheck_queue_url: get("RECHECK_QUEUE_URL"),
            dead_letter_queue_url: get("DEAD_LETTER_QUEUE_URL"),
            max_receive_count: number("MAX_RECEIVE_COUNT", 10)?.clamp(1, 1000) as u32,
            recheck_delay: Duration::from_secs(number("RECHECK_DELAY_SECONDS", 30)?),
            recheck_for: Duration::from_secs(60 * number("RECHECK_MAX_MINUTES", 60)?),
            sweep_concurrency: number("SWEEP_CONCURRENCY", 8)?.clamp(1, 64) as usize,
        })
    }
}

/// A template name must be one of the published five.
pub fn check_template_name(field: &str, name: &str) -> Result<(), ConfigError> {
    if EMBEDDED
        .iter()
        .any(|(file, _)| file.trim_end_matches(".yaml") == name)
    {
        return Ok(());
    }
    let known: Vec<&str> = EMBEDDED
        .iter()
        .map(|(f, _)| f.trim_end_matches(".yaml"))
        .collect();
    Err(ConfigError(format!(
        "{field}: {name:?} is not a published template; expected one of {}",
        known.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const BASE: [(&str, &str); 2] = [
        (
            "LAUNCH_ROLE_ARN",
            "arn:aws:iam::123456789012:role/AmazonSageMakerProjectsLaunchRole",
        ),
        ("TEMPLATE_BUCKET", "sagemaker-templates"),
    ];

    #[test]
    fn defaults_are_sensible() {
        let c = Config::from_lookup(env(&BASE)).unwrap();
        assert_eq!(c.location.s3_uri(), "s3://sagemaker-templates");
        assert_eq!(c.default_template, None);
        assert_eq!(c.sweep_concurrency, 8);
        assert_eq!(c.recheck_delay, Duration::from_secs(30));
        assert_eq!(c.recheck_for, Duration::from_secs(3600));
        assert!(c.studio_visibility);
    }

    #[test]
    fn studio_visibility_is_true_or_false() {
        let with = |v: &'static str| {
            let mut vars = BASE.to_vec();
            vars.push(("PROJECT_STUDIO_VISIBILITY", v));
            Config::from_lookup(env(&vars)).map(|c| c.studio_visibility)
        };
        assert!(with("true").unwrap());
        assert!(!with("false").unwrap());
        assert_eq!(
            with("yes").unwrap_err().to_string(),
            "onboarder configuration: PROJECT_STUDIO_VISIBILITY must be true or false, got \"yes\""
        );
    }

    #[test]
    fn errors_name_the_setting() {
        let e = Config::from_lookup(env(&BASE[..1])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "onboarder configuration: TEMPLATE_BUCKET is not set"
        );
        let mut with_template = BASE.to_vec();
        with_template.push(("DEFAULT_TEMPLATE", "nope"));
        let e = Config::from_lookup(env(&with_template)).unwrap_err();
        assert!(e.to_string().contains("DEFAULT_TEMPLATE: \"nope\" is not a published template; expected one of build-train-codepipeline"));
        let mut bad_params = BASE.to_vec();
        bad_params.push(("DEFAULT_TEMPLATE_PARAMETERS", "[1]"));
        assert!(Config::from_lookup(env(&bad_params))
            .unwrap_err()
            .to_string()
            .contains("DEFAULT_TEMPLATE_PARAMETERS"));
    }
}

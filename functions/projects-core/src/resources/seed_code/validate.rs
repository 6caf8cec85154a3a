//! The properties' checks: each error names the property and the form expected.

use super::Error;
use crate::names;

/// A relative path inside the seed (`jenkins/seed_job.groovy`).
pub(super) fn update_file(value: &str) -> Result<String, Error> {
    if (1..=1024).contains(&value.len()) && is_relative_path(value) {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "SeedCodeUpdateFileName",
            value,
            "a file of the seed",
            "a relative path such as jenkins/seed_job.groovy (letters, digits, '-', '_', '.', '/'; no empty, '.' or '..' segments), required with CheckinVersion v1.0",
        ))
    }
}

pub(super) fn invalid(
    field: &'static str,
    value: &str,
    what: &'static str,
    expected: &'static str,
) -> Error {
    Error::Invalid {
        field,
        value: value.to_owned(),
        what,
        expected,
    }
}

pub(super) fn build_project(value: &str) -> Result<String, Error> {
    let b = value.as_bytes();
    let ok = (2..=255).contains(&b.len())
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_');
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "BuildProject",
            value,
            "a CodeBuild project name",
            "2-255 letters, digits, '-' or '_', starting with a letter or digit",
        ))
    }
}

pub(super) fn seed_key(value: &str) -> Result<String, Error> {
    let ok = value.len() <= 1024
        && value.len() > ".zip".len()
        && value.ends_with(".zip")
        && !value.starts_with('/')
        && !value.split('/').any(|seg| seg.is_empty() || seg == "..")
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!-_.*'()/".contains(c));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "SeedCodeKey",
            value,
            "the S3 key of a seed-code archive",
            "a key ending in .zip such as toolchain/model-building-workflow-v1.0.zip (letters, digits and !-_.*'()/, no empty or '..' segments, at most 1024 characters)",
        ))
    }
}

/// A connection ARN, parsed: what the git-http URL is made of.
struct Connection<'a> {
    service: &'a str,
    region: &'a str,
    account: &'a str,
    id: &'a str,
    dns_suffix: &'static str,
}

fn connection(value: &str) -> Result<Connection<'_>, Error> {
    let err = || {
        invalid(
            "ConnectionArn",
            value,
            "a CodeConnections connection ARN",
            "arn:aws:codeconnections:<region>:<12-digit account>:connection/<id> (or codestar-connections)",
        )
    };
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err(err());
    };
    let dns_suffix = match partition {
        "aws" | "aws-us-gov" => "amazonaws.com",
        "aws-cn" => "amazonaws.com.cn",
        _ => return Err(err()),
    };
    let id = resource.strip_prefix("connection/").ok_or_else(err)?;
    let ok = arn == "arn"
        && matches!(service, "codeconnections" | "codestar-connections")
        && names::is_region(region)
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        return Err(err());
    }
    Ok(Connection {
        service,
        region,
        account,
        id,
        dns_suffix,
    })
}

/// Slash-separated segments of letters, digits, '-', '_' and '.', none empty, `.` or `..` (so no leading,
/// trailing or doubled slash): a repository's full name, a file inside the seed.
fn is_relative_path(value: &str) -> bool {
    value.split('/').all(|s| {
        !s.is_empty()
            && s != "."
            && s != ".."
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    })
}

fn full_name(value: &str) -> Result<&str, Error> {
    let ok = value.len() <= 1024
        && value.contains('/')
        && is_relative_path(value)
        && !value.ends_with(".git");
    if ok {
        Ok(value)
    } else {
        Err(invalid(
            "RepositoryFullName",
            value,
            "a repository's full name",
            "owner/repo (or group/subgroup/repo): segments of letters, digits, '-', '_' and '.', without a trailing .git",
        ))
    }
}

/// The connection's git-http URL of the repository:
/// `https://<service>.<region>.<dns suffix>/git-http/<account>/<region>/<connection id>/<full name>.git`,
/// the host named after the ARN's service (both hosts serve both ARN forms; the seed buildspec accepts both).
pub(super) fn repository_url(connection_arn: &str, full_name_value: &str) -> Result<String, Error> {
    let c = connection(connection_arn)?;
    let name = full_name(full_name_value)?;
    Ok(format!(
        "https://{}.{}.{}/git-http/{}/{}/{}/{name}.git",
        c.service, c.region, c.dns_suffix, c.account, c.region, c.id
    ))
}

/// A Git branch name (git check-ref-format rules, as `refs/heads/<name>`).
pub(super) fn branch(value: &str) -> Result<String, Error> {
    let forbidden = |c: char| c.is_ascii_control() || " ~^:?*[\\".contains(c);
    let ok = !value.is_empty()
        && value.len() <= 255
        && value != "@"
        && !value.chars().any(forbidden)
        && !value.contains("..")
        && !value.contains("@{")
        && !value.starts_with('-')
        && !value.ends_with('.')
        && value
            .split('/')
            .all(|c| !c.is_empty() && !c.starts_with('.') && !c.ends_with(".lock"));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(
            "Branch",
            value,
            "a Git branch name",
            "a name such as main or feature/x: no spaces or ~^:?*[\\, no '..' or '@{', no leading '-', no empty or '.'-led components, no trailing '.' or '.lock'",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::seed_code::testing::*;

    #[test]
    fn every_property_is_validated_with_an_error_naming_it_and_the_expected_form() {
        /// field, how to set it, values accepted, values refused, the expected form the error states
        type Case<'a> = (
            &'a str,
            fn(&mut Properties, &str),
            &'a [&'a str],
            &'a [&'a str],
            &'a str,
        );
        let cases: [Case<'_>; 8] = [
            (
                "BuildProject",
                |p, v| p.build_project = v.into(),
                &["sagemaker-demo-p-abc-seedcode", "ab", "Project_1"],
                &[
                    "",
                    "a",
                    "-lead",
                    "has space",
                    "arn:aws:codebuild:eu-west-1:123456789012:project/x",
                    &"a".repeat(256),
                ],
                "expected 2-255 letters, digits",
            ),
            (
                "SeedCodeBucket",
                |p, v| p.seed_code_bucket = v.into(),
                &["sagemaker-servicecatalog-seedcode-eu-west-1"],
                &["", "Upper", "s3://bucket", "a..b"],
                "is not an S3 bucket name",
            ),
            (
                "SeedCodeKey",
                |p, v| p.seed_code_key = v.into(),
                &[
                    KEY,
                    "seed.zip",
                    "toolchain/model-deployment-jenkins-v1.0.zip",
                ],
                &[
                    "",
                    ".zip",
                    "/toolchain/x.zip",
                    "toolchain/x.tar",
                    "a/../x.zip",
                    "a//x.zip",
                    "a b.zip",
                    "s3://b/x.zip",
                ],
                "expected a key ending in .zip",
            ),
            (
                "ConnectionArn",
                |p, v| p.connection_arn = v.into(),
                &[
                    CONNECTION,
                    "arn:aws:codestar-connections:eu-west-1:123456789012:connection/abc-123",
                    "arn:aws-cn:codeconnections:cn-north-1:123456789012:connection/abc",
                    "arn:aws-us-gov:codeconnections:us-gov-west-1:123456789012:connection/abc",
                ],
                &[
                    "",
                    "arn:aws:s3:::bucket",
                    "connection/abc",
                    "arn:aws:codeconnections:us-east-1:1234:connection/abc",
                    "arn:aws:codeconnections:us-east-1:123456789012:host/abc",
                    "arn:aws:codeconnections:us-east-1:123456789012:connection/",
                    "arn:aws:codeconnections:us-east-1:123456789012:connection/a/b",
                    "arn:aws:codeconnections:useast1:123456789012:connection/abc",
                    "arn:aws:codecommit:us-east-1:123456789012:connection/abc",
                    "arn:evil:codeconnections:us-east-1:123456789012:connection/abc",
                ],
                "expected arn:aws:codeconnections:<region>:<12-digit account>:connection/<id>",
            ),
            (
                "RepositoryFullName",
                |p, v| p.repository_full_name = v.into(),
                &[
                    "example-org/model-build",
                    "group/subgroup/repo",
                    "my.org/repo_1",
                    "org/.github",
                    &format!("group/{}repo", "sub/".repeat(200)),
                ],
                &[
                    "",
                    "repo",
                    "org/",
                    "/repo",
                    "org/re po",
                    "org//repo",
                    "org/repo.git",
                    "org/..",
                    "org/a?b",
                ],
                "expected owner/repo (or group/subgroup/repo)",
            ),
            (
                "Branch",
                |p, v| p.branch = v.into(),
                &["main", "feature/new-model", "release_2.0", "v1@2"],
                &[
                    "",
                    "-x",
                    "a b",
                    "/main",
                    "main/",
                    "a..b",
                    "a.lock",
                    "x/.hidden",
                    "a~1",
                    "a^",
                    "a:b",
                    "@",
                    "a@{1}",
                    "end.",
                    "tab\t",
                ],
                "expected a name such as main",
            ),
            (
                "CheckinVersion",
                |p, v| p.checkin_version = Some(v.into()),
                &["v1.1"],
                &["", "v1.2", "1.1", "V1.1"],
                "expected v1.1 (the default) or v1.0 (Jenkins)",
            ),
            (
                "SeedCodeUpdateFileName",
                |p, v| {
                    p.checkin_version = Some("v1.0".into());
                    p.seed_code_update_file_name = Some(v.into());
                },
                &["jenkins/seed_job.groovy", "seed.groovy"],
                &["", "/abs", "a/../b", "a//b", "a b", "./x"],
                "expected a relative path such as jenkins/seed_job.groovy",
            ),
        ];
        for (field, set, good, bad, form) in cases {
            for value in good {
                let mut p = props();
                set(&mut p, value);
                assert!(p.plan().is_ok(), "{field} {value:?}: {:?}", p.plan().err());
            }
            for value in bad {
                let mut p = props();
                set(&mut p, value);
                let err = p.plan().expect_err(value).to_string();
                assert!(
                    err.starts_with(&format!("{field}: {value:?} is not ")),
                    "{field} {value:?}: {err}"
                );
                assert!(err.contains(form), "{field} {value:?}: {err}");
            }
        }
    }

    #[test]
    fn properties_are_typed_strictly() {
        use cloudformation_custom_resource::properties::parse;
        let mut raw = serde_json::json!({
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:sagemaker-projects-seedcode",
            "BuildProject": PROJECT, "SeedCodeBucket": "b-b-b", "SeedCodeKey": KEY, "ConnectionArn": CONNECTION,
            "RepositoryFullName": "o/r", "Branch": "main"
        });
        let ok: Properties = parse("ResourceProperties", raw.as_object().unwrap().clone()).unwrap();
        assert_eq!(ok.branch, "main");
        raw["Brnach"] = "main".into();
        let e = parse::<Properties>("ResourceProperties", raw.as_object().unwrap().clone())
            .unwrap_err();
        assert!(
            e.0.starts_with("ResourceProperties.Brnach: unknown field `Brnach`"),
            "{}",
            e.0
        );
        raw.as_object_mut().unwrap().remove("Brnach");
        raw.as_object_mut().unwrap().remove("Branch");
        let e = parse::<Properties>("ResourceProperties", raw.as_object().unwrap().clone())
            .unwrap_err();
        assert_eq!(e.0, "ResourceProperties: missing field `Branch`");
    }

    #[test]
    fn the_repository_url_is_the_connections_git_http_url_in_its_partition() {
        let url = |arn: &str, name: &str| repository_url(arn, name).unwrap();
        assert_eq!(url(CONNECTION, "example-org/model-build"), URL);
        assert_eq!(
            url("arn:aws:codestar-connections:us-east-1:123456789012:connection/abc-123", "g/sub/repo"),
            "https://codestar-connections.us-east-1.amazonaws.com/git-http/123456789012/us-east-1/abc-123/g/sub/repo.git"
        );
        assert_eq!(
            url("arn:aws-cn:codeconnections:cn-north-1:123456789012:connection/abc", "o/r"),
            "https://codeconnections.cn-north-1.amazonaws.com.cn/git-http/123456789012/cn-north-1/abc/o/r.git"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_jenkins_check_in_project_gets_upstreams_v1_0_overrides_and_no_secondary_source() {
        let req = request("req-1", Duration::from_secs(600));
        let token = idempotency_token(&req);
        let started = mock!(Client::start_build)
            .match_requests(move |r| {
                r.project_name() == Some(PROJECT)
                    && r.idempotency_token() == Some(token.as_str())
                    && secondary_of(r).is_empty()
                    && overrides_of(r)
                        == plain(&[
                            (
                                "SEEDCODE_BUCKET_NAME",
                                "sagemaker-servicecatalog-seedcode-eu-west-1",
                            ),
                            (
                                "SEEDCODE_BUCKET_KEY",
                                "toolchain/model-building-workflow-jenkins-v1.0.zip",
                            ),
                            ("GIT_REPOSITORY_FULL_NAME", "example-org/model-build"),
                            ("GIT_REPOSITORY_BRANCH", "main"),
                            ("GIT_REPOSITORY_CONNECTION_ARN", CONNECTION),
                            ("SEED_CODE_UPDATE_FILE_NAME", "jenkins/seed_job.groovy"),
                        ])
            })
            .then_output(|| {
                StartBuildOutput::builder()
                    .build_value(build(StatusType::Succeeded))
                    .build()
            });
        let client = mock_client!(aws_sdk_codebuild, RuleMode::Sequential, [&started]);
        let outcome = handler(client)
            .create(&req, &jenkins_props())
            .await
            .unwrap();
        assert_eq!(started.num_calls(), 1);
        assert_eq!(outcome.data["url"], URL);
    }
}

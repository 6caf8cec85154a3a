//! Names and ARNs: parsing what users give us, with errors that say the expected form.

use std::fmt;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    #[error("{field}: {value:?} is not an IAM role; expected a role ARN (arn:aws:iam::123456789012:role/[path/]Name) or a role name (1-64 of A-Z a-z 0-9 +=,.@_-)")]
    Role { field: &'static str, value: String },
    #[error("{field}: {value:?} is not an S3 bucket name; expected 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit")]
    Bucket { field: &'static str, value: String },
    #[error("{field}: {value:?} is not a key prefix; expected up to {MAX_PREFIX} characters of letters, digits and -_./ with no leading '/' and no '..' (it becomes part of the domain tag sagemaker:projectS3TemplatesLocation, whose value SageMaker limits to 256 characters of letters, digits, spaces and _.:/=+-@)")]
    Prefix { field: &'static str, value: String },
    #[error("{field}: {value:?} is not a templates location; expected s3://<bucket> or s3://<bucket>/<prefix>/")]
    Location { field: &'static str, value: String },
    #[error("{field}: {value:?} is not a KMS key ARN; expected arn:aws:kms:<region>:123456789012:key/<key id>")]
    KmsKey { field: &'static str, value: String },
    #[error("{field}: role {value} is in account {found}; this stack can only manage roles of account {expected}")]
    OtherAccount {
        field: &'static str,
        value: String,
        found: String,
        expected: String,
    },
}

/// An IAM role ARN, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleArn {
    pub partition: String,
    pub account: String,
    /// `/` or `/service-role/` etc.
    pub path: String,
    pub name: String,
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:iam::{}:role{}{}",
            self.partition, self.account, self.path, self.name
        )
    }
}

fn is_role_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

impl RoleArn {
    pub fn parse(field: &'static str, value: &str) -> Result<Self, NameError> {
        let err = || NameError::Role {
            field,
            value: value.to_owned(),
        };
        let rest = value.strip_prefix("arn:").ok_or_else(err)?;
        let mut parts = rest.splitn(5, ':');
        let (Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(err());
        };
        let path_and_name = resource.strip_prefix("role/").ok_or_else(err)?;
        // the name is what follows the LAST '/': paths such as service-role/ are common
        let (path, name) = match path_and_name.rfind('/') {
            Some(i) => (
                format!("/{}/", &path_and_name[..i]),
                &path_and_name[i + 1..],
            ),
            None => ("/".to_owned(), path_and_name),
        };
        let partition_ok = matches!(
            partition,
            "aws" | "aws-cn" | "aws-us-gov" | "aws-iso" | "aws-iso-b"
        );
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        let path_ok = path.len() <= 512
            && !path.contains("//")
            && path.bytes().all(|b| (0x21..0x7f).contains(&b));
        if !(partition_ok && account_ok && path_ok && is_role_name(name)) {
            return Err(err());
        }
        Ok(Self {
            partition: partition.to_owned(),
            account: account.to_owned(),
            path,
            name: name.to_owned(),
        })
    }
}

/// A role given as an ARN or a bare name; resolved to a name in the expected account.
pub fn role_name(field: &'static str, value: &str, account: &str) -> Result<String, NameError> {
    let value = value.trim();
    if value.starts_with("arn:") {
        let arn = RoleArn::parse(field, value)?;
        if arn.account != account {
            return Err(NameError::OtherAccount {
                field,
                value: value.to_owned(),
                found: arn.account,
                expected: account.to_owned(),
            });
        }
        return Ok(arn.name);
    }
    if is_role_name(value) {
        Ok(value.to_owned())
    } else {
        Err(NameError::Role {
            field,
            value: value.to_owned(),
        })
    }
}

/// A KMS key ARN (`arn:<partition>:kms:<region>:<account>:key/<id>`): what a template bucket's SSE-KMS uses.
pub fn kms_key_arn(field: &'static str, value: &str) -> Result<String, NameError> {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    let ok = matches!(parts.as_slice(), ["arn", partition, "kms", region, account, key]
    if partition.starts_with("aws")
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && key.strip_prefix("key/").is_some_and(|id| {
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        }));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(NameError::KmsKey {
            field,
            value: value.to_owned(),
        })
    }
}

pub fn bucket(field: &'static str, value: &str) -> Result<String, NameError> {
    let b = value.as_bytes();
    let ok = (3..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !value.contains("..")
        && !value.split('.').all(|p| p.parse::<u8>().is_ok());
    if ok {
        Ok(value.to_owned())
    } else {
        Err(NameError::Bucket {
            field,
            value: value.to_owned(),
        })
    }
}

/// A key prefix, normalised to "" or "something/".
/// The longest template prefix: `s3://<bucket>/<prefix>` (the domain tag's value) fits SageMaker's 256 characters
/// for the longest bucket name (63).
pub const MAX_PREFIX: usize = 256 - "s3://".len() - 63 - "/".len();

pub fn prefix(field: &'static str, value: &str) -> Result<String, NameError> {
    let ok = value.len() <= MAX_PREFIX
        && !value.starts_with('/')
        && !value.split('/').any(|seg| seg == "..")
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
    if !ok {
        return Err(NameError::Prefix {
            field,
            value: value.to_owned(),
        });
    }
    Ok(match value.trim_end_matches('/') {
        "" => String::new(),
        p => format!("{p}/"),
    })
}

/// A SageMaker domain id: `d-` and lower-case letters, digits and `-`, at most 63 characters.
pub fn is_domain_id(id: &str) -> bool {
    id.len() <= 63
        && id.starts_with("d-")
        && id.len() > 2
        && id[2..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An AWS region code: `us-east-1`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-5`…
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1]
            .parse::<u8>()
            .is_ok_and(|n| n > 0 && parts[parts.len() - 1].len() <= 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_with_and_without_paths() {
        let a = RoleArn::parse(
            "F",
            "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-1",
        )
        .unwrap();
        assert_eq!(
            (a.path.as_str(), a.name.as_str()),
            ("/service-role/", "AmazonSageMaker-ExecutionRole-1")
        );
        let b = RoleArn::parse("F", "arn:aws:iam::123456789012:role/PlainRole").unwrap();
        assert_eq!((b.path.as_str(), b.name.as_str()), ("/", "PlainRole"));
        let c = RoleArn::parse("F", "arn:aws-cn:iam::123456789012:role/a/b/c/Deep").unwrap();
        assert_eq!((c.path.as_str(), c.name.as_str()), ("/a/b/c/", "Deep"));
        assert_eq!(
            c.to_string(),
            "arn:aws-cn:iam::123456789012:role/a/b/c/Deep"
        );
    }

    #[test]
    fn malformed_role_arns_are_refused_with_the_expected_form() {
        for bad in [
            "arn:aws:iam::123456789012:user/Bob",
            "arn:aws:iam::12345:role/R",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/has space",
            "arn:aws:iam:us-east-1:123456789012:role/R",
            "arn:evil:iam::123456789012:role/R",
        ] {
            let e = RoleArn::parse("LaunchRoleArn", bad).unwrap_err();
            assert!(e.to_string().starts_with("LaunchRoleArn: "), "{e}");
            assert!(e.to_string().contains("expected a role ARN"), "{e}");
        }
    }

    #[test]
    fn role_names_resolve_from_arns_or_names_in_one_account() {
        assert_eq!(
            role_name(
                "R",
                "arn:aws:iam::123456789012:role/service-role/X",
                "123456789012"
            )
            .unwrap(),
            "X"
        );
        assert_eq!(role_name("R", " X ", "123456789012").unwrap(), "X");
        let e = role_name("R", "arn:aws:iam::999999999999:role/X", "123456789012").unwrap_err();
        assert!(matches!(e, NameError::OtherAccount { .. }), "{e}");
        assert!(role_name("R", "ünïcode", "123456789012").is_err());
        assert!(role_name("R", &"a".repeat(65), "123456789012").is_err());
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(bucket("B", "sagemaker-projects-templates-123").is_ok());
        for bad in [
            "Upper",
            "ab",
            "-start",
            "end-",
            "a..b",
            "192.168.1.1",
            &"a".repeat(64),
            "under_score",
        ] {
            assert!(bucket("B", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_are_normalised() {
        assert_eq!(prefix("P", "").unwrap(), "");
        assert!(prefix("P", "/").is_err());
        assert_eq!(prefix("P", "templates").unwrap(), "templates/");
        assert_eq!(prefix("P", "a/b/").unwrap(), "a/b/");
        assert!(prefix("P", "a/../b").is_err());
        assert!(prefix("P", "a\"b").is_err());
    }

    #[test]
    fn a_prefix_keeps_the_domain_tag_within_sagemakers_tag_rules() {
        // SageMaker tag values: at most 256 of [\p{L}\p{Z}\p{N}_.:/=+\-@]; "(" and "'" would make AddTags fail
        for refused in ["ml-platform/templates(prod)/", "team's/", "a!b/", "x*/"] {
            assert!(prefix("TemplatePrefix", refused).is_err(), "{refused}");
        }
        let longest = format!("{}/", "p".repeat(MAX_PREFIX - 1));
        assert!(prefix("TemplatePrefix", &longest).is_ok());
        let tag = format!("s3://{}/{}", "b".repeat(63), prefix("P", &longest).unwrap());
        assert_eq!(tag.len(), 256);
        assert!(prefix("TemplatePrefix", &format!("{}/", "p".repeat(211))).is_err());
    }
}

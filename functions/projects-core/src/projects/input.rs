//! What the caller gives: a project name, a description, `KEY=VALUE` parameters, checked before any call.

use std::collections::BTreeMap;

use super::error::LaunchError;

/// CreateProject's ProjectDescription limit.
pub const MAX_DESCRIPTION: usize = 1024;
/// CreateProject's limit on a CfnTemplateProvider's parameters.
pub const MAX_PARAMETERS: usize = 180;
/// CreateProject's limits on a parameter's name and value.
pub const MAX_PARAMETER_KEY: usize = 255;
pub const MAX_PARAMETER_VALUE: usize = 4096;

/// A project name as CreateProject takes it: 1–32 letters, digits and hyphens, starting and ending with a
/// letter or digit (`[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}`). Checked before any call.
pub fn check_project_name(name: &str) -> Result<(), LaunchError> {
    let problem = if name.is_empty() {
        Some("it is empty".to_owned())
    } else if name.chars().count() > 32 {
        Some(format!("it has {} characters", name.chars().count()))
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        Some(format!("{c:?} is not allowed"))
    } else if name.starts_with('-') || name.ends_with('-') {
        Some("it starts or ends with '-'".to_owned())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(why) => Err(LaunchError::Invalid(format!(
            "project name {name:?} is not valid ({why}): use 1-32 letters, digits and hyphens, starting and \
             ending with a letter or digit"
        ))),
    }
}

/// A project description as CreateProject takes it (at most 1,024 characters).
pub fn check_description(description: &str) -> Result<(), LaunchError> {
    let n = description.chars().count();
    if n > MAX_DESCRIPTION {
        return Err(LaunchError::Invalid(format!(
            "the description has {n} characters; SageMaker takes at most {MAX_DESCRIPTION}"
        )));
    }
    // CreateProject's ProjectDescription pattern: letters, marks, spaces, symbols, numbers and punctuation, so no
    // control character (a newline, a tab) and no format character
    static ALLOWED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"^[\p{L}\p{M}\p{Z}\p{S}\p{N}\p{P}]*$").expect("a valid pattern")
    });
    if let Some(bad) = description
        .chars()
        .find(|c| !ALLOWED.is_match(c.encode_utf8(&mut [0; 4])))
    {
        return Err(LaunchError::Invalid(format!(
            "the description holds {bad:?} (U+{:04X}); SageMaker takes letters, marks, spaces, symbols, numbers and punctuation only",
            u32::from(bad)
        )));
    }
    Ok(())
}

/// `KEY=VALUE` flags as a map. The value may be empty or contain `=`; a key given twice is refused.
pub fn parse_parameters(pairs: &[String]) -> Result<BTreeMap<String, String>, LaunchError> {
    if pairs.len() > MAX_PARAMETERS {
        return Err(LaunchError::Invalid(format!(
            "{} parameters given; SageMaker takes at most {MAX_PARAMETERS}",
            pairs.len()
        )));
    }
    let mut out = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .filter(|(k, _)| !k.trim().is_empty())
            .ok_or_else(|| LaunchError::Invalid(format!("parameter {pair:?} is not KEY=VALUE")))?;
        let key = key.trim();
        if key.chars().count() > MAX_PARAMETER_KEY || value.chars().count() > MAX_PARAMETER_VALUE {
            return Err(LaunchError::Invalid(format!(
                "parameter {:?} is too long: SageMaker takes names of at most {MAX_PARAMETER_KEY} and values of at most {MAX_PARAMETER_VALUE} characters",
                cloudformation_custom_resource::shorten(key, 64)
            )));
        }
        if key.chars().any(char::is_whitespace) {
            return Err(LaunchError::Invalid(format!(
                "parameter name {key:?} contains whitespace"
            )));
        }
        if out.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(LaunchError::Invalid(format!(
                "parameter {key} is given more than once"
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::testing::*;

    // ----------------------------------------------------------------------------------------- names, flags

    #[test]
    fn project_names_follow_the_create_project_pattern() {
        for ok in ["a", "Demo-1", "a--b", "1abc", &"x".repeat(32)] {
            assert!(check_project_name(ok).is_ok(), "{ok}");
        }
        let cases = [
            ("", "it is empty"),
            (&*"x".repeat(33), "it has 33 characters"),
            ("under_score", "'_' is not allowed"),
            ("has space", "' ' is not allowed"),
            ("-lead", "starts or ends with '-'"),
            ("trail-", "starts or ends with '-'"),
            ("ünï", "'ü' is not allowed"),
        ];
        for (name, why) in cases {
            let m = invalid(check_project_name(name).unwrap_err());
            assert!(m.contains(why), "{name}: {m}");
            assert!(m.contains("1-32 letters, digits and hyphens"), "{m}");
        }
    }

    #[test]
    fn descriptions_are_limited_to_1024_characters() {
        assert!(check_description(&"d".repeat(1024)).is_ok());
        assert!(
            invalid(check_description(&"d".repeat(1025)).unwrap_err()).contains("1025 characters")
        );
    }

    #[test]
    fn descriptions_hold_what_createprojects_pattern_takes() {
        assert!(check_description("Churn model — prod, v2 (€5/day) ✓ 日本").is_ok());
        for (bad, code) in [
            ("line\nbreak", "U+000A"),
            ("tab\there", "U+0009"),
            ("zero\u{200B}width", "U+200B"),
        ] {
            let e = invalid(check_description(bad).unwrap_err());
            assert!(e.contains(code), "{e}");
        }
    }

    #[test]
    fn parameter_flags_are_key_value_pairs_given_once() {
        let p = params(&["A=1", "B=x=y", "C="]);
        assert_eq!(
            p.into_iter().collect::<Vec<_>>(),
            [
                ("A".to_owned(), "1".to_owned()),
                ("B".to_owned(), "x=y".to_owned()),
                ("C".to_owned(), String::new())
            ]
        );
        let long_value = format!("A={}", "v".repeat(4097));
        let long_key = format!("{}=v", "k".repeat(256));
        for bad in [
            &["novalue"][..],
            &["=v"],
            &["A=1", "A=2"],
            &["A B=1"],
            &[long_value.as_str()],
            &[long_key.as_str()],
        ] {
            let flags: Vec<String> = bad.iter().map(|s| (*s).to_owned()).collect();
            let m = invalid(parse_parameters(&flags).unwrap_err());
            assert!(m.starts_with("parameter"), "{m}");
        }
    }
}

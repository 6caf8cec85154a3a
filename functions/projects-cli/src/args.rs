//! The command line's bounds, checked before clap parses it.
//!
//! clap's work grows faster than the length of an unknown argument (its "did you mean" search: a 160 KB
//! argument took 5.7 s in the `cli_args` fuzz target), and no argument `projects` takes needs more than a
//! few kilobytes, so a longer one is refused at once, before clap sees it.

use std::ffi::OsString;

/// The longest argument `projects` takes: a `--param=KEY=VALUE` of SageMaker's longest name (255
/// characters) and value (4,096), each character 4 bytes of UTF-8, fits.
pub const MAX_ARG_BYTES: usize = 20_480;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    #[error(
        "argument {position} is {bytes} bytes; projects takes arguments of at most {MAX_ARG_BYTES} bytes"
    )]
    TooLong { position: usize, bytes: usize },
}

/// Refuses the first argument (after the program's name, counted from 1) longer than [`MAX_ARG_BYTES`].
pub fn check(args: &[OsString]) -> Result<(), ArgsError> {
    match args
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, a)| a.len() > MAX_ARG_BYTES)
    {
        Some((position, a)) => Err(ArgsError::TooLong {
            position,
            bytes: a.len(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fuzz finding (`fuzz/corpus/cli_args/finding-a-long-unknown-argument.txt`): clap took seconds on a
    /// 160 KB unknown argument; it is now refused before clap runs.
    #[test]
    fn an_argument_longer_than_any_value_projects_takes_is_refused_before_parsing() {
        let long = format!("--launch{}", "x".repeat(MAX_ARG_BYTES));
        let args: Vec<OsString> = ["projects", "create", &long]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(
            check(&args),
            Err(ArgsError::TooLong {
                position: 2,
                bytes: MAX_ARG_BYTES + 8
            })
        );
        let longest_value = format!("--param={}={}", "k".repeat(255), "😀".repeat(4096));
        let args: Vec<OsString> = ["projects", "create", "x", &longest_value]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(check(&args), Ok(()));
    }
}

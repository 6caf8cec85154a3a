//! The fuzz driver of the workspace's parsers, on the stable toolchain.
//!
//! A target is a parser and a property over byte inputs, run as a unit test beside its parser:
//!
//! ```no_run
//! fuzzing::Target::new("s3_url", |input| {
//!     let _ = std::str::from_utf8(input);
//!     Ok(())
//! })
//! .dictionary(&["https://", ".s3.", "amazonaws.com", "/", "?versionId=", "%"])
//! .run();
//! ```
//!
//! [`Target::run`] first checks every input of the target's seed corpus (`fuzz/corpus/<name>/`, files
//! committed beside the findings they came from), then searches with [arbtest] for as long as
//! `FUZZ_SECONDS` says (2 s when unset, the short run of `make test`): each input is a corpus entry (or
//! nothing) with up to eight mutations drawn from arbtest's random bytes — a dictionary token inserted,
//! one repeated up to 100,000 times (what finds super-linear work), a range deleted or duplicated, a byte
//! changed, a splice of another entry. The property fails an input by returning `Err` or panicking; every
//! failing input is a finding, saved under `target/fuzz-findings/<name>/` to be committed to the corpus with
//! a test beside its parser. The run prints one line: inputs tried, findings, the slowest input and its
//! time. A target with findings fails its test after the search.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arbtest::arbitrary::{self, Unstructured};

/// A property over one input: `Err` (or a panic) is a finding.
pub type Property<'a> = Box<dyn Fn(&[u8]) -> Result<(), String> + 'a>;

/// JSON's punctuation and literals, for the dictionary of a target whose input is JSON.
pub const JSON_TOKENS: &[&str] = &["{", "}", "[", "]", ",", ":", "\"", "\\", "null"];

/// One fuzz target: its name (the corpus folder), its property and the tokens its mutations insert.
pub struct Target<'a> {
    name: &'static str,
    property: Property<'a>,
    dictionary: Vec<Vec<u8>>,
    seeds: Vec<Vec<u8>>,
    max_repeat: u32,
}

/// What a run found.
#[derive(Debug, Default)]
pub struct Report {
    pub inputs: u64,
    pub findings: Vec<Finding>,
    pub slowest: Option<(Duration, Vec<u8>)>,
}

/// An input the property failed, and why.
#[derive(Debug, Clone)]
pub struct Finding {
    pub input: Vec<u8>,
    pub why: String,
}

impl<'a> Target<'a> {
    pub fn new(name: &'static str, property: impl Fn(&[u8]) -> Result<(), String> + 'a) -> Self {
        Self {
            name,
            property: Box::new(property),
            dictionary: Vec::new(),
            seeds: Vec::new(),
            max_repeat: 100_000,
        }
    }

    /// Seeds besides the corpus folder's files (inputs the code base already holds, such as its templates).
    pub fn seeds<S: AsRef<[u8]>>(mut self, seeds: impl IntoIterator<Item = S>) -> Self {
        self.seeds
            .extend(seeds.into_iter().map(|s| s.as_ref().to_vec()));
        self
    }

    /// Tokens of the input language that mutations insert and repeat (added to those given before).
    pub fn dictionary(mut self, tokens: &[&str]) -> Self {
        self.dictionary
            .extend(tokens.iter().map(|t| t.as_bytes().to_vec()));
        self
    }

    /// How often a mutation may repeat one token (default 100,000).
    pub fn max_repeat(mut self, times: u32) -> Self {
        self.max_repeat = times;
        self
    }

    /// Checks the corpus, searches for the budget, prints the report and fails on any finding.
    pub fn run(self) {
        let budget = budget();
        let report = self.search(budget);
        let slowest = report.slowest.as_ref().map_or_else(
            || "none".to_owned(),
            |(time, input)| {
                format!(
                    "{:.1} ms ({} bytes: {})",
                    time.as_secs_f64() * 1e3,
                    input.len(),
                    preview(input)
                )
            },
        );
        println!(
            "fuzz {}: {} inputs in {:.0} s, {} findings, slowest {slowest}",
            self.name,
            report.inputs,
            budget.as_secs_f64(),
            report.findings.len(),
        );
        if !report.findings.is_empty() {
            let saved = save(self.name, &report.findings);
            let list: Vec<String> = report
                .findings
                .iter()
                .map(|f| {
                    format!(
                        "  {} ({} bytes): {}",
                        f.why,
                        f.input.len(),
                        preview(&f.input)
                    )
                })
                .collect();
            panic!(
                "fuzz {}: {} findings, saved in {}:\n{}",
                self.name,
                report.findings.len(),
                saved.display(),
                list.join("\n")
            );
        }
    }

    /// The corpus first, then arbtest's search for `budget`.
    pub fn search(&self, budget: Duration) -> Report {
        let mut corpus = corpus(self.name);
        corpus.extend(self.seeds.iter().cloned());
        let mut report = Report::default();
        for input in &corpus {
            self.try_one(input, &mut report);
        }
        let started = Instant::now();
        arbtest::arbtest(|u| {
            let input = self.mutated(u, &corpus)?;
            self.try_one(&input, &mut report);
            Ok(())
        })
        .size_min(16)
        .size_max(4096)
        .budget(budget.saturating_sub(started.elapsed()))
        .run();
        report
    }

    fn try_one(&self, input: &[u8], report: &mut Report) {
        report.inputs += 1;
        let started = Instant::now();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| (self.property)(input)));
        let took = started.elapsed();
        if report.slowest.as_ref().is_none_or(|(t, _)| took > *t) {
            report.slowest = Some((took, input.to_vec()));
        }
        let why = match outcome {
            Ok(Ok(())) => return,
            Ok(Err(why)) => why,
            Err(panicked) => format!("panic: {}", panic_text(panicked.as_ref())),
        };
        if report.findings.len() < 20 && !report.findings.iter().any(|f| f.why == why) {
            report.findings.push(Finding {
                input: input.to_vec(),
                why,
            });
        }
    }

    fn mutated(&self, u: &mut Unstructured<'_>, corpus: &[Vec<u8>]) -> arbitrary::Result<Vec<u8>> {
        let mut input = if corpus.is_empty() || u.ratio(1, 8)? {
            Vec::new()
        } else {
            u.choose(corpus)?.clone()
        };
        for _ in 0..u.int_in_range(1..=8)? {
            let at = u.int_in_range(0..=input.len())?;
            match u.int_in_range(0..=5)? {
                0 | 1 if !self.dictionary.is_empty() => {
                    let token = u.choose(&self.dictionary)?;
                    input.splice(at..at, token.iter().copied());
                }
                2 if !self.dictionary.is_empty() => {
                    let token = u.choose(&self.dictionary)?;
                    let times = if u.ratio(1, 4)? {
                        u.int_in_range(1..=self.max_repeat)?
                    } else {
                        u.int_in_range(1..=64)?
                    } as usize;
                    let repeated: Vec<u8> = token.repeat(times);
                    input.splice(at..at, repeated);
                }
                3 => {
                    let end = u.int_in_range(at..=input.len())?;
                    if u.ratio(1, 2)? {
                        input.drain(at..end);
                    } else {
                        let copy = input[at..end].to_vec();
                        input.splice(end..end, copy);
                    }
                }
                4 if !corpus.is_empty() => {
                    let other = u.choose(corpus)?;
                    let from = u.int_in_range(0..=other.len())?;
                    let to = u.int_in_range(from..=other.len())?;
                    input.splice(at..at, other[from..to].iter().copied());
                }
                _ => {
                    let byte: u8 = u.arbitrary()?;
                    match input.get_mut(at) {
                        Some(b) => *b = byte,
                        None => input.push(byte),
                    }
                }
            }
        }
        Ok(input)
    }
}

/// `FUZZ_SECONDS` (fractions allowed), else 2 s.
fn budget() -> Duration {
    std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(2), Duration::from_secs_f64)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The seed corpus of a target: every file of `fuzz/corpus/<name>/`, sorted by name.
pub fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = workspace().join("fuzz/corpus").join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
}

fn save(name: &str, findings: &[Finding]) -> PathBuf {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace().join("target"), PathBuf::from);
    let dir = target_dir.join("fuzz-findings").join(name);
    let _ = std::fs::create_dir_all(&dir);
    for (i, finding) in findings.iter().enumerate() {
        let _ = std::fs::write(dir.join(format!("finding-{i}")), &finding.input);
    }
    dir
}

/// The first 60 characters of an input, escaped.
pub fn preview(input: &[u8]) -> String {
    let text = String::from_utf8_lossy(&input[..input.len().min(60)]);
    format!("{:?}{}", text, if input.len() > 60 { "…" } else { "" })
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_the_property_fails_is_a_finding_and_one_that_panics_too() {
        let target = Target::new("no-corpus", |input| {
            if input.contains(&b'x') {
                return Err("holds x".into());
            }
            if input.contains(&b'y') {
                panic!("holds y");
            }
            Ok(())
        })
        .seeds(["", "x", "y"]);
        let report = target.search(Duration::from_millis(100));
        assert!(report.inputs >= 3);
        let whys: Vec<&str> = report.findings.iter().map(|f| f.why.as_str()).collect();
        assert!(whys.contains(&"holds x"), "{whys:?}");
        assert!(whys.contains(&"panic: holds y"), "{whys:?}");
    }

    #[test]
    fn repetition_builds_large_inputs_and_the_slowest_is_kept() {
        let target = Target::new("no-corpus", |_| Ok(())).dictionary(&["[["]);
        let report = target.search(Duration::from_millis(300));
        assert!(report.slowest.is_some());
    }
}

//! How deep a JSON text nests and how many objects and arrays it opens, measured in one linear pass without
//! building it.
//!
//! An event is parsed into a `serde_json::Value` before any handler runs; serde_json stops at 128 levels with
//! an error the runtime reports as a failed invocation, so the handler never hears of the event (and a
//! custom resource never answers), and a 1 MiB body of nested arrays becomes ~150 MiB of values.
//! The raw-event layer measures each body first and hands an event past [`MAX_EVENT_DEPTH`] or
//! [`MAX_EVENT_CONTAINERS`] to the handler as unparseable text, which it refuses with a reason.

/// How deep an event's objects and arrays may nest. AWS's events nest far less (an S3 or CloudTrail event
/// about 6 levels, a custom-resource request 2 plus its properties).
pub const MAX_EVENT_DEPTH: usize = 64;
/// How many objects and arrays an event may open. AWS's events open a few dozen.
pub const MAX_EVENT_CONTAINERS: usize = 10_000;

/// Why a JSON text is past the bounds, and the byte offset where it passed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Excess {
    /// An object or array opens deeper than [`MAX_EVENT_DEPTH`] levels.
    Depth(usize),
    /// More than [`MAX_EVENT_CONTAINERS`] objects and arrays.
    Containers(usize),
}

impl std::fmt::Display for Excess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Depth(at) => write!(
                f,
                "it nests deeper than {MAX_EVENT_DEPTH} levels at byte {at}"
            ),
            Self::Containers(at) => write!(
                f,
                "it opens more than {MAX_EVENT_CONTAINERS} objects and arrays (at byte {at})"
            ),
        }
    }
}

/// Where an event body first passes [`MAX_EVENT_DEPTH`] or [`MAX_EVENT_CONTAINERS`], if it does.
pub fn excess(text: &[u8]) -> Option<Excess> {
    let mut containers = 0usize;
    let mut at_depth = None;
    let within = scan(text, MAX_EVENT_DEPTH, |offset| {
        containers += 1;
        if containers > MAX_EVENT_CONTAINERS {
            at_depth = Some(Excess::Containers(offset));
            return false;
        }
        true
    });
    at_depth.or(within.map(Excess::Depth))
}

/// Where a JSON text first opens an object or array deeper than `limit`: its byte offset, or `None` when it
/// stays within. Strings (with their escapes) are skipped; the text need not be valid JSON.
///
/// ```
/// use cloudformation_custom_resource::json_depth::deeper_than;
/// assert_eq!(deeper_than(br#"{"a": [1, {"b": "[[["}]}"#, 3), None);
/// assert_eq!(deeper_than(br#"{"a": [[1]]}"#, 2), Some(7));
/// ```
pub fn deeper_than(text: &[u8], limit: usize) -> Option<usize> {
    scan(text, limit, |_| true)
}

/// The depth scan; `opened(offset)` is told of each object or array and stops the scan by returning false.
fn scan(text: &[u8], limit: usize, mut opened: impl FnMut(usize) -> bool) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (offset, byte) in text.iter().enumerate() {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(offset);
                }
                if !opened(offset) {
                    return None;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_in_strings_and_escaped_quotes_do_not_count() {
        assert_eq!(deeper_than(br#"["\"[[[[", "\\", ["x"]]"#, 2), None);
        assert_eq!(deeper_than(br#"["\\", [["#, 2), Some(8));
    }

    #[test]
    fn an_event_of_more_objects_and_arrays_than_the_bound_is_named() {
        let many = format!("[{}]", "{},".repeat(MAX_EVENT_CONTAINERS));
        assert_eq!(
            excess(many.as_bytes()),
            Some(Excess::Containers(1 + 3 * (MAX_EVENT_CONTAINERS - 1)))
        );
        let fits = format!("[{}]", "{},".repeat(MAX_EVENT_CONTAINERS - 1));
        assert_eq!(excess(fits.as_bytes()), None);
        assert_eq!(
            Excess::Containers(7).to_string(),
            "it opens more than 10000 objects and arrays (at byte 7)"
        );
    }

    #[test]
    fn the_first_level_past_the_limit_is_named() {
        let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert_eq!(deeper_than(deep.as_bytes(), MAX_EVENT_DEPTH), Some(64));
        let fits = format!("{}{}", "{\"a\":".repeat(64), "}".repeat(64));
        assert_eq!(deeper_than(fits.as_bytes(), MAX_EVENT_DEPTH), None);
    }
}

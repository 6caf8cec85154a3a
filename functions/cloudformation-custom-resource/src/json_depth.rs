//! How deep a JSON text nests, measured in one linear pass without building it.
//!
//! An event is parsed into a `serde_json::Value` before any handler runs; serde_json stops at 128 levels with
//! an error the runtime reports as a failed invocation, so the handler never hears of the event (and a
//! custom resource never answers). [`raw_event`](crate::raw_event) measures each body first and hands an
//! event deeper than [`MAX_EVENT_DEPTH`] to the handler as unparseable text, which it refuses with a reason.

/// How deep an event's objects and arrays may nest. AWS's events nest far less (an S3 or CloudTrail event
/// about 6 levels, a custom-resource request 2 plus its properties).
pub const MAX_EVENT_DEPTH: usize = 64;

/// Where a JSON text first opens an object or array deeper than `limit`: its byte offset, or `None` when it
/// stays within. Strings (with their escapes) are skipped; the text need not be valid JSON.
///
/// ```
/// use cloudformation_custom_resource::json_depth::deeper_than;
/// assert_eq!(deeper_than(br#"{"a": [1, {"b": "[[["}]}"#, 3), None);
/// assert_eq!(deeper_than(br#"{"a": [[1]]}"#, 2), Some(7));
/// ```
pub fn deeper_than(text: &[u8], limit: usize) -> Option<usize> {
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
    fn the_first_level_past_the_limit_is_named() {
        let deep = format!("{}{}", "[".repeat(1_000_000), "]".repeat(1_000_000));
        assert_eq!(deeper_than(deep.as_bytes(), MAX_EVENT_DEPTH), Some(64));
        let fits = format!("{}{}", "{\"a\":".repeat(64), "}".repeat(64));
        assert_eq!(deeper_than(fits.as_bytes(), MAX_EVENT_DEPTH), None);
    }
}

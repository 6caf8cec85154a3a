//! PhysicalResourceId rules. Ids are deterministic (never random, never a log stream name) and carry a
//! checksum of the stack and logical id, so a Delete can tell an id this function issued from any other.
//!
//! Issued: `<LogicalId>-<generation>-<check>`; generation `g0` on Create, `g<8 hex of the RequestId>` when an
//! Update asks for replacement. A failed Create answers `create-failed:<LogicalId>:<check>` (the sentinel).
//!
//! ```
//! use cloudformation_custom_resource::physical_id::{is_ours, is_sentinel, on_create, on_replace, sentinel};
//!
//! let stack = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/1111";
//! let id = on_create(stack, "Greeting");
//! assert!(id.starts_with("Greeting-g0-") && is_ours(&id, stack, "Greeting"));
//! assert_ne!(on_replace(stack, "Greeting", "request-2"), id);
//! assert!(!is_ours(&id, "arn:aws:cloudformation:us-east-1:123456789012:stack/other/2222", "Greeting"));
//! assert!(is_sentinel(&sentinel(stack, "Greeting")));
//! ```

use sha2::{Digest, Sha256};

const SENTINEL_PREFIX: &str = "create-failed:";
/// CloudFormation's limit for a PhysicalResourceId.
pub const MAX_LEN: usize = 1024;

fn check(stack_id: &str, logical_id: &str, generation: &str) -> String {
    let digest = Sha256::digest(format!("sppb/v1|{stack_id}|{logical_id}|{generation}"));
    hex::encode(&digest[..6])
}

/// The id a successful Create answers: the same for the same stack and logical id, every time.
pub fn on_create(stack_id: &str, logical_id: &str) -> String {
    issued(stack_id, logical_id, "g0")
}

/// A new id for a replacement asked by an Update; deterministic for the same request (CloudFormation reuses
/// the RequestId when it retries), different from every earlier generation.
pub fn on_replace(stack_id: &str, logical_id: &str, request_id: &str) -> String {
    let generation = format!(
        "g{}",
        &hex::encode(Sha256::digest(request_id.as_bytes()))[..8]
    );
    issued(stack_id, logical_id, &generation)
}

fn issued(stack_id: &str, logical_id: &str, generation: &str) -> String {
    let logical = if logical_id.is_empty() {
        "Resource"
    } else {
        logical_id
    };
    format!(
        "{logical}-{generation}-{}",
        check(stack_id, logical_id, generation)
    )
}

/// The id a failed Create answers. CloudFormation then sends Delete with it, which must touch nothing.
pub fn sentinel(stack_id: &str, logical_id: &str) -> String {
    let logical = if logical_id.is_empty() {
        "Resource"
    } else {
        logical_id
    };
    format!(
        "{SENTINEL_PREFIX}{logical}:{}",
        check(stack_id, logical_id, "create-failed")
    )
}

/// True when `id` is a failed Create's sentinel (of any stack).
pub fn is_sentinel(id: &str) -> bool {
    id.starts_with(SENTINEL_PREFIX)
}

/// True when `id` is one this function issued for this stack and logical id (any generation).
pub fn is_ours(id: &str, stack_id: &str, logical_id: &str) -> bool {
    let mut parts = id.rsplitn(3, '-');
    let (Some(mac), Some(generation), Some(_logical)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    generation.starts_with('g') && check(stack_id, logical_id, generation) == mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/1111";

    #[test]
    fn create_ids_are_deterministic_and_distinct_per_resource() {
        assert_eq!(on_create(STACK, "Policies"), on_create(STACK, "Policies"));
        assert_ne!(on_create(STACK, "Policies"), on_create(STACK, "Other"));
        assert_ne!(
            on_create(STACK, "Policies"),
            on_create("arn:other-stack", "Policies")
        );
        assert!(on_create(STACK, "Policies").starts_with("Policies-g0-"));
    }

    #[test]
    fn issued_ids_are_recognised_and_foreign_ones_are_not() {
        let created = on_create(STACK, "Policies");
        let replaced = on_replace(STACK, "Policies", "req-2");
        assert!(is_ours(&created, STACK, "Policies"));
        assert!(is_ours(&replaced, STACK, "Policies"));
        assert_ne!(created, replaced);
        assert_eq!(replaced, on_replace(STACK, "Policies", "req-2"));
        assert!(!is_ours(&created, "arn:another-stack", "Policies"));
        assert!(!is_ours(&created, STACK, "Other"));
        for foreign in [
            "",
            "2024/05/01/[$LATEST]abcdef",
            "Policies-g0-000000000000",
            "x",
            "a-b",
            "Policies-g0",
        ] {
            assert!(!is_ours(foreign, STACK, "Policies"), "{foreign}");
        }
    }

    #[test]
    fn the_failed_create_sentinel_is_recognisable_and_never_ours() {
        let s = sentinel(STACK, "Policies");
        assert!(is_sentinel(&s));
        assert!(!is_ours(&s, STACK, "Policies"));
        assert!(!is_sentinel(&on_create(STACK, "Policies")));
    }

    #[test]
    fn ids_stay_within_the_limit_for_the_longest_logical_id() {
        let logical = "L".repeat(255);
        assert!(on_replace(STACK, &logical, "r").len() <= MAX_LEN);
        assert!(sentinel(STACK, &logical).len() <= MAX_LEN);
        assert!(!on_create(STACK, "").is_empty());
    }
}

//! What a full buffer does with a new event: the back-pressure policy.

use std::time::Duration;

use crate::error::{KernelError, Result};

/// Chosen once, when the buffer is built.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Policy {
    /// The producer waits for space, forever (`None`) or up to a timeout, then fails
    /// with [`KernelError::Timeout`]; the events are then counted as rejected.
    Block { timeout: Option<Duration> },
    /// The push fails at once with [`KernelError::Full`]; a batch is refused whole.
    Reject,
    /// The oldest events are dropped (and counted) to make room; a push never fails.
    DropOldest,
}

impl Policy {
    /// Parses `"block"`, `"reject"` or `"drop_oldest"`; `timeout_s` applies to `block` only
    /// and must be a finite number of seconds `>= 0` (`None`: wait forever).
    pub fn parse(name: &str, timeout_s: Option<f64>) -> Result<Self> {
        let timeout = match timeout_s {
            None => None,
            Some(t) if t.is_finite() && t >= 0.0 => Some(Duration::from_secs_f64(t)),
            Some(t) => {
                return Err(KernelError::invalid(
                    "timeout",
                    format!("must be a finite number of seconds >= 0 or None, got {t}"),
                ))
            }
        };
        match name {
            "block" => Ok(Policy::Block { timeout }),
            "reject" | "drop_oldest" if timeout.is_some() => Err(KernelError::invalid(
                "timeout",
                format!("applies to the `block` policy only, not `{name}`"),
            )),
            "reject" => Ok(Policy::Reject),
            "drop_oldest" => Ok(Policy::DropOldest),
            other => Err(KernelError::invalid(
                "policy",
                format!(
                    "unknown policy {other:?}; expected \"block\", \"reject\" or \"drop_oldest\""
                ),
            )),
        }
    }

    /// The policy's name as [`Policy::parse`] reads it.
    pub fn name(&self) -> &'static str {
        match self {
            Policy::Block { .. } => "block",
            Policy::Reject => "reject",
            Policy::DropOldest => "drop_oldest",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_policy_and_round_trips_its_name() {
        for name in ["block", "reject", "drop_oldest"] {
            assert_eq!(Policy::parse(name, None).unwrap().name(), name);
        }
        assert_eq!(
            Policy::parse("block", Some(0.5)).unwrap(),
            Policy::Block {
                timeout: Some(Duration::from_millis(500))
            }
        );
    }

    #[test]
    fn rejects_unknown_policy_and_bad_timeouts_naming_the_argument() {
        let name_of = |r: Result<Policy>| match r {
            Err(KernelError::InvalidArgument { name, .. }) => name,
            other => panic!("expected InvalidArgument, got {other:?}"),
        };
        assert_eq!(name_of(Policy::parse("fifo", None)), "policy");
        assert_eq!(name_of(Policy::parse("block", Some(-1.0))), "timeout");
        assert_eq!(name_of(Policy::parse("block", Some(f64::NAN))), "timeout");
        assert_eq!(name_of(Policy::parse("reject", Some(1.0))), "timeout");
    }
}

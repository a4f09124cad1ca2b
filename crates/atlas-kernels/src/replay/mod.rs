//! Placeholder: filled by the kernel's own change.

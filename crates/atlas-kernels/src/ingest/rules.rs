//! The value rules of `atlas_core.validation.checks`, applied while decoding.
//!
//! The stores check every batch they are handed against those rules (all or nothing).
//! The decoder already holds each event's fields in hand, so checking them here costs
//! a few comparisons per event, where the store's column-wise pass costs about a
//! millisecond per table per commit in polars. Each event is blamed for the FIRST rule
//! it breaks, in the order of `checks(table)`, with the same field and reason text, so
//! an event refused here reads exactly as one the store would refuse.
//! `packages/atlas-core/tests/serve/test_column_decode.py` compares these verdicts with
//! `atlas_core.validation.bad_rows` on the SDK's own decoder's frames.
//!
//! Rules the decoder makes impossible are not repeated: ids are 16 bytes by
//! construction, required fields were checked for presence, the feedback kind comes
//! from its code, payload numbers were parsed as finite.

use super::{SdkBatch, Slot, KIND_INTERACTION};

/// A rule an event breaks: the field blamed and why.
pub type Verdict = (&'static str, &'static str);

// Payload field slots (see `FIELDS`).
const LEARNING_KEY: usize = 3;
const INPUT: usize = 6;
const PROMPT_TOKENS: usize = 8;
const COMPLETION_TOKENS: usize = 9;
const METADATA: usize = 10;
const NAME: usize = 11;
const SCALE_MIN: usize = 12;
const SCALE_MAX: usize = 13;
const TEXT: usize = 14;
const SOURCE: usize = 15;

const RATING: u8 = 1;
const SIGNAL: u8 = 2;

/// The first rule event `row` breaks, or None when it keeps them all.
pub(super) fn first_broken(
    batch: &SdkBatch<'_>,
    row: usize,
    slots: &[Slot],
    text: &[u8],
) -> Option<Verdict> {
    let tenant = &batch.tenant_names[batch.tenant_index[row] as usize];
    if tenant.is_empty() {
        return Some(("tenant_id", "empty string"));
    }
    let value = batch.value[row];
    if batch.kind[row] == KIND_INTERACTION {
        interaction(value, slots, text)
    } else {
        feedback(batch.kind[row], value, slots, text)
    }
}

fn interaction(latency: f64, slots: &[Slot], text: &[u8]) -> Option<Verdict> {
    if str_of(slots[LEARNING_KEY], text).is_some_and(<[u8]>::is_empty) {
        return Some(("learning_key", "empty string"));
    }
    if !json_shaped(slots[INPUT], text, b'[', b']') {
        return Some(("input", "not a JSON array"));
    }
    if latency.is_infinite() {
        return Some(("latency_ms", "not a finite number"));
    }
    if !json_shaped(slots[METADATA], text, b'{', b'}') {
        return Some(("metadata", "not a JSON object"));
    }
    if latency < 0.0 {
        return Some(("latency_ms", "negative"));
    }
    for (slot, field) in [
        (PROMPT_TOKENS, "prompt_tokens"),
        (COMPLETION_TOKENS, "completion_tokens"),
    ] {
        if matches!(slots[slot], Slot::Int(v) if v < 0) {
            return Some((field, "negative"));
        }
    }
    None
}

fn feedback(kind: u8, value: f64, slots: &[Slot], text: &[u8]) -> Option<Verdict> {
    if value.is_infinite() {
        return Some(("value", "not a finite number"));
    }
    if str_of(slots[SOURCE], text).is_some_and(<[u8]>::is_empty) {
        return Some(("source", "empty string"));
    }
    if !json_shaped(slots[METADATA], text, b'{', b'}') {
        return Some(("metadata", "not a JSON object"));
    }
    let value = (!value.is_nan()).then_some(value);
    let (low, high) = (float_of(slots[SCALE_MIN]), float_of(slots[SCALE_MAX]));
    if kind == RATING {
        if value.is_none() {
            return Some(("value", "a rating needs a value"));
        }
        if low.is_none() {
            return Some(("scale_min", "a rating needs a scale"));
        }
        if high.is_none() {
            return Some(("scale_max", "a rating needs a scale"));
        }
    }
    if let (Some(low), Some(high)) = (low, high) {
        if high <= low {
            return Some(("scale_max", "scale_max <= scale_min"));
        }
        if let (RATING, Some(v)) = (kind, value) {
            if !(low <= v && v <= high) {
                return Some(("value", "rating outside its scale"));
            }
        }
    }
    if kind == SIGNAL && !str_of(slots[NAME], text).is_some_and(|name| !name.is_empty()) {
        return Some(("name", "a signal needs a name"));
    }
    if kind > SIGNAL && matches!(slots[TEXT], Slot::Null) {
        return Some(("text", "edit/comment/label need text"));
    }
    None
}

/// A text field's bytes (None when null).
fn str_of(slot: Slot, text: &[u8]) -> Option<&[u8]> {
    match slot {
        Slot::Text(start, end) => Some(&text[start..end]),
        _ => None,
    }
}

fn float_of(slot: Slot) -> Option<f64> {
    match slot {
        Slot::Float(v) => Some(v),
        _ => None,
    }
}

/// The store's cheap JSON shape check: the text opens and closes with the brackets (a
/// null passes: presence is checked apart).
fn json_shaped(slot: Slot, text: &[u8], open: u8, close: u8) -> bool {
    match str_of(slot, text) {
        Some(t) => t.first() == Some(&open) && t.last() == Some(&close),
        None => true,
    }
}

//! The server's decoder of SDK column batches: payload lines to storage columns.
//!
//! The SDK ships events as columns (ids, kind, value, time) plus one JSON line per
//! event for the text parts (see `atlas_core.sdk.events`). [`decode_sdk_batch`] turns a
//! whole group commit's batches into the storage columns of the `interactions` and
//! `feedback` tables in one pass over the bytes, without the GIL: each event goes to the
//! table its kind names, an event the SDK would not write (unknown kind, a required
//! field missing) is counted out by position, an event that breaks one of the stores'
//! value rules is left out with the rule it breaks (see [`rules`]), and a line that is
//! not the SDK's JSON refuses the whole call (the caller retries request by request to
//! find the culprit). So every row of the tables returned keeps every value rule.
//!
//! The payload's `tenant_id` is checked for presence but not kept: each event is
//! stored under the tenant the caller names for it (the server's authenticated tenant).

mod json;
mod rules;
#[cfg(test)]
mod tests;

pub use json::{for_each_field, unescape_into, JsonError, Scalar};

use crate::buffer::ID_LEN;
use crate::error::{check_len, KernelError, Result};

/// Event kind codes of the SDK's buffer (`atlas_core.kernels.buffer.EventKind`).
pub const KIND_INTERACTION: u8 = 0;
/// The store's `kind` text of each feedback kind code (1..=5).
pub const FEEDBACK_KINDS: [&str; 5] = ["rating", "signal", "edit", "comment", "label"];

/// A batch as the SDK's buffer drains it (rows are events).
#[derive(Debug, Clone, Copy)]
pub struct SdkBatch<'a> {
    /// 16 bytes per event.
    pub event_id: &'a [u8],
    /// 16 bytes per event (the interaction a feedback event is about).
    pub interaction_id: &'a [u8],
    pub kind: &'a [u8],
    pub value: &'a [f64],
    pub ts_ns: &'a [i64],
    /// n + 1 offsets into `payload_data`.
    pub payload_offsets: &'a [i64],
    pub payload_data: &'a [u8],
    /// The tenant each event is stored under (an index into `tenant_names`): the
    /// caller's, never the payload's.
    pub tenant_index: &'a [u32],
    pub tenant_names: &'a [String],
}

/// One storage column's values (`valid`: per row, false for null; `None` when none is null).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: &'static str,
    pub data: ColumnData,
    pub valid: Option<Vec<bool>>,
}

/// The values of a [`Column`], laid out as Arrow's large binary/string and primitives.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    Binary { offsets: Vec<i64>, data: Vec<u8> },
    Utf8 { offsets: Vec<i64>, data: Vec<u8> },
    F64(Vec<f64>),
    I64(Vec<i64>),
}

impl Column {
    /// Rows in the column.
    pub fn len(&self) -> usize {
        match &self.data {
            ColumnData::Binary { offsets, .. } | ColumnData::Utf8 { offsets, .. } => {
                offsets.len() - 1
            }
            ColumnData::F64(v) => v.len(),
            ColumnData::I64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One table's columns (storage order) and each row's position in the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<i64>,
}

/// What [`decode_sdk_batch`] makes of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedSdkBatch {
    pub interactions: Table,
    pub feedback: Table,
    /// Positions of the events left out (unknown kind, or a required field missing).
    pub invalid: Vec<i64>,
    /// The events left out for breaking a value rule, in batch order.
    pub broken: Vec<Broken>,
}

/// An event left out for breaking a value rule of its table: the first it breaks, in
/// the order (and with the field and reason) of `atlas_core.validation.checks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Broken {
    pub row: i64,
    pub field: &'static str,
    pub reason: &'static str,
}

// Payload fields (the union of both kinds' payloads) and their types.
#[derive(Clone, Copy, PartialEq)]
enum Type {
    Str,
    Int,
    Float,
}

const FIELDS: [(&str, Type); 16] = [
    ("tenant_id", Type::Str),
    ("session_id", Type::Str),
    ("user_id", Type::Str),
    ("learning_key", Type::Str),
    ("model_version", Type::Str),
    ("prompt_version", Type::Str),
    ("input", Type::Str),
    ("output", Type::Str),
    ("prompt_tokens", Type::Int),
    ("completion_tokens", Type::Int),
    ("metadata", Type::Str),
    ("name", Type::Str),
    ("scale_min", Type::Float),
    ("scale_max", Type::Float),
    ("text", Type::Str),
    ("source", Type::Str),
];
const TENANT: usize = 0;

fn field_index(key: &[u8]) -> Option<usize> {
    FIELDS.iter().position(|(name, _)| name.as_bytes() == key)
}

/// Where a storage column's value comes from.
#[derive(Clone, Copy)]
enum Source {
    EventId,
    InteractionId,
    KindText,
    /// The `value` column, NaN as null.
    Value,
    CreatedAt,
    Tenant,
    Payload(usize),
}

const INTERACTION_COLUMNS: [(&str, Source); 14] = [
    ("id", Source::EventId),
    ("tenant_id", Source::Tenant),
    ("session_id", Source::Payload(1)),
    ("user_id", Source::Payload(2)),
    ("learning_key", Source::Payload(3)),
    ("model_version", Source::Payload(4)),
    ("prompt_version", Source::Payload(5)),
    ("input", Source::Payload(6)),
    ("output", Source::Payload(7)),
    ("latency_ms", Source::Value),
    ("prompt_tokens", Source::Payload(8)),
    ("completion_tokens", Source::Payload(9)),
    ("metadata", Source::Payload(10)),
    ("created_at", Source::CreatedAt),
];
/// Payload fields an interaction must have (the SDK always writes them).
const INTERACTION_REQUIRED: [usize; 5] = [TENANT, 10, 3, 6, 7];

const FEEDBACK_COLUMNS: [(&str, Source); 13] = [
    ("id", Source::EventId),
    ("tenant_id", Source::Tenant),
    ("interaction_id", Source::InteractionId),
    ("user_id", Source::Payload(2)),
    ("kind", Source::KindText),
    ("name", Source::Payload(11)),
    ("value", Source::Value),
    ("scale_min", Source::Payload(12)),
    ("scale_max", Source::Payload(13)),
    ("text", Source::Payload(14)),
    ("source", Source::Payload(15)),
    ("metadata", Source::Payload(10)),
    ("created_at", Source::CreatedAt),
];
const FEEDBACK_REQUIRED: [usize; 3] = [TENANT, 10, 15];

/// One payload field's value for the event being decoded.
#[derive(Clone, Copy)]
enum Slot {
    Null,
    /// `start..end` in the row's text scratch.
    Text(usize, usize),
    Int(i64),
    Float(f64),
}

/// Decodes every event of `batch`; see the module docs. Errors (InvalidArgument):
/// columns of different lengths, offsets outside the data, a payload that is not UTF-8,
/// not one JSON object ending in a newline, or a known field of the wrong type — each
/// naming the event.
pub fn decode_sdk_batch(batch: &SdkBatch<'_>) -> Result<DecodedSdkBatch> {
    let n = batch.kind.len();
    check_len("event_id", batch.event_id.len(), n * ID_LEN)?;
    check_len("interaction_id", batch.interaction_id.len(), n * ID_LEN)?;
    check_len("value", batch.value.len(), n)?;
    check_len("ts_ns", batch.ts_ns.len(), n)?;
    check_len("payload_offsets", batch.payload_offsets.len(), n + 1)?;
    check_len("tenant_index", batch.tenant_index.len(), n)?;
    if let Some(&bad) = batch
        .tenant_index
        .iter()
        .find(|&&t| t as usize >= batch.tenant_names.len())
    {
        return Err(KernelError::invalid(
            "tenant_index",
            format!(
                "{bad} is not an index into {} tenant names",
                batch.tenant_names.len()
            ),
        ));
    }
    let mut interactions = Builder::new(&INTERACTION_COLUMNS);
    let mut feedback = Builder::new(&FEEDBACK_COLUMNS);
    let mut invalid = Vec::new();
    let mut broken = Vec::new();
    let mut slots = [Slot::Null; FIELDS.len()];
    let mut text = Vec::new();
    for row in 0..n {
        let line = payload_line(batch, row)?;
        slots.fill(Slot::Null);
        text.clear();
        read_fields(line, &mut slots, &mut text)
            .map_err(|e| KernelError::invalid("payload", format!("event {row}: {e}")))?;
        let kind = batch.kind[row];
        let (builder, required) = match kind {
            KIND_INTERACTION => (&mut interactions, &INTERACTION_REQUIRED[..]),
            1..=5 => (&mut feedback, &FEEDBACK_REQUIRED[..]),
            _ => {
                invalid.push(row as i64);
                continue;
            }
        };
        if required.iter().any(|&f| matches!(slots[f], Slot::Null)) {
            invalid.push(row as i64);
            continue;
        }
        if let Some((field, reason)) = rules::first_broken(batch, row, &slots, &text) {
            broken.push(Broken {
                row: row as i64,
                field,
                reason,
            });
            continue;
        }
        builder.push(batch, row, &slots, &text);
    }
    Ok(DecodedSdkBatch {
        interactions: interactions.finish(),
        feedback: feedback.finish(),
        invalid,
        broken,
    })
}

fn payload_line<'a>(batch: &SdkBatch<'a>, row: usize) -> Result<&'a [u8]> {
    let (start, end) = (batch.payload_offsets[row], batch.payload_offsets[row + 1]);
    let bad = |reason: &str| KernelError::invalid("payload", format!("event {row}: {reason}"));
    let (Ok(start), Ok(end)) = (usize::try_from(start), usize::try_from(end)) else {
        return Err(bad("negative payload offset"));
    };
    if start > end || end > batch.payload_data.len() {
        return Err(bad("payload offsets outside payload_data"));
    }
    let line = &batch.payload_data[start..end];
    match line.split_last() {
        Some((b'\n', body)) if !body.contains(&b'\n') => {}
        _ => return Err(bad("not one JSON line")),
    }
    if std::str::from_utf8(line).is_err() {
        return Err(bad("not valid UTF-8"));
    }
    Ok(line)
}

fn read_fields(line: &[u8], slots: &mut [Slot], text: &mut Vec<u8>) -> json::JsonResult<()> {
    for_each_field(line, |key, value, at| {
        let Some(f) = field_index(key) else {
            return Ok(()); // a field this server does not know: ignored
        };
        let wrong = |reason| Err(JsonError { at, reason });
        slots[f] = match (FIELDS[f].1, value) {
            (_, Scalar::Null) => Slot::Null,
            (Type::Str, Scalar::Str { raw, escaped }) => {
                let start = text.len();
                if escaped {
                    unescape_into(raw, at + 1, text)?;
                } else {
                    text.extend_from_slice(raw);
                }
                Slot::Text(start, text.len())
            }
            (Type::Int, Scalar::Num(digits)) => match parse_int(digits) {
                Some(v) => Slot::Int(v),
                None => return wrong("expected a 64-bit integer"),
            },
            (Type::Float, Scalar::Num(digits)) => match parse_float(digits) {
                Some(v) => Slot::Float(v),
                None => return wrong("expected a number"),
            },
            (Type::Str, _) => return wrong("expected a string"),
            (Type::Int | Type::Float, _) => return wrong("expected a number"),
        };
        Ok(())
    })
}

fn parse_int(digits: &[u8]) -> Option<i64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn parse_float(digits: &[u8]) -> Option<f64> {
    let v: f64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Column builders of one table.
struct Builder {
    spec: &'static [(&'static str, Source)],
    data: Vec<ColumnData>,
    valid: Vec<Vec<bool>>,
    rows: Vec<i64>,
}

impl Builder {
    fn new(spec: &'static [(&'static str, Source)]) -> Self {
        let data = spec
            .iter()
            .map(|(_, source)| match source {
                Source::EventId | Source::InteractionId => ColumnData::Binary {
                    offsets: vec![0],
                    data: Vec::new(),
                },
                Source::KindText | Source::Tenant => ColumnData::Utf8 {
                    offsets: vec![0],
                    data: Vec::new(),
                },
                Source::Value => ColumnData::F64(Vec::new()),
                Source::CreatedAt => ColumnData::I64(Vec::new()),
                Source::Payload(f) => match FIELDS[*f].1 {
                    Type::Str => ColumnData::Utf8 {
                        offsets: vec![0],
                        data: Vec::new(),
                    },
                    Type::Int => ColumnData::I64(Vec::new()),
                    Type::Float => ColumnData::F64(Vec::new()),
                },
            })
            .collect();
        Self {
            spec,
            data,
            valid: vec![Vec::new(); spec.len()],
            rows: Vec::new(),
        }
    }

    fn push(&mut self, batch: &SdkBatch<'_>, row: usize, slots: &[Slot], text: &[u8]) {
        self.rows.push(row as i64);
        let span = row * ID_LEN..(row + 1) * ID_LEN;
        for ((_, source), (data, valid)) in self
            .spec
            .iter()
            .zip(self.data.iter_mut().zip(self.valid.iter_mut()))
        {
            let ok = match (*source, data) {
                (Source::EventId, ColumnData::Binary { offsets, data }) => {
                    push_bytes(offsets, data, &batch.event_id[span.clone()])
                }
                (Source::InteractionId, ColumnData::Binary { offsets, data }) => {
                    push_bytes(offsets, data, &batch.interaction_id[span.clone()])
                }
                (Source::KindText, ColumnData::Utf8 { offsets, data }) => {
                    let name = FEEDBACK_KINDS[usize::from(batch.kind[row]) - 1];
                    push_bytes(offsets, data, name.as_bytes())
                }
                (Source::Tenant, ColumnData::Utf8 { offsets, data }) => {
                    let tenant = &batch.tenant_names[batch.tenant_index[row] as usize];
                    push_bytes(offsets, data, tenant.as_bytes())
                }
                (Source::Value, ColumnData::F64(values)) => {
                    let v = batch.value[row];
                    values.push(if v.is_nan() { 0.0 } else { v });
                    !v.is_nan()
                }
                (Source::CreatedAt, ColumnData::I64(values)) => {
                    values.push(batch.ts_ns[row]);
                    true
                }
                (Source::Payload(f), data) => push_slot(data, slots[f], text),
                _ => unreachable!("column layouts are built from the same spec"),
            };
            valid.push(ok);
        }
    }

    fn finish(self) -> Table {
        let columns = self
            .spec
            .iter()
            .zip(self.data)
            .zip(self.valid)
            .map(|((&(name, _), data), valid)| Column {
                name,
                data,
                valid: if valid.iter().all(|&v| v) {
                    None
                } else {
                    Some(valid)
                },
            })
            .collect();
        Table {
            columns,
            rows: self.rows,
        }
    }
}

fn push_bytes(offsets: &mut Vec<i64>, data: &mut Vec<u8>, bytes: &[u8]) -> bool {
    data.extend_from_slice(bytes);
    offsets.push(data.len() as i64);
    true
}

/// Appends a payload value (a null is a zero-length / zero entry marked invalid).
fn push_slot(data: &mut ColumnData, slot: Slot, text: &[u8]) -> bool {
    match (data, slot) {
        (ColumnData::Utf8 { offsets, data }, Slot::Text(start, end)) => {
            push_bytes(offsets, data, &text[start..end])
        }
        (ColumnData::I64(values), Slot::Int(v)) => {
            values.push(v);
            true
        }
        (ColumnData::F64(values), Slot::Float(v)) => {
            values.push(v);
            true
        }
        (ColumnData::Utf8 { offsets, data } | ColumnData::Binary { offsets, data }, _) => {
            offsets.push(data.len() as i64);
            false
        }
        (ColumnData::I64(values), _) => {
            values.push(0);
            false
        }
        (ColumnData::F64(values), _) => {
            values.push(0.0);
            false
        }
    }
}

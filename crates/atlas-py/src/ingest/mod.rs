//! `decode_sdk_columns`: the server's decoder of SDK column batches
//! (`atlas_kernels::ingest`), run with the GIL released. Each table comes out as an
//! `ArrowTable`, which polars imports through `__arrow_c_array__` without a copy, in one
//! call per table (a call per column cost ~8 µs of polars' Python each, per commit).

mod arrow;

use std::ffi::CString;
use std::sync::{Mutex, PoisonError};

use atlas_kernels::buffer::ID_LEN;
use atlas_kernels::ingest::{decode_sdk_batch, Column, SdkBatch, Table};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::aggregator::columns::column;
use crate::errors::{invalid, StateError};
use crate::gil::detach;

/// One decoded storage table, handed out once through the Arrow PyCapsule interface as a
/// struct array whose fields are its columns (one import for the whole table).
#[pyclass(module = "atlas_core._native", name = "ArrowTable", frozen)]
#[derive(Debug)]
pub struct ArrowTable {
    names: Vec<&'static str>,
    rows: usize,
    columns: Mutex<Option<Vec<Column>>>,
}

#[pymethods]
impl ArrowTable {
    /// The storage columns' names, in order.
    #[getter]
    fn names(&self) -> Vec<&'static str> {
        self.names.clone()
    }

    fn __len__(&self) -> usize {
        self.rows
    }

    /// The table as an Arrow struct array (PyCapsules "arrow_schema" and "arrow_array").
    /// The data moves out: a second call raises StateError. `requested_schema` is
    /// ignored, as the interface allows.
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_array__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyCapsule>, Bound<'py, PyCapsule>)> {
        let _ = requested_schema;
        let taken = self
            .columns
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(taken) = taken else {
            return Err(StateError::new_err("the table was exported already"));
        };
        let (schema, array) = arrow::export_struct(taken, self.rows);
        let schema = PyCapsule::new_with_destructor(
            py,
            schema,
            Some(CString::from(c"arrow_schema")),
            |schema, _| arrow::release_schema_if_owned(schema),
        )?;
        let array = PyCapsule::new_with_destructor(
            py,
            array,
            Some(CString::from(c"arrow_array")),
            |array, _| arrow::release_array_if_owned(array),
        )?;
        Ok((schema, array))
    }
}

type PyTable<'py> = (ArrowTable, Bound<'py, PyArray1<i64>>);

fn table<'py>(py: Python<'py>, table: Table) -> PyTable<'py> {
    let names = table.columns.iter().map(|c| c.name).collect();
    let arrow = ArrowTable {
        names,
        rows: table.rows.len(),
        columns: Mutex::new(Some(table.columns)),
    };
    (arrow, PyArray1::from_vec(py, table.rows))
}

/// Decodes an SDK column batch into the `interactions` and `feedback` storage columns,
/// event i stored under `tenant_names[tenant_index[i]]`; returns
/// `((columns, rows), (columns, rows), invalid_rows, broken)`, `broken` a list of
/// `(row, field, reason)` for the events left out for breaking a value rule.
#[pyfunction]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn decode_sdk_columns<'py>(
    py: Python<'py>,
    event_id: &Bound<'py, PyAny>,
    interaction_id: &Bound<'py, PyAny>,
    kind: &Bound<'py, PyAny>,
    value: &Bound<'py, PyAny>,
    ts_ns: &Bound<'py, PyAny>,
    payload_offsets: &Bound<'py, PyAny>,
    payload_data: &Bound<'py, PyAny>,
    tenant_index: &Bound<'py, PyAny>,
    tenant_names: Vec<String>,
) -> PyResult<(
    PyTable<'py>,
    PyTable<'py>,
    Bound<'py, PyArray1<i64>>,
    Vec<(i64, &'static str, &'static str)>,
)> {
    let event_id = column::<u8>("event_id", event_id, "uint8 (16 bytes per event, flat)")?;
    let interaction_id = column::<u8>(
        "interaction_id",
        interaction_id,
        "uint8 (16 bytes per event, flat)",
    )?;
    let kind = column::<u8>("kind", kind, "uint8")?;
    let value = column::<f64>("value", value, "float64")?;
    let ts_ns = column::<i64>("ts_ns", ts_ns, "int64")?;
    let offsets = column::<i64>("payload_offsets", payload_offsets, "int64")?;
    let data = column::<u8>("payload_data", payload_data, "uint8")?;
    let tenant_index = column::<u32>("tenant_index", tenant_index, "uint32")?;
    if event_id.as_slice().len() % ID_LEN != 0 {
        return Err(invalid("event_id", "must hold 16 bytes per event"));
    }
    let batch = SdkBatch {
        event_id: event_id.as_slice(),
        interaction_id: interaction_id.as_slice(),
        kind: kind.as_slice(),
        value: value.as_slice(),
        ts_ns: ts_ns.as_slice(),
        payload_offsets: offsets.as_slice(),
        payload_data: data.as_slice(),
        tenant_index: tenant_index.as_slice(),
        tenant_names: &tenant_names,
    };
    let decoded = detach(py, || decode_sdk_batch(&batch))?;
    Ok((
        table(py, decoded.interactions),
        table(py, decoded.feedback),
        PyArray1::from_vec(py, decoded.invalid),
        decoded
            .broken
            .into_iter()
            .map(|b| (b.row, b.field, b.reason))
            .collect(),
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ArrowTable>()?;
    m.add_function(wrap_pyfunction!(decode_sdk_columns, m)?)?;
    Ok(())
}

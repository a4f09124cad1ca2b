//! NumPy columns in and out for the FeedbackBuffer binding.
//!
//! In: each column is borrowed from its NumPy array (copied only if strided), with
//! a typed error naming the argument when its dtype or shape is wrong. Out: each
//! drained `Vec` becomes the memory of a NumPy array, without a copy.

use atlas_kernels::buffer::{DrainedEvents, Offsets, ID_LEN};
use numpy::ndarray::Array2;
use numpy::{
    Element, PyArray1, PyArray2, PyArrayDescrMethods, PyArrayMethods, PyReadonlyArray1,
    PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};

use crate::errors::invalid;

/// A 1-D contiguous read-only column of `T`. Strided input is copied once; any other dtype is refused.
pub fn column<'py, T: Element>(
    name: &'static str,
    obj: &Bound<'py, PyAny>,
) -> PyResult<PyReadonlyArray1<'py, T>> {
    let py = obj.py();
    let Ok(array) = obj.cast::<PyArray1<T>>() else {
        let expected = numpy::dtype::<T>(py).str()?.to_string();
        return Err(invalid(
            name,
            format!(
                "must be a 1-D numpy array of dtype {expected}, got {}",
                describe(obj)
            ),
        ));
    };
    let array = if array.is_contiguous() {
        array.clone()
    } else {
        contiguous(obj)?.cast_into::<PyArray1<T>>()?
    };
    array
        .try_readonly()
        .map_err(|e| invalid(name, format!("cannot be read: {e}")))
}

/// A column of 16-byte ids as one flat byte column, and its number of rows.
/// Accepted: an `(n, 16)` uint8 array, or a 1-D array of dtype `S16` or `V16`.
pub fn id_column<'py>(
    name: &'static str,
    obj: &Bound<'py, PyAny>,
) -> PyResult<(PyReadonlyArray1<'py, u8>, usize)> {
    let refuse = || {
        invalid(
            name,
            format!(
                "must be an (n, 16) uint8 array or a 1-D 'S16'/'V16' array, got {}",
                describe(obj)
            ),
        )
    };
    let array = obj.cast::<PyUntypedArray>().map_err(|_| refuse())?;
    let dtype = array.dtype();
    let shape = array.shape();
    let as_bytes = match (dtype.kind(), dtype.itemsize(), shape) {
        (b'u', 1, [_, width]) if *width == ID_LEN => true,
        (b'S' | b'V', ID_LEN, [_]) => false,
        _ => return Err(refuse()),
    };
    let rows = shape[0];
    let flat = contiguous(obj)?;
    let flat = if as_bytes {
        flat
    } else {
        flat.call_method1("view", ("u1",))?
    };
    let flat = flat.call_method1("reshape", (-1,))?;
    let flat = flat.cast_into::<PyArray1<u8>>().map_err(|_| refuse())?;
    let flat = flat
        .try_readonly()
        .map_err(|e| invalid(name, format!("cannot be read: {e}")))?;
    Ok((flat, rows))
}

/// One 16-byte id from `bytes` (length 16) or anything with a 16-byte `.bytes` (`uuid.UUID`).
pub fn id16(name: &'static str, obj: &Bound<'_, PyAny>) -> PyResult<[u8; ID_LEN]> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return bytes.as_bytes().try_into().map_err(|_| {
            invalid(
                name,
                format!("must be 16 bytes, got {}", bytes.as_bytes().len()),
            )
        });
    }
    match obj.getattr("bytes") {
        Ok(inner) if inner.is_instance_of::<PyBytes>() => id16(name, &inner),
        _ => Err(invalid(
            name,
            format!("must be 16 bytes or a uuid.UUID, got {}", type_name(obj)),
        )),
    }
}

/// Borrowed payload offsets (`int32` or `int64`, as Arrow `binary` / `large_binary` have them).
pub enum OffsetsColumn<'py> {
    I32(PyReadonlyArray1<'py, i32>),
    I64(PyReadonlyArray1<'py, i64>),
}

impl<'py> OffsetsColumn<'py> {
    pub fn extract(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        if obj.cast::<PyArray1<i32>>().is_ok() {
            Ok(Self::I32(column("payload_offsets", obj)?))
        } else if obj.cast::<PyArray1<i64>>().is_ok() {
            Ok(Self::I64(column("payload_offsets", obj)?))
        } else {
            Err(invalid(
                "payload_offsets",
                format!(
                    "must be a 1-D numpy array of dtype int32 or int64, got {}",
                    describe(obj)
                ),
            ))
        }
    }

    pub fn as_offsets(&self) -> PyResult<Offsets<'_>> {
        let not_contiguous = |_| invalid("payload_offsets", "is not contiguous");
        Ok(match self {
            Self::I32(a) => Offsets::I32(a.as_slice().map_err(not_contiguous)?),
            Self::I64(a) => Offsets::I64(a.as_slice().map_err(not_contiguous)?),
        })
    }
}

/// Borrowed payload bytes: a `bytes` object or a 1-D uint8 array.
pub enum BytesColumn<'py> {
    Bytes(Bound<'py, PyBytes>),
    Array(PyReadonlyArray1<'py, u8>),
}

impl<'py> BytesColumn<'py> {
    pub fn extract(obj: &Bound<'py, PyAny>) -> PyResult<Self> {
        match obj.cast::<PyBytes>() {
            Ok(bytes) => Ok(Self::Bytes(bytes.clone())),
            Err(_) => Ok(Self::Array(column("payload_data", obj)?)),
        }
    }

    pub fn as_slice(&self) -> PyResult<&[u8]> {
        match self {
            Self::Bytes(b) => Ok(b.as_bytes()),
            Self::Array(a) => a
                .as_slice()
                .map_err(|_| invalid("payload_data", "is not contiguous")),
        }
    }
}

/// A payload from `bytes` or `str` (UTF-8); `None` is empty.
pub fn payload_bytes<'a>(obj: Option<&'a Bound<'_, PyAny>>) -> PyResult<&'a [u8]> {
    let Some(obj) = obj else { return Ok(&[]) };
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        Ok(bytes.as_bytes())
    } else if let Ok(text) = obj.cast::<PyString>() {
        Ok(text.to_str()?.as_bytes())
    } else {
        Err(invalid(
            "payload",
            format!(
                "must be bytes or str (JSON of the event's text parts), got {}",
                type_name(obj)
            ),
        ))
    }
}

/// The drained columns as a dict of NumPy arrays that own the Rust memory (no copy).
pub fn drained_to_dict<'py>(
    py: Python<'py>,
    drained: DrainedEvents,
) -> PyResult<Bound<'py, PyDict>> {
    let rows = drained.len();
    let out = PyDict::new(py);
    out.set_item("event_id", ids_array(py, drained.event_id, rows)?)?;
    out.set_item(
        "interaction_id",
        ids_array(py, drained.interaction_id, rows)?,
    )?;
    out.set_item("kind", PyArray1::from_vec(py, drained.kind))?;
    out.set_item("key", PyArray1::from_vec(py, drained.key))?;
    out.set_item("value", PyArray1::from_vec(py, drained.value))?;
    out.set_item("ts_ns", PyArray1::from_vec(py, drained.ts_ns))?;
    out.set_item(
        "payload_offsets",
        PyArray1::from_vec(py, drained.payload_offsets),
    )?;
    out.set_item("payload_data", PyArray1::from_vec(py, drained.payload_data))?;
    Ok(out)
}

fn ids_array(py: Python<'_>, flat: Vec<u8>, rows: usize) -> PyResult<Bound<'_, PyArray2<u8>>> {
    let array = Array2::from_shape_vec((rows, ID_LEN), flat).map_err(|e| {
        crate::errors::InternalError::new_err(format!("drained ids have a bad shape: {e}"))
    })?;
    Ok(PyArray2::from_owned_array(py, array))
}

fn contiguous<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    obj.py()
        .import("numpy")?
        .call_method1("ascontiguousarray", (obj,))
}

/// "array of dtype int64 and shape (3,)" or the Python type's name, for error messages.
fn describe(obj: &Bound<'_, PyAny>) -> String {
    match obj.cast::<PyUntypedArray>() {
        Ok(array) => {
            let dtype = array
                .dtype()
                .str()
                .map(|s| s.to_string())
                .unwrap_or_else(|_| "?".into());
            format!("an array of dtype {dtype} and shape {:?}", array.shape())
        }
        Err(_) => type_name(obj),
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

//! Argument conversion for the replay bindings: NumPy arrays or plain sequences in,
//! owned Rust vectors out (copied with the GIL held, so the kernel can run without it
//! while Python code mutates the caller's array).

use numpy::{
    Element, PyArray1, PyArrayMethods, PyReadonlyArray1, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::errors::invalid;

/// Copies a 1-D array of `T` (contiguous or not) into a vector.
fn copy<T: Element + Copy>(array: &PyReadonlyArray1<'_, T>) -> Vec<T> {
    match array.as_slice() {
        Ok(slice) => slice.to_vec(),
        Err(_) => array.as_array().iter().copied().collect(),
    }
}

/// Describes an array that has the wrong dtype or shape, for the error message.
fn describe(obj: &Bound<'_, PyAny>) -> Option<String> {
    let array = obj.cast::<PyUntypedArray>().ok()?;
    Some(format!(
        "got a {}-D array of dtype {}",
        array.ndim(),
        array.dtype()
    ))
}

/// Converts signed integers, refusing negative ones (one branch-free pass to check).
fn non_negative<T: Copy + Into<i64>>(name: &'static str, values: &[T]) -> PyResult<Vec<u64>> {
    if values.iter().fold(true, |ok, &v| ok & (v.into() >= 0)) {
        return Ok(values.iter().map(|&v| v.into() as u64).collect());
    }
    let bad = values
        .iter()
        .map(|&v| v.into())
        .find(|&v| v < 0)
        .unwrap_or(-1);
    Err(invalid(name, format!("must be >= 0, got {bad}")))
}

/// A copy of `obj` if it is a contiguous, aligned 1-D array of `T` (the common case),
/// taken without rust-numpy's borrow tracking, which costs more than copying a batch
/// (a global map insert and remove per array). `None` sends the caller to the checked
/// path, which also handles strided arrays.
fn fast_copy<T: Element + Copy>(obj: &Bound<'_, PyAny>) -> Option<Vec<T>> {
    let array = obj.cast::<PyArray1<T>>().ok()?;
    let aligned = (array.data() as usize) % std::mem::align_of::<T>() == 0;
    if !(aligned && array.is_contiguous()) {
        return None;
    }
    // SAFETY: the array is contiguous, aligned and of element type `T`, and it is
    // copied at once while this thread holds the GIL, so no Python code can resize or
    // free it meanwhile. The only writers that could run at the same time are those
    // that write without the GIL (a NumPy ufunc with `out=` in another thread), which
    // the tracked borrow would not stop either; this crate never holds a mutable
    // borrow of a caller's array.
    unsafe { array.as_slice() }.ok().map(<[T]>::to_vec)
}

/// `obj` as a read-only 1-D array of `T`, if it is one. A typed cast, not `extract`: a
/// miss costs a type check, not a Python exception object (this runs per dtype tried).
fn readonly<'py, T: Element>(obj: &Bound<'py, PyAny>) -> Option<PyReadonlyArray1<'py, T>> {
    obj.cast::<PyArray1<T>>().ok()?.try_readonly().ok()
}

/// Reads a 1-D array of `T` as a slice (copying only when it is not contiguous).
fn with_slice<T: Element + Copy, R>(
    array: &PyReadonlyArray1<'_, T>,
    f: impl FnOnce(&[T]) -> R,
) -> R {
    match array.as_slice() {
        Ok(slice) => f(slice),
        Err(_) => f(&array.as_array().iter().copied().collect::<Vec<T>>()),
    }
}

/// A column of `u64` (ids, keys, slots): a 1-D uint64 array (any other integer dtype
/// with non-negative values is converted) or a sequence of non-negative ints.
pub fn u64_column(obj: &Bound<'_, PyAny>, name: &'static str) -> PyResult<Vec<u64>> {
    if let Some(v) = fast_copy::<u64>(obj) {
        return Ok(v);
    }
    if let Some(a) = readonly::<u64>(obj) {
        return Ok(copy(&a));
    }
    if let Some(a) = readonly::<i64>(obj) {
        return with_slice(&a, |s| non_negative(name, s));
    }
    if let Some(a) = readonly::<i32>(obj) {
        return with_slice(&a, |s| non_negative(name, s));
    }
    if let Some(a) = readonly::<u32>(obj) {
        return Ok(copy(&a).into_iter().map(u64::from).collect());
    }
    let expected = "expected a 1-D integer array or a sequence of non-negative ints";
    if let Some(what) = describe(obj) {
        return Err(invalid(name, format!("{expected}, {what}")));
    }
    if obj.is_instance_of::<pyo3::types::PyString>() || obj.is_instance_of::<pyo3::types::PyBytes>()
    {
        return Err(invalid(name, format!("{expected}, got a string")));
    }
    obj.extract::<Vec<u64>>()
        .map_err(|e| invalid(name, format!("{expected} ({e})")))
}

/// A column of slots, as [`u64_column`] accepts them, except that an int64 array (what
/// `sample` returns) is kept as `i64`: the kernel takes either and refuses a negative
/// slot as out of range, so the common case is one copy and no conversion pass.
#[derive(Debug)]
pub enum SlotColumn {
    /// From an int64 array.
    Signed(Vec<i64>),
    /// From anything else [`u64_column`] accepts.
    Unsigned(Vec<u64>),
}

/// Reads a column of slots (see [`SlotColumn`]).
pub fn slot_column(obj: &Bound<'_, PyAny>, name: &'static str) -> PyResult<SlotColumn> {
    match fast_copy::<i64>(obj) {
        Some(v) => Ok(SlotColumn::Signed(v)),
        None => u64_column(obj, name).map(SlotColumn::Unsigned),
    }
}

/// A column of `f64`: a 1-D float64 or float32 array, or a sequence of numbers.
pub fn f64_column(obj: &Bound<'_, PyAny>, name: &'static str) -> PyResult<Vec<f64>> {
    if let Some(v) = fast_copy::<f64>(obj) {
        return Ok(v);
    }
    if let Some(a) = readonly::<f64>(obj) {
        return Ok(copy(&a));
    }
    if let Some(a) = readonly::<f32>(obj) {
        return Ok(copy(&a).into_iter().map(f64::from).collect());
    }
    let expected = "expected a 1-D float array or a sequence of numbers";
    if let Some(what) = describe(obj) {
        return Err(invalid(name, format!("{expected}, {what}")));
    }
    if obj.is_instance_of::<pyo3::types::PyString>() || obj.is_instance_of::<pyo3::types::PyBytes>()
    {
        return Err(invalid(name, format!("{expected}, got a string")));
    }
    obj.extract::<Vec<f64>>()
        .map_err(|e| invalid(name, format!("{expected} ({e})")))
}

/// A count such as a capacity or batch size: an int in `min..` that fits `usize`.
pub fn count(value: i64, name: &'static str, min: i64) -> PyResult<usize> {
    if value < min {
        return Err(invalid(name, format!("must be >= {min}, got {value}")));
    }
    usize::try_from(value).map_err(|_| invalid(name, format!("{value} is too large")))
}

/// A seed: an int in `0..2**64`.
pub fn seed(value: i128) -> PyResult<u64> {
    u64::try_from(value).map_err(|_| invalid("seed", format!("must be in [0, 2**64), got {value}")))
}

/// Slots as `i64` for NumPy (its natural index dtype); slots are below `u32::MAX`.
pub fn slots_out(slots: Vec<u64>) -> Vec<i64> {
    slots.into_iter().map(|s| s as i64).collect()
}

//! Reading NumPy columns for the batch calls: typed views, with an error naming the
//! argument when the object is not a 1-D array of the expected dtype.

use numpy::{Element, PyArray1, PyArrayMethods, PyReadonlyArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::invalid;

/// A 1-D column: a borrowed view when contiguous, else a copy.
pub enum Column<'py, T: Element> {
    View(PyReadonlyArray1<'py, T>),
    Owned(Vec<T>),
}

impl<T: Element + Copy> Column<'_, T> {
    /// The values as a slice.
    pub fn as_slice(&self) -> &[T] {
        match self {
            Column::View(a) => a.as_slice().unwrap_or(&[]),
            Column::Owned(v) => v,
        }
    }
}

/// Reads `obj` as a 1-D NumPy array of `T` (`dtype_name` is for the error message).
pub fn column<'py, T: Element + Copy>(
    name: &'static str,
    obj: &Bound<'py, PyAny>,
    dtype_name: &str,
) -> PyResult<Column<'py, T>> {
    match obj.cast::<PyArray1<T>>() {
        Ok(array) => {
            let view = array.readonly();
            if view.as_slice().is_ok() {
                Ok(Column::View(view))
            } else {
                Ok(Column::Owned(view.as_array().iter().copied().collect()))
            }
        }
        Err(_) => Err(invalid(
            name,
            format!(
                "must be a 1-D NumPy array of {dtype_name}, got {}",
                describe(obj)
            ),
        )),
    }
}

/// `ndarray[int64, ndim=2]`-style description of what was passed, for error messages.
pub fn describe(obj: &Bound<'_, PyAny>) -> String {
    if let Ok(array) = obj.cast::<numpy::PyUntypedArray>() {
        let dtype = array
            .dtype()
            .str()
            .map(|s| s.to_string())
            .unwrap_or_default();
        return format!("an array of {dtype} with {} dimension(s)", array.ndim());
    }
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an unknown object".into())
}

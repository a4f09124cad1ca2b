//! Columns out as Arrow arrays through the Arrow PyCapsule interface
//! (`__arrow_c_array__`), so polars (or pyarrow) takes the Rust memory without a copy
//! and without a pyarrow dependency here.
//!
//! The structs are the Arrow C data interface's, declared by hand (they are an ABI, not
//! a library); each exported array owns its column through `private_data` and frees it
//! in its `release` callback, which the consumer calls when it is done.

use std::ffi::{c_char, c_void, CString};
use std::ptr;

use atlas_kernels::ingest::{Column, ColumnData};

/// `struct ArrowSchema` of the Arrow C data interface.
#[repr(C)]
#[derive(Debug)]
pub struct ArrowSchema {
    format: *const c_char,
    name: *const c_char,
    metadata: *const c_char,
    flags: i64,
    n_children: i64,
    children: *mut *mut ArrowSchema,
    dictionary: *mut ArrowSchema,
    release: Option<unsafe extern "C" fn(*mut ArrowSchema)>,
    private_data: *mut c_void,
}

/// `struct ArrowArray` of the Arrow C data interface.
#[repr(C)]
#[derive(Debug)]
pub struct ArrowArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut ArrowArray,
    dictionary: *mut ArrowArray,
    release: Option<unsafe extern "C" fn(*mut ArrowArray)>,
    private_data: *mut c_void,
}

// SAFETY: both structs own what they point to (through `private_data`) and nothing
// else refers to it, so moving them to another thread is sound; the capsule that
// holds them may be destroyed on any thread.
unsafe impl Send for ArrowSchema {}
unsafe impl Send for ArrowArray {}

const FLAG_NULLABLE: i64 = 2;

struct SchemaPrivate {
    _format: CString,
    _name: CString,
}

struct ArrayPrivate {
    _data: ColumnData,
    _validity: Option<Vec<u8>>,
    buffers: Vec<*const c_void>,
}

/// The schema and array of one column (moved into capsules by the caller).
pub fn export(column: Column) -> (ArrowSchema, ArrowArray) {
    let format = match column.data {
        ColumnData::Binary { .. } => c"Z",
        ColumnData::Utf8 { .. } => c"U",
        ColumnData::F64(_) => c"g",
        ColumnData::I64(_) => c"l",
    };
    let format = CString::from(format);
    let name = CString::new(column.name).unwrap_or_default();
    let schema_private = Box::new(SchemaPrivate {
        _format: format,
        _name: name,
    });
    let schema = ArrowSchema {
        format: schema_private._format.as_ptr(),
        name: schema_private._name.as_ptr(),
        metadata: ptr::null(),
        flags: FLAG_NULLABLE,
        n_children: 0,
        children: ptr::null_mut(),
        dictionary: ptr::null_mut(),
        release: Some(release_schema),
        private_data: Box::into_raw(schema_private).cast(),
    };

    let length = column.len();
    let (validity, null_count) = match &column.valid {
        Some(valid) => bitmap(valid),
        None => (None, 0),
    };
    let validity_ptr = validity
        .as_ref()
        .map_or(ptr::null(), |v| v.as_ptr().cast::<c_void>());
    let buffers: Vec<*const c_void> = match &column.data {
        ColumnData::Binary { offsets, data } | ColumnData::Utf8 { offsets, data } => {
            vec![validity_ptr, offsets.as_ptr().cast(), data.as_ptr().cast()]
        }
        ColumnData::F64(values) => vec![validity_ptr, values.as_ptr().cast()],
        ColumnData::I64(values) => vec![validity_ptr, values.as_ptr().cast()],
    };
    // Moving the Vecs into the box keeps their heap buffers where the pointers point.
    let mut array_private = Box::new(ArrayPrivate {
        _data: column.data,
        _validity: validity,
        buffers,
    });
    let array = ArrowArray {
        length: length as i64,
        null_count,
        offset: 0,
        n_buffers: array_private.buffers.len() as i64,
        n_children: 0,
        buffers: array_private.buffers.as_mut_ptr(),
        children: ptr::null_mut(),
        dictionary: ptr::null_mut(),
        release: Some(release_array),
        private_data: Box::into_raw(array_private).cast(),
    };
    (schema, array)
}

/// Calls a schema's release callback unless its consumer moved it out already.
pub fn release_schema_if_owned(mut schema: ArrowSchema) {
    if let Some(release) = schema.release {
        // SAFETY: `schema` is a live exported schema whose callback has not run.
        unsafe { release(&mut schema) }
    }
}

/// Calls an array's release callback unless its consumer moved it out already.
pub fn release_array_if_owned(mut array: ArrowArray) {
    if let Some(release) = array.release {
        // SAFETY: `array` is a live exported array whose callback has not run.
        unsafe { release(&mut array) }
    }
}

/// Arrow's validity bitmap (bit i set when row i is valid, least significant bit first)
/// and the null count.
fn bitmap(valid: &[bool]) -> (Option<Vec<u8>>, i64) {
    let mut bits = vec![0u8; valid.len().div_ceil(8)];
    let mut nulls = 0;
    for (i, &v) in valid.iter().enumerate() {
        if v {
            bits[i / 8] |= 1 << (i % 8);
        } else {
            nulls += 1;
        }
    }
    (Some(bits), nulls)
}

unsafe extern "C" fn release_schema(schema: *mut ArrowSchema) {
    // SAFETY: the interface calls release with the schema it was set on (or a moved
    // copy of it); `private_data` is the box made in `export`, freed exactly once
    // because `release` is cleared here.
    unsafe {
        if let Some(schema) = schema.as_mut() {
            if !schema.private_data.is_null() {
                drop(Box::from_raw(schema.private_data.cast::<SchemaPrivate>()));
            }
            schema.private_data = ptr::null_mut();
            schema.release = None;
        }
    }
}

unsafe extern "C" fn release_array(array: *mut ArrowArray) {
    // SAFETY: as for `release_schema`, with the box of `ArrayPrivate`.
    unsafe {
        if let Some(array) = array.as_mut() {
            if !array.private_data.is_null() {
                drop(Box::from_raw(array.private_data.cast::<ArrayPrivate>()));
            }
            array.private_data = ptr::null_mut();
            array.release = None;
        }
    }
}

struct StructSchemaPrivate {
    _format: CString,
    _name: CString,
    children: Vec<*mut ArrowSchema>,
}

struct StructArrayPrivate {
    buffers: Vec<*const c_void>,
    children: Vec<*mut ArrowArray>,
}

/// The schema and array of a table: one struct array whose fields are `columns`, so a
/// consumer imports a whole table in one call (polars: a struct Series, unnested).
pub fn export_struct(columns: Vec<Column>, rows: usize) -> (ArrowSchema, ArrowArray) {
    let mut schemas = Vec::with_capacity(columns.len());
    let mut arrays = Vec::with_capacity(columns.len());
    for column in columns {
        let (schema, array) = export(column);
        schemas.push(Box::into_raw(Box::new(schema)));
        arrays.push(Box::into_raw(Box::new(array)));
    }
    let n_children = schemas.len() as i64;
    let mut schema_private = Box::new(StructSchemaPrivate {
        _format: CString::from(c"+s"),
        _name: CString::default(),
        children: schemas,
    });
    let schema = ArrowSchema {
        format: schema_private._format.as_ptr(),
        name: schema_private._name.as_ptr(),
        metadata: ptr::null(),
        flags: 0,
        n_children,
        children: schema_private.children.as_mut_ptr(),
        dictionary: ptr::null_mut(),
        release: Some(release_struct_schema),
        private_data: Box::into_raw(schema_private).cast(),
    };
    // One buffer, the validity bitmap: absent, every row is valid.
    let mut array_private = Box::new(StructArrayPrivate {
        buffers: vec![ptr::null()],
        children: arrays,
    });
    let array = ArrowArray {
        length: rows as i64,
        null_count: 0,
        offset: 0,
        n_buffers: 1,
        n_children,
        buffers: array_private.buffers.as_mut_ptr(),
        children: array_private.children.as_mut_ptr(),
        dictionary: ptr::null_mut(),
        release: Some(release_struct_array),
        private_data: Box::into_raw(array_private).cast(),
    };
    (schema, array)
}

unsafe extern "C" fn release_struct_schema(schema: *mut ArrowSchema) {
    // SAFETY: as for `release_schema`; each child is a box made in `export_struct`, whose
    // own release callback runs unless the consumer moved the child out (then it cleared
    // the callback) and whose box is freed here exactly once.
    unsafe {
        if let Some(schema) = schema.as_mut() {
            if !schema.private_data.is_null() {
                let private = Box::from_raw(schema.private_data.cast::<StructSchemaPrivate>());
                for &child in &private.children {
                    let mut child = Box::from_raw(child);
                    if let Some(release) = child.release {
                        release(&mut *child);
                    }
                }
            }
            schema.private_data = ptr::null_mut();
            schema.release = None;
        }
    }
}

unsafe extern "C" fn release_struct_array(array: *mut ArrowArray) {
    // SAFETY: as for `release_struct_schema`, with the boxes of the child arrays.
    unsafe {
        if let Some(array) = array.as_mut() {
            if !array.private_data.is_null() {
                let private = Box::from_raw(array.private_data.cast::<StructArrayPrivate>());
                for &child in &private.children {
                    let mut child = Box::from_raw(child);
                    if let Some(release) = child.release {
                        release(&mut *child);
                    }
                }
            }
            array.private_data = ptr::null_mut();
            array.release = None;
        }
    }
}

//! After a panic caught at the C boundary the handle is poisoned: every later call on it
//! answers `PANIC`, close and free still work and write nothing, and (on SQLite) the
//! namespace is free for the next handle. Driven through the C ABI's functions, with the
//! test-only panic injection of `sesh::ffi::panic_on_next_call`.

use sesh::ffi::*;
use std::ffi::{CStr, CString, c_char};
use std::ptr::null_mut;

fn open(path: &CStr) -> *mut SeshHandle {
    unsafe {
        let mut options: *mut SeshOptions = null_mut();
        assert_eq!(sesh_options_new(&mut options), SeshStatus::Ok);
        assert_eq!(
            sesh_options_set_store_sqlite(options, path.as_ptr()),
            SeshStatus::Ok
        );
        let mut handle: *mut SeshHandle = null_mut();
        assert_eq!(sesh_handle_open(options, &mut handle), SeshStatus::Ok);
        sesh_options_free(options);
        handle
    }
}

fn index(handle: *mut SeshHandle) -> (SeshStatus, i64) {
    let mut index = -1;
    let status = unsafe { sesh_session_get_event_index(handle, &mut index) };
    (status, index)
}

fn track(handle: *mut SeshHandle) -> SeshStatus {
    let mut entity: *mut c_char = null_mut();
    let status = unsafe { sesh_event_track(handle, std::ptr::null(), &mut entity) };
    unsafe { sesh_string_free(entity) };
    status
}

#[test]
fn a_panic_poisons_the_handle_until_it_is_closed_and_freed() {
    let dir = std::env::temp_dir().join(format!("sesh-poison-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = CString::new(dir.join("s.db").to_str().unwrap()).unwrap();

    let handle = open(&path);
    assert_eq!(track(handle), SeshStatus::Ok);
    assert_eq!(track(handle), SeshStatus::Ok);
    assert_eq!(index(handle), (SeshStatus::Ok, 2));

    unsafe { panic_on_next_call(handle) };
    assert_eq!(track(handle), SeshStatus::Panic, "the panic is caught");
    // Poisoned: every call answers PANIC, and writes no out-parameter.
    assert_eq!(track(handle), SeshStatus::Panic);
    assert_eq!(index(handle), (SeshStatus::Panic, -1));
    assert_eq!(unsafe { sesh_session_new(handle) }, SeshStatus::Panic);
    let mut message: *mut c_char = null_mut();
    assert_eq!(
        unsafe { sesh_handle_get_last_error(handle, &mut message) },
        SeshStatus::Ok
    );
    let text = unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned();
    assert!(text.contains("panicked"), "{text}");
    unsafe { sesh_string_free(message) };
    // Close still works, once; then the handle is closed like any other.
    assert_eq!(unsafe { sesh_handle_close(handle) }, SeshStatus::Ok);
    assert_eq!(track(handle), SeshStatus::Closed);
    unsafe { sesh_handle_free(handle) };

    // The namespace is free: the next handle holds it first, and the session goes on
    // from what the calls before the panic left.
    let next = open(&path);
    assert_eq!(track(next), SeshStatus::Ok);
    assert_eq!(index(next), (SeshStatus::Ok, 3));
    unsafe {
        assert_eq!(sesh_handle_close(next), SeshStatus::Ok);
        sesh_handle_free(next);
    }

    // Freed without a close while poisoned: nothing is written, nothing hangs.
    let third = open(&path);
    unsafe { panic_on_next_call(third) };
    assert_eq!(track(third), SeshStatus::Panic);
    unsafe { sesh_handle_free(third) };
    let last = open(&path);
    assert_eq!(track(last), SeshStatus::Ok);
    unsafe {
        sesh_handle_close(last);
        sesh_handle_free(last);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

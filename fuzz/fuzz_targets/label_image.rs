//! One handler of the image family of `hegui-label` (first byte: which; rest: the file), with
//! the checks of `common/label.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/label.rs"]
mod common;

/// Selector byte % 5: png, jpeg, webp, gif, tiff.
const HANDLERS: &[&str] = &["png", "jpeg", "webp", "gif", "tiff"];

fuzz_target!(|data: &[u8]| common::dispatch(HANDLERS, data));

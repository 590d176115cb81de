//! One handler of the av family of `hegui-label` (first byte: which; rest: the file), with
//! the checks of `common/label.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/label.rs"]
mod common;

/// Selector byte % 5: mp4, mp3, wav, flac, ogg.
const HANDLERS: &[&str] = &["mp4", "mp3", "wav", "flac", "ogg"];

fuzz_target!(|data: &[u8]| common::dispatch(HANDLERS, data));

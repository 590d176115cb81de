//! One handler of the doc family of `hegui-label` (first byte: which; rest: the file), with
//! the checks of `common/label.rs`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/label.rs"]
mod common;

/// Selector byte % 5: pdf, ooxml, markdown, text, html.
const HANDLERS: &[&str] = &["pdf", "ooxml", "markdown", "text", "html"];

fuzz_target!(|data: &[u8]| common::dispatch(HANDLERS, data));

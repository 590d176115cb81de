//! Any bytes through `Registry::detect` (first byte: file-name hint, rest: the file), then the
//! checks of `common/label.rs` on the handler it picks: covers sniffing and every parser on
//! inputs that start like another format.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/label.rs"]
mod common;

/// File name given to `detect` by the first byte (% len); `None` sniffs magic bytes only.
const NAMES: &[Option<&str>] = &[
    None,
    Some("a.md"),
    Some("a.txt"),
    Some("a.html"),
    Some("a.docx"),
    Some("a.mp3"),
    Some("a.bin"),
    Some("a.mov"),
];

fuzz_target!(|data: &[u8]| {
    static REG: std::sync::OnceLock<hegui_label::Registry> = std::sync::OnceLock::new();
    let reg = REG.get_or_init(hegui_label::Registry::new);
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let name = NAMES[sel as usize % NAMES.len()];
    if let Ok(h) = reg.detect(rest, name) {
        // Magic bytes win over the name: the handler must be the sniffed one if any.
        if let Some(s) = reg.handlers().find(|h| h.sniff(rest)) {
            assert_eq!(s.name(), h.name());
        }
        common::check(h, rest);
    }
});

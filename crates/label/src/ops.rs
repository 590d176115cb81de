//! Labeling operations over any handler: sign and write, verify, propagate, strip, and their
//! atomic file forms.

use std::io::{Seek, Write};
use std::path::Path;

use hegui_types::AigcLabel;

use crate::sign::{self, LabelPublicKey, LabelSigningKey, Verdict};
use crate::{FileBytes, FormatHandler, FoundLabel, LabelError, Output, Registry};

/// The label a file is taken to carry: the canonical carrier's if present, else the first found.
pub fn primary<'a>(handler: &dyn FormatHandler, found: &'a [FoundLabel]) -> Option<&'a FoundLabel> {
    found
        .iter()
        .find(|f| f.carrier == handler.canonical_carrier())
        .or_else(|| found.first())
}

/// Inputs below this size are signed and written in one thread: a thread costs more than the
/// overlap saves.
const PARALLEL_MIN: usize = 4 << 20;

/// Writes `label` into `bytes`; with a key, ReservedCode1 becomes the producer signature over
/// the file's content digest.
///
/// With a key, the digest must be known before the label can be written, but the media the
/// label goes around need not wait for it: for a large file the output is laid out with a
/// stand-in signature of the same length, its untouched media ranges are copied into place on
/// a second thread while this one computes the digest, and then the signed label's pieces are
/// written over the stand-in's. That is only done when the signed layout is the same piece for
/// piece (the same lengths, the same input ranges); otherwise the signed output is built anew.
pub fn label_bytes(
    handler: &dyn FormatHandler,
    bytes: &[u8],
    label: &AigcLabel,
    key: Option<&LabelSigningKey>,
) -> Result<Vec<u8>, LabelError> {
    label_bytes_from(handler, bytes, label, key, PARALLEL_MIN)
}

/// [`label_bytes`], overlapping the digest with the copy from `parallel_min` bytes up. For
/// tests and fuzzing: the conformance harness and the fuzz targets pass 0 to check the
/// overlapped path on small files.
#[doc(hidden)]
pub fn label_bytes_from(
    handler: &dyn FormatHandler,
    bytes: &[u8],
    label: &AigcLabel,
    key: Option<&LabelSigningKey>,
    parallel_min: usize,
) -> Result<Vec<u8>, LabelError> {
    match key {
        None => handler.write(bytes, label),
        Some(k) => signed_bytes(handler, bytes, label, Signer::Producer(k), parallel_min)
            .map(|(out, _)| out),
    }
}

/// Which signature a signed write adds.
#[derive(Clone, Copy)]
enum Signer<'k> {
    /// ReservedCode1, over the producer fields.
    Producer(&'k LabelSigningKey),
    /// ReservedCode2, over the producer fields with ReservedCode1 and the propagator fields.
    Propagator(&'k LabelSigningKey),
}

impl Signer<'_> {
    fn sign(self, label: &mut AigcLabel, digest: &[u8; 32]) -> Result<(), LabelError> {
        match self {
            Signer::Producer(k) => sign::sign_producer(label, digest, k),
            Signer::Propagator(k) => sign::sign_propagator(label, digest, k),
        }
    }
}

/// `label` signed by `signer` over the content digest and written into `bytes`; the signed
/// label too. Overlapped (see [`label_bytes`]) from `parallel_min` bytes up when the handler
/// keeps the media.
fn signed_bytes(
    handler: &dyn FormatHandler,
    bytes: &[u8],
    label: &AigcLabel,
    signer: Signer<'_>,
    parallel_min: usize,
) -> Result<(Vec<u8>, AigcLabel), LabelError> {
    if bytes.len() < parallel_min || !handler.keeps_media() {
        let (out, signed) = signed_output(handler, bytes, label, signer)?;
        return Ok((out.into_vec(), signed));
    }
    let mut out = Vec::new();
    let (layout, real, signed) = overlapped(handler, bytes, label, signer, |layout| {
        out = vec![0u8; layout.len()];
        layout.fill_kept(&mut out);
    })?;
    if !real.same_layout(&layout) {
        return Ok((real.into_vec(), signed));
    }
    real.fill_new(&mut out);
    Ok((out, signed))
}

/// `label` signed by `signer` over the content digest and written into `bytes`, as pieces
/// ([`FormatHandler::write_with_digest`]); the signed label too.
fn signed_output<'a>(
    handler: &dyn FormatHandler,
    bytes: &'a [u8],
    label: &AigcLabel,
    signer: Signer<'_>,
) -> Result<(Output<'a>, AigcLabel), LabelError> {
    handler.write_with_digest(bytes, &mut |digest| {
        let mut signed = label.clone();
        signer.sign(&mut signed, digest)?;
        Ok(signed)
    })
}

/// The overlapped signed path: lays the output out with a stand-in signature of the real
/// one's length, runs `copy_kept(&layout)` on a second thread (it copies the kept input ranges
/// into place) while this thread computes the content digest, then signs. Returns the stand-in
/// layout, the signed one (the caller writes its new pieces over the stand-in's when
/// [`Output::same_layout`] holds, else the signed output whole) and the signed label.
fn overlapped<'a>(
    handler: &dyn FormatHandler,
    bytes: &'a [u8],
    label: &AigcLabel,
    signer: Signer<'_>,
    copy_kept: impl FnOnce(&Output<'a>) + Send,
) -> Result<(Output<'a>, Output<'a>, AigcLabel), LabelError> {
    let mut stand_in = label.clone();
    signer.sign(&mut stand_in, &[0; 32])?;
    let file = handler.prepare(bytes)?;
    let write = |l: &AigcLabel| match &file {
        Some(f) => f.write_parts(l),
        None => handler.write_parts(bytes, l),
    };
    let layout = write(&stand_in)?;
    let digest = std::thread::scope(|s| {
        let copier = s.spawn(|| copy_kept(&layout));
        let digest = match &file {
            Some(f) => f.content_digest(),
            None => handler.content_digest(bytes),
        };
        // Joined here rather than by the scope's end, which only waits until the thread has
        // run `copy_kept`: joining also waits for the thread to exit and free what it holds
        // (LeakSanitizer, fuzzing `label_av`, saw those as leaks when the check ran first). A
        // panic in the copy goes on as the scope would have carried it.
        if let Err(panic) = copier.join() {
            std::panic::resume_unwind(panic);
        }
        digest
    })?;
    let mut signed = label.clone();
    signer.sign(&mut signed, &digest)?;
    let real = write(&signed)?;
    Ok((layout, real, signed))
}

/// Signature checks of a file's label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The label checked.
    pub label: AigcLabel,
    /// Its carrier.
    pub carrier: String,
    /// ReservedCode1 (producer).
    pub producer: Verdict,
    /// ReservedCode2 (propagator), when the label has propagator fields.
    pub propagator: Option<Verdict>,
}

/// Checks the producer signature (ReservedCode1) of the file's label.
pub fn verify(
    handler: &dyn FormatHandler,
    bytes: &[u8],
    keys: &[LabelPublicKey],
) -> Result<Verdict, LabelError> {
    Ok(verify_all(handler, bytes, keys)?.producer)
}

/// Checks both signatures of the file's label. [`LabelError::NoLabel`] without a label.
pub fn verify_all(
    handler: &dyn FormatHandler,
    bytes: &[u8],
    keys: &[LabelPublicKey],
) -> Result<Verification, LabelError> {
    let found = handler.read(bytes)?;
    let f = primary(handler, &found).ok_or(LabelError::NoLabel)?;
    let l = &f.label;
    // The content digest in each algorithm a signature names.
    let mut digests = std::collections::BTreeMap::new();
    for alg in sign::signed_digest_algs(l) {
        digests.insert(alg, handler.content_digest_with(bytes, alg)?);
    }
    let current = |alg| digests.get(&alg).copied();
    let has_propagator = l.content_propagator.is_some() || l.reserved_code2.is_some();
    Ok(Verification {
        label: l.clone(),
        carrier: f.carrier.clone(),
        producer: sign::verify_producer(l, &current, keys),
        propagator: has_propagator.then(|| sign::verify_propagator(l, &current, keys)),
    })
}

/// Why a platform labels unlabeled content (Measures Art. 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// A watermark of a known provider was detected: a generation trace, so `Label` "3"
    /// (suspected), as the Measures assign to detected traces without a metadata label.
    WatermarkDetected,
    /// The uploader declared the content AI-generated: `Label` "2" (possibly).
    DeclaredByUploader,
    /// The platform's own detection suspects it: `Label` "3" (suspected).
    Suspected,
}

impl Evidence {
    /// The `Label` value for this evidence.
    pub fn label_value(self) -> &'static str {
        match self {
            Evidence::DeclaredByUploader => "2",
            Evidence::WatermarkDetected | Evidence::Suspected => "3",
        }
    }
}

/// Propagator mode: keeps the producer fields of the file's label untouched and adds
/// ContentPropagator, PropagateID and (with a key) ReservedCode2. A file without a label gets
/// one only with `evidence` (Label "2" or "3", empty ContentProducer and ProduceID: the
/// producer is unknown); without evidence it is [`LabelError::NoLabel`].
pub fn propagate(
    handler: &dyn FormatHandler,
    bytes: &[u8],
    propagator_code: &str,
    propagate_id: &str,
    key: Option<&LabelSigningKey>,
    evidence: Option<Evidence>,
) -> Result<(Vec<u8>, AigcLabel), LabelError> {
    let label = propagated_label(handler, bytes, propagator_code, propagate_id, evidence)?;
    match key {
        Some(k) => signed_bytes(handler, bytes, &label, Signer::Propagator(k), PARALLEL_MIN),
        None => {
            label.validate()?;
            Ok((handler.write(bytes, &label)?, label))
        }
    }
}

/// The label a propagator writes, unsigned: the one the file carries (or, without one, one
/// made from `evidence`) with the propagator fields set.
fn propagated_label(
    handler: &dyn FormatHandler,
    bytes: &[u8],
    propagator_code: &str,
    propagate_id: &str,
    evidence: Option<Evidence>,
) -> Result<AigcLabel, LabelError> {
    let found = handler.read(bytes)?;
    let mut label = match (primary(handler, &found), evidence) {
        (Some(f), _) => f.label.clone(),
        (None, Some(e)) => AigcLabel {
            label: e.label_value().into(),
            content_producer: String::new(),
            produce_id: String::new(),
            reserved_code1: None,
            content_propagator: None,
            propagate_id: None,
            reserved_code2: None,
        },
        (None, None) => return Err(LabelError::NoLabel),
    };
    label.content_propagator = Some(propagator_code.to_string());
    label.propagate_id = Some(propagate_id.to_string());
    label.reserved_code2 = None;
    Ok(label)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LabelError + '_ {
    move |source| LabelError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads a file and picks its handler (magic bytes, then extension).
pub fn read_file<'r>(
    registry: &'r Registry,
    path: &Path,
) -> Result<(FileBytes, &'r dyn FormatHandler), LabelError> {
    let bytes = crate::readbuf::read_all(path).map_err(io(path))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let h = registry.detect(&bytes, name.as_deref())?;
    Ok((bytes, h))
}

/// Replaces `path` with `bytes` atomically: a temporary file in the same directory (same
/// permissions), synced, then renamed over it. On any error the original is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), LabelError> {
    replace_atomic(path, |f| f.write_all(bytes).map_err(io(path)))
}

/// Replaces `path` atomically with what `write` puts in a temporary file in the same
/// directory (same permissions), synced, then renamed over it. On any error the original is
/// untouched.
fn replace_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<(), LabelError>,
) -> Result<(), LabelError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".hegui-label-")
        .tempfile_in(dir)
        .map_err(io(path))?;
    write(tmp.as_file_mut())?;
    if let Ok(meta) = std::fs::metadata(path) {
        tmp.as_file()
            .set_permissions(meta.permissions())
            .map_err(io(path))?;
    }
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| LabelError::Io {
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// Labels a file in place (atomically); returns the label written.
pub fn label_file(
    registry: &Registry,
    path: &Path,
    label: &AigcLabel,
    key: Option<&LabelSigningKey>,
) -> Result<AigcLabel, LabelError> {
    label_file_to(registry, path, path, label, key).map(|(found, _)| found.label)
}

/// Labels the file `src` into `dest` (atomically; `dest` may be `src`); with a key,
/// ReservedCode1 is the producer signature. Returns the label written, in its carrier, and the
/// handler that wrote it.
pub fn label_file_to<'r>(
    registry: &'r Registry,
    src: &Path,
    dest: &Path,
    label: &AigcLabel,
    key: Option<&LabelSigningKey>,
) -> Result<(FoundLabel, &'r dyn FormatHandler), LabelError> {
    let (bytes, h) = read_file(registry, src)?;
    let found = match key {
        Some(k) => signed_file(h, dest, &bytes, label, Signer::Producer(k))?,
        None => checked_write(h, dest, &h.write(&bytes, label)?)?,
    };
    Ok((found, h))
}

/// `label` signed by `signer` and written from `bytes` into `dest` (atomically); the label
/// written and its carrier. A large file whose handler keeps the media is copied while the
/// digest is computed ([`signed_file_overlapped`]); any other is signed first, then written
/// from the pieces the handler returns (kept input ranges straight from the input). Either way the
/// label returned is the one written, in the handler's canonical carrier, without reading the
/// output back (a full parse again for PDF): the conformance harness and the fuzz targets
/// check that what a handler writes reads back so.
fn signed_file(
    h: &dyn FormatHandler,
    dest: &Path,
    bytes: &[u8],
    label: &AigcLabel,
    signer: Signer<'_>,
) -> Result<FoundLabel, LabelError> {
    #[cfg(unix)]
    if h.keeps_media() && bytes.len() >= PARALLEL_MIN {
        let label = signed_file_overlapped(h, dest, bytes, label, signer)?;
        let carrier = h.canonical_carrier().to_string();
        return Ok(FoundLabel { carrier, label });
    }
    // Written piece by piece: kept input ranges go from the input to the file.
    let (out, label) = signed_output(h, bytes, label, signer)?;
    replace_atomic(dest, |f| out.write_to(f).map_err(io(dest)))?;
    Ok(FoundLabel {
        carrier: h.canonical_carrier().to_string(),
        label,
    })
}

/// Reads the label back from `out` (the file about to be written), then writes `out` to
/// `dest` atomically; the label and its carrier.
fn checked_write(h: &dyn FormatHandler, dest: &Path, out: &[u8]) -> Result<FoundLabel, LabelError> {
    let written = primary(h, &h.read(out)?)
        .cloned()
        .ok_or(LabelError::NoLabel)?;
    write_atomic(dest, out)?;
    Ok(written)
}

/// [`signed_file`] for a large file: the kept media ranges go straight from the input to
/// their places in the temporary file (positioned writes, on the second thread while the
/// digest is computed), then the signed label's pieces; the output is never joined in memory.
/// The label returned is the one written, in the handler's canonical carrier (the conformance
/// harness and the fuzz targets check that what a handler writes reads back so).
#[cfg(unix)]
fn signed_file_overlapped(
    h: &dyn FormatHandler,
    path: &Path,
    bytes: &[u8],
    label: &AigcLabel,
    signer: Signer<'_>,
) -> Result<AigcLabel, LabelError> {
    let mut signed = None;
    replace_atomic(path, |f| {
        let mut copied = Ok(());
        let (layout, real, label) = overlapped(h, bytes, label, signer, |layout| {
            copied = f
                .set_len(layout.len() as u64)
                .and_then(|()| layout.put_kept(f));
        })?;
        copied.map_err(io(path))?;
        if real.same_layout(&layout) {
            real.put_new(f).map_err(io(path))?;
        } else {
            f.set_len(0).map_err(io(path))?;
            f.rewind().map_err(io(path))?;
            real.write_to(f).map_err(io(path))?;
        }
        signed = Some(label);
        Ok(())
    })?;
    signed.ok_or(LabelError::NoLabel)
}

/// Removes every label carrier from a file in place (atomically).
pub fn strip_file(registry: &Registry, path: &Path) -> Result<(), LabelError> {
    let (bytes, h) = read_file(registry, path)?;
    let out = h.remove(&bytes)?;
    write_atomic(path, &out)
}

/// [`propagate`] on a file in place (atomically); returns the label written.
pub fn propagate_file(
    registry: &Registry,
    path: &Path,
    propagator_code: &str,
    propagate_id: &str,
    key: Option<&LabelSigningKey>,
    evidence: Option<Evidence>,
) -> Result<AigcLabel, LabelError> {
    propagate_file_to(
        registry,
        path,
        path,
        propagator_code,
        propagate_id,
        key,
        evidence,
    )
    .map(|(found, _)| found.label)
}

/// [`propagate`] from the file `src` into `dest` (atomically; `dest` may be `src`). Returns
/// the label written, in its carrier, and the handler that wrote it.
pub fn propagate_file_to<'r>(
    registry: &'r Registry,
    src: &Path,
    dest: &Path,
    propagator_code: &str,
    propagate_id: &str,
    key: Option<&LabelSigningKey>,
    evidence: Option<Evidence>,
) -> Result<(FoundLabel, &'r dyn FormatHandler), LabelError> {
    let (bytes, h) = read_file(registry, src)?;
    if let Some(k) = key {
        let label = propagated_label(h, &bytes, propagator_code, propagate_id, evidence)?;
        let found = signed_file(h, dest, &bytes, &label, Signer::Propagator(k))?;
        return Ok((found, h));
    }
    let (out, _) = propagate(h, &bytes, propagator_code, propagate_id, None, evidence)?;
    Ok((checked_write(h, dest, &out)?, h))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::conformance::{label, samples};

    /// A large file labeled in place with a key (the overlapped file path: media written at
    /// their offsets while hashing) holds exactly the bytes `label_bytes` gives, and the
    /// returned label is the one the file carries.
    #[test]
    fn a_large_file_labeled_in_place_equals_label_bytes() {
        let reg = Registry::new();
        let key = LabelSigningKey::from_secret([9; 32]);
        let l = label("0190f3a2-7b7c-7c3e-9a55-2f1e0c6d8e11");
        let dir = tempfile::tempdir().unwrap();
        let line = "本内容由人工智能生成，这是一行测试文字。\n";
        let text = line.repeat(PARALLEL_MIN / line.len() + 10).into_bytes();
        let mut png = samples::encode_image(image::ImageFormat::Png);
        // A large private ancillary chunk before IEND makes the PNG big without new pixels.
        let iend = png.len() - 12;
        let big = crate::formats::png::chunk(b"prVt", &vec![7u8; PARALLEL_MIN + 1]);
        png.splice(iend..iend, big);
        // GIF: an application extension of many sub-blocks before the trailer.
        let mut gif = samples::encode_image(image::ImageFormat::Gif);
        let mut app = vec![0x21, 0xff, 11];
        app.extend_from_slice(b"PRIVATE0001");
        for _ in 0..PARALLEL_MIN / 255 + 1 {
            app.push(255);
            app.extend_from_slice(&[5u8; 255]);
        }
        app.push(0);
        let end = gif.len() - 1;
        gif.splice(end..end, app);
        // WebP: a large unknown chunk after the bitstream.
        let mut webp = samples::encode_image(image::ImageFormat::WebP);
        webp.extend_from_slice(b"prVt");
        webp.extend_from_slice(&(PARALLEL_MIN as u32 + 1).to_le_bytes());
        webp.extend(std::iter::repeat_n(3u8, PARALLEL_MIN + 1));
        webp.push(0);
        let n = (webp.len() - 8) as u32;
        webp[4..8].copy_from_slice(&n.to_le_bytes());
        // Ogg: the fixture's pages up to its last, then ~64 KB audio pages in sequence.
        let fixture = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/sample.ogg"
        ))
        .unwrap();
        let mut ogg = fixture[..4468].to_vec();
        let serial = u32::from_le_bytes(fixture[14..18].try_into().unwrap());
        let mut segs = vec![255u8; 254];
        segs.push(1);
        let body = vec![9u8; 254 * 255 + 1];
        let pages = PARALLEL_MIN / body.len() + 1;
        for i in 0..pages {
            let eos = if i + 1 == pages { 4 } else { 0 };
            let seq = 3 + i as u32;
            let granule = 22_050 + 1_000 * (i as u64 + 1);
            ogg.extend(crate::formats::ogg::page(
                eos, granule, serial, seq, &segs, &body,
            ));
        }
        for (name, bytes) in [
            ("big.txt", text),
            ("big.png", png),
            ("big.gif", gif),
            ("big.webp", webp),
            ("big.ogg", ogg),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, &bytes).unwrap();
            let (h_bytes, h) = read_file(&reg, &path).unwrap();
            assert!(h.keeps_media() && h_bytes.len() >= PARALLEL_MIN, "{name}");
            // The media (all but a few KB) are kept input ranges, not rebuilt.
            let kept = h.write_parts(&bytes, &l).unwrap().kept_len();
            assert!(
                kept + 8192 > bytes.len(),
                "{name}: {kept} of {} kept",
                bytes.len()
            );
            let expect = label_bytes(h, &bytes, &l, Some(&key)).unwrap();
            let out_path = dir.path().join(format!("out-{name}"));
            let (found, _) = label_file_to(&reg, &path, &out_path, &l, Some(&key)).unwrap();
            let got = std::fs::read(&out_path).unwrap();
            assert!(got == expect, "{name}: file differs from label_bytes");
            assert_eq!(h.read(&got).unwrap(), vec![found.clone()], "{name}");
            assert_eq!(
                std::fs::read(&path).unwrap(),
                bytes,
                "{name}: source untouched"
            );
            let written = label_file(&reg, &path, &l, Some(&key)).unwrap();
            assert_eq!(written, found.label);
            assert!(std::fs::read(&path).unwrap() == expect, "{name}: in place");
            assert_eq!(
                verify(h, &got, &[key.public()]).unwrap(),
                Verdict::Intact,
                "{name}"
            );
            // Propagator mode on the labeled file, the same way.
            let pkey = LabelSigningKey::from_secret([10; 32]);
            let (expect, label) =
                propagate(h, &got, "PLATFORM01", "post-1", Some(&pkey), None).unwrap();
            let prop_path = dir.path().join(format!("prop-{name}"));
            let (found, _) = propagate_file_to(
                &reg,
                &out_path,
                &prop_path,
                "PLATFORM01",
                "post-1",
                Some(&pkey),
                None,
            )
            .unwrap();
            assert_eq!(found.label, label, "{name}");
            let prop = std::fs::read(&prop_path).unwrap();
            assert!(
                prop == expect,
                "{name}: propagated file differs from propagate"
            );
            let mut one_by_one = h.read(&got).unwrap()[0].label.clone();
            one_by_one.content_propagator = Some("PLATFORM01".into());
            one_by_one.propagate_id = Some("post-1".into());
            let digest = h.content_digest(&got).unwrap();
            crate::sign::sign_propagator(&mut one_by_one, &digest, &pkey).unwrap();
            assert!(
                h.write(&got, &one_by_one).unwrap() == expect,
                "{name}: overlapped propagate differs from digest, sign, write"
            );
            let v = verify_all(h, &prop, &[key.public(), pkey.public()]).unwrap();
            assert_eq!(
                (v.producer, v.propagator),
                (Verdict::Intact, Some(Verdict::Intact))
            );
        }
    }
}

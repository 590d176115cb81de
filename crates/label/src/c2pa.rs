//! Whether a file carries a C2PA manifest (Content Credentials), and where.
//!
//! C2PA is separate from GB 45438 and the two can coexist in one file; `hegui label inspect`
//! reports a manifest's presence next to the GB 45438 carriers. Validating a manifest (its
//! certificate chain and claims) is the `c2pa` crate's job and is not done here: this only finds
//! the store, walking the container with the same bounds as the label handlers, never
//! allocating from a declared size.
//!
//! Carriers (C2PA 2.1 §A "Embedding manifests"): JPEG APP11 JUMBF segments (`JP` common
//! identifier) whose box contains the `c2pa` label; PNG `caBX` chunks; ISO BMFF (MP4, MOV,
//! HEIF) top-level `uuid` boxes with the C2PA UUID.

/// The C2PA `uuid` box type of ISO BMFF files.
const BMFF_UUID: [u8; 16] = [
    0xd8, 0xfe, 0xc3, 0xd6, 0x1b, 0x0e, 0x48, 0x3c, 0x92, 0x97, 0x58, 0x28, 0x87, 0x7e, 0xc4, 0x81,
];

/// The carrier of a C2PA manifest store in `bytes`, if it has one: `jpeg:APP11`, `png:caBX`
/// or `bmff:uuid`.
pub fn c2pa_carrier(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xff, 0xd8]) {
        jpeg(bytes)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        png(bytes)
    } else if bytes.get(4..8).is_some_and(|t| t == b"ftyp") {
        bmff(bytes)
    } else {
        None
    }
}

fn jpeg(b: &[u8]) -> Option<&'static str> {
    let mut i: usize = 2;
    while i.saturating_add(4) <= b.len() {
        if b[i] != 0xff {
            return None;
        }
        let marker = b[i + 1];
        if marker == 0xd9 || marker == 0xda {
            return None; // end of image, or start of scan: no more metadata segments
        }
        if (0xd0..=0xd7).contains(&marker) || marker == 0x01 || marker == 0xff {
            i += if marker == 0xff { 1 } else { 2 };
            continue;
        }
        let len = usize::from(u16::from_be_bytes([b[i + 2], b[i + 3]]));
        let body = b.get(i + 4..(i + 2 + len).min(b.len()).max(i + 4))?;
        // APP11 JUMBF: "JP", box instance, sequence number, then the JUMBF box.
        if marker == 0xeb && body.starts_with(b"JP") && contains(body, b"c2pa") {
            return Some("jpeg:APP11");
        }
        i += 2 + len.max(2);
    }
    None
}

fn png(b: &[u8]) -> Option<&'static str> {
    let mut i: usize = 8;
    while i.saturating_add(8) <= b.len() {
        let len = u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        let ty = &b[i + 4..i + 8];
        if ty == b"caBX" {
            return Some("png:caBX");
        }
        if ty == b"IEND" {
            return None;
        }
        i = i.checked_add(12)?.checked_add(len)?;
    }
    None
}

fn bmff(b: &[u8]) -> Option<&'static str> {
    let mut i: usize = 0;
    while i.saturating_add(8) <= b.len() {
        let size = u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        let ty = &b[i + 4..i + 8];
        let (size, header) = match size {
            0 => (b.len() - i, 8),
            1 => {
                let s = b.get(i + 8..i + 16)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(s);
                (usize::try_from(u64::from_be_bytes(a)).ok()?, 16)
            }
            n => (n, 8),
        };
        if size < header {
            return None;
        }
        if ty == b"uuid"
            && b.get(i + header..(i + header).saturating_add(16)) == Some(&BMFF_UUID[..])
        {
            return Some("bmff:uuid");
        }
        i = i.checked_add(size)?;
    }
    None
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_c2pa_stores_in_each_carrier_and_nothing_elsewhere() {
        // JPEG: SOI, APP11 JUMBF with a c2pa label, SOS.
        let mut body = b"JP\x00\x01\x00\x00\x00\x01".to_vec();
        body.extend_from_slice(b"\x00\x00\x00\x20jumbjumd\x63\x32\x70\x61c2pa\x00");
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xeb];
        jpeg.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        jpeg.extend_from_slice(&body);
        jpeg.extend_from_slice(&[0xff, 0xda, 0x00, 0x02, 0xff, 0xd9]);
        assert_eq!(c2pa_carrier(&jpeg), Some("jpeg:APP11"));
        // PNG: signature, a caBX chunk.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend_from_slice(&[0, 0, 0, 1]);
        png.extend_from_slice(b"caBX\x00\x00\x00\x00\x00");
        assert_eq!(c2pa_carrier(&png), Some("png:caBX"));
        // BMFF: ftyp then the C2PA uuid box.
        let mut mp4 = b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00".to_vec();
        mp4.extend_from_slice(&[0, 0, 0, 24]);
        mp4.extend_from_slice(b"uuid");
        mp4.extend_from_slice(&BMFF_UUID);
        assert_eq!(c2pa_carrier(&mp4), Some("bmff:uuid"));
        // Plain files and hostile sizes: nothing, no panic.
        assert_eq!(c2pa_carrier(b"\x89PNG\r\n\x1a\n\xff\xff\xff\xffIDAT"), None);
        assert_eq!(c2pa_carrier(&[0xff, 0xd8, 0xff, 0xeb, 0xff, 0xff]), None);
        assert_eq!(
            c2pa_carrier(b"\x00\x00\x00\x01ftyp\xff\xff\xff\xff\xff\xff\xff\xff"),
            None
        );
        assert_eq!(c2pa_carrier(b"hello"), None);
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_hostile_containers(kind in 0u8..3, rest in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let mut b = match kind {
                0 => vec![0xff, 0xd8],
                1 => b"\x89PNG\r\n\x1a\n".to_vec(),
                _ => b"\x00\x00\x00\x08ftyp".to_vec(),
            };
            b.extend_from_slice(&rest);
            let _ = c2pa_carrier(&b);
        }
    }
}

//! TIFF structure (image file directories) shared by TIFF files and EXIF blocks (JPEG APP1,
//! WebP `EXIF`): enough to find IFD0 tags, the Exif IFD and its UserComment, with every offset
//! checked against the data.

use std::ops::Range;

use crate::bytes::Cur;
use crate::LabelError;

/// Tag of the Exif IFD pointer in IFD0.
pub(crate) const TAG_EXIF_IFD: u16 = 0x8769;
/// Tag of UserComment in the Exif IFD.
pub(crate) const TAG_USER_COMMENT: u16 = 0x9286;
/// Tag of the XMP packet in IFD0.
pub(crate) const TAG_XMP: u16 = 700;
/// Tag of ImageDescription in IFD0.
pub(crate) const TAG_IMAGE_DESCRIPTION: u16 = 270;

/// One IFD entry.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub tag: u16,
    pub typ: u16,
    pub count: u32,
    /// Offset of the entry's 12 bytes.
    pub at: usize,
    /// Where its value bytes are (inline in the entry or elsewhere).
    pub value: Range<usize>,
}

/// A TIFF structure over `data` (a whole TIFF file or the body of an EXIF block).
#[derive(Debug, Clone)]
pub(crate) struct Tiff<'a> {
    pub format: &'static str,
    pub data: &'a [u8],
    pub le: bool,
    pub ifd0: usize,
}

pub(crate) fn type_size(typ: u16) -> u64 {
    match typ {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 => 8,
        _ => 1,
    }
}

impl<'a> Tiff<'a> {
    pub fn parse(format: &'static str, data: &'a [u8]) -> Result<Self, LabelError> {
        let mut c = Cur::new(format, data);
        let order = c.take(2, "TIFF byte order")?;
        let le = match order {
            b"II" => true,
            b"MM" => false,
            _ => {
                return Err(LabelError::malformed(
                    format,
                    format!("TIFF header has byte order {order:02x?}, expected II or MM"),
                ))
            }
        };
        let t = Tiff {
            format,
            data,
            le,
            ifd0: 0,
        };
        let magic = t.u16_at(2)?;
        if magic == 43 {
            return Err(LabelError::unsupported(format, "BigTIFF"));
        }
        if magic != 42 {
            return Err(LabelError::malformed(
                format,
                format!("TIFF header magic is {magic}, expected 42"),
            ));
        }
        let ifd0 = t.u32_at(4)? as usize;
        Ok(Tiff { ifd0, ..t })
    }

    pub fn u16_at(&self, at: usize) -> Result<u16, LabelError> {
        let mut c = Cur::at(self.format, self.data, at);
        if self.le {
            c.le16("TIFF field")
        } else {
            c.be16("TIFF field")
        }
    }

    pub fn u32_at(&self, at: usize) -> Result<u32, LabelError> {
        let mut c = Cur::at(self.format, self.data, at);
        if self.le {
            c.le32("TIFF field")
        } else {
            c.be32("TIFF field")
        }
    }

    pub fn put_u16(&self, v: u16) -> [u8; 2] {
        if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    }

    pub fn put_u32(&self, v: u32) -> [u8; 4] {
        if self.le {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        }
    }

    /// The entries of the IFD at `off` and its next-IFD offset.
    pub fn ifd(&self, off: usize) -> Result<(Vec<Entry>, u32), LabelError> {
        if off >= self.data.len() {
            return Err(LabelError::malformed(
                self.format,
                format!(
                    "IFD offset {off} is beyond the end of the TIFF data ({} bytes)",
                    self.data.len()
                ),
            ));
        }
        let n = self.u16_at(off)? as usize;
        let need = 2 + n * 12 + 4;
        if need > self.data.len() - off {
            return Err(LabelError::overrun(
                self.format,
                format!("IFD with {n} entries"),
                need as u64,
                self.data.len() - off,
                off,
            ));
        }
        let mut entries = Vec::with_capacity(n);
        for i in 0..n {
            let at = off + 2 + i * 12;
            let tag = self.u16_at(at)?;
            let typ = self.u16_at(at + 2)?;
            let count = self.u32_at(at + 4)?;
            let len = u64::from(count) * type_size(typ);
            let value = if len <= 4 {
                at + 8..at + 8 + len as usize
            } else {
                let vo = self.u32_at(at + 8)? as usize;
                if len > (self.data.len().saturating_sub(vo)) as u64 {
                    return Err(LabelError::overrun(
                        self.format,
                        format!("value of TIFF tag {tag}"),
                        len,
                        self.data.len().saturating_sub(vo),
                        vo,
                    ));
                }
                vo..vo + len as usize
            };
            entries.push(Entry {
                tag,
                typ,
                count,
                at,
                value,
            });
        }
        let next = self.u32_at(off + 2 + n * 12)?;
        Ok((entries, next))
    }

    /// The Exif IFD's offset and entries, if IFD0 points to one.
    fn exif(&self) -> Result<Option<(usize, Vec<Entry>)>, LabelError> {
        let (ifd0, _) = self.ifd(self.ifd0)?;
        let Some(ptr) = ifd0.iter().find(|e| e.tag == TAG_EXIF_IFD) else {
            return Ok(None);
        };
        let off = self.u32_at(ptr.value.start)? as usize;
        let (entries, _) = self.ifd(off)?;
        Ok(Some((off, entries)))
    }

    /// Where the Exif IFD is (its entry count, entries and next-IFD offset), if IFD0 points
    /// to one.
    pub fn exif_ifd(&self) -> Result<Option<Range<usize>>, LabelError> {
        Ok(self
            .exif()?
            .map(|(off, entries)| off..off + 2 + entries.len() * 12 + 4))
    }

    /// Where the UserComment value is, if the Exif IFD has one.
    pub fn user_comment(&self) -> Result<Option<Range<usize>>, LabelError> {
        Ok(self.exif()?.and_then(|(_, entries)| {
            entries
                .iter()
                .find(|e| e.tag == TAG_USER_COMMENT)
                .map(|e| e.value.clone())
        }))
    }
}

/// Decodes a UserComment value: 8-byte character code, then the text.
pub(crate) fn decode_user_comment(value: &[u8], le: bool) -> Option<String> {
    if value.len() < 8 {
        return None;
    }
    let (code, text) = value.split_at(8);
    if code.starts_with(b"UNICODE") {
        let units: Vec<u16> = text
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        Some(String::from_utf16_lossy(&units))
    } else {
        Some(String::from_utf8_lossy(text).into_owned())
    }
}

/// The label text in an EXIF/TIFF UserComment, with where its value is.
pub(crate) fn user_comment_label(
    format: &'static str,
    data: &[u8],
) -> Result<Option<(Range<usize>, String)>, LabelError> {
    let t = Tiff::parse(format, data)?;
    let Some(r) = t.user_comment()? else {
        return Ok(None);
    };
    let text = decode_user_comment(&data[r.clone()], t.le).unwrap_or_default();
    if crate::payload::looks_like(&text) {
        Ok(Some((r, text.trim_end_matches('\0').to_string())))
    } else {
        Ok(None)
    }
}

/// Blanks a UserComment value in place (undefined character code, zero text), so no offset in
/// the block changes.
pub(crate) fn blank(data: &mut [u8], r: Range<usize>) {
    if let Some(v) = data.get_mut(r) {
        v.fill(0);
    }
}

#[cfg(test)]
/// A minimal EXIF block (TIFF, little-endian) whose UserComment holds `text`: what some vendors
/// write; tests use it as a foreign carrier.
pub(crate) fn with_user_comment(text: &str) -> Vec<u8> {
    let mut comment = b"ASCII\0\0\0".to_vec();
    comment.extend_from_slice(text.as_bytes());
    let mut d = Vec::new();
    d.extend_from_slice(b"II*\0");
    d.extend_from_slice(&8u32.to_le_bytes());
    // IFD0 at 8: one entry (Exif IFD pointer), next 0.
    d.extend_from_slice(&1u16.to_le_bytes());
    d.extend_from_slice(&TAG_EXIF_IFD.to_le_bytes());
    d.extend_from_slice(&4u16.to_le_bytes());
    d.extend_from_slice(&1u32.to_le_bytes());
    d.extend_from_slice(&26u32.to_le_bytes());
    d.extend_from_slice(&0u32.to_le_bytes());
    // Exif IFD at 26: one entry (UserComment at 44), next 0.
    d.extend_from_slice(&1u16.to_le_bytes());
    d.extend_from_slice(&TAG_USER_COMMENT.to_le_bytes());
    d.extend_from_slice(&7u16.to_le_bytes());
    d.extend_from_slice(&(comment.len() as u32).to_le_bytes());
    d.extend_from_slice(&44u32.to_le_bytes());
    d.extend_from_slice(&0u32.to_le_bytes());
    d.extend_from_slice(&comment);
    d
}

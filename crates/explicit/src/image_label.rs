//! Visible text labels on images: a contrasting plate with the wording, at an edge or corner.
//!
//! Sizing: the text's *cap height* (the height of "H"/"A"/"I", measured from the font's outlines)
//! is at least `text_height_ratio` (≥ 5%) of the image's shortest side, rounded up to whole
//! pixels. CJK ideographs in the shipped font are taller than the cap height, so every glyph of a
//! compliant wording meets the rule. When it fits, the label is grown to `min_legible_px` so that
//! small images still get readable text; when even the 5% height does not fit the image, the
//! label is refused with [`ExplicitError::ImageTooSmall`] rather than shrunk below the rule.
//!
//! Tiny images (e.g. 16×16): 5% of the shortest side is under one pixel, so the cap height is
//! clamped up to at least 1 px and otherwise to the largest size that fits; such a label is
//! compliant with the 5% rule but cannot be read by a person at 100% zoom.
//!
//! Legibility on any background: the text (default white) sits on a plate (default black at
//! 72% opacity). Options are checked so that the contrast ratio between the text and the plate
//! composited over pure black and over pure white is at least 4.5:1 (WCAG AA).

use ab_glyph::{Font, FontRef, Glyph, OutlinedGlyph, PxScale, ScaleFont};
use image::{DynamicImage, ImageBuffer, Pixel, RgbImage, RgbaImage};

use crate::error::{ExplicitError, Result};
use crate::wording::{font, Wording};
use crate::ExplicitLabeler;

/// The smallest text height the standard allows, as a fraction of the shortest side.
pub const MIN_TEXT_HEIGHT_RATIO: f32 = 0.05;

/// The lowest contrast ratio (WCAG definition) the options may produce between text and plate.
pub const MIN_CONTRAST_RATIO: f32 = 4.5;

/// Where the label goes: a corner or the middle of an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Position {
    /// Top-left corner.
    TopLeft,
    /// Middle of the top edge.
    TopCenter,
    /// Top-right corner.
    TopRight,
    /// Middle of the left edge.
    CenterLeft,
    /// Middle of the right edge.
    CenterRight,
    /// Bottom-left corner.
    BottomLeft,
    /// Middle of the bottom edge.
    BottomCenter,
    /// Bottom-right corner (the default).
    #[default]
    BottomRight,
}

impl Position {
    /// Every position, for tests and CLIs.
    pub const ALL: [Position; 8] = [
        Position::TopLeft,
        Position::TopCenter,
        Position::TopRight,
        Position::CenterLeft,
        Position::CenterRight,
        Position::BottomLeft,
        Position::BottomCenter,
        Position::BottomRight,
    ];

    /// Offset of a `inner`-long box in an `outer`-long span with `margin`, per axis.
    fn place(self, outer: (u32, u32), inner: (u32, u32), margin: u32) -> (u32, u32) {
        // 0 = start, 1 = centre, 2 = end.
        let (hx, vy) = match self {
            Position::TopLeft => (0, 0),
            Position::TopCenter => (1, 0),
            Position::TopRight => (2, 0),
            Position::CenterLeft => (0, 1),
            Position::CenterRight => (2, 1),
            Position::BottomLeft => (0, 2),
            Position::BottomCenter => (1, 2),
            Position::BottomRight => (2, 2),
        };
        let axis = |mode: u8, outer: u32, inner: u32| match mode {
            0 => margin,
            1 => (outer - inner) / 2,
            _ => outer - inner - margin,
        };
        (axis(hx, outer.0, inner.0), axis(vy, outer.1, inner.1))
    }
}

/// Options of the image (and video) text label.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageLabelOptions {
    /// The wording (checked for compliance and font coverage).
    pub wording: Wording,
    /// Corner or edge.
    pub position: Position,
    /// Cap height as a fraction of the shortest side; at least [`MIN_TEXT_HEIGHT_RATIO`].
    pub text_height_ratio: f32,
    /// Cap height, in pixels, the label grows to when it fits (legibility on small images).
    pub min_legible_px: u32,
    /// Gap between the plate and the image's edges, as a fraction of the shortest side
    /// (dropped to zero when the label would not fit otherwise).
    pub margin_ratio: f32,
    /// Text colour.
    pub text_rgb: [u8; 3],
    /// Plate colour.
    pub plate_rgb: [u8; 3],
    /// Plate opacity, 0 (transparent) to 255 (opaque).
    pub plate_opacity: u8,
}

impl Default for ImageLabelOptions {
    fn default() -> Self {
        Self {
            wording: Wording::default(),
            position: Position::default(),
            text_height_ratio: MIN_TEXT_HEIGHT_RATIO,
            min_legible_px: 12,
            margin_ratio: 0.02,
            text_rgb: [255, 255, 255],
            plate_rgb: [0, 0, 0],
            plate_opacity: 184,
        }
    }
}

/// Where the label went and how big its text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelLayout {
    /// Left of the plate, in image pixels.
    pub x: u32,
    /// Top of the plate.
    pub y: u32,
    /// Plate width.
    pub width: u32,
    /// Plate height.
    pub height: u32,
    /// The cap height the text was scaled to, in pixels.
    pub cap_height_px: u32,
    /// The cap height the standard requires for this image, in pixels.
    pub required_px: u32,
}

/// The wording laid out at one size: glyphs positioned relative to the plate's top-left.
struct Shaped {
    glyphs: Vec<OutlinedGlyph>,
    width: u32,
    height: u32,
}

/// Draws GB 45438 text labels on images; see the module docs for the sizing rules.
#[derive(Debug, Clone)]
pub struct ImageLabeler {
    options: ImageLabelOptions,
    font: FontRef<'static>,
    cap_units: f32,
}

impl ImageLabeler {
    /// Checks the options and prepares the font.
    pub fn new(options: ImageLabelOptions) -> Result<Self> {
        let ratio = options.text_height_ratio;
        if !(MIN_TEXT_HEIGHT_RATIO..=0.5).contains(&ratio) {
            return Err(ExplicitError::InvalidOption {
                option: "text_height_ratio",
                reason: format!(
                    "{ratio} is outside 0.05..=0.5; GB 45438 requires text at least 5% of the shortest side"
                ),
            });
        }
        if !(0.0..=0.2).contains(&options.margin_ratio) {
            return Err(ExplicitError::InvalidOption {
                option: "margin_ratio",
                reason: format!("{} is outside 0.0..=0.2", options.margin_ratio),
            });
        }
        if options.min_legible_px > 1000 {
            return Err(ExplicitError::InvalidOption {
                option: "min_legible_px",
                reason: format!("{} is over 1000 px", options.min_legible_px),
            });
        }
        let contrast = worst_contrast(options.text_rgb, options.plate_rgb, options.plate_opacity);
        if contrast < MIN_CONTRAST_RATIO {
            return Err(ExplicitError::InvalidOption {
                option: "text_rgb/plate_rgb/plate_opacity",
                reason: format!(
                    "text on the plate reaches only {contrast:.2}:1 contrast on some backgrounds (need {MIN_CONTRAST_RATIO}:1); use a darker, more opaque plate or a lighter text (white on black at opacity ≥ 160 works)"
                ),
            });
        }
        let font = font()?;
        let cap_units = ['H', 'I', 'A']
            .into_iter()
            .find_map(|c| font.outline(font.glyph_id(c)))
            // ab_glyph stores unscaled bounds y-up (min.y is the top), hence abs().
            .map(|o| o.bounds.height().abs())
            .filter(|h| *h > 0.0)
            .ok_or_else(|| ExplicitError::InvalidOption {
                option: "font",
                reason: "the embedded font has no outline for H, I or A; rebuild it with assets/subset.sh".to_owned(),
            })?;
        Ok(Self {
            options,
            font,
            cap_units,
        })
    }

    /// The options in force.
    pub fn options(&self) -> &ImageLabelOptions {
        &self.options
    }

    /// Where the label goes on a `width`×`height` image, without drawing it.
    pub fn layout(&self, width: u32, height: u32) -> Result<LabelLayout> {
        self.plan(width, height).map(|(layout, _)| layout)
    }

    fn plan(&self, width: u32, height: u32) -> Result<(LabelLayout, Shaped)> {
        if width == 0 || height == 0 {
            return Err(ExplicitError::EmptyImage { width, height });
        }
        let min_side = width.min(height);
        // The f32 ratio 0.05 is 0.0500000007: recover the decimal the caller meant, so that
        // 5% of 4320 is 216 px and not 217.
        let ratio = (f64::from(self.options.text_height_ratio) * 1e6).round() / 1e6;
        let exact = ratio * f64::from(min_side);
        let required = ((exact - 1e-9).ceil() as u32).max(1);
        let preferred = required.max(self.options.min_legible_px);
        let margin = (self.options.margin_ratio * min_side as f32).floor() as u32;
        let fits = |shaped: &Shaped, margin: u32| {
            u64::from(shaped.width) + 2 * u64::from(margin) <= u64::from(width)
                && u64::from(shaped.height) + 2 * u64::from(margin) <= u64::from(height)
        };
        for margin in [margin, 0] {
            let smallest = self.shape(required);
            if !fits(&smallest, margin) {
                if margin == 0 {
                    return Err(ExplicitError::ImageTooSmall {
                        width,
                        height,
                        wording: self.options.wording.to_string(),
                        required_px: required,
                        ratio_percent: self.options.text_height_ratio * 100.0,
                        needed_w: smallest.width,
                        needed_h: smallest.height,
                    });
                }
                continue;
            }
            // The plate grows monotonically with the cap height: binary search the largest fit.
            let (mut lo, mut hi, mut best) = (required, preferred, smallest);
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                let shaped = self.shape(mid);
                if fits(&shaped, margin) {
                    lo = mid;
                    best = shaped;
                } else {
                    hi = mid - 1;
                }
            }
            let cap = lo;
            let (x, y) =
                self.options
                    .position
                    .place((width, height), (best.width, best.height), margin);
            let layout = LabelLayout {
                x,
                y,
                width: best.width,
                height: best.height,
                cap_height_px: cap,
                required_px: required,
            };
            // Invariant of the search: `best` is always the shape of cap height `lo`.
            return Ok((layout, best));
        }
        // The loop returns on its last iteration.
        Err(ExplicitError::EmptyImage { width, height })
    }

    /// Lays the wording out with a cap height of `cap` pixels, plate origin at (0, 0).
    fn shape(&self, cap: u32) -> Shaped {
        // A hair over the target so float error never rasterises the cap one row short.
        let cap_f = cap as f32 + 0.02;
        let px_per_unit = cap_f / self.cap_units;
        let scale = PxScale::from(px_per_unit * self.font.height_unscaled());
        let scaled = self.font.as_scaled(scale);
        let mut pen = 0.0f32;
        let mut prev = None;
        let mut outlined = Vec::new();
        for c in self.options.wording.as_str().chars() {
            let id = self.font.glyph_id(c);
            if let Some(p) = prev {
                pen += scaled.kern(p, id);
            }
            let glyph: Glyph = id.with_scale_and_position(scale, ab_glyph::point(pen, 0.0));
            pen += scaled.h_advance(id);
            prev = Some(id);
            if let Some(o) = self.font.outline_glyph(glyph) {
                outlined.push(o);
            }
        }
        // Ink bounds are whole pixels (floor/ceil of the outline bounds).
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for o in &outlined {
            let b = o.px_bounds();
            x0 = x0.min(b.min.x);
            y0 = y0.min(b.min.y);
            x1 = x1.max(b.max.x);
            y1 = y1.max(b.max.y);
        }
        if outlined.is_empty() {
            (x0, y0, x1, y1) = (0.0, 0.0, 0.0, 0.0);
        }
        let pad = ((cap as f32 * 0.3).round() as u32).max(1);
        // Shift every glyph by whole pixels so its ink starts at (pad, pad): integer shifts
        // keep the rasterisation identical to what was measured.
        let (dx, dy) = (pad as f32 - x0, pad as f32 - y0);
        let glyphs = outlined
            .into_iter()
            .filter_map(|o| {
                let mut g = o.glyph().clone();
                g.position.x += dx;
                g.position.y += dy;
                self.font.outline_glyph(g)
            })
            .collect();
        Shaped {
            glyphs,
            width: (x1 - x0) as u32 + 2 * pad,
            height: (y1 - y0) as u32 + 2 * pad,
        }
    }

    /// Draws the label onto an RGBA image in place; pixels outside the plate are untouched.
    pub fn label_rgba(&self, image: &mut RgbaImage) -> Result<LabelLayout> {
        self.draw(image)
    }

    /// Draws the label onto an RGB image in place; pixels outside the plate are untouched.
    pub fn label_rgb(&self, image: &mut RgbImage) -> Result<LabelLayout> {
        self.draw(image)
    }

    /// The label alone, for a `width`×`height` frame: a plate-sized RGBA image (transparent
    /// where the plate is translucent) and where it goes. Used for video overlays.
    pub fn render_overlay(&self, width: u32, height: u32) -> Result<(RgbaImage, LabelLayout)> {
        let (layout, shaped) = self.plan(width, height)?;
        let mut plate = RgbaImage::new(layout.width, layout.height);
        self.paint(&mut plate, 0, 0, &shaped);
        Ok((plate, layout))
    }

    fn draw<P>(&self, image: &mut ImageBuffer<P, Vec<u8>>) -> Result<LabelLayout>
    where
        P: Pixel<Subpixel = u8>,
    {
        let (layout, shaped) = self.plan(image.width(), image.height())?;
        self.paint(image, layout.x, layout.y, &shaped);
        Ok(layout)
    }

    /// Composites plate then text over `image` with the plate's top-left at (`x`, `y`).
    fn paint<P>(&self, image: &mut ImageBuffer<P, Vec<u8>>, x: u32, y: u32, shaped: &Shaped)
    where
        P: Pixel<Subpixel = u8>,
    {
        let (pw, ph) = (shaped.width, shaped.height);
        let mut coverage = vec![0f32; pw as usize * ph as usize];
        for g in &shaped.glyphs {
            let b = g.px_bounds();
            let (gx, gy) = (b.min.x as i64, b.min.y as i64);
            g.draw(|cx, cy, c| {
                let (px, py) = (gx + i64::from(cx), gy + i64::from(cy));
                if px >= 0 && py >= 0 && px < i64::from(pw) && py < i64::from(ph) {
                    let cell = &mut coverage[py as usize * pw as usize + px as usize];
                    *cell = (*cell + c).min(1.0);
                }
            });
        }
        let plate_a = f32::from(self.options.plate_opacity) / 255.0;
        let plate = self.options.plate_rgb.map(f32::from);
        let text = self.options.text_rgb.map(f32::from);
        let channels = usize::from(P::CHANNEL_COUNT);
        let (iw, ih) = (image.width(), image.height());
        for py in 0..ph {
            for px in 0..pw {
                let (ix, iy) = (x + px, y + py);
                if ix >= iw || iy >= ih {
                    continue;
                }
                let cov = coverage[py as usize * pw as usize + px as usize];
                // Source = text (alpha cov) over plate (alpha plate_a), itself composited over
                // the pixel below.
                let src_a = cov + plate_a * (1.0 - cov);
                let src = [0, 1, 2].map(|i| {
                    if src_a > 0.0 {
                        (text[i] * cov + plate[i] * plate_a * (1.0 - cov)) / src_a
                    } else {
                        0.0
                    }
                });
                let dst = image.get_pixel_mut(ix, iy).channels_mut();
                over(dst, channels, src, src_a);
            }
        }
    }
}

/// Porter-Duff "over" of a straight-alpha colour onto an RGB (opaque) or RGBA pixel.
fn over(dst: &mut [u8], channels: usize, src: [f32; 3], src_a: f32) {
    let dst_a = if channels == 4 {
        f32::from(dst[3]) / 255.0
    } else {
        1.0
    };
    let out_a = src_a + dst_a * (1.0 - src_a);
    for i in 0..3 {
        let d = f32::from(dst[i]);
        let v = if out_a > 0.0 {
            (src[i] * src_a + d * dst_a * (1.0 - src_a)) / out_a
        } else {
            0.0
        };
        dst[i] = v.round().clamp(0.0, 255.0) as u8;
    }
    if channels == 4 {
        dst[3] = (out_a * 255.0).round().clamp(0.0, 255.0) as u8;
    }
}

/// Relative luminance (WCAG 2) of an sRGB colour.
pub fn relative_luminance(rgb: [u8; 3]) -> f32 {
    let lin = |c: u8| {
        let c = f32::from(c) / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(rgb[0]) + 0.7152 * lin(rgb[1]) + 0.0722 * lin(rgb[2])
}

/// WCAG contrast ratio of two colours, from 1 to 21.
pub fn contrast_ratio(a: [u8; 3], b: [u8; 3]) -> f32 {
    let (la, lb) = (relative_luminance(a), relative_luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The lowest text/plate contrast over any background: the plate composited over black and
/// over white are the extremes, since compositing is linear in the background.
fn worst_contrast(text: [u8; 3], plate: [u8; 3], opacity: u8) -> f32 {
    let a = f32::from(opacity) / 255.0;
    [0f32, 255.0]
        .into_iter()
        .map(|bg| {
            let seen = plate.map(|p| (f32::from(p) * a + bg * (1.0 - a)).round() as u8);
            contrast_ratio(text, seen)
        })
        .fold(f32::MAX, f32::min)
}

impl ExplicitLabeler for ImageLabeler {
    type Input = DynamicImage;
    type Output = DynamicImage;

    /// Labels a decoded image. RGB8 stays RGB8 and RGBA8 stays RGBA8; other pixel types are
    /// converted to RGBA8 if they have alpha and to RGB8 otherwise.
    fn apply(&self, input: DynamicImage) -> Result<DynamicImage> {
        match input {
            DynamicImage::ImageRgb8(mut img) => {
                self.label_rgb(&mut img)?;
                Ok(DynamicImage::ImageRgb8(img))
            }
            DynamicImage::ImageRgba8(mut img) => {
                self.label_rgba(&mut img)?;
                Ok(DynamicImage::ImageRgba8(img))
            }
            other if other.color().has_alpha() => {
                let mut img = other.to_rgba8();
                self.label_rgba(&mut img)?;
                Ok(DynamicImage::ImageRgba8(img))
            }
            other => {
                let mut img = other.to_rgb8();
                self.label_rgb(&mut img)?;
                Ok(DynamicImage::ImageRgb8(img))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn default_colours_pass_the_contrast_floor_and_weak_ones_fail() {
        let d = ImageLabelOptions::default();
        assert!(worst_contrast(d.text_rgb, d.plate_rgb, d.plate_opacity) >= 7.0);
        let weak = ImageLabelOptions {
            plate_opacity: 60,
            ..ImageLabelOptions::default()
        };
        assert!(matches!(
            ImageLabeler::new(weak),
            Err(ExplicitError::InvalidOption { .. })
        ));
    }

    #[test]
    fn ratio_below_five_percent_is_refused() {
        let o = ImageLabelOptions {
            text_height_ratio: 0.04,
            ..ImageLabelOptions::default()
        };
        let err = ImageLabeler::new(o).unwrap_err();
        assert!(err.to_string().contains("5%"), "{err}");
    }

    #[test]
    fn zero_sized_images_are_errors() {
        let l = ImageLabeler::new(ImageLabelOptions::default()).unwrap();
        for (w, h) in [(0, 0), (0, 10), (10, 0)] {
            assert!(matches!(
                l.layout(w, h),
                Err(ExplicitError::EmptyImage { .. })
            ));
        }
        let mut empty = RgbaImage::new(0, 5);
        assert!(l.label_rgba(&mut empty).is_err());
    }
}

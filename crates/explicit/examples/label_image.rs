//! Labels an image file: `cargo run -p hegui-explicit --example label_image IN OUT [WORDING]`.
//! With IN = `-` it labels a 1920×1080 grey test card instead.

use hegui_explicit::{ExplicitLabeler, ImageLabelOptions, ImageLabeler, Wording};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output, rest @ ..] = args.as_slice() else {
        return Err("usage: label_image IN|- OUT [WORDING]".into());
    };
    let wording = match rest.first() {
        Some(w) => Wording::new(w)?,
        None => Wording::default(),
    };
    let img = if input == "-" {
        image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(1920, 1080, |x, y| {
            image::Rgb([(x / 8) as u8, (y / 5) as u8, 128])
        }))
    } else {
        image::open(input)?
    };
    let labeler = ImageLabeler::new(ImageLabelOptions {
        wording,
        ..ImageLabelOptions::default()
    })?;
    let t = std::time::Instant::now();
    let out = labeler.apply(img)?;
    eprintln!("labelled in {:?}", t.elapsed());
    out.save(output)?;
    Ok(())
}

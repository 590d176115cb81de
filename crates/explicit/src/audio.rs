//! The audible label: the rhythm cue "short long short short" (Morse "AI", `·− ··`).
//!
//! The cue ([`CueSpec::default`]): an 880 Hz sine at half full scale (−6 dBFS); tones of 120 ms
//! (short) and 360 ms (long) separated by 120 ms of silence, each tone shaped by 5 ms
//! raised-cosine ramps so it starts and stops without clicks. The four tones and three gaps last
//! 1080 ms; 240 ms of silence separate the cue from the content (after a leading cue, before a
//! trailing one), so a cue block adds 1.32 s. The gaps are uniform (GB 45438 names the rhythm,
//! not Morse's longer inter-letter gap).
//!
//! WAV files are labelled in-process, at the chunk level: the cue is encoded in the file's own
//! sample format (PCM 8/16/24/32-bit integer or 32-bit float), rate and channel count and
//! spliced into the `data` chunk; every other chunk (`LIST`, an implicit-label `AIGC` chunk, ...)
//! is kept byte for byte, and a `fact` chunk's frame count is updated. Other formats go through
//! ffmpeg ([`AudioFileLabeler`]).

use std::f32::consts::PI;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use hound::{SampleFormat, WavSpecEx};

use crate::error::{ExplicitError, Result};
use crate::tools::{self, Tools};
use crate::ExplicitLabeler;

/// Timing and sound of the cue; see the module docs for the defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CueSpec {
    /// Tone frequency in Hz.
    pub frequency_hz: f32,
    /// Short tone, ms.
    pub short_ms: u32,
    /// Long tone, ms.
    pub long_ms: u32,
    /// Silence between tones, ms.
    pub gap_ms: u32,
    /// Raised-cosine fade in and out of each tone, ms.
    pub ramp_ms: u32,
    /// Peak amplitude, as a fraction of full scale.
    pub amplitude: f32,
    /// Silence between the cue and the content, ms.
    pub separation_ms: u32,
}

impl Default for CueSpec {
    fn default() -> Self {
        Self {
            frequency_hz: 880.0,
            short_ms: 120,
            long_ms: 360,
            gap_ms: 120,
            ramp_ms: 5,
            amplitude: 0.5,
            separation_ms: 240,
        }
    }
}

/// The rhythm: `true` is a long tone.
pub const CUE_RHYTHM: [bool; 4] = [false, true, false, false];

impl CueSpec {
    /// The tone lengths, in order, ms.
    fn tones(&self) -> [u32; 4] {
        CUE_RHYTHM.map(|long| if long { self.long_ms } else { self.short_ms })
    }

    /// Length of the tones and gaps alone, ms.
    pub fn cue_ms(&self) -> u32 {
        self.tones().iter().sum::<u32>() + 3 * self.gap_ms
    }

    /// The lowest sample rate that can carry the tone cleanly (2.5 samples per cycle).
    pub fn min_sample_rate(&self) -> u32 {
        (self.frequency_hz * 2.5).ceil() as u32
    }

    /// The cue's tones and gaps as mono samples in −1..1 at `sample_rate`.
    pub fn tones_mono(&self, sample_rate: u32) -> Vec<f32> {
        let ms = |m: u32| (u64::from(m) * u64::from(sample_rate) / 1000) as usize;
        let ramp = ms(self.ramp_ms);
        let mut out = Vec::with_capacity(ms(self.cue_ms()));
        let w = 2.0 * PI * self.frequency_hz / sample_rate as f32;
        for (i, tone_ms) in self.tones().into_iter().enumerate() {
            if i > 0 {
                out.resize(out.len() + ms(self.gap_ms), 0.0);
            }
            let n = ms(tone_ms);
            let ramp = ramp.min(n / 2);
            for k in 0..n {
                let edge = k.min(n - 1 - k);
                let env = if edge < ramp {
                    0.5 - 0.5 * (PI * (edge as f32 + 0.5) / ramp as f32).cos()
                } else {
                    1.0
                };
                out.push(self.amplitude * env * (w * k as f32).sin());
            }
        }
        out
    }

    /// The block added to the audio, interleaved for `channels`: tones then separation for
    /// the start, separation then tones for the end.
    pub fn block(&self, sample_rate: u32, channels: u16, at_end: bool) -> Vec<f32> {
        let sep = (u64::from(self.separation_ms) * u64::from(sample_rate) / 1000) as usize;
        let tones = self.tones_mono(sample_rate);
        let mut mono = Vec::with_capacity(tones.len() + sep);
        if at_end {
            mono.resize(sep, 0.0);
            mono.extend_from_slice(&tones);
        } else {
            mono.extend_from_slice(&tones);
            mono.resize(tones.len() + sep, 0.0);
        }
        mono.iter()
            .flat_map(|s| std::iter::repeat_n(*s, usize::from(channels)))
            .collect()
    }

    fn validate(&self) -> Result<()> {
        let bad = |option, reason: String| Err(ExplicitError::InvalidOption { option, reason });
        if !(self.frequency_hz.is_finite() && (100.0..=8000.0).contains(&self.frequency_hz)) {
            return bad(
                "frequency_hz",
                format!("{} is outside 100..=8000 Hz", self.frequency_hz),
            );
        }
        if !(self.amplitude.is_finite() && self.amplitude > 0.05 && self.amplitude <= 1.0) {
            return bad(
                "amplitude",
                format!("{} is outside 0.05..=1.0", self.amplitude),
            );
        }
        if self.short_ms < 40 || self.long_ms < 2 * self.short_ms || self.gap_ms < 40 {
            return bad(
                "short_ms/long_ms/gap_ms",
                format!(
                    "short {} ms, long {} ms, gap {} ms: tones and gaps need ≥ 40 ms and the long tone ≥ 2 × the short one to be heard as a rhythm",
                    self.short_ms, self.long_ms, self.gap_ms
                ),
            );
        }
        if self.long_ms > 5000 || self.gap_ms > 5000 || self.separation_ms > 10_000 {
            return bad(
                "long_ms/gap_ms/separation_ms",
                "over 5 s (10 s for the separation)".to_owned(),
            );
        }
        if 2 * self.ramp_ms > self.short_ms {
            return bad(
                "ramp_ms",
                format!(
                    "{} ms ramps do not fit a {} ms tone",
                    self.ramp_ms, self.short_ms
                ),
            );
        }
        Ok(())
    }
}

/// Where the cue goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CuePlacement {
    /// Before the content.
    Start,
    /// After the content.
    End,
    /// Both (the default).
    #[default]
    Both,
}

impl CuePlacement {
    fn start(self) -> bool {
        matches!(self, Self::Start | Self::Both)
    }
    fn end(self) -> bool {
        matches!(self, Self::End | Self::Both)
    }
}

/// Adds the cue to WAV files in memory.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WavLabeler {
    /// The cue.
    pub cue: CueSpec,
    /// Where it goes.
    pub placement: CuePlacement,
}

/// One RIFF chunk: its id and the byte range of its body.
#[derive(Debug, Clone, Copy)]
struct Chunk {
    id: [u8; 4],
    body: usize,
    len: usize,
}

fn bad_wav(reason: impl Into<String>) -> ExplicitError {
    ExplicitError::BadWav {
        reason: reason.into(),
    }
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
}

/// Splits a RIFF/WAVE file into chunks, refusing any chunk whose size runs past the file.
fn chunks(bytes: &[u8]) -> Result<Vec<Chunk>> {
    if bytes.len() >= 4 && (&bytes[..4] == b"RF64" || &bytes[..4] == b"BW64") {
        return Err(ExplicitError::UnsupportedAudio {
            reason: "RF64/BW64 (over-4-GiB WAV) is not supported in-process".to_owned(),
        });
    }
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad_wav("it does not start with a RIFF....WAVE header"));
    }
    // Writers often get the RIFF size wrong; chunk sizes are what must be true.
    let mut at = 12;
    let mut out = Vec::new();
    while at + 8 <= bytes.len() {
        let mut id = [0u8; 4];
        id.copy_from_slice(&bytes[at..at + 4]);
        let len = le_u32(bytes, at + 4).unwrap_or(0) as usize;
        let body = at + 8;
        let remaining = bytes.len() - body;
        if len > remaining {
            return Err(bad_wav(format!(
                "chunk {:?} declares {len} bytes but only {remaining} follow (truncated file, or a header that lies about its size); re-export the file",
                String::from_utf8_lossy(&id)
            )));
        }
        out.push(Chunk { id, body, len });
        at = body + len + (len & 1);
    }
    // Fewer than 8 stray bytes after the last chunk cannot be a chunk; they are dropped.
    Ok(out)
}

fn spec_of(bytes: &[u8], list: &[Chunk]) -> Result<WavSpecEx> {
    let spec = hound::WavReader::new(Cursor::new(bytes))
        .map_err(|e| match e {
            hound::Error::Unsupported => ExplicitError::UnsupportedAudio {
                reason: "the WAV's sample format is not PCM integer or IEEE float".to_owned(),
            },
            // A well-formed header whose bit depth hound cannot handle (12-bit, 64-bit float).
            hound::Error::FormatError(m) if m.starts_with("bits per sample") => {
                ExplicitError::UnsupportedAudio {
                    reason: format!("the WAV's bit depth is unsupported ({m})"),
                }
            }
            other => bad_wav(other.to_string()),
        })?
        .spec();
    // hound keeps the container size private; the fmt chunk's block align gives it.
    let block_align = list
        .iter()
        .find(|c| &c.id == b"fmt ")
        .and_then(|c| bytes.get(c.body + 12..c.body + 14))
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| bad_wav("its fmt chunk is too short"))?;
    if spec.channels == 0 || block_align % spec.channels != 0 {
        return Err(bad_wav(format!(
            "block align {block_align} does not fit {} channels",
            spec.channels
        )));
    }
    let spec_ex = WavSpecEx {
        spec,
        bytes_per_sample: block_align / spec.channels,
    };
    let s = spec_ex.spec;
    let ok = match s.sample_format {
        SampleFormat::Int => {
            matches!(s.bits_per_sample, 8 | 16 | 24 | 32)
                && u32::from(spec_ex.bytes_per_sample) * 8 >= u32::from(s.bits_per_sample)
        }
        SampleFormat::Float => s.bits_per_sample == 32 && spec_ex.bytes_per_sample == 4,
    };
    if !ok {
        return Err(ExplicitError::UnsupportedAudio {
            reason: format!(
                "{:?} samples of {} bits in {}-byte containers",
                s.sample_format, s.bits_per_sample, spec_ex.bytes_per_sample
            ),
        });
    }
    if s.channels == 0 {
        return Err(bad_wav("it declares zero channels"));
    }
    Ok(spec_ex)
}

/// Encodes interleaved samples in `spec_ex`'s format, returning only the `data` bytes.
fn encode_data(spec_ex: WavSpecEx, samples: &[f32]) -> Result<Vec<u8>> {
    let enc_err = |e: hound::Error| ExplicitError::UnsupportedAudio {
        reason: format!("encoding the cue in this format failed: {e}"),
    };
    let mut buf = Cursor::new(Vec::new());
    {
        let mut w = hound::WavWriter::new_with_spec_ex(&mut buf, spec_ex).map_err(enc_err)?;
        let spec = spec_ex.spec;
        match spec.sample_format {
            SampleFormat::Float => {
                for s in samples {
                    w.write_sample(*s).map_err(enc_err)?;
                }
            }
            SampleFormat::Int => {
                let full = ((1i64 << (spec.bits_per_sample - 1)) - 1) as f32;
                for s in samples {
                    w.write_sample((s.clamp(-1.0, 1.0) * full).round() as i32)
                        .map_err(enc_err)?;
                }
            }
        }
        w.finalize().map_err(enc_err)?;
    }
    let bytes = buf.into_inner();
    let data = chunks(&bytes)?
        .into_iter()
        .find(|c| &c.id == b"data")
        .ok_or_else(|| bad_wav("internal: the encoded cue has no data chunk"))?;
    Ok(bytes[data.body..data.body + data.len].to_vec())
}

impl WavLabeler {
    /// Returns `bytes` (a WAV file) with the cue added; format, rate, channels and every chunk
    /// other than `data` (and a `fact` frame count) are unchanged.
    pub fn label_wav(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        self.cue.validate()?;
        let list = chunks(bytes)?;
        let fmt_at = list.iter().position(|c| &c.id == b"fmt ");
        let data_at = list.iter().position(|c| &c.id == b"data");
        let data_at = match (fmt_at, data_at) {
            (Some(f), Some(d)) if f < d => d,
            (None, _) => return Err(bad_wav("it has no fmt chunk")),
            (_, None) => return Err(bad_wav("it has no data chunk")),
            _ => return Err(bad_wav("its data chunk comes before its fmt chunk")),
        };
        if list.iter().filter(|c| &c.id == b"data").count() > 1 {
            return Err(bad_wav("it has more than one data chunk"));
        }
        let spec_ex = spec_of(bytes, &list)?;
        let spec = spec_ex.spec;
        if spec.sample_rate < self.cue.min_sample_rate() {
            return Err(ExplicitError::UnsupportedAudio {
                reason: format!(
                    "sample rate {} Hz is too low for a {} Hz cue (need ≥ {} Hz)",
                    spec.sample_rate,
                    self.cue.frequency_hz,
                    self.cue.min_sample_rate()
                ),
            });
        }
        let frame = usize::from(spec.channels) * usize::from(spec_ex.bytes_per_sample);
        let data = list[data_at];
        if data.len % frame != 0 {
            return Err(bad_wav(format!(
                "its data chunk ({} bytes) is not a whole number of {frame}-byte frames; the file is truncated or its header lies",
                data.len
            )));
        }
        let lead = if self.placement.start() {
            encode_data(
                spec_ex,
                &self.cue.block(spec.sample_rate, spec.channels, false),
            )?
        } else {
            Vec::new()
        };
        let trail = if self.placement.end() {
            encode_data(
                spec_ex,
                &self.cue.block(spec.sample_rate, spec.channels, true),
            )?
        } else {
            Vec::new()
        };
        let added_frames = (lead.len() + trail.len()) / frame;
        let new_data_len = lead.len() + data.len + trail.len();
        let too_big = || ExplicitError::UnsupportedAudio {
            reason: "with the cue the file would pass the 4 GiB WAV limit".to_owned(),
        };
        let data_len32 = u32::try_from(new_data_len).map_err(|_| too_big())?;

        let mut out = Vec::with_capacity(bytes.len() + lead.len() + trail.len());
        out.extend_from_slice(b"RIFF\0\0\0\0WAVE");
        for c in &list {
            let body = &bytes[c.body..c.body + c.len];
            out.extend_from_slice(&c.id);
            match &c.id {
                b"data" => {
                    out.extend_from_slice(&data_len32.to_le_bytes());
                    out.extend_from_slice(&lead);
                    out.extend_from_slice(body);
                    out.extend_from_slice(&trail);
                    if new_data_len % 2 == 1 {
                        out.push(0);
                    }
                    continue;
                }
                b"fact" if c.len >= 4 => {
                    out.extend_from_slice(&(c.len as u32).to_le_bytes());
                    let frames = le_u32(body, 0).unwrap_or(0) as usize + added_frames;
                    let frames = u32::try_from(frames).map_err(|_| too_big())?;
                    out.extend_from_slice(&frames.to_le_bytes());
                    out.extend_from_slice(&body[4..]);
                }
                _ => {
                    out.extend_from_slice(&(c.len as u32).to_le_bytes());
                    out.extend_from_slice(body);
                }
            }
            if c.len % 2 == 1 {
                out.push(0);
            }
        }
        let riff = u32::try_from(out.len() - 8).map_err(|_| too_big())?;
        out[4..8].copy_from_slice(&riff.to_le_bytes());
        Ok(out)
    }
}

impl ExplicitLabeler for WavLabeler {
    type Input = Vec<u8>;
    type Output = Vec<u8>;

    fn apply(&self, input: Vec<u8>) -> Result<Vec<u8>> {
        self.label_wav(&input)
    }
}

/// Decoded audio: interleaved samples scaled to −1..1.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAudio {
    /// Frames per second.
    pub sample_rate: u32,
    /// Channels per frame.
    pub channels: u16,
    /// Interleaved samples in −1..1.
    pub samples: Vec<f32>,
}

/// Decodes a WAV file (PCM 8/16/24/32-bit integer or 32-bit float) to −1..1 samples.
pub fn decode_wav(bytes: &[u8]) -> Result<DecodedAudio> {
    let list = chunks(bytes)?;
    let spec_ex = spec_of(bytes, &list)?;
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| bad_wav(e.to_string()))?;
    let spec = spec_ex.spec;
    let read_err = |e: hound::Error| bad_wav(format!("decoding samples failed: {e}"));
    let samples = match spec.sample_format {
        SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(read_err)?,
        SampleFormat::Int => {
            let scale = 1.0 / (1i64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| v as f32 * scale))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(read_err)?
        }
    };
    Ok(DecodedAudio {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        samples,
    })
}

/// Where a cue was found.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CueDetection {
    /// Seconds from the start to the first tone's onset, when a cue opens the audio.
    pub start_onset_secs: Option<f64>,
    /// Seconds from the last tone's end to the end of the audio, when a cue closes it.
    pub end_offset_secs: Option<f64>,
}

impl CueDetection {
    /// A cue opens the audio.
    pub fn at_start(&self) -> bool {
        self.start_onset_secs.is_some()
    }
    /// A cue closes the audio.
    pub fn at_end(&self) -> bool {
        self.end_offset_secs.is_some()
    }
}

/// How far from the edge the cue may begin (encoder delay and padding of lossy codecs).
const EDGE_TOLERANCE_MS: u32 = 500;
/// Envelope resolution.
const WINDOW_MS: u32 = 10;
/// How far a measured tone or gap may be from its nominal length.
const LENGTH_TOLERANCE_MS: u32 = 40;

/// Looks for the default cue at the start and end of decoded audio.
pub fn detect_cue(samples: &[f32], sample_rate: u32, channels: u16) -> CueDetection {
    detect_cue_with(&CueSpec::default(), samples, sample_rate, channels)
}

/// Looks for `spec`'s cue at the start and end of decoded audio (interleaved, −1..1).
///
/// The envelope: in 10 ms windows, a window is "on" when the tone frequency (Goertzel) carries
/// at least half of the window's energy with an RMS of at least 0.01 (a sine peak of about
/// −37 dBFS). The on/off runs must match short, gap, long, gap, short, gap, short within ±40 ms
/// each, with the first tone starting (or the last ending) within 500 ms of the edge, which
/// absorbs the delay and padding of lossy codecs.
pub fn detect_cue_with(
    spec: &CueSpec,
    samples: &[f32],
    sample_rate: u32,
    channels: u16,
) -> CueDetection {
    let ch = usize::from(channels.max(1));
    let win = (sample_rate / (1000 / WINDOW_MS)) as usize;
    if win == 0 || sample_rate < spec.min_sample_rate() {
        return CueDetection::default();
    }
    let frames = samples.len() / ch;
    let coeff = 2.0
        * (2.0 * std::f64::consts::PI * f64::from(spec.frequency_hz) / f64::from(sample_rate))
            .cos();
    let on: Vec<bool> = (0..frames / win)
        .map(|w| {
            let (mut s1, mut s2, mut energy) = (0f64, 0f64, 0f64);
            for f in w * win..(w + 1) * win {
                let x = samples[f * ch..f * ch + ch]
                    .iter()
                    .map(|v| f64::from(*v))
                    .sum::<f64>()
                    / ch as f64;
                energy += x * x;
                let s0 = x + coeff * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
            // A sine of amplitude A gives power ≈ (A·N/2)², i.e. tone energy ≈ 2·power/N.
            let tone_energy = 2.0 * power / win as f64;
            let tone_rms = (tone_energy / win as f64).sqrt();
            tone_rms >= 0.01 && tone_energy >= 0.5 * energy
        })
        .collect();
    // Runs of equal state: (state, first window, length).
    let mut runs: Vec<(bool, usize, usize)> = Vec::new();
    for (i, s) in on.iter().enumerate() {
        match runs.last_mut() {
            Some((state, _, len)) if state == s => *len += 1,
            _ => runs.push((*s, i, 1)),
        }
    }
    let windows = |ms: u32| (ms / WINDOW_MS) as usize;
    let close = |len: usize, ms: u32| len.abs_diff(windows(ms)) <= windows(LENGTH_TOLERANCE_MS);
    let tones = spec.tones();
    // The expected pattern of on/off runs, in playing order.
    let expected: Vec<(bool, u32)> = tones
        .iter()
        .enumerate()
        .flat_map(|(i, t)| {
            let gap = (i > 0).then_some((false, spec.gap_ms));
            gap.into_iter().chain(std::iter::once((true, *t)))
        })
        .collect();
    let matches = |slice: &[(bool, usize, usize)]| {
        slice.len() == expected.len()
            && slice
                .iter()
                .zip(&expected)
                .all(|(&(s, _, len), &(es, ms))| s == es && close(len, ms))
    };
    let secs = |windows: usize| windows as f64 * f64::from(WINDOW_MS) / 1000.0;
    let edge = windows(EDGE_TOLERANCE_MS);
    let n = expected.len();

    let first_on = runs.iter().position(|r| r.0);
    let start_onset_secs = first_on.and_then(|i| {
        let slice = runs.get(i..i + n)?;
        (runs[i].1 <= edge && matches(slice)).then(|| secs(runs[i].1))
    });
    let last_on = runs.iter().rposition(|r| r.0);
    let end_offset_secs = last_on.and_then(|i| {
        let first = (i + 1).checked_sub(n)?;
        let tail = on.len() - (runs[i].1 + runs[i].2);
        // Leftover samples shorter than a window also count as tail.
        (tail <= edge && matches(&runs[first..=i])).then(|| secs(tail))
    });
    CueDetection {
        start_onset_secs,
        end_offset_secs,
    }
}

/// Labels audio files: WAV in-process, anything else ffmpeg can read through ffmpeg.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AudioFileLabeler {
    /// The cue and its placement.
    pub wav: WavLabeler,
}

/// An input file and where its labelled copy goes (may be the same path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileJob {
    /// The file to label.
    pub input: PathBuf,
    /// Where the labelled file is written (atomically, via a temporary file beside it).
    pub output: PathBuf,
}

impl AudioFileLabeler {
    /// Labels `input` into `output`. WAV needs no tool; for other formats ffmpeg and ffprobe
    /// must be on PATH, and the output is re-encoded with the input's codec (and bitrate, for
    /// lossy codecs) in the container the output's extension names; the input's tags are kept.
    /// Only the first audio stream is kept (cover art and other streams are dropped).
    pub fn label_file(&self, input: &Path, output: &Path) -> Result<()> {
        self.label_file_with(input, output, || {
            Tools::locate_for(
                "audio other than WAV",
                ", or convert the audio to WAV first",
            )
        })
    }

    /// As [`AudioFileLabeler::label_file`], with the tools found by `locate` (called only for
    /// formats other than WAV).
    pub fn label_file_with(
        &self,
        input: &Path,
        output: &Path,
        locate: impl FnOnce() -> Result<Tools>,
    ) -> Result<()> {
        self.wav.cue.validate()?;
        let mut head = [0u8; 12];
        let n = {
            use std::io::Read;
            let mut f =
                std::fs::File::open(input).map_err(|e| ExplicitError::io("opening", input, e))?;
            let mut n = 0;
            while n < head.len() {
                match f.read(&mut head[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) => return Err(ExplicitError::io("reading", input, e)),
                }
            }
            n
        };
        if n == 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
            let bytes = std::fs::read(input).map_err(|e| ExplicitError::io("reading", input, e))?;
            let labelled = self.wav.label_wav(&bytes)?;
            return tools::write_atomic(output, &labelled);
        }
        let tools = locate()?;
        self.label_with_ffmpeg(&tools, input, output)
    }

    fn label_with_ffmpeg(&self, tools: &Tools, input: &Path, output: &Path) -> Result<()> {
        let info = tools.probe(
            input,
            "a:0",
            "stream=codec_name,sample_rate,channels,bit_rate,sample_fmt",
        )?;
        let bad = |reason: String| ExplicitError::BadMedia {
            path: input.to_owned(),
            reason,
        };
        let codec = info
            .get("codec_name")
            .cloned()
            .ok_or_else(|| bad("no audio stream found; pass an audio file".to_owned()))?;
        let rate: u32 = info
            .get("sample_rate")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("ffprobe reported no sample rate".to_owned()))?;
        let channels: u16 = info
            .get("channels")
            .and_then(|v| v.parse().ok())
            .filter(|c| *c > 0)
            .ok_or_else(|| bad("ffprobe reported no channel count".to_owned()))?;
        if rate < self.wav.cue.min_sample_rate() {
            return Err(ExplicitError::UnsupportedAudio {
                reason: format!("sample rate {rate} Hz is too low for the cue"),
            });
        }
        let (encoder, lossy) = match codec.as_str() {
            "mp3" => ("libmp3lame", true),
            "aac" => ("aac", true),
            "vorbis" => ("libvorbis", true),
            "opus" => ("libopus", true),
            "flac" => ("flac", false),
            "alac" => ("alac", false),
            "wavpack" => ("wavpack", false),
            other if other.starts_with("pcm_") => (other, false),
            other => {
                return Err(ExplicitError::UnsupportedAudio {
                    reason: format!("no known encoder for codec `{other}`"),
                })
            }
        };
        let work = tempfile::tempdir()
            .map_err(|e| ExplicitError::io("creating a temporary directory for", input, e))?;
        let cue_wav = |at_end: bool, name: &str| -> Result<PathBuf> {
            let spec = hound::WavSpec {
                channels,
                sample_rate: rate,
                bits_per_sample: 32,
                sample_format: SampleFormat::Float,
            };
            let path = work.path().join(name);
            let enc = |e: hound::Error| ExplicitError::UnsupportedAudio {
                reason: format!("writing the cue failed: {e}"),
            };
            let mut w = hound::WavWriter::create(&path, spec).map_err(enc)?;
            for s in self.wav.cue.block(rate, channels, at_end) {
                w.write_sample(s).map_err(enc)?;
            }
            w.finalize().map_err(enc)?;
            Ok(path)
        };
        let mut inputs: Vec<PathBuf> = Vec::new();
        if self.wav.placement.start() {
            inputs.push(cue_wav(false, "lead.wav")?);
        }
        let content_index = inputs.len();
        inputs.push(input.to_owned());
        if self.wav.placement.end() {
            inputs.push(cue_wav(true, "trail.wav")?);
        }
        let mut filter = String::new();
        for i in 0..inputs.len() {
            filter.push_str(&format!("[{i}:a:0]"));
        }
        filter.push_str(&format!("concat=n={}:v=0:a=1[out]", inputs.len()));

        let tmp = tools::temp_beside(output)?;
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        for i in &inputs {
            args.push("-i".into());
            args.push(i.into());
        }
        for a in ["-filter_complex", &filter, "-map", "[out]", "-map_metadata"] {
            args.push(a.into());
        }
        args.push(content_index.to_string().into());
        // Ogg and Opus keep their tags (Vorbis comments) on the stream, not the file.
        args.push("-map_metadata:s:a:0".into());
        args.push(format!("{content_index}:s:a:0").into());
        args.extend(["-c:a".into(), encoder.into()]);
        // The cue WAVs carry a bare channel mask (mono as `FL`), which the concat filter passes
        // on and libopus refuses; `-ac` gives the output the standard layout for its count.
        args.extend(["-ac".into(), channels.to_string().into()]);
        if lossy {
            if let Some(br) = info.get("bit_rate").filter(|b| b.parse::<u64>().is_ok()) {
                args.extend(["-b:a".into(), br.into()]);
            }
        } else if let Some(fmt) = info.get("sample_fmt").filter(|f| !f.is_empty()) {
            args.extend(["-sample_fmt".into(), fmt.into()]);
        }
        if tools::is_isobmff(output) {
            args.extend(["-movflags".into(), "use_metadata_tags".into()]);
        }
        args.push(tmp.path().into());
        tools.ffmpeg(input, args)?;
        tools::persist(tmp, output)
    }
}

impl ExplicitLabeler for AudioFileLabeler {
    type Input = FileJob;
    type Output = PathBuf;

    fn apply(&self, job: FileJob) -> Result<PathBuf> {
        self.label_file(&job.input, &job.output)?;
        Ok(job.output)
    }
}

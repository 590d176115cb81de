//! The external tools (ffmpeg, ffprobe) and atomic output files.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{ExplicitError, Result};

/// Located ffmpeg and ffprobe executables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tools {
    /// Path of `ffmpeg`.
    pub ffmpeg: PathBuf,
    /// Path of `ffprobe`.
    pub ffprobe: PathBuf,
}

impl Tools {
    /// Finds both tools on PATH; `what` and `alternative` go into the error when one is missing.
    pub fn locate_for(what: &'static str, alternative: &'static str) -> Result<Self> {
        Self::locate_in(
            &std::env::var_os("PATH").unwrap_or_default(),
            what,
            alternative,
        )
    }

    /// As [`Tools::locate_for`], searching the PATH-style list `path`.
    pub fn locate_in(path: &OsStr, what: &'static str, alternative: &'static str) -> Result<Self> {
        let find = |tool: &'static str| {
            find_in(tool, path).ok_or(ExplicitError::ToolMissing {
                tool,
                what,
                alternative,
            })
        };
        Ok(Self {
            ffmpeg: find("ffmpeg")?,
            ffprobe: find("ffprobe")?,
        })
    }

    /// Finds both tools on PATH.
    pub fn locate() -> Result<Self> {
        Self::locate_for("media other than images and WAV", "")
    }

    /// Runs ffmpeg with `args` (after `-nostdin -hide_banner -loglevel error -y`).
    pub(crate) fn ffmpeg<I, S>(&self, path: &Path, args: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new(&self.ffmpeg);
        cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
            .args(args);
        run(cmd, "ffmpeg", path).map(|_| ())
    }

    /// Runs ffprobe for the first stream of `selector` ("v:0", "a:0") and returns its
    /// `key=value` lines (later keys of the same name win; side data come last).
    pub(crate) fn probe(
        &self,
        path: &Path,
        selector: &str,
        entries: &str,
    ) -> Result<BTreeMap<String, String>> {
        let mut cmd = Command::new(&self.ffprobe);
        cmd.args(["-v", "error", "-select_streams", selector, "-show_entries"])
            .arg(entries)
            .args(["-of", "default=noprint_wrappers=1"])
            .arg(path);
        let out = run(cmd, "ffprobe", path)?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect())
    }
}

/// The first executable file named `name` in PATH.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    find_in(name, &std::env::var_os("PATH")?)
}

/// The first executable file named `name` in the directories of a PATH-style list.
pub fn find_in(name: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file() || p.with_extension("exe").is_file()
}

fn run(mut cmd: Command, tool: &'static str, path: &Path) -> Result<String> {
    let out = cmd.output().map_err(|e| ExplicitError::ToolFailed {
        tool,
        path: path.to_owned(),
        status: "could not start".to_owned(),
        stderr: e.to_string(),
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: String = {
            let chars: Vec<char> = stderr.trim().chars().collect();
            chars[chars.len().saturating_sub(1500)..].iter().collect()
        };
        return Err(ExplicitError::ToolFailed {
            tool,
            path: path.to_owned(),
            status: out.status.to_string(),
            stderr: tail,
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A temporary file next to `output` (same directory, same extension), to be renamed over it.
pub(crate) fn temp_beside(output: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let suffix = output
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    tempfile::Builder::new()
        .prefix(".hegui-explicit-")
        .suffix(&suffix)
        .tempfile_in(&dir)
        .map_err(|e| ExplicitError::io("creating a temporary file in", dir, e))
}

/// Renames the finished temporary file over `output`.
pub(crate) fn persist(tmp: tempfile::NamedTempFile, output: &Path) -> Result<()> {
    tmp.persist(output)
        .map(|_| ())
        .map_err(|e| ExplicitError::io("renaming the finished output to", output, e.error))
}

/// Writes `bytes` to `output` atomically.
pub(crate) fn write_atomic(output: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut tmp = temp_beside(output)?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| ExplicitError::io("writing", tmp.path().to_owned(), e))?;
    persist(tmp, output)
}

/// True for containers that need `-movflags use_metadata_tags` to keep custom keys such as the
/// implicit `AIGC` label.
pub(crate) fn is_isobmff(path: &Path) -> bool {
    matches!(
        path.extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .as_deref(),
        Some("mp4" | "m4a" | "m4v" | "mov" | "3gp")
    )
}

//! The limits of a download: an overall deadline per file and mirror, the longest wait for
//! a byte, and a minimum rate; each settable by an environment variable (documented in
//! docs/reliability.md), so a slow link can loosen them and tests can tighten them.

use std::io;
use std::time::{Duration, Instant};

use crate::data::error::{DataError, DataResult, DownloadError};

/// `EXPR_DOWNLOAD_DEADLINE`: seconds one file may take from one mirror, headers included.
pub const DEADLINE_ENV: &str = "EXPR_DOWNLOAD_DEADLINE";
/// `EXPR_DOWNLOAD_STALL`: seconds without a byte before a mirror counts as stalled, and the
/// window over which the minimum rate is measured.
pub const STALL_ENV: &str = "EXPR_DOWNLOAD_STALL";
/// `EXPR_DOWNLOAD_MIN_RATE`: bytes per second a mirror must average over each window; 0 for none.
pub const MIN_RATE_ENV: &str = "EXPR_DOWNLOAD_MIN_RATE";

/// How long a download may take and how slow it may be, per file and mirror. A mirror that
/// breaks a limit counts as failed and the next one is tried. The defaults let the largest
/// MNIST file (9.9 MB) through a 16 KiB/s link, and end a mirror that trickles one byte
/// every 10 s after about 30 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadLimits {
    pub deadline: Duration,
    pub stall: Duration,
    /// Bytes per second, averaged over each `stall` window; 0 turns the check off.
    pub min_rate: u64,
}

impl Default for DownloadLimits {
    fn default() -> Self {
        DownloadLimits {
            deadline: Duration::from_mins(15),
            stall: Duration::from_secs(30),
            min_rate: 16 * 1024,
        }
    }
}

impl DownloadLimits {
    /// The defaults, with each limit its environment variable sets.
    pub fn from_env() -> DataResult<Self> {
        let mut limits = Self::default();
        if let Some(s) = seconds(DEADLINE_ENV)? {
            limits.deadline = Duration::from_secs(s);
        }
        if let Some(s) = seconds(STALL_ENV)? {
            limits.stall = Duration::from_secs(s);
        }
        if let Some(rate) = number(MIN_RATE_ENV, "expected bytes per second (0 for no minimum)")? {
            limits.min_rate = rate;
        }
        Ok(limits)
    }
}

fn seconds(var: &'static str) -> DataResult<Option<u64>> {
    match number(var, "expected a whole number of seconds, at least 1")? {
        Some(0) => Err(DataError::BadDownloadLimit {
            var,
            value: "0".into(),
            expected: "expected a whole number of seconds, at least 1",
        }),
        other => Ok(other),
    }
}

fn number(var: &'static str, expected: &'static str) -> DataResult<Option<u64>> {
    let Some(value) = std::env::var_os(var).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let value = value.to_string_lossy().into_owned();
    match value.trim().parse::<u64>() {
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(DataError::BadDownloadLimit {
            var,
            value,
            expected,
        }),
    }
}

/// How a transfer is keeping up with its limits.
pub(super) struct Pace<'a> {
    limits: &'a DownloadLimits,
    start: Instant,
    window_start: Instant,
    window_bytes: u64,
}

impl<'a> Pace<'a> {
    /// A transfer that started (request sent) at `start`; the rate window starts now.
    pub(super) fn new(limits: &'a DownloadLimits, start: Instant) -> Self {
        Pace {
            limits,
            start,
            window_start: Instant::now(),
            window_bytes: 0,
        }
    }

    /// A failed read: past the deadline, a stall (the socket's read timeout), or the network.
    pub(super) fn read_failed(&self, url: &str, e: &io::Error, received: u64) -> DownloadError {
        if self.start.elapsed() >= self.limits.deadline {
            return self.deadline(url, received);
        }
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => DownloadError::Stalled {
                url: url.to_string(),
                received,
                seconds: self.limits.stall.as_secs(),
            },
            _ => DownloadError::Transport {
                url: url.to_string(),
                reason: e.to_string(),
            },
        }
    }

    pub(super) fn deadline(&self, url: &str, received: u64) -> DownloadError {
        DownloadError::Deadline {
            url: url.to_string(),
            received,
            seconds: self.limits.deadline.as_secs(),
        }
    }

    /// After `n` more bytes (`received` in all): the deadline, and the minimum rate over
    /// each window of `stall` seconds.
    pub(super) fn after_read(
        &mut self,
        url: &str,
        n: u64,
        received: u64,
    ) -> Result<(), DownloadError> {
        if self.start.elapsed() >= self.limits.deadline {
            return Err(self.deadline(url, received));
        }
        self.window_bytes += n;
        let window = self.window_start.elapsed();
        if window < self.limits.stall {
            return Ok(());
        }
        let needed = self.limits.min_rate.saturating_mul(window.as_secs());
        if self.window_bytes < needed {
            return Err(DownloadError::TooSlow {
                url: url.to_string(),
                received,
                window_bytes: self.window_bytes,
                seconds: window.as_secs(),
                min_rate: self.limits.min_rate,
            });
        }
        self.window_start = Instant::now();
        self.window_bytes = 0;
        Ok(())
    }
}

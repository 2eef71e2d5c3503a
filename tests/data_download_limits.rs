//! Download limits against a loopback server that paces its replies: a mirror that trickles,
//! stalls or runs past the deadline fails within a bounded time, naming the URL, what
//! happened and what to do; a slow mirror above the minimum rate still succeeds.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use expr::data::{download_verified, DataError, DownloadError, DownloadLimits, MnistFile};
use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

const NAME: &str = "train-images-idx3-ubyte";

/// Tight limits, so each case ends in seconds: a 2 s stall, 1000 bytes/s, 5 s in all.
const LIMITS: DownloadLimits = DownloadLimits {
    deadline: Duration::from_secs(5),
    stall: Duration::from_secs(2),
    min_rate: 1000,
};

/// How the server sends the body after the headers.
#[derive(Clone, Copy)]
enum Pace {
    /// `bytes` at a time, then a pause of `pause`.
    Chunks { bytes: usize, pause: Duration },
    /// Nothing more, for a minute.
    Stall,
}

/// Serves `body` (with its full Content-Length) to every request, paced.
fn serve(body: Vec<u8>, pace: Pace) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let body = body.clone();
            thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap_or(0) > 2 {
                    line.clear();
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.flush();
                match pace {
                    Pace::Stall => thread::sleep(Duration::from_mins(1)),
                    Pace::Chunks { bytes, pause } => {
                        for chunk in body.chunks(bytes) {
                            // The client hangs up when it gives up: stop then.
                            if stream
                                .write_all(chunk)
                                .and_then(|()| stream.flush())
                                .is_err()
                            {
                                return;
                            }
                            thread::sleep(pause);
                        }
                    }
                }
            });
        }
    });
    base
}

/// An IDX image file of about `n` bytes, gzipped without compression (so its size is known).
fn body(n: usize) -> (Vec<u8>, MnistFile) {
    let count = (n / 9) as u32;
    let mut idx: Vec<u8> = [2051u32, count, 3, 3]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    idx.extend((0..count * 9).map(|i| (i * 7 % 256) as u8));
    let mut encoder = GzEncoder::new(Vec::new(), Compression::none());
    encoder.write_all(&idx).unwrap();
    let file = MnistFile {
        name: NAME.into(),
        sha256: hex::encode(Sha256::digest(&idx)),
    };
    (encoder.finish().unwrap(), file)
}

/// Downloads from a server pacing `body` as `pace`; the single attempt's error (or the
/// path) and the seconds it took.
fn fetch(n: usize, pace: Pace, cache: &Path) -> (Result<(), DownloadError>, f64) {
    let (bytes, file) = body(n);
    let base = serve(bytes, pace);
    let start = Instant::now();
    let result = download_verified(&[base], &file, cache, &LIMITS);
    let seconds = start.elapsed().as_secs_f64();
    let result = match result {
        Ok(path) => {
            assert!(path.exists());
            Ok(())
        }
        Err(DataError::DownloadFailed { mut attempts, .. }) if attempts.len() == 1 => {
            Err(attempts.remove(0))
        }
        Err(other) => panic!("{other:?}"),
    };
    (result, seconds)
}

fn no_partial_file(cache: &Path) {
    let left: Vec<_> = std::fs::read_dir(cache).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_trickle_of_one_byte_a_second_fails_as_too_slow() {
    let cache = tempfile::tempdir().unwrap();
    let pace = Pace::Chunks {
        bytes: 1,
        pause: Duration::from_secs(1),
    };
    let (result, seconds) = fetch(600, pace, cache.path());
    let err = result.unwrap_err();
    assert!(
        matches!(err, DownloadError::TooSlow { min_rate: 1000, .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(NAME) && text.contains("below the minimum of 1000 bytes/s"),
        "{text}"
    );
    assert!(seconds < 4.5, "took {seconds} s");
    no_partial_file(cache.path());
}

#[test]
fn a_trickle_of_one_byte_every_ten_seconds_fails_as_stalled() {
    let cache = tempfile::tempdir().unwrap();
    let pace = Pace::Chunks {
        bytes: 1,
        pause: Duration::from_secs(10),
    };
    let (result, seconds) = fetch(600, pace, cache.path());
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            DownloadError::Stalled {
                received: 1,
                seconds: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("sent nothing for 2 s after 1 bytes"),
        "{err}"
    );
    assert!(seconds < 4.5, "took {seconds} s");
    no_partial_file(cache.path());
}

#[test]
fn a_stall_right_after_the_headers_fails_within_the_stall_limit() {
    let cache = tempfile::tempdir().unwrap();
    let (result, seconds) = fetch(600, Pace::Stall, cache.path());
    let err = result.unwrap_err();
    assert!(
        matches!(err, DownloadError::Stalled { received: 0, .. }),
        "{err:?}"
    );
    assert!(seconds < 4.5, "took {seconds} s");
    no_partial_file(cache.path());
}

#[test]
fn a_steady_download_past_the_deadline_fails_at_the_deadline() {
    // 2000 bytes/s is above the minimum, but 16 kB would take 8 s.
    let cache = tempfile::tempdir().unwrap();
    let pace = Pace::Chunks {
        bytes: 200,
        pause: Duration::from_millis(100),
    };
    let (result, seconds) = fetch(16_000, pace, cache.path());
    let err = result.unwrap_err();
    assert!(
        matches!(err, DownloadError::Deadline { seconds: 5, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("did not finish within 5 s"),
        "{err}"
    );
    assert!((4.5..7.0).contains(&seconds), "took {seconds} s");
    no_partial_file(cache.path());
}

#[test]
fn a_slow_download_above_the_minimum_rate_succeeds() {
    // About 2000 bytes/s for 3 s: slow, but within every limit.
    let cache = tempfile::tempdir().unwrap();
    let pace = Pace::Chunks {
        bytes: 200,
        pause: Duration::from_millis(100),
    };
    let (result, seconds) = fetch(6_000, pace, cache.path());
    result.unwrap();
    assert!(seconds > 2.0, "took {seconds} s");
    assert!(cache.path().join(format!("{NAME}.gz")).exists());
}

#[test]
fn the_report_says_how_to_loosen_the_limits() {
    let cache = tempfile::tempdir().unwrap();
    let (bytes, file) = body(600);
    let base = serve(bytes, Pace::Stall);
    let err =
        download_verified(std::slice::from_ref(&base), &file, cache.path(), &LIMITS).unwrap_err();
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(400)
        .render_report(&mut out, &err)
        .unwrap();
    for needle in [
        format!("`{base}/{NAME}.gz` sent nothing for 2 s"),
        "EXPR_DOWNLOAD_STALL".to_string(),
        "EXPR_MNIST_MIRROR".to_string(),
    ] {
        assert!(out.contains(&needle), "missing {needle:?} in:\n{out}");
    }
}

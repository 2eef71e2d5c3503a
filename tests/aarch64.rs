//! The library's unit and op tests on aarch64 (Apple Silicon, Graviton): cross-compiled for
//! `aarch64-unknown-linux-gnu` and run under `qemu-aarch64`. There every op takes its portable
//! kernels (the `gemm` crate's NEON products, NEON being aarch64's baseline), so this checks
//! their numbers against the same finite differences and PyTorch values as on x86-64, and
//! their thread-count determinism. Correctness only: qemu says nothing of the speed.
//!
//! Skips, saying so, without the cross toolchain: `.ci/run` installs Debian's `qemu-user` and
//! `gcc-aarch64-linux-gnu` and runs `rustup target add aarch64-unknown-linux-gnu`. The first
//! run builds the library for aarch64 into `target/cross/` (minutes); later runs reuse it.
#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "aarch64-unknown-linux-gnu";

fn runs(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Why the cross run cannot happen here, if it cannot.
fn missing() -> Option<String> {
    if !runs("qemu-aarch64", "--version") {
        return Some("no `qemu-aarch64` (apt-get install qemu-user)".into());
    }
    if !runs("aarch64-linux-gnu-gcc", "--version") {
        return Some("no `aarch64-linux-gnu-gcc` (apt-get install gcc-aarch64-linux-gnu)".into());
    }
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if !sysroot.join("lib/rustlib").join(TARGET).exists() {
        return Some(format!(
            "no Rust standard library for {TARGET} (rustup target add {TARGET})"
        ));
    }
    None
}

#[test]
fn the_unit_and_op_tests_pass_on_aarch64_under_qemu() {
    if std::env::var_os("EXPR_SKIP_CROSS").is_some() {
        println!("SKIPPED: EXPR_SKIP_CROSS is set");
        return;
    }
    if let Some(why) = missing() {
        println!("SKIPPED: {why}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // A target folder of its own: the outer `cargo test` may hold target/'s lock.
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["test", "--release", "--lib", "--target", TARGET, "--"])
        // It re-runs its own test binary as a child, which qemu-user cannot start.
        .args(["--skip", "bar_prints_nothing_when_stderr_is_not_a_terminal"])
        .env("CARGO_TARGET_DIR", root.join("target/cross"))
        .env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
            "aarch64-linux-gnu-gcc",
        )
        .env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER",
            "qemu-aarch64 -L /usr/aarch64-linux-gnu",
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "aarch64 tests failed:\n{stdout}\n{stderr}"
    );
    // The summary line proves the tests ran (and were not, say, filtered away).
    let passed: usize = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(
        passed > 350,
        "only {passed} tests ran on aarch64:\n{stdout}"
    );
    println!("{passed} unit and op tests passed on {TARGET} under qemu");
}

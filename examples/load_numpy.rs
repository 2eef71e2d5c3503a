//! Times expr's NumPy reader: `cargo run --release --example load_numpy -- FILE[:KEY,KEY]...`
//! reads each `.npy` file (or the listed arrays of each `.npz` archive) once, as a run
//! reads an array: memory-mapped where its dtype and storage allow (`map_npy`, `map_npz`:
//! the map and the scan for NaN of a float array), else read. It prints one line per file:
//! its name and the seconds all its arrays took. Each read is a process's first, into fresh
//! memory, as in a run. `bench/load_npz.py` runs it beside `numpy.load` on the same files.

use std::path::Path;
use std::time::Instant;

use expr::data::{map_npy, map_npz, read_npy, read_npz, DataResult};

/// What a run holds of an array: mapped rows, or the values read.
enum Held {
    Mapped(#[allow(dead_code)] expr::data::MappedRows),
    Read(#[allow(dead_code)] expr::data::NumArray),
}

fn npy(path: &Path) -> DataResult<Held> {
    Ok(match map_npy(path)? {
        Some(rows) => Held::Mapped(rows),
        None => Held::Read(read_npy(path)?),
    })
}

fn npz(path: &Path, key: &str) -> DataResult<Held> {
    Ok(match map_npz(path, key)? {
        Some(rows) => Held::Mapped(rows),
        None => Held::Read(read_npz(path, key)?),
    })
}

// The allocator of the `expr` binary, so that the figures are the ones a run sees.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    for spec in std::env::args().skip(1) {
        let start = Instant::now();
        let arrays: DataResult<Vec<Held>> = match spec.split_once(':') {
            Some((path, keys)) => keys
                .split(',')
                .map(|key| npz(Path::new(path), key))
                .collect(),
            None => npy(Path::new(&spec)).map(|array| vec![array]),
        };
        let seconds = start.elapsed().as_secs_f64();
        if let Err(e) = arrays {
            eprintln!("{spec}: {e}");
            std::process::exit(1);
        }
        println!("{spec} {seconds:.6}");
    }
}

//! Times expr's NumPy reader: `cargo run --release --example load_numpy -- FILE[:KEY,KEY]...`
//! reads each `.npy` file (or the listed arrays of each `.npz` archive) once and prints one
//! line per file: its name and the seconds the read of all its arrays took. Each read is a
//! process's first, into fresh memory, as in a run. `bench/load_npz.py` runs it beside
//! `numpy.load` on the same files.

use std::path::Path;
use std::time::Instant;

use expr::data::{read_npy, read_npz, DataResult, NumArray};

// The allocator of the `expr` binary, so that the figures are the ones a run sees.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    for spec in std::env::args().skip(1) {
        let start = Instant::now();
        let arrays: DataResult<Vec<NumArray>> = match spec.split_once(':') {
            Some((path, keys)) => keys
                .split(',')
                .map(|key| read_npz(Path::new(path), key))
                .collect(),
            None => read_npy(Path::new(&spec)).map(|array| vec![array]),
        };
        let seconds = start.elapsed().as_secs_f64();
        if let Err(e) = arrays {
            eprintln!("{spec}: {e}");
            std::process::exit(1);
        }
        println!("{spec} {seconds:.6}");
    }
}

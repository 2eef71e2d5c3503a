"""Writes code_snippets_train.csv.gz and code_snippets_test.csv.gz: short snippets of source
code (2 to 6 consecutive non-blank lines) labelled with their language, `c`, `javascript`,
`python` or `rust`, for `text_classes(...)` and experiments/text_classifier.exp.

The sources are permissively licensed code installed on the machine that built the files
(their licences and copyright notices are in code_snippets.LICENSE.txt):

- c: mimalloc 2 (`src/`, `include/`), MIT, as the `libmimalloc-sys` 0.1.49 crate vendors it;
- javascript: ISC- and MIT-licensed packages bundled with npm 10 (/usr/lib/node_modules/npm);
- python: the top-level modules of the CPython 3.11 standard library, PSF License;
- rust: the crates serde 1.0.229, syn 2.0.119, clap_builder 4.6.7 and ndarray 0.17.2,
  MIT (or Apache-2.0), from the cargo registry.

A file goes wholly to the test set when the CRC-32 of its path (relative to its source's
folder) is divisible by 5, so that no test snippet comes from a file seen in training.
Snippets are unique across both sets; each set holds the same number per language, drawn
with a fixed seed. Run from this folder: python3 make_code_snippets.py
"""

import csv
import glob
import gzip
import io
import os
import random
import zlib

TRAIN_PER_CLASS = 1500
TEST_PER_CLASS = 300
CARGO = glob.glob(os.path.expanduser("~/.cargo/registry/src/index.crates.io-*"))[0]
MIMALLOC = f"{CARGO}/libmimalloc-sys-0.1.49/c_src/mimalloc/v2"
NPM = "/usr/lib/node_modules/npm/node_modules"
JS_PACKAGES = [
    "@npmcli/arborist", "@npmcli/config", "pacote", "cacache", "semver", "make-fetch-happen",
    "npm-registry-fetch", "iconv-lite", "ip-address", "debug", "chalk",
]  # fmt: skip
CRATES = ["serde-1.0.229", "syn-2.0.119", "clap_builder-4.6.7", "ndarray-0.17.2"]


def files(root, patterns):
    found = set()
    for pattern in patterns:
        found.update(glob.glob(f"{root}/{pattern}", recursive=True))
    return [(root, f) for f in sorted(found) if os.path.isfile(f)]


SOURCES = {
    "c": files(MIMALLOC, ["src/**/*.c", "src/**/*.h", "include/**/*.h"]),
    "javascript": [
        f for p in JS_PACKAGES for f in files(f"{NPM}/{p}", ["**/*.js"])
        if "/node_modules/" not in f[1][len(f[0]):] and not f[1].endswith(".min.js")
    ],
    "python": files("/usr/lib/python3.11", ["*.py"]),
    "rust": [f for c in CRATES for f in files(f"{CARGO}/{c}", ["**/*.rs"])],
}


def snippets(path, rng):
    """Runs of 2 to 6 consecutive non-blank lines, 24 to 400 bytes long."""
    try:
        text = open(path, encoding="utf-8").read()
    except UnicodeDecodeError:
        return []
    lines = [line.rstrip() for line in text.splitlines()]
    out, i = [], 0
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        n = rng.randint(2, 6)
        run = []
        while i < len(lines) and lines[i].strip() and len(run) < n:
            run.append(lines[i])
            i += 1
        snippet = "\n".join(run)
        if len(run) >= 2 and 24 <= len(snippet.encode()) <= 400:
            out.append(snippet)
    return out


def main():
    rng = random.Random(0)
    seen = set()
    train, test = [], []
    for label, sources in SOURCES.items():
        parts = {"train": [], "test": []}
        for root, path in sources:
            rel = os.path.relpath(path, root)
            part = "test" if zlib.crc32(rel.encode()) % 5 == 0 else "train"
            for s in snippets(path, rng):
                if s not in seen:
                    seen.add(s)
                    parts[part].append(s)
        print(label, len(sources), "files:", len(parts["train"]), "train,", len(parts["test"]), "test snippets")
        train += [(s, label) for s in rng.sample(parts["train"], TRAIN_PER_CLASS)]
        test += [(s, label) for s in rng.sample(parts["test"], TEST_PER_CLASS)]
    for name, rows in [("train", train), ("test", test)]:
        rng.shuffle(rows)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["text", "language"])
        writer.writerows(rows)
        with open(f"code_snippets_{name}.csv.gz", "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
                gz.write(buf.getvalue().encode())


def licence_files():
    """Each source's licence text, as its package ships it."""
    found = [("mimalloc 2 (libmimalloc-sys 0.1.49)", f"{MIMALLOC}/LICENSE")]
    for p in JS_PACKAGES:
        names = [n for n in os.listdir(f"{NPM}/{p}") if n.lower().startswith("licen")]
        found.append((f"npm package {p}", f"{NPM}/{p}/{names[0]}"))
    found.append(("CPython 3.11 standard library", "/usr/lib/python3.11/LICENSE.txt"))
    found += [(f"crate {c}", f"{CARGO}/{c}/LICENSE-MIT") for c in CRATES]
    return found


def write_licences():
    with open("code_snippets.LICENSE.txt", "w", encoding="utf-8") as out:
        out.write(
            "code_snippets_train.csv.gz and code_snippets_test.csv.gz hold short excerpts of the\n"
            "following software, each under the licence below (see make_code_snippets.py).\n"
        )
        for what, path in licence_files():
            out.write(f"\n{'=' * 78}\n{what}: {os.path.basename(path)}\n{'=' * 78}\n\n")
            out.write(open(path, encoding="utf-8").read().rstrip() + "\n")


if __name__ == "__main__":
    main()
    write_licences()

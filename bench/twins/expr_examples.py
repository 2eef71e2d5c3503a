"""The expr side of a twin's `--examples K`: a copy of an experiment whose `data train`
keeps its first K examples, as the twin does.

    python3 bench/twins/expr_examples.py experiments/NAME.exp K OUT.exp
    expr run OUT.exp ...

`| take(K)` goes right after the source and the `take`, `skip` and `split` transforms
that follow it (after the validation split, before `standardize`, the augmentations and
`shuffle`), and every relative path the copy names (`"data/diabetes.csv"`) becomes
absolute, since expr reads relative paths from the folder of the .exp file and the copy
lives elsewhere.
"""
import os
import re
import sys

SELECTS = ("take(", "skip(", "split(")


def limited(path, k, data="train"):
    """The text of the experiment at `path` with `data` limited to its first k examples."""
    base = os.path.dirname(os.path.abspath(path))
    lines = open(path).read().split("\n")
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        i += 1
        if not line.startswith(f"data {data} ="):
            continue
        # The source may carry selections on its own line; the pipeline goes on with
        # lines that start with `|`.
        inline = line.split("|")[1:]
        if any(t.strip().startswith("batch(") for t in inline):
            raise SystemExit(f"{path}: write `data {data}` one transform per line to limit it")
        while i < len(lines) and lines[i].strip().startswith("|") and lines[i].strip()[1:].strip().startswith(SELECTS):
            out.append(lines[i])
            i += 1
        out.append(f"  | take({k})")
    text = "\n".join(out)

    def absolute(m):
        p = m.group(2)
        return m.group(1) + (p if os.path.isabs(p) else os.path.join(base, p)) + '"'

    # The string arguments that name files and folders: the first of csv, npz, npy's x and
    # y, images, text, idx's images and labels, and load's from.
    text = re.sub(r'((?:csv|npz|images|text)\(\s*")([^"]+)"', absolute, text)
    return re.sub(r'((?:\bx|\by|images|labels|from)\s*=\s*")([^"]+\.[A-Za-z0-9]+)"', absolute, text)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    path, k, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    with open(out, "w") as f:
        f.write(limited(path, k))


if __name__ == "__main__":
    main()

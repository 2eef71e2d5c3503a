"""A small GPT saved by expr loads into the twin's modules (bench/twins/char_gpt.py) and
gives expr's outputs: the numbers tests/char_gpt_twin.rs stores.

expr writes a 1-block GPT (width 16, 2 heads, MLP 32, block 8) on a 9-character text, with
`epochs = 0` (the weights as its seed draws them), and saves it; PyTorch loads the file
into `Gpt` and prints the logits at the token ids below, which the Rust test computes with
expr's engine from the same seed.

    cargo build --release && python3 bench/twins/char_gpt_loads.py
"""
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from char_gpt import Gpt, load_expr  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXPR = os.path.join(ROOT, "target", "release", "expr")
EXP = os.path.join(ROOT, "tests", "cases", "run", "tiny_gpt.exp")
IDS = [[3, 2, 4, 4, 5, 0, 7, 5], [8, 1, 0, 6, 6, 2, 3, 4]]

with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "t.txt"), "w") as f:
        f.write("hello world\n" * 50)
    exp = open(EXP).read()
    with open(os.path.join(d, "t.exp"), "w") as f:
        f.write(exp)
    subprocess.run([EXPR, "run", "t.exp", "--runs-dir", "runs"], cwd=d, check=True, capture_output=True)
    run = os.path.join(d, "runs", "tiny_gpt")
    path = os.path.join(run, os.listdir(run)[0], "gpt.safetensors")
    model = Gpt(9, 8, width=16, heads=2, layers=1, hidden=32)
    load_expr(model, path)
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor(IDS))  # (batch, vocab, positions), as expr's
    print("logits (batch, vocab, positions):")
    print(", ".join(f"{v:.6f}" for v in logits.flatten().tolist()))

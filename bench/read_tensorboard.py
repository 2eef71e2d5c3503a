#!/usr/bin/env python3
"""Reads a run's TensorBoard events (RUN_DIR/tb) with TensorBoard's own reader
(`EventAccumulator`, the loader behind `tensorboard --logdir`) and checks them against the
run's record: every metric of every epoch equal to run.yaml's history (as float32), every
grid an image of the file's size, the experiment as text. Prints what it read.

    python3 bench/read_tensorboard.py runs/gan/<id>

Needs tensorboard and pyyaml (pip install tensorboard pyyaml).
"""

import sys
from pathlib import Path

import numpy as np
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main(run_dir):
    run_dir = Path(run_dir)
    record = yaml.safe_load((run_dir / "run.yaml").read_text())
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    for name in record["metrics"]:
        got = [(e.step, e.value) for e in acc.Scalars(name)]
        expected = [(i + 1, float(np.float32(v))) for i, v in enumerate(record["history"][name])]
        same = [s for s, _ in got] == [s for s, _ in expected] and all(
            (np.isnan(a) and np.isnan(b)) or a == b for (_, a), (_, b) in zip(got, expected)
        )
        print(f"{name}: {len(got)} epochs, {'equal to run.yaml' if same else 'DIFFERENT from run.yaml'}")
        assert same, (got, expected)
    for tag in tags["scalars"]:
        if tag.startswith("steps/"):
            print(f"{tag}: {len(acc.Scalars(tag))} logged steps")
    for tag in tags["images"]:
        images = acc.Images(tag)
        print(f"{tag}: {len(images)} images, {images[-1].width}x{images[-1].height}")
    for tag in tags["tensors"]:
        text = acc.Tensors(tag)[-1].tensor_proto.string_val[0].decode()
        print(f"{tag}: text, {len(text.splitlines())} lines")
    print("TensorBoard reads the run's events: OK")


if __name__ == "__main__":
    main(sys.argv[1])

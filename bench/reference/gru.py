"""Reference numbers for the GRU op (src/ops/gru/tests.rs): torch.nn.GRU's outputs and
gradients on the fixed inputs of lstm.py, from a zero state and from a fixed one.
Run: python3 bench/reference/gru.py"""
import torch

from lstm import reference, reference_with_state

reference(torch.nn.GRU, 3)
reference_with_state(torch.nn.GRU, 3)

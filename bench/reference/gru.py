"""Reference numbers for the GRU op (src/ops/gru/tests.rs): torch.nn.GRU's outputs and
gradients on the fixed inputs of lstm.py. Run: python3 bench/reference/gru.py"""
import torch

from lstm import reference

reference(torch.nn.GRU, 3)

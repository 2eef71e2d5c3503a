"""PyTorch's exponential moving average of weights (`AveragedModel` with
`get_ema_multi_avg_fn`, the formula of timm's `ModelEmaV2`) over three SGD steps of a
dense layer with tanh, for src/lower/average/tests.rs.
The average starts from the initial weights (one `update_parameters` before training, which
copies them), then moves after each optimizer step.
Run: python3 bench/reference/ema.py"""
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

torch.set_printoptions(precision=10)
W = torch.tensor([[((o * 4 + i) * 7 % 11) / 10 - 0.5 for i in range(4)] for o in range(3)])
B = torch.tensor([0.1 * o - 0.1 for o in range(3)])
X = torch.tensor([(i - 5.5) / 4 for i in range(12)]).reshape(3, 4)

layer = torch.nn.Linear(4, 3)
with torch.no_grad():
    layer.weight.copy_(W)
    layer.bias.copy_(B)
ema = AveragedModel(layer, multi_avg_fn=get_ema_multi_avg_fn(0.9))
ema.update_parameters(layer)
opt = torch.optim.SGD(layer.parameters(), lr=0.1)
for step in range(3):
    opt.zero_grad()
    h = torch.tanh(layer(X))
    (h * h).mean().backward()
    opt.step()
    ema.update_parameters(layer)
    print(f"after step {step + 1}:")
    print("  weight", [float(v) for v in layer.weight.detach().flatten()])
    print("  ema weight", [float(v) for v in ema.module.weight.detach().flatten()])
    print("  ema bias", [float(v) for v in ema.module.bias.detach().flatten()])

"""PyTorch's cross-entropy over every position of a sequence, F.cross_entropy on
(batch, classes, positions) logits against (batch, positions) class indices, with label
smoothing: the numbers src/lower/loss/tests.rs pins (per-position loss of a language
model, issue 16). Also the per-position accuracy of the same scores."""
import torch
import torch.nn.functional as F

torch.set_printoptions(precision=8)
logits = torch.tensor(
    [[[0.2, -1.0, 0.5, 2.0], [1.5, 0.3, -0.7, 0.1], [-0.4, 0.9, 1.1, -2.0]],
     [[0.0, 0.8, -0.3, 1.2], [-1.1, 0.6, 0.4, 0.7], [2.2, -0.5, 0.0, 0.3]]],
    requires_grad=True)
target = torch.tensor([[1, 0, 2, 0], [2, 1, 0, 1]])
for smoothing in (0.0, 0.1):
    loss = F.cross_entropy(logits, target, label_smoothing=smoothing)
    (grad,) = torch.autograd.grad(loss, logits)
    print(f"smoothing {smoothing}: loss {loss.item():.8f}")
    print("grad", grad.flatten().tolist())
hits = (logits.argmax(dim=1) == target).float().mean()
print("accuracy", hits.item())

"""The PyTorch twin of experiments/autoencoder.exp: an MLP autoencoder on MNIST with a
classifier head on its 32-d code.

Encoder Linear(784, 256) + ReLU, Linear(256, 32) (209,184 parameters); decoder
Linear(32, 256) + ReLU, Linear(256, 784) + sigmoid (209,936); head Linear(32, 10) (330):
419,450 in all. glorot_uniform kernels, zero biases; one Adam (lr 1e-3, eps 1e-7) over the
three, batch 64, pixels in [0, 1] as vectors of 784. The loss is mse(x, recon) + 0.1 *
cross-entropy(y, head(code)).

    EXPR_DATA=/path/to/data python3 bench/twins/autoencoder.py --threads 2 --epochs 3 [--examples K]

At the end `final test_reconstruction X`: expr's metrics.csv column `test_reconstruction`
(the mean over the test batches of 64 of their mean squared error) after the last epoch.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import common


def models():
    enc = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 32))
    dec = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 784), nn.Sigmoid())
    head = nn.Linear(32, 10)
    return [common.keras_init(m) for m in (enc, dec, head)]


@torch.no_grad()
def evaluate(enc, dec, head, x, y):
    recon_losses, class_losses, pixel_errors, hits = [], [], [], 0
    for i in range(0, len(x), 64):
        xb, yb = x[i:i + 64], y[i:i + 64]
        code = enc(xb)
        recon = dec(code)
        logits = head(code)
        recon_losses.append(F.mse_loss(recon, xb).item())
        class_losses.append(F.cross_entropy(logits, yb).item())
        pixel_errors.append((recon - xb).abs().mean().item())
        hits += (logits.argmax(1) == yb).sum().item()
    mean = lambda v: sum(v) / len(v)
    return mean(recon_losses), mean(class_losses), hits / len(x), mean(pixel_errors)


def main():
    a = common.parse_args(__doc__, epochs=3)
    x, y = common.mnist("train")
    x, y = common.limit(a, x.float().div(255).reshape(-1, 784), y)
    x_test, y_test = common.mnist("test")
    x_test = x_test.float().div(255).reshape(-1, 784)
    enc, dec, head = models()
    common.parameters_line(common.count_parameters(enc, dec, head))
    params = [p for m in (enc, dec, head) for p in m.parameters()]
    opt = common.keras_adam(params, lr=1e-3)
    for epoch in range(1, a.epochs + 1):
        recon_losses, class_losses, hits = [], [], 0
        with common.Timer() as t:
            for idx in common.batches(len(x), 64):
                xb, yb = x[idx], y[idx]
                code = enc(xb)
                recon = dec(code)
                logits = head(code)
                recon_loss = F.mse_loss(recon, xb)
                class_loss = F.cross_entropy(logits, yb)
                loss = recon_loss + 0.1 * class_loss
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                recon_losses.append(recon_loss.item())
                class_losses.append(class_loss.item())
                hits += (logits.argmax(1) == yb).sum().item()
        test_recon, test_xent, test_acc, test_pixel = evaluate(enc, dec, head, x_test, y_test)
        common.epoch_line(epoch, t.seconds, train_reconstruction=sum(recon_losses) / len(recon_losses),
                          train_crossentropy=sum(class_losses) / len(class_losses),
                          train_accuracy=hits / len(x), test_reconstruction=test_recon,
                          test_crossentropy=test_xent, test_accuracy=test_acc, test_pixel_error=test_pixel)
    common.final_line("test_reconstruction", test_recon)


if __name__ == "__main__":
    main()

"""The PyTorch twin of experiments/gan.exp: an MLP GAN on MNIST (Goodfellow et al. 2014)
with the DCGAN paper's optimizer settings.

Generator: Linear(100, 256) + leaky ReLU, Linear(256, 512) + leaky ReLU, Linear(512, 784) +
tanh (559,632 parameters). Discriminator: Linear(784, 512) + leaky ReLU, dropout 0.3,
Linear(512, 256) + leaky ReLU, dropout 0.3, Linear(256, 1) (533,505); 1,093,137 in all.
Leaky ReLU slope 0.2 (Keras' `activation = leaky_relu`), glorot_uniform kernels, zero
biases; two Adams (lr 2e-4, beta1 0.5, beta2 0.999, eps 1e-7), batch 64, pixels scaled to
[0, 1] then mapped to [-1, 1] in the step.

Each step, as the .exp's: z ~ N(0, 1) of (batch, 100); fake = G(z); the discriminator's
loss bce(0.9, D(real)) + bce(0, D(detach(fake))) (binary cross-entropy of logits, one-sided
label smoothing) and its update; then the generator's loss bce(1, D(fake)) through the
just-updated discriminator, and its update. All three D calls in training mode (dropout).

    EXPR_DATA=/path/to/data python3 bench/twins/gan.py --threads 2 --epochs 15 [--examples K]

At the end `final generator_loss X`: expr's metrics.csv column `generator_loss` (the mean
of the steps' g_loss) of the last epoch.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

import common


def models():
    g = nn.Sequential(nn.Linear(100, 256), nn.LeakyReLU(0.2), nn.Linear(256, 512), nn.LeakyReLU(0.2),
                      nn.Linear(512, 784), nn.Tanh())
    d = nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                      nn.Linear(512, 256), nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Linear(256, 1))
    return common.keras_init(g), common.keras_init(d)


def main():
    a = common.parse_args(__doc__, epochs=15)
    x, _ = common.mnist("train")
    (x,) = common.limit(a, x.float().div(255).reshape(-1, 784))
    g, d = models()
    common.parameters_line(common.count_parameters(g, d))
    d_opt = common.keras_adam(d.parameters(), lr=2e-4, beta1=0.5)
    g_opt = common.keras_adam(g.parameters(), lr=2e-4, beta1=0.5)
    bce = F.binary_cross_entropy_with_logits
    for epoch in range(1, a.epochs + 1):
        d_losses, g_losses, real_scores, fake_scores = [], [], [], []
        with common.Timer() as t:
            for idx in common.batches(len(x), 64):
                z = torch.randn(len(idx), 100)
                fake = g(z)
                real = x[idx] * 2 - 1
                real_logits = d(real)
                fake_logits = d(fake.detach())
                d_loss = bce(real_logits, torch.full_like(real_logits, 0.9)) + \
                    bce(fake_logits, torch.zeros_like(fake_logits))
                d_opt.zero_grad(set_to_none=True)
                d_loss.backward()
                d_opt.step()
                g_logits = d(fake)
                g_loss = bce(g_logits, torch.ones_like(g_logits))
                g_opt.zero_grad(set_to_none=True)
                g_loss.backward()
                g_opt.step()
                d_losses.append(d_loss.item())
                g_losses.append(g_loss.item())
                real_scores.append(torch.sigmoid(real_logits).mean().item())
                fake_scores.append(torch.sigmoid(fake_logits).mean().item())
        mean = lambda v: sum(v) / len(v)
        common.epoch_line(epoch, t.seconds, discriminator_loss=mean(d_losses), generator_loss=mean(g_losses),
                          real_score=mean(real_scores), fake_score=mean(fake_scores))
    common.final_line("generator_loss", mean(g_losses))


if __name__ == "__main__":
    main()

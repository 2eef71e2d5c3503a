"""The PyTorch twin of experiments/wgan.exp: a Wasserstein GAN on MNIST (Arjovsky, Chintala
and Bottou 2017) with the paper's settings.

Generator: Linear(100, 512) + ReLU, two Linear(512, 512) + ReLU, Linear(512, 784) + tanh
(979,216 parameters). Critic: Linear(784, 512) + ReLU, two Linear(512, 512) + ReLU,
Linear(512, 1) (927,745); 1,906,961 in all. glorot_uniform kernels, zero biases; two
RMSprops (lr 5e-5, rho 0.9, eps 1e-7 as Keras': PyTorch's alpha 0.9; the square average
starting at 0 in both), batch 64, pixels in [0, 1] mapped to [-1, 1] in the step.

Each step, as the .exp's: fake = G(z), z ~ N(0, 1) of (batch, 100);
critic_loss = mean(C(detach(fake))) - mean(C(real)); the critic's update; every critic
parameter clamped to [-0.01, 0.01]; and on every 5th step (counted from 1 over the whole
run, as expr's `every 5 steps`) generator_loss = -mean(C(fake)) through the just-clipped
critic and the generator's update. The generator's graph is recorded on every step, as the
.exp computes `fake` outside the `every` block.

    EXPR_DATA=/path/to/data python3 bench/twins/wgan.py --threads 2 --epochs 130 [--examples K]

At the end `final generator_mean_loss X`: expr's metrics.csv column `generator_mean_loss`
(the mean of generator_loss over the epoch's generator steps) of the last epoch; each
epoch's line also has `wasserstein_estimate` (the mean of -critic_loss over every step).
"""
import torch
import torch.nn as nn

import common


def mlp(inputs, outputs, last):
    layers = [nn.Linear(inputs, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
              nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, outputs)]
    return common.keras_init(nn.Sequential(*layers, *last))


def main():
    a = common.parse_args(__doc__, epochs=130)
    x, _ = common.mnist("train")
    (x,) = common.limit(a, x.float().div(255).reshape(-1, 784))
    g, c = mlp(100, 784, [nn.Tanh()]), mlp(784, 1, [])
    common.parameters_line(common.count_parameters(g, c))
    c_opt = torch.optim.RMSprop(c.parameters(), lr=5e-5, alpha=0.9, eps=1e-7)
    g_opt = torch.optim.RMSprop(g.parameters(), lr=5e-5, alpha=0.9, eps=1e-7)
    step = 0
    for epoch in range(1, a.epochs + 1):
        w_estimates, g_losses = [], []
        with common.Timer() as t:
            for idx in common.batches(len(x), 64):
                step += 1
                real = x[idx] * 2 - 1
                fake = g(torch.randn(len(idx), 100))
                critic_loss = c(fake.detach()).mean() - c(real).mean()
                c_opt.zero_grad(set_to_none=True)
                critic_loss.backward()
                c_opt.step()
                with torch.no_grad():
                    for p in c.parameters():
                        p.clamp_(-0.01, 0.01)
                w_estimates.append(-critic_loss.item())
                if step % 5 == 0:
                    generator_loss = -c(fake).mean()
                    g_opt.zero_grad(set_to_none=True)
                    generator_loss.backward()
                    g_opt.step()
                    g_losses.append(generator_loss.item())
        g_mean = sum(g_losses) / len(g_losses) if g_losses else float("nan")
        common.epoch_line(epoch, t.seconds, wasserstein_estimate=sum(w_estimates) / len(w_estimates),
                          generator_mean_loss=g_mean)
    common.final_line("generator_mean_loss", g_mean)


if __name__ == "__main__":
    main()

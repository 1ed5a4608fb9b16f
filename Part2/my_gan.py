"""A GAN on MNIST (assignment Part II), trained with the minimax objective

    min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],   z ~ N(0, I).

Architectures (`--arch`):
- mlp:   the assignment template. G: latent -> 128 -> 256 -> 512 -> 1024 -> 784 with BatchNorm
         and LeakyReLU(0.2), Tanh output; D: 784 -> 512 -> 256 -> 1 with LeakyReLU(0.2), Sigmoid.
         `--width k` multiplies every hidden layer of G and D by k; `--mbstd` gives D a
         minibatch standard-deviation feature after its first layer; `--d_dropout p` drops
         D's hidden units (and that feature) with probability p while it trains.
- dcgan: a small DCGAN (Radford et al., 2016) sized for 28x28: transposed convolutions in G,
         strided convolutions in D, BatchNorm, normal(0, 0.02) initialisation. `--width k`
         multiplies its channels by k (G: 64k -> 32k -> 1 at 7, 14, 28 pixels; D: 32k -> 64k).
- conv:  (D only, `--d_arch conv`) a small convolutional D without BatchNorm: strided 4x4
         convolutions to 16k and 32k channels at 14 and 7 pixels, LeakyReLU(0.2), a linear
         output; with `--mbstd` the spread is taken over its flattened features.
For both, `--d_arch` gives D an architecture of its own (e.g. a convolutional G with the MLP D);
`--d_width k` gives D a multiplier of its own; `--lr_d` a learning rate of its own (`--beta1`,
`--beta2`: Adam's decays, 0.5 and 0.999 as in DCGAN);
`--r1 gamma` adds the R1 penalty (gamma / 2) E_x ||grad_x logit D(x)||^2 on real images to D's loss
(`--r1_epochs n`: for the first n epochs only); `--topk nu` updates G on the fakes D rates highest only.

Usage: python Part2/my_gan.py --arch dcgan --n_epochs 10 --out_dir runs/dcgan
Outputs in --out_dir: samples/step_*.png (5x5 grids of one fixed latent batch),
generator_{start,middle,end}.pt, latest.pt (everything needed by --resume), log.json
(losses, evaluation scores, CPU time) and losses.png.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchvision.utils import save_image
from tqdm import tqdm

from mnist_data import DEFAULT_ROOT, MnistUnavailable, mnist_tensors, prepare_mnist

ARCHS = ("mlp", "dcgan")
D_ARCHS = ARCHS + ("conv",)
IMAGE_SHAPE = (1, 28, 28)
# The fields of the config that fix the shapes of the networks: a checkpoint made with other
# values cannot be loaded into this run's models.
MODEL_FIELDS = ("arch", "latent_dim", "width")
# Checkpoints written before a flag existed were trained with its default.
OLDER_DEFAULTS = {"width": 1, "spectral_norm": False, "mbstd": False, "ema_warmup": False,
                  "ema_warmup_k": 10, "lr_decay": False, "d_dropout": 0.0, "lr_d": None, "d_arch": None, "d_width": None,
                  "r1": 0.0, "r1_interval": 1, "r1_epochs": 0, "topk": 1.0, "beta1": 0.5, "beta2": 0.999}


# ----------------------------------------------------------------------------- models


def _dcgan_init(module):
    # DCGAN's initialisation: N(0, 0.02) weights, BatchNorm scales N(1, 0.02).
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Generator(nn.Module):
    """z (N, latent_dim) -> images (N, 1, 28, 28) in [-1, 1]."""

    def __init__(self, latent_dim=100, arch="mlp", width=1):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown arch {arch!r}; choose from {ARCHS}")
        self.latent_dim, self.arch = latent_dim, arch
        if arch == "mlp":
            h1, h2, h3, h4 = 128 * width, 256 * width, 512 * width, 1024 * width
            self.net = nn.Sequential(
                nn.Linear(latent_dim, h1), nn.LeakyReLU(0.2),
                nn.Linear(h1, h2), nn.BatchNorm1d(h2), nn.LeakyReLU(0.2),
                nn.Linear(h2, h3), nn.BatchNorm1d(h3), nn.LeakyReLU(0.2),
                nn.Linear(h3, h4), nn.BatchNorm1d(h4), nn.LeakyReLU(0.2),
                nn.Linear(h4, 28 * 28), nn.Tanh(),
                nn.Unflatten(1, IMAGE_SHAPE),
            )
        else:
            c1, c2 = 64 * width, 32 * width
            self.net = nn.Sequential(
                nn.Linear(latent_dim, c1 * 7 * 7, bias=False), nn.BatchNorm1d(c1 * 7 * 7), nn.ReLU(),
                nn.Unflatten(1, (c1, 7, 7)),
                nn.ConvTranspose2d(c1, c2, 4, stride=2, padding=1, bias=False),  # (N, c2, 14, 14)
                nn.BatchNorm2d(c2), nn.ReLU(),
                nn.ConvTranspose2d(c2, 1, 4, stride=2, padding=1),  # (N, 1, 28, 28)
                nn.Tanh(),
            )
            self.apply(_dcgan_init)

    def forward(self, z):
        return self.net(z)


class MinibatchStd(nn.Module):
    """(N, F) -> (N, F + 1): appends the batch's mean standard deviation over features.

    Karras et al. (2018): a batch of fakes that all look alike has a smaller spread than a batch
    of real images, and this one number lets D see it, so G is pushed to vary its samples.
    """

    def forward(self, h):
        spread = (h.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()  # scalar
        return torch.cat([h, spread.expand(h.shape[0], 1)], dim=1)


class Discriminator(nn.Module):
    """images (N, 1, 28, 28) -> D(x) (N, 1), the probability that x is real.

    Training uses `logits` with a BCE-with-logits loss: the same objective as Sigmoid
    followed by log, without log(0) once D becomes confident. With `spectral_norm`, every
    weight is divided by its largest singular value (Miyato et al., 2018), which bounds how
    fast D's output can change with its input; the DCGAN's D then has no BatchNorm. With
    `mbstd` (mlp and conv), D scores each image together with the spread of its batch: real and
    fake images must then be scored in separate batches, as training does. With `dropout`
    (mlp only), each hidden unit of D (and the spread) is zeroed with that probability in
    training mode, as in the first GAN (Goodfellow et al., 2014), so D cannot lean on a few
    features of the training images.
    """

    def __init__(self, arch="mlp", width=1, spectral_norm=False, mbstd=False, dropout=0.0):
        super().__init__()
        if arch not in D_ARCHS:
            raise ValueError(f"unknown arch {arch!r}; choose from {D_ARCHS}")
        if mbstd and arch == "dcgan":
            raise ValueError("mbstd is implemented for the mlp and conv discriminators only")
        if dropout and arch != "mlp":
            raise ValueError("dropout is implemented for the mlp discriminator only")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), not {dropout}")
        self.arch = arch
        if arch == "mlp":
            h1, h2 = 512 * width, 256 * width
            spread = [MinibatchStd()] if mbstd else []

            def drop():  # none when p = 0, so the layers keep the indices older checkpoints use
                return [nn.Dropout(dropout)] if dropout else []

            # The spread is measured before dropout, which would add its own noise to it; dropout
            # then treats it as one more unit.
            self.net = nn.Sequential(
                nn.Flatten(),
                nn.Linear(28 * 28, h1), nn.LeakyReLU(0.2), *spread, *drop(),
                nn.Linear(h1 + len(spread), h2), nn.LeakyReLU(0.2), *drop(),
                nn.Linear(h2, 1),
            )
        elif arch == "conv":
            # Half the DCGAN D's channels (--d_width 2: the same) and no BatchNorm, so that a
            # convolutional D costs less per step on a CPU. Default initialisation, as the mlp D.
            c1, c2 = 16 * width, 32 * width
            self.net = nn.Sequential(
                nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (N, c1, 14, 14)
                nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (N, c2, 7, 7)
                nn.Flatten(), *([MinibatchStd()] if mbstd else []),  # (N, c2 * 49 [+ 1])
                nn.Linear(c2 * 7 * 7 + int(mbstd), 1),
            )
        else:
            c1, c2 = 32 * width, 64 * width
            self.net = nn.Sequential(
                nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (N, c1, 14, 14)
                nn.Conv2d(c1, c2, 4, stride=2, padding=1, bias=spectral_norm),  # (N, c2, 7, 7)
                nn.Identity() if spectral_norm else nn.BatchNorm2d(c2), nn.LeakyReLU(0.2),
                nn.Flatten(), nn.Linear(c2 * 7 * 7, 1),
            )
            self.apply(_dcgan_init)
        if spectral_norm:
            for module in self.net:
                if isinstance(module, (nn.Conv2d, nn.Linear)):
                    nn.utils.parametrizations.spectral_norm(module)

    def logits(self, x):
        return self.net(x)

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


# ------------------------------------------------------------------------ file output


def atomic_torch_save(obj, path):
    """torch.save to a temp file in the same folder, then os.replace: never a half file."""
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def atomic_write_text(text, path):
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_grid(images, path):
    """A 5x5 grid of 25 images in [-1, 1], written atomically."""
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    save_image(images, tmp, nrow=5, normalize=True, value_range=(-1, 1), format="png")
    os.replace(tmp, path)


def plot_losses(log, path):
    """Generator and discriminator loss over training, from the log's averaged rows."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    fig = Figure(figsize=(7, 3.5), tight_layout=True)
    ax = fig.add_subplot()
    steps = [row["step"] for row in log["losses"]]
    ax.plot(steps, [row["loss_d"] for row in log["losses"]], label="discriminator")
    ax.plot(steps, [row["loss_g"] for row in log["losses"]], label="generator (non-saturating)")
    ax.set_xlabel("generator update")
    ax.set_ylabel("BCE loss")
    arch, d_arch = log["config"]["arch"], d_arch_of(log["config"])
    ax.set_title(f"{arch} GAN losses" if d_arch == arch else f"{arch} G, {d_arch} D: GAN losses")
    ax.legend()
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    fig.savefig(tmp, format="png", dpi=100)
    os.replace(tmp, path)


def generator_checkpoint(G, config, step):
    return {"model": G.state_dict(), "config": config, "step": step}


def load_generator(path, device="cpu"):
    """A Generator in eval mode, rebuilt from the config stored beside its weights."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no generator checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a readable checkpoint: {error}") from error
    if not isinstance(checkpoint, dict) or "model" not in checkpoint or "config" not in checkpoint:
        raise ValueError(f"{path} is not a generator checkpoint (no model and config)")
    config = checkpoint["config"]
    try:
        G = Generator(latent_dim=config["latent_dim"], arch=config["arch"],
                      width=config.get("width", OLDER_DEFAULTS["width"]))
        G.load_state_dict(checkpoint["model"])
    except (KeyError, ValueError, RuntimeError) as error:
        raise ValueError(f"{path} does not match the Generator it describes: {error}") from error
    return G.to(device).eval()


# --------------------------------------------------------------------------- training


def d_arch_of(config):
    """D's architecture: --d_arch when given, else --arch (a config dict, as logs and checkpoints
    hold it; older ones have no d_arch)."""
    return config.get("d_arch") or config["arch"]


def discriminator_of(config):
    """The D a config asks for: --d_arch or --arch, its layers multiplied by --d_width or --width."""
    width = config.width if config.d_width is None else config.d_width
    return Discriminator(d_arch_of(vars(config)), width, config.spectral_norm, config.mbstd, config.d_dropout)


def config_dict(config):
    """The argparse namespace as plain data (paths as strings) for JSON and checkpoints."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(config).items()}


def read_training_checkpoint(path):
    """A `latest.pt` as written by train(); raise ValueError if it is missing or is not one."""
    if not Path(path).is_file():
        raise ValueError(f"no such checkpoint: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path} is not a readable checkpoint ({type(error).__name__})") from error
    needed = ("G", "D", "opt_G", "opt_D", "step", "rng", "config", "log")
    if not isinstance(checkpoint, dict) or any(key not in checkpoint for key in needed):
        raise ValueError(f"{path} is not a training checkpoint made by my_gan.py")
    return checkpoint


def load_resume_checkpoint(path, config):
    """Read and check a `latest.pt` before anything is written; raise ValueError if unusable."""
    checkpoint = read_training_checkpoint(path)
    saved = checkpoint["config"]
    # The optimisers' state holds the learning rate, and --lr_decay's schedule spans --n_epochs.
    fields = ("d_arch", "d_width", "spectral_norm", "mbstd", "d_dropout", "batch_size", "ema", "ema_warmup",
              "ema_warmup_k", "lr", "lr_d", "beta1", "beta2", "lr_decay", "r1", "r1_interval", "r1_epochs",
              "topk")
    for field in MODEL_FIELDS + fields + (("n_epochs",) if config.lr_decay else ()):
        value = saved.get(field, OLDER_DEFAULTS.get(field))
        if value != getattr(config, field):
            raise ValueError(f"{path} was trained with --{field} {value}, "
                             f"this run asks for --{field} {getattr(config, field)}")
    total_steps = config.n_epochs * checkpoint["log"].get("steps_per_epoch", 0)
    if checkpoint["step"] >= total_steps:
        raise ValueError(f"{path} is at step {checkpoint['step']}; --n_epochs {config.n_epochs} "
                         f"ends at step {total_steps}, so there is nothing left to train")
    try:  # the state dicts must fit this run's models
        Generator(config.latent_dim, config.arch, config.width).load_state_dict(checkpoint["G"])
        discriminator_of(config).load_state_dict(checkpoint["D"])
    except RuntimeError as error:
        raise ValueError(f"{path} does not fit --arch {config.arch}: {error}".splitlines()[0]) from error
    return checkpoint


def lr_factor(step, total_steps):
    """With --lr_decay: the full learning rate for the first half, then linearly down to 0."""
    half = total_steps / 2
    return min(1.0, (total_steps - step) / half)


def ema_update(decay, warmup, k=10):
    """The averaging rule of G's exponential moving average, avg <- d avg + (1 - d) current:
    torch's EMA with d = decay, or with `warmup` d = min(decay, (1 + n) / (k + n)) after n
    updates, so that the average forgets the untrained weights within tens of steps (k = 10)
    instead of the ~1 / (1 - decay) steps it takes with d = decay from the start. While the
    warm-up rules, the weights after update j of n enter the average in proportion to about
    j^(k - 2), so its mean age is about n / k updates: a smaller k averages over a longer stretch.
    """
    def update(averaged, current, num_averaged):
        n = int(num_averaged)
        d = min(decay, (1 + n) / (k + n)) if warmup else decay
        get_ema_multi_avg_fn(d)(averaged, current, num_averaged)

    return update


def r1_penalty(logit_real, x):
    """E_x ||grad_x logit D(x)||^2 over the batch, the R1 penalty (Mescheder et al., 2018).

    `x` must require grad and `logit_real` come from it. The graph is kept, so the penalty can be
    descended like any loss: it pushes D to be flat on the real data, which damps the oscillation
    of G and D around the point where G's samples match the data.
    """
    (grad,) = torch.autograd.grad(logit_real.sum(), x, create_graph=True)
    return grad.pow(2).flatten(1).sum(dim=1).mean()


def topk_count(batch_size, topk, epoch):
    """How many of a batch's fakes G learns from in `epoch` (0-based) under --topk nu: the
    top-k update (Sinha et al., 2020) starts from the whole batch and keeps 0.99^epoch of it,
    never less than nu of it. The paper's argument: the gradients of the fakes D rates lowest
    tend to point G towards modes the other fakes already cover."""
    return max(1, round(batch_size * max(topk, 0.99 ** epoch)))


def generator_loss(logit_fake, k=None):
    """G's non-saturating loss -log D(G(z)), the BCE of fake -> 1, averaged over the batch or,
    given k, over the k fakes D rates most real (the top-k update): (k, 1) of (batch, 1)."""
    kept = logit_fake if k is None else logit_fake.topk(k, dim=0).values
    return F.binary_cross_entropy_with_logits(kept, torch.ones_like(kept))


def epoch_order(n, seed, epoch):
    """The shuffle of one epoch, a function of (seed, epoch) so a resumed run sees the same batches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch))


def train(config, resume=None):
    """Train G and D on MNIST as configured; return the log dict (also written to out_dir)."""
    device = torch.device(config.device)
    out_dir = Path(config.out_dir)
    (out_dir / "samples").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)

    images, _ = mnist_tensors(config.data_root, train=True)  # (60000, 1, 28, 28) in [-1, 1]
    steps_per_epoch = len(images) // config.batch_size  # drop the last partial batch: BatchNorm
    total_steps = config.n_epochs * steps_per_epoch
    if steps_per_epoch == 0:
        raise ValueError(f"--batch_size {config.batch_size} exceeds the {len(images)} training images")

    G = Generator(config.latent_dim, config.arch, config.width).to(device)
    D = discriminator_of(config).to(device)
    # D's own learning rate (--lr_d) makes the two time-scale update rule (Heusel et al., 2017).
    lr_D = config.lr if config.lr_d is None else config.lr_d
    betas = (config.beta1, config.beta2)
    opt_G = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=lr_D, betas=betas)
    # An exponential moving average of G's weights (when --ema > 0) smooths the oscillation of
    # adversarial training; samples, checkpoints and scores then come from the average.
    G_ema = AveragedModel(G, multi_avg_fn=ema_update(config.ema, config.ema_warmup, config.ema_warmup_k),
                          use_buffers=True) \
        if config.ema > 0 else None

    def sampler():
        return G_ema.module if G_ema is not None else G

    scorer = None
    if not config.no_eval:
        from gan_metrics import Scorer  # needs the trained classifier; only when scoring

        scorer = Scorer(config.data_root, device=device)

    cfg = config_dict(config)
    log = {"config": cfg, "steps_per_epoch": steps_per_epoch, "losses": [], "evaluations": []}
    step, cpu_seconds = 0, 0.0
    if resume is not None:
        G.load_state_dict(resume["G"])
        D.load_state_dict(resume["D"])
        opt_G.load_state_dict(resume["opt_G"])
        opt_D.load_state_dict(resume["opt_D"])
        if G_ema is not None:
            G_ema.load_state_dict(resume["G_ema"])
        step, cpu_seconds = resume["step"], resume["log"].get("train_cpu_seconds", 0.0)
        log["losses"], log["evaluations"] = resume["log"]["losses"], resume["log"]["evaluations"]
        torch.set_rng_state(resume["rng"])

    # One fixed latent batch, from its own RNG, shows the same 25 points at every save.
    z_fixed = torch.randn(25, config.latent_dim, generator=torch.Generator().manual_seed(config.seed))
    z_fixed = z_fixed.to(device)

    def save_samples():
        model = sampler()
        was_training = model.training
        model.eval()
        with torch.no_grad():
            save_grid(model(z_fixed).cpu(), out_dir / "samples" / f"step_{step:07d}.png")
        model.train(was_training)

    def save_latest():
        log["train_cpu_seconds"] = cpu_seconds
        state = {"G": G.state_dict(), "D": D.state_dict(), "opt_G": opt_G.state_dict(),
                 "opt_D": opt_D.state_dict(), "step": step, "rng": torch.get_rng_state(),
                 "config": cfg, "log": log}
        if G_ema is not None:
            state["G_ema"] = G_ema.state_dict()
        atomic_torch_save(state, out_dir / "latest.pt")
        atomic_write_text(json.dumps(log, indent=1) + "\n", out_dir / "log.json")

    def evaluate():
        if scorer is None:
            return
        scores = scorer.evaluate_generator(sampler(), n=config.eval_samples)
        row = {"step": step, "epoch": step / steps_per_epoch, "train_cpu_seconds": cpu_seconds, **scores}
        if G_ema is not None:  # the raw G too, to measure what the average buys
            row["raw"] = scorer.evaluate_generator(G, n=config.eval_samples)
        log["evaluations"].append(row)
        tqdm.write(f"step {step}: IS {scores['inception_score']:.2f}, FID {scores['fid']:.2f}, "
                   f"confident {scores['confident']:.1%}, classes "
                   f"{scores['class_min']:.1%}-{scores['class_max']:.1%}")

    if step == 0:
        atomic_torch_save(generator_checkpoint(sampler(), cfg, 0), out_dir / "generator_start.pt")
        save_samples()
        evaluate()

    real_label = torch.ones(config.batch_size, 1, device=device)
    fake_label = torch.zeros(config.batch_size, 1, device=device)
    running = []
    G.train()
    D.train()
    while step < total_steps:
        epoch, offset = divmod(step, steps_per_epoch)
        order = epoch_order(len(images), config.seed, epoch)[: steps_per_epoch * config.batch_size]
        batches = order.view(steps_per_epoch, config.batch_size)[offset:]
        progress = tqdm(batches, desc=f"epoch {epoch + 1}/{config.n_epochs}",
                        initial=offset, total=steps_per_epoch, leave=False)
        tick = time.process_time()
        for index in progress:
            if config.lr_decay:
                for optimizer, lr in ((opt_G, config.lr), (opt_D, lr_D)):
                    for group in optimizer.param_groups:
                        group["lr"] = lr * lr_factor(step, total_steps)
            # R1 every --r1_interval steps, scaled by it (lazy regularisation, Karras et al., 2020).
            r1_now = (config.r1 > 0 and step % config.r1_interval == 0
                      and (not config.r1_epochs or epoch < config.r1_epochs))
            x = images[index].to(device).requires_grad_(r1_now)
            z = torch.randn(config.batch_size, config.latent_dim, device=device)  # z ~ N(0, I)
            fake = G(z)

            # D ascends  log D(x) + log(1 - D(G(z))),  i.e. descends the BCE of real -> 1, fake -> 0.
            # G(z) is detached: this step changes D only.
            logit_real, logit_fake = D.logits(x), D.logits(fake.detach())
            loss_D = (F.binary_cross_entropy_with_logits(logit_real, real_label)
                      + F.binary_cross_entropy_with_logits(logit_fake, fake_label))
            penalty = config.r1 / 2 * config.r1_interval * r1_penalty(logit_real, x) if r1_now else 0.0
            opt_D.zero_grad(set_to_none=True)
            (loss_D + penalty).backward()
            opt_D.step()

            # G: instead of descending log(1 - D(G(z))), which has vanishing gradient while D
            # rejects the fakes early on, ascend log D(G(z)) (the non-saturating loss),
            # i.e. descend the BCE of fake -> 1. Same fixed point, strong early gradients.
            logit_fake = D.logits(fake)
            k = topk_count(config.batch_size, config.topk, epoch) if config.topk < 1 else None
            loss_G = generator_loss(logit_fake, k)
            opt_G.zero_grad(set_to_none=True)
            loss_G.backward()
            opt_G.step()
            if G_ema is not None:
                G_ema.update_parameters(G)
            step += 1

            d_real = torch.sigmoid(logit_real).mean().item()
            d_fake = torch.sigmoid(logit_fake).mean().item()
            running.append((loss_D.item(), loss_G.item(), d_real, d_fake))
            progress.set_postfix(loss_D=f"{loss_D.item():.3f}", loss_G=f"{loss_G.item():.3f}",
                                 D_x=f"{d_real:.2f}", D_G_z=f"{d_fake:.2f}")
            if step % config.log_interval == 0 or step == total_steps:
                means = torch.tensor(running).mean(dim=0).tolist()
                log["losses"].append(dict(zip(("step", "loss_d", "loss_g", "d_real", "d_fake"),
                                              [step] + means)))
                running = []

            at_epoch_end = step % steps_per_epoch == 0
            eval_now = (step % config.eval_interval == 0 if config.eval_interval else at_epoch_end) \
                or step == total_steps
            save_now = step % config.save_interval == 0 or step == total_steps
            if eval_now or save_now or step == total_steps // 2:
                # Bookkeeping is not training: keep it out of the CPU time that compares models.
                cpu_seconds += time.process_time() - tick
                if save_now:
                    save_samples()
                if step == total_steps // 2:
                    atomic_torch_save(generator_checkpoint(sampler(), cfg, step),
                                      out_dir / "generator_middle.pt")
                if eval_now:
                    evaluate()
                if save_now or at_epoch_end:
                    save_latest()
                tick = time.process_time()
        cpu_seconds += time.process_time() - tick
        progress.close()

    atomic_torch_save(generator_checkpoint(sampler(), cfg, step), out_dir / "generator_end.pt")
    save_latest()
    plot_losses(log, out_dir / "losses.png")
    return log


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="Train a GAN on MNIST with the minimax objective (non-saturating G loss).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--n_epochs", type=int, default=200, help="passes over the training set")
    parser.add_argument("--batch_size", type=int, default=64, help="real (and fake) images per step")
    parser.add_argument("--lr", type=float, default=2e-4,
                        help="Adam learning rate for G, and for D unless --lr_d is given")
    parser.add_argument("--lr_d", type=float, default=None,
                        help="Adam learning rate for D (None: the same as --lr)")
    parser.add_argument("--beta1", type=float, default=0.5,
                        help="Adam's decay of the gradient average (momentum), for G and D")
    parser.add_argument("--beta2", type=float, default=0.999,
                        help="Adam's decay of the squared-gradient average, for G and D")
    parser.add_argument("--latent_dim", type=int, default=100, help="dimension of z ~ N(0, I)")
    parser.add_argument("--save_interval", type=int, default=500,
                        help="save a sample grid and the latest checkpoint every this many batches")
    parser.add_argument("--arch", choices=ARCHS, default="mlp",
                        help="G's architecture, and D's unless --d_arch is given (mlp: the assignment "
                             "template; dcgan: convolutional)")
    parser.add_argument("--d_arch", choices=D_ARCHS, default=None,
                        help="D's own architecture (None: the same as --arch; conv: a small "
                             "convolutional D without BatchNorm)")
    parser.add_argument("--width", type=int, default=1,
                        help="multiplier of every hidden layer's units (mlp) or channels (dcgan)")
    parser.add_argument("--d_width", type=int, default=None,
                        help="D's own multiplier (None: the same as --width)")
    parser.add_argument("--spectral_norm", action="store_true",
                        help="spectral normalisation of D's layers (instead of the DCGAN D's BatchNorm)")
    parser.add_argument("--mbstd", action="store_true",
                        help="give the mlp or conv D the batch's mean feature spread as an extra input")
    parser.add_argument("--d_dropout", type=float, default=0.0,
                        help="dropout probability of the mlp D's hidden units (0 = off)")
    parser.add_argument("--r1", type=float, default=0.0,
                        help="gamma of the R1 penalty (gamma / 2) E ||grad_x logit D(x)||^2 on real images (0 = off)")
    parser.add_argument("--r1_interval", type=int, default=1,
                        help="apply R1 every this many steps, scaled by this number")
    parser.add_argument("--r1_epochs", type=int, default=0,
                        help="apply R1 in the first this many epochs only (0 = all)")
    parser.add_argument("--topk", type=float, default=1.0,
                        help="top-k G update: G's loss on the max(topk, 0.99^epoch) fraction of each "
                             "batch's fakes that D rates highest (1 = all)")
    parser.add_argument("--lr_decay", action="store_true",
                        help="decay both learning rates linearly to 0 over the second half of training")
    parser.add_argument("--ema", type=float, default=0.0,
                        help="decay of an exponential moving average of G's weights (0 = off)")
    parser.add_argument("--ema_warmup", action="store_true",
                        help="average with decay min(ema, (1 + n) / (k + n)) after n updates")
    parser.add_argument("--ema_warmup_k", type=int, default=10,
                        help="the k of --ema_warmup; the average's mean age is about n / k updates")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for torch (0 = torch's default)")
    parser.add_argument("--data_root", type=Path, default=DEFAULT_ROOT, help="folder holding MNIST/raw/")
    parser.add_argument("--out_dir", type=Path, default=Path(__file__).resolve().parent / "runs" / "gan",
                        help="folder for sample grids, checkpoints and logs")
    parser.add_argument("--resume", type=Path, default=None,
                        help="continue from this latest.pt, trained with the same model and optimiser flags")
    parser.add_argument("--log_interval", type=int, default=100,
                        help="average the losses over this many batches per log row")
    parser.add_argument("--no_eval", action="store_true",
                        help="do not score samples with the MNIST classifier")
    parser.add_argument("--eval_samples", type=int, default=10000,
                        help="samples scored at each evaluation")
    parser.add_argument("--eval_interval", type=int, default=0,
                        help="score every this many batches instead of at epoch ends (0 = epoch ends)")
    args = parser.parse_args(argv)
    for name in ("n_epochs", "batch_size", "latent_dim", "width", "save_interval", "log_interval", "eval_samples",
                 "r1_interval"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    for name in ("eval_interval", "threads", "r1_epochs"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be 0 or positive")
    if not args.lr > 0:
        parser.error("--lr must be positive")
    if args.d_width is not None and args.d_width < 1:
        parser.error("--d_width must be at least 1")
    if args.lr_d is not None and not args.lr_d > 0:
        parser.error("--lr_d must be positive")
    if not 0 <= args.d_dropout < 1:
        parser.error("--d_dropout must be in [0, 1)")
    if args.d_dropout and d_arch_of(vars(args)) != "mlp":
        parser.error("--d_dropout needs an mlp D (--arch mlp, or --d_arch mlp)")
    if not 0 <= args.r1 < float("inf"):
        parser.error("--r1 must be 0 or a positive number")
    for name in ("beta1", "beta2"):
        if not 0 <= getattr(args, name) < 1:
            parser.error(f"--{name} must be in [0, 1)")
    if not 0 < args.topk <= 1:
        parser.error("--topk must be in (0, 1]")
    if not 0 <= args.ema < 1:
        parser.error("--ema must be in [0, 1)")
    if args.mbstd and d_arch_of(vars(args)) == "dcgan":
        parser.error("--mbstd needs an mlp or conv D (--arch mlp, or --d_arch mlp or conv)")
    if args.ema_warmup and not args.ema:
        parser.error("--ema_warmup needs --ema")
    if args.ema_warmup_k < 2:
        parser.error("--ema_warmup_k must be at least 2")
    if args.ema_warmup_k != 10 and not args.ema_warmup:
        parser.error("--ema_warmup_k needs --ema_warmup")
    try:
        device = torch.device(args.device)
    except RuntimeError:
        parser.error(f"--device {args.device!r} is not a torch device")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but CUDA is not available")
    if args.out_dir.exists() and not args.out_dir.is_dir():
        parser.error(f"--out_dir {args.out_dir} exists and is not a folder")
    return parser, args


def main(argv=None):
    parser, config = parse_args(argv)
    resume = None
    if config.resume is not None:
        try:  # checked before any output is touched
            resume = load_resume_checkpoint(config.resume, config)
        except ValueError as error:
            parser.error(f"--resume: {error}")
    if config.threads:
        torch.set_num_threads(config.threads)
    try:
        prepare_mnist(config.data_root)
        log = train(config, resume)
    except (MnistUnavailable, ValueError, FileNotFoundError) as error:
        sys.exit(f"error: {error}")
    if log["evaluations"]:
        last = log["evaluations"][-1]
        print(f"done: step {last['step']}, IS {last['inception_score']:.2f}, FID {last['fid']:.2f}")


if __name__ == "__main__":
    main()

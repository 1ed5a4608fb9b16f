"""A GAN on MNIST (assignment Part II), trained with the minimax objective (10)

    min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],   z ~ N(0, I).

The default is the assignment's template (MLP G and D, Adam 2e-4 with betas (0.5, 0.999), batch
64, 100-d latent); `--arch dcgan`, `--mbstd` and `--ema` earned their place (report.md, Section 7),
and the committed generator is the Makefile's run `final`.

Into --out_dir: samples/step_*.png (5x5 grids of one fixed latent batch), generator_{start,
middle,end}.pt, latest.pt (everything --resume needs) and log.json (losses, scores, CPU time).
`--resume out_dir/latest.pt` continues a run where it stopped: the checkpoint's settings are the
defaults, flags given apply and are logged, except the model's --arch, --mbstd and --latent_dim.
"""

import argparse
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchvision.utils import save_image
from tqdm import tqdm

from gan_metrics import Scorer
from mnist_classifier import load_classifier
from mnist_data import (DEFAULT_ROOT, REPO, MnistUnavailable, atomic_save, check_writable, config_dict, mnist_tensors,
                        non_negative_int, positive_float, positive_int, prepare_mnist, probability, torch_device,
                        write_json)

IMAGE_SHAPE = (1, 28, 28)
EVAL_SAMPLES = 10_000  # samples scored at each evaluation
LOG_INTERVAL = 100  # batches averaged into one row of the loss log


def dcgan_init(module):
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

    def __init__(self, latent_dim=100, arch="mlp"):
        super().__init__()
        assert arch in ("mlp", "dcgan"), f"unknown arch {arch!r}"
        self.latent_dim, self.arch = latent_dim, arch
        if arch == "mlp":  # the template
            self.net = nn.Sequential(
                nn.Linear(latent_dim, 128), nn.LeakyReLU(0.2),  # (N, 128)
                nn.Linear(128, 256), nn.BatchNorm1d(256), nn.LeakyReLU(0.2),  # (N, 256)
                nn.Linear(256, 512), nn.BatchNorm1d(512), nn.LeakyReLU(0.2),  # (N, 512)
                nn.Linear(512, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2),  # (N, 1024)
                nn.Linear(1024, 28 * 28), nn.Tanh(),  # (N, 784)
                nn.Unflatten(1, IMAGE_SHAPE),  # (N, 1, 28, 28)
            )
        else:  # Radford et al. (2016), sized for 28 x 28
            self.net = nn.Sequential(
                nn.Linear(latent_dim, 64 * 7 * 7, bias=False), nn.BatchNorm1d(64 * 7 * 7), nn.ReLU(),
                nn.Unflatten(1, (64, 7, 7)),  # (N, 64, 7, 7)
                nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1, bias=False),  # (N, 32, 14, 14)
                nn.BatchNorm2d(32), nn.ReLU(),
                nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1), nn.Tanh(),  # (N, 1, 28, 28)
            )
            self.apply(dcgan_init)

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

    Training uses `logits` with a BCE-with-logits loss: the same objective as Sigmoid then log,
    without log(0) once D becomes confident. With `mbstd` D scores each image together with the
    spread of its batch, so real and fake images are scored in separate batches.
    """

    def __init__(self, arch="mlp", mbstd=False):
        super().__init__()
        if arch == "mlp":  # the template
            spread = [MinibatchStd()] if mbstd else []
            self.net = nn.Sequential(
                nn.Flatten(),  # (N, 784)
                nn.Linear(28 * 28, 512), nn.LeakyReLU(0.2), *spread,  # (N, 512 [+ 1])
                nn.Linear(512 + len(spread), 256), nn.LeakyReLU(0.2),  # (N, 256)
                nn.Linear(256, 1),  # (N, 1)
            )
        elif arch == "dcgan" and not mbstd:
            self.net = nn.Sequential(
                nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.LeakyReLU(0.2),  # (N, 32, 14, 14)
                nn.Conv2d(32, 64, 4, stride=2, padding=1, bias=False),  # (N, 64, 7, 7)
                nn.BatchNorm2d(64), nn.LeakyReLU(0.2),
                nn.Flatten(), nn.Linear(64 * 7 * 7, 1),  # (N, 1)
            )
            self.apply(dcgan_init)
        else:
            raise ValueError(f"no discriminator for arch {arch!r} with mbstd={mbstd}")

    def logits(self, x):
        return self.net(x)

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


# The objective (10):  min_G max_D  E_x[log D(x)] + E_z[log(1 - D(G(z)))].
# D ascends it: log D(x) + log(1 - D(G(z))) is minus the BCE of D(x) against 1 and of D(G(z))
# against 0. G would descend log(1 - D(G(z))), whose gradient vanishes while D rejects the fakes
# early on; it ascends log D(G(z)) instead (Goodfellow et al.'s non-saturating loss), the BCE of
# D(G(z)) against 1: same fixed point, strong early gradients.
def discriminator_step(D, opt_D, real, fake):
    """One update of D on a real and a fake batch; returns (loss, mean D(x))."""
    assert real.shape == fake.shape and real.shape[1:] == IMAGE_SHAPE, f"got {real.shape}, {fake.shape}"
    logit_real = D.logits(real)
    logit_fake = D.logits(fake.detach())  # detached: this step changes D only
    loss = (F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
            + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))
    opt_D.zero_grad(set_to_none=True)
    loss.backward()
    opt_D.step()
    return loss.item(), torch.sigmoid(logit_real).mean().item()


def generator_step(D, opt_G, fake):
    """One update of G through D's verdict on its batch; returns (loss, mean D(G(z)))."""
    logit_fake = D.logits(fake)
    loss = F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))
    opt_G.zero_grad(set_to_none=True)
    loss.backward()
    opt_G.step()
    return loss.item(), torch.sigmoid(logit_fake).mean().item()


def ema_decay(decay, n):
    """The average's decay after n updates, avg <- d avg + (1 - d) G: min(decay, (1 + n) / (10 + n)).

    With d = decay from the start, the untrained weights would weigh on the average for about
    1 / (1 - decay) steps (10,000 at 0.9999); the warm-up forgets them within tens of steps.
    """
    return min(decay, (1 + n) / (10 + n))


def averaged(G, decay):
    """An exponential moving average of G's weights and BatchNorm statistics."""
    def update(average, current, num_averaged):
        get_ema_multi_avg_fn(ema_decay(decay, int(num_averaged)))(average, current, num_averaged)

    return AveragedModel(G, multi_avg_fn=update, use_buffers=True)


def load_generator(path, device="cpu"):
    """A Generator in eval mode from a generator_*.pt, rebuilt from the config beside its weights."""
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    G = Generator(checkpoint["config"]["latent_dim"], checkpoint["config"]["arch"])
    G.load_state_dict(checkpoint["model"])
    return G.to(device).eval()


def save_generator(G, path, config, step):
    atomic_save(path, lambda tmp: torch.save({"model": G.state_dict(), "config": config, "step": step}, tmp))


@torch.no_grad()
def save_grid(G, z, path):
    """The 5 x 5 grid of G(z), drawn in eval mode (BatchNorm's running statistics)."""
    G.eval()
    grid = G(z).cpu()
    G.train()
    atomic_save(path, lambda tmp: save_image(grid, tmp, nrow=5, normalize=True, value_range=(-1, 1), format="png"))


def epoch_order(n, seed, epoch):
    """One epoch's shuffle, a function of (seed, epoch): a resumed run sees the same batches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch))


def evaluate(scorer, G, log, step):
    """Score EVAL_SAMPLES samples of G into the log."""
    scores = scorer.evaluate_generator(G, n=EVAL_SAMPLES)
    log["evaluations"].append({"step": step, "epoch": step / log["steps_per_epoch"],
                               "train_cpu_seconds": log["train_cpu_seconds"], **scores})
    tqdm.write(f"step {step}: IS {scores['inception_score']:.2f}, FID {scores['fid']:.2f}, "
               f"confident {scores['confident']:.1%}")


def train(config, images, checkpoint=None):
    """Train G and D on `images` (N, 1, 28, 28) in [-1, 1] as configured, from `checkpoint` (a
    latest.pt) if given, writing into config.out_dir; return the log."""
    device, out_dir = torch.device(config.device), Path(config.out_dir)
    torch.manual_seed(config.seed)
    steps_per_epoch = len(images) // config.batch_size  # whole batches only, for BatchNorm
    assert steps_per_epoch > 0, f"batch of {config.batch_size} from {len(images)} images"
    total_steps = config.n_epochs * steps_per_epoch

    G = Generator(config.latent_dim, config.arch).to(device)
    D = Discriminator(config.arch, config.mbstd).to(device)
    opt_G = torch.optim.Adam(G.parameters(), lr=config.lr, betas=(config.beta1, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=config.lr, betas=(config.beta1, 0.999))
    G_ema = averaged(G, config.ema) if config.ema else None
    sampler = G_ema.module if G_ema else G  # grids, checkpoints and scores come from the average
    # Built after G and D: the classifier's layers are initialised (then overwritten) from the
    # global RNG, so a run without scoring draws other noise than a scored one.
    scorer = Scorer(config.data_root, device=device) if config.eval_interval else None
    # One fixed latent batch, from its own RNG, shows the same 25 points in every grid.
    z_fixed = torch.randn(25, config.latent_dim, generator=torch.Generator().manual_seed(config.seed)).to(device)

    log = {"config": config_dict(config), "steps_per_epoch": steps_per_epoch, "losses": [], "evaluations": [],
           "train_cpu_seconds": 0.0}
    step, running = 0, []  # running: the losses since the last row of the log
    if checkpoint is not None:
        G.load_state_dict(checkpoint["G"])
        D.load_state_dict(checkpoint["D"])
        for opt, state in ((opt_G, checkpoint["opt_G"]), (opt_D, checkpoint["opt_D"])):
            opt.load_state_dict(state)
            opt.param_groups[0].update(lr=config.lr, betas=(config.beta1, 0.999))  # this run's settings
        if G_ema and checkpoint["G_ema"]:  # else the average starts here
            G_ema.load_state_dict(checkpoint["G_ema"])
        step, running = checkpoint["step"], checkpoint["running"]
        log = checkpoint["log"] | {"config": log["config"], "steps_per_epoch": steps_per_epoch}
        torch.set_rng_state(checkpoint["rng"])

    (out_dir / "samples").mkdir(parents=True, exist_ok=True)
    if step == 0:
        save_generator(sampler, out_dir / "generator_start.pt", log["config"], step)
        save_grid(sampler, z_fixed, out_dir / "samples" / f"step_{step:07d}.png")
        if scorer:
            evaluate(scorer, sampler, log, step)
    progress = tqdm(total=total_steps, initial=step, desc="GAN steps")
    for epoch in range(step // steps_per_epoch, config.n_epochs):
        order = epoch_order(len(images), config.seed, epoch)[: steps_per_epoch * config.batch_size]
        for index in order.view(steps_per_epoch, config.batch_size)[step - epoch * steps_per_epoch:]:
            real = images[index].to(device)  # (B, 1, 28, 28)
            tick = time.process_time()  # the CPU time that compares runs: the two steps, nothing else
            fake = G(torch.randn(config.batch_size, config.latent_dim, device=device))  # z ~ N(0, I)
            loss_d, d_real = discriminator_step(D, opt_D, real, fake)
            loss_g, d_fake = generator_step(D, opt_G, fake)
            if G_ema:
                G_ema.update_parameters(G)
            log["train_cpu_seconds"] += time.process_time() - tick
            step += 1
            progress.update()
            running.append((loss_d, loss_g, d_real, d_fake))

            if step % LOG_INTERVAL == 0 or step == total_steps:
                means = torch.tensor(running).mean(dim=0).tolist()
                log["losses"].append(dict(zip(("step", "loss_d", "loss_g", "d_real", "d_fake"), [step, *means])))
                progress.set_postfix(loss_D=f"{means[0]:.3f}", loss_G=f"{means[1]:.3f}")
                running = []
            if step == max(total_steps // 2, 1):
                save_generator(sampler, out_dir / "generator_middle.pt", log["config"], step)
            if step == total_steps:
                save_generator(sampler, out_dir / "generator_end.pt", log["config"], step)
            if scorer and (step % (config.eval_interval * steps_per_epoch) == 0 or step == total_steps):
                evaluate(scorer, sampler, log, step)
            if step % config.save_interval == 0 or step == total_steps:  # a grid, and everything --resume needs
                save_grid(sampler, z_fixed, out_dir / "samples" / f"step_{step:07d}.png")
                latest = {"G": G.state_dict(), "D": D.state_dict(), "G_ema": G_ema.state_dict() if G_ema else None,
                          "opt_G": opt_G.state_dict(), "opt_D": opt_D.state_dict(), "step": step,
                          "rng": torch.get_rng_state(), "running": running, "config": log["config"], "log": log}
                atomic_save(out_dir / "latest.pt", lambda tmp: torch.save(latest, tmp))
                write_json(out_dir / "log.json", log)
    progress.close()
    return log


def parse_args(argv=None):
    """The parser and the flags in argv (sys.argv when None)."""
    parser = argparse.ArgumentParser(description="Train a GAN on MNIST with the minimax objective.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--arch", choices=("mlp", "dcgan"), default="mlp",
                        help="G and D: the assignment's MLPs or small convolutional nets")
    parser.add_argument("--mbstd", action="store_true", help="give the mlp D its batch's feature spread")
    parser.add_argument("--ema", type=probability, default=0.0, help="decay of an average of G's weights (0 = off)")
    parser.add_argument("--lr", type=positive_float, default=2e-4, help="Adam learning rate of G and D")
    parser.add_argument("--beta1", type=probability, default=0.5, help="Adam's momentum decay for G and D")
    parser.add_argument("--batch_size", type=positive_int, default=64, help="real (and fake) images per step")
    parser.add_argument("--n_epochs", type=positive_int, default=200, help="passes over the training set")
    parser.add_argument("--latent_dim", type=positive_int, default=100, help="dimension of z ~ N(0, I)")
    parser.add_argument("--save_interval", type=positive_int, default=500, help="batches between grids and latest.pt")
    parser.add_argument("--eval_interval", type=non_negative_int, default=1, help="epochs between scorings (0 = never)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--device", type=torch_device, default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--threads", type=non_negative_int, default=0, help="CPU threads for torch (0 = its default)")
    parser.add_argument("--data_root", type=Path, default=DEFAULT_ROOT, help="folder holding MNIST/raw/")
    parser.add_argument("--out_dir", type=Path, default=REPO / "Part2" / "runs" / "gan",
                        help="folder for sample grids, checkpoints and the log (with --resume: its folder)")
    parser.add_argument("--resume", type=Path, default=None,
                        help="continue this latest.pt's run; its settings are the defaults, its model is kept")
    return parser, parser.parse_args(argv)


def main(argv=None):
    parser, args = parse_args(argv)
    checkpoint = None
    if args.resume is not None:  # as nanoGPT: the run's own settings become the defaults
        try:
            checkpoint = torch.load(args.resume, map_location="cpu", weights_only=True)
            saved = checkpoint["config"]
            shape = {key: saved[key] for key in ("arch", "mbstd", "latent_dim")}
            parser.set_defaults(**saved | {"data_root": REPO / saved["data_root"], "out_dir": args.resume.parent})
            if "opt_G" not in checkpoint:  # a generator_*.pt: weights, not a training state
                raise KeyError("opt_G")
        except Exception as error:  # unreadable, or not a training state
            parser.error(f"--resume: {args.resume} is not a latest.pt ({type(error).__name__} {error})".splitlines()[0])
        args = parser.parse_args(argv)
        for key, value in shape.items():  # the model's shape is the checkpoint's
            if getattr(args, key) != value:
                parser.error(f"--{key}: the model in {args.resume} has {key} {value}")
    if args.mbstd and args.arch != "mlp":
        parser.error("--mbstd needs --arch mlp")
    try:  # everything is checked before anything is written
        images, _ = mnist_tensors(prepare_mnist(args.data_root))  # (60000, 1, 28, 28) in [-1, 1]
        if args.eval_interval:
            load_classifier()  # train() builds the Scorer with it
    except (MnistUnavailable, FileNotFoundError) as error:
        parser.error(str(error).splitlines()[0])
    if args.batch_size > len(images):
        parser.error(f"--batch_size {args.batch_size} exceeds the {len(images)} training images")
    if checkpoint and checkpoint["step"] >= args.n_epochs * (len(images) // args.batch_size):
        parser.error(f"--resume: {args.resume} is at step {checkpoint['step']}, the end of --n_epochs {args.n_epochs}")
    check_writable(parser, "--out_dir", args.out_dir)
    if args.threads:
        torch.set_num_threads(args.threads)
    train(args, images, checkpoint)


if __name__ == "__main__":
    main()

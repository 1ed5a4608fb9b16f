"""A GAN on MNIST (assignment Part II), trained with the minimax objective (10)

    min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],   z ~ N(0, I).

The default is the assignment's template (MLP G and D, Adam 2e-4 with betas (0.5, 0.999), batch
64, 100-d latent); `--arch dcgan`, `--mbstd` and `--ema` earned their place (report.md, section 9).
The committed generator:

    python Part2/my_gan.py --mbstd --ema 0.9999 --lr 4e-4 --beta1 0 --batch_size 256 \
        --n_epochs 250 --eval_interval 2 --threads 1 --out_dir Part2/runs/shipped

Into --out_dir: samples/step_*.png (5x5 grids of one fixed latent batch), generator_{start,
middle,end}.pt, latest.pt (everything --resume needs) and log.json (losses, scores, CPU time).
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchvision.utils import save_image
from tqdm import tqdm

from mnist_data import DEFAULT_ROOT, MnistUnavailable, atomic_save, mnist_tensors, prepare_mnist

IMAGE_SHAPE = (1, 28, 28)
EVAL_SAMPLES = 10_000  # samples scored at each evaluation
LOG_INTERVAL = 100  # batches averaged into one row of the loss log


# ----------------------------------------------------------------------------- models


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
        elif arch == "dcgan":  # Radford et al. (2016), sized for 28 x 28
            self.net = nn.Sequential(
                nn.Linear(latent_dim, 64 * 7 * 7, bias=False), nn.BatchNorm1d(64 * 7 * 7), nn.ReLU(),
                nn.Unflatten(1, (64, 7, 7)),  # (N, 64, 7, 7)
                nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1, bias=False),  # (N, 32, 14, 14)
                nn.BatchNorm2d(32), nn.ReLU(),
                nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1), nn.Tanh(),  # (N, 1, 28, 28)
            )
            self.apply(dcgan_init)
        else:
            raise ValueError(f"unknown arch {arch!r}")

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


# ------------------------------------------------------------------------ the two steps
#
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


# --------------------------------------------------------------------------- checkpoints


def load_generator(path, device="cpu"):
    """A Generator in eval mode from a generator_*.pt, rebuilt from the config beside its weights."""
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
        G = Generator(checkpoint["config"]["latent_dim"], checkpoint["config"]["arch"])
        G.load_state_dict(checkpoint["model"])
    except FileNotFoundError:
        raise FileNotFoundError(f"no generator checkpoint at {path}") from None
    except Exception as error:
        raise ValueError(f"{path} is not a generator checkpoint: {error}".splitlines()[0]) from None
    return G.to(device).eval()


def load_training_checkpoint(path):
    """A latest.pt written by this script, with its settings; ValueError if it is not one."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        config = argparse.Namespace(**checkpoint["config"])
    except FileNotFoundError:
        raise ValueError(f"no checkpoint at {path}") from None
    except Exception as error:
        raise ValueError(f"{path} is not a readable checkpoint ({type(error).__name__})") from None
    if not {"G", "D", "opt_G", "opt_D", "step", "rng", "log"} <= checkpoint.keys():
        raise ValueError(f"{path} is not a training checkpoint (a latest.pt)")
    if vars(config).keys() != vars(parse_args([])[1]).keys():
        raise ValueError(f"{path} was written by another version of my_gan.py")
    return checkpoint, config


# --------------------------------------------------------------------------- training


def epoch_order(n, seed, epoch):
    """One epoch's shuffle, a function of (seed, epoch): a resumed run sees the same batches."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch))


def train(config, images, checkpoint=None):
    """Train G and D on `images` (N, 1, 28, 28) in [-1, 1] as configured (from `checkpoint` if
    given); return the log."""
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
    sampler = G_ema.module if G_ema else G  # samples, checkpoints and scores come from the average
    scorer = None
    if config.eval_interval:
        from gan_metrics import Scorer  # needs the trained classifier

        # Built here, after G and D: its layers are initialised (then overwritten) from the global
        # RNG, so a run without scoring draws other noise than a scored one.
        scorer = Scorer(config.data_root, device=device)
    (out_dir / "samples").mkdir(parents=True, exist_ok=True)

    log = {"config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(config).items()},
           "steps_per_epoch": steps_per_epoch, "losses": [], "evaluations": [], "train_cpu_seconds": 0.0}
    step = 0
    if checkpoint is not None:
        G.load_state_dict(checkpoint["G"])
        D.load_state_dict(checkpoint["D"])
        opt_G.load_state_dict(checkpoint["opt_G"])
        opt_D.load_state_dict(checkpoint["opt_D"])
        if G_ema:
            G_ema.load_state_dict(checkpoint["G_ema"])
        step, log = checkpoint["step"], checkpoint["log"] | {"config": log["config"]}
        torch.set_rng_state(checkpoint["rng"])
    # One fixed latent batch, from its own RNG, shows the same 25 points in every grid.
    z_fixed = torch.randn(25, config.latent_dim, generator=torch.Generator().manual_seed(config.seed)).to(device)

    def save_generator(name):
        atomic_save(out_dir / name, lambda tmp: torch.save(
            {"model": sampler.state_dict(), "config": log["config"], "step": step}, tmp))

    def save_samples():
        sampler.eval()
        with torch.no_grad():
            grid = sampler(z_fixed).cpu()
        atomic_save(out_dir / "samples" / f"step_{step:07d}.png", lambda tmp: save_image(
            grid, tmp, nrow=5, normalize=True, value_range=(-1, 1), format="png"))
        sampler.train()

    def save_latest():
        state = {"G": G.state_dict(), "D": D.state_dict(), "opt_G": opt_G.state_dict(),
                 "opt_D": opt_D.state_dict(), "step": step, "rng": torch.get_rng_state(),
                 "config": log["config"], "log": log}
        if G_ema:
            state["G_ema"] = G_ema.state_dict()
        atomic_save(out_dir / "latest.pt", lambda tmp: torch.save(state, tmp))
        atomic_save(out_dir / "log.json", lambda tmp: tmp.write_text(json.dumps(log, indent=1) + "\n"))

    def evaluate():
        scores = scorer.evaluate_generator(sampler, n=EVAL_SAMPLES)
        log["evaluations"].append({"step": step, "epoch": step / steps_per_epoch,
                                   "train_cpu_seconds": log["train_cpu_seconds"], **scores})
        tqdm.write(f"step {step}: IS {scores['inception_score']:.2f}, FID {scores['fid']:.2f}, "
                   f"confident {scores['confident']:.1%}")

    if step == 0:
        save_generator("generator_start.pt")
        save_samples()
        if scorer:
            evaluate()
    running = []
    G.train()
    D.train()
    while step < total_steps:
        epoch, offset = divmod(step, steps_per_epoch)
        order = epoch_order(len(images), config.seed, epoch)[: steps_per_epoch * config.batch_size]
        progress = tqdm(order.view(steps_per_epoch, config.batch_size)[offset:], leave=False,
                        desc=f"epoch {epoch + 1}/{config.n_epochs}", initial=offset, total=steps_per_epoch)
        tick = time.process_time()
        for index in progress:
            real = images[index].to(device)  # (B, 1, 28, 28)
            fake = G(torch.randn(config.batch_size, config.latent_dim, device=device))  # z ~ N(0, I)
            loss_d, d_real = discriminator_step(D, opt_D, real, fake)
            loss_g, d_fake = generator_step(D, opt_G, fake)
            if G_ema:
                G_ema.update_parameters(G)
            step += 1
            running.append((loss_d, loss_g, d_real, d_fake))
            if step % LOG_INTERVAL == 0 or step == total_steps:
                means = torch.tensor(running).mean(dim=0).tolist()
                log["losses"].append(dict(zip(("step", "loss_d", "loss_g", "d_real", "d_fake"), [step, *means])))
                progress.set_postfix(loss_D=f"{means[0]:.3f}", loss_G=f"{means[1]:.3f}")
                running = []

            at_epoch_end = step % steps_per_epoch == 0
            eval_now = scorer and (step == total_steps or at_epoch_end
                                   and (step // steps_per_epoch) % config.eval_interval == 0)
            save_now = step % config.save_interval == 0 or step == total_steps
            if eval_now or save_now or at_epoch_end or step == max(total_steps // 2, 1):
                # Bookkeeping is not training: keep it out of the CPU time that compares runs.
                log["train_cpu_seconds"] += time.process_time() - tick
                if save_now:
                    save_samples()
                if step == max(total_steps // 2, 1):
                    save_generator("generator_middle.pt")
                if eval_now:
                    evaluate()
                save_latest()
                tick = time.process_time()
        log["train_cpu_seconds"] += time.process_time() - tick
        progress.close()
    save_generator("generator_end.pt")
    save_latest()
    return log


# ------------------------------------------------------------------------------- command line

# Flags that say where a run happens, not what it is: a resumed run may set them anew.
PLACE_FLAGS = ("n_epochs", "device", "threads", "data_root", "resume")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train a GAN on MNIST with the minimax objective.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter, allow_abbrev=False)
    parser.add_argument("--arch", choices=("mlp", "dcgan"), default="mlp",
                        help="G and D: the assignment's MLPs, or small convolutional nets")
    parser.add_argument("--mbstd", action="store_true", help="give the mlp D its batch's feature spread")
    parser.add_argument("--ema", type=float, default=0.0,
                        help="decay of a moving average of G's weights, with warm-up (0 = off)")
    parser.add_argument("--lr", type=float, default=2e-4, help="Adam learning rate of G and D")
    parser.add_argument("--beta1", type=float, default=0.5, help="Adam's momentum decay for G and D")
    parser.add_argument("--batch_size", type=int, default=64, help="real (and fake) images per step")
    parser.add_argument("--n_epochs", type=int, default=200, help="passes over the training set")
    parser.add_argument("--latent_dim", type=int, default=100, help="dimension of z ~ N(0, I)")
    parser.add_argument("--save_interval", type=int, default=500,
                        help="save a sample grid and latest.pt every this many batches")
    parser.add_argument("--eval_interval", type=int, default=1,
                        help=f"score {EVAL_SAMPLES} samples every this many epochs (0 = never)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for torch (0 = torch's default)")
    parser.add_argument("--data_root", type=Path, default=DEFAULT_ROOT, help="folder holding MNIST/raw/")
    parser.add_argument("--out_dir", type=Path, default=Path(__file__).resolve().parent / "runs" / "gan",
                        help="folder for sample grids, checkpoints and the log")
    parser.add_argument("--resume", type=Path, default=None,
                        help=f"continue from this latest.pt with its settings (only --{', --'.join(PLACE_FLAGS[:-1])} "
                             "may be given anew)")
    args = parser.parse_args(argv)
    for name in ("batch_size", "n_epochs", "latent_dim", "save_interval"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    for name in ("eval_interval", "threads"):
        if getattr(args, name) < 0:
            parser.error(f"--{name} must be 0 or positive")
    if not args.lr > 0:
        parser.error("--lr must be positive")
    for name in ("ema", "beta1"):
        if not 0 <= getattr(args, name) < 1:
            parser.error(f"--{name} must be in [0, 1)")
    if args.mbstd and args.arch != "mlp":
        parser.error("--mbstd needs --arch mlp")
    try:
        device = torch.device(args.device)
    except RuntimeError:
        parser.error(f"--device {args.device!r} is not a torch device")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but CUDA is not available")
    # The flags written on the command line, as opposed to those left at their defaults (each
    # flag is --its_name, and allow_abbrev=False keeps them whole).
    argv = sys.argv[1:] if argv is None else [str(arg) for arg in argv]
    given = {name for name in vars(args) for arg in argv if arg == f"--{name}" or arg.startswith(f"--{name}=")}
    return parser, args, given


def resumed_config(parser, args, given):
    """The settings of the run in --resume's checkpoint, with the PLACE_FLAGS given anew."""
    refused = [name for name in given if name not in PLACE_FLAGS]
    if refused:
        parser.error(f"--{refused[0]}: with --resume the settings come from the checkpoint")
    try:
        checkpoint, config = load_training_checkpoint(args.resume)
    except ValueError as error:
        parser.error(f"--resume: {error}")
    config = argparse.Namespace(**vars(config) | {name: getattr(args, name) for name in given}
                                | {"out_dir": args.resume.parent})
    if checkpoint["step"] >= config.n_epochs * checkpoint["log"]["steps_per_epoch"]:
        parser.error(f"--resume: {args.resume} is at step {checkpoint['step']}, the end of "
                     f"--n_epochs {config.n_epochs}; give more epochs")
    if torch.device(config.device).type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--resume: the run trained on {config.device}, which is not available; give --device")
    return checkpoint, config


def main(argv=None):
    parser, args, given = parse_args(argv)
    checkpoint = None
    if args.resume is not None:  # everything is checked before anything is written
        checkpoint, args = resumed_config(parser, args, given)
    try:
        images, _ = mnist_tensors(prepare_mnist(args.data_root))  # (60000, 1, 28, 28) in [-1, 1]
    except MnistUnavailable as error:
        parser.error(str(error))
    if args.batch_size > len(images):
        parser.error(f"--batch_size {args.batch_size} exceeds the {len(images)} training images")
    created = not args.out_dir.exists()
    try:  # permission bits do not tell the truth for root or read-only file systems: try it
        args.out_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=args.out_dir).close()
    except OSError as error:
        parser.error(f"--out_dir {args.out_dir} is not a writable folder ({error.strerror})")
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        log = train(args, images, checkpoint)
    except FileNotFoundError as error:  # no classifier to score with: found before the first step
        if created:
            shutil.rmtree(args.out_dir)
        parser.error(str(error))
    if log["evaluations"]:
        last = log["evaluations"][-1]
        print(f"done: step {last['step']}, IS {last['inception_score']:.2f}, FID {last['fid']:.2f}")


if __name__ == "__main__":
    main()

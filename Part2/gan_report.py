"""Part 2's results: finished runs collected into results/, the ablation table and the figures.

    python Part2/gan_report.py collect template=Part2/runs/template ema=Part2/runs/ema ...
    python Part2/gan_report.py figures

`collect` copies each run's log.json to results/gan_NAME.json, adds its one-line summary to
results/runs.csv (every run ever made, with the machine it ran on), keeps a few of its sample
grids and scores real training images as the baseline; for the run named `final` it also copies
the generators to checkpoints/ and scores the end generator on five latent seeds. `figures`
redraws the ablation table and every figure from committed files alone: no data, no training.
"""

import argparse
import csv
import json
import platform
import shutil
import statistics
from pathlib import Path

import torch
from matplotlib.figure import Figure
from matplotlib.image import imread
from torchvision.utils import make_grid

import my_gan
from gan_metrics import Scorer
from latent_walk import find_latent_pair, lerp, plot_strip, slerp
from mnist_classifier import load_classifier
from mnist_data import DEFAULT_ROOT, MnistUnavailable, atomic_save, prepare_mnist, write_json

HERE = Path(__file__).resolve().parent
RESULTS, FIGURES, CHECKPOINTS = HERE / "results", HERE / "figures", HERE / "checkpoints"
# The ablation: each run adds one change to the run above it; the DCGAN changes only the
# architecture of the template. All were trained on one machine to the same length.
ABLATION = ("template", "ema", "batch256", "mbstd", "beta1")
DCGAN = "dcgan"
FINAL = "final"  # the last row's recipe trained to 250 epochs: the committed generator
COMPARE_AT_EPOCHS = (10, 30, 50)  # early, within the DCGAN's 32 epochs, and the end of the other runs
GRID_STEPS = (0, 500, 1000, 2000, 5000, 10000)
GRID_RUNS = ("template", FINAL)  # the runs whose grids figures/training_grids.png shows
SCORES = ("inception_score", "fid", "confident", "class_min", "class_max")
# Settings that say where or how a run was kept, not what was trained.
NOT_THE_RECIPE = {"n_epochs", "device", "threads", "data_root", "out_dir", "resume", "save_interval",
                  "eval_interval", "seed"}


def changes(config, base):
    """The flags in which `config` differs from `base`, e.g. '--batch_size 256 --lr 0.0004'."""
    def flag(key, value):
        if value is True:
            return f"--{key}"
        return f"--{key} {value:g}" if isinstance(value, float) else f"--{key} {value}"

    return " ".join(flag(key, config[key]) for key in config
                    if key not in NOT_THE_RECIPE and config[key] != base.get(key))


def read_json(path):
    return json.loads(Path(path).read_text())


def copy(source, target):
    atomic_save(target, lambda tmp: shutil.copyfile(source, tmp))


def save_figure(fig, path):
    if path is not None:
        atomic_save(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    return fig


def summary_of(name, log, machine):
    """One row of runs.csv: a run's recipe, length, cost and final scores."""
    final = log["evaluations"][-1]
    template = vars(my_gan.parse_args([])[1])
    return {"run": name, "flags": changes(log["config"], template) or "template",
            "epochs": round(final["epoch"], 2), "cpu_minutes": round(final["train_cpu_seconds"] / 60, 1),
            **{key: round(final[key], 4) for key in SCORES}, "machine": machine}


def read_runs(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_runs(rows, path):
    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    atomic_save(path, write)


def seed_spread(G, scorer, seeds=5):
    """The scores of one generator on EVAL_SAMPLES samples from each latent seed: how far they
    move with the samples drawn alone, the yardstick for differences between runs."""
    rows = [{"seed": seed, **scorer.evaluate_generator(G, n=my_gan.EVAL_SAMPLES, seed=seed)} for seed in range(seeds)]
    spread = {key: {"min": min(r[key] for r in rows), "max": max(r[key] for r in rows),
                    "mean": statistics.mean(r[key] for r in rows), "std": statistics.stdev(r[key] for r in rows)}
              for key in SCORES}
    return {"generator": "checkpoints/generator_end.pt", "eval_samples": my_gan.EVAL_SAMPLES, "seeds": rows,
            "spread": spread}


def collect(runs, machine, data_root=DEFAULT_ROOT):
    """Bring finished runs (name -> folder) into results/, figures/ and (final) checkpoints/."""
    logs = {name: read_json(folder / "log.json") for name, folder in runs.items()}  # all checked first
    for name, log in logs.items():
        if not log["evaluations"]:
            raise ValueError(f"{runs[name]} has no scores (trained with --eval_interval 0)")
        if log["evaluations"][-1]["step"] != log["config"]["n_epochs"] * log["steps_per_epoch"]:
            raise ValueError(f"{runs[name]} stopped before its --n_epochs {log['config']['n_epochs']}")
    for stage in ("start", "middle", "end") if FINAL in runs else ():
        if not (runs[FINAL] / f"generator_{stage}.pt").is_file():
            raise ValueError(f"{runs[FINAL]} has no generator_{stage}.pt")
    scorer = Scorer(prepare_mnist(data_root))
    write_json(RESULTS / "real_baseline.json", scorer.real_data_baseline(n=my_gan.EVAL_SAMPLES))
    rows = read_runs(RESULTS / "runs.csv") if (RESULTS / "runs.csv").is_file() else []
    (FIGURES / "training_grids").mkdir(parents=True, exist_ok=True)
    for name, folder in runs.items():
        write_json(RESULTS / f"gan_{name}.json", logs[name])
        # A run made again on the same machine replaces its row; any other run is kept.
        rows = [row for row in rows if (row["run"], row["machine"]) != (name, machine)]
        rows.append(summary_of(name, logs[name], machine))
        for step in (*GRID_STEPS, logs[name]["evaluations"][-1]["step"]) if name in GRID_RUNS else ():
            grid = folder / "samples" / f"step_{step:07d}.png"
            if grid.is_file():
                copy(grid, FIGURES / "training_grids" / f"{name}_step_{step:07d}.png")
        if name == FINAL:
            for stage in ("start", "middle", "end"):
                copy(folder / f"generator_{stage}.pt", CHECKPOINTS / f"generator_{stage}.pt")
            write_json(RESULTS / "gan_seed_spread.json",
                       seed_spread(my_gan.load_generator(CHECKPOINTS / "generator_end.pt"), scorer))
    write_runs(rows, RESULTS / "runs.csv")


def evaluation_at(log, epoch=None, cpu_minutes=None):
    """The last evaluation at or before `epoch`, or within `cpu_minutes` of training."""
    rows = [row for row in log["evaluations"]
            if (epoch is None or row["epoch"] <= epoch)
            and (cpu_minutes is None or row["train_cpu_seconds"] <= 60 * cpu_minutes)]
    return rows[-1]


def cpu_budget(logs):
    """The equal-CPU comparison point: the training time of the cheapest run."""
    return min(log["evaluations"][-1]["train_cpu_seconds"] for log in logs.values()) / 60


def ablation_table(logs, baseline, final=None):
    """The ablation as a markdown table: each run's change, its scores at equal epochs and at equal
    CPU minutes, and (if given) the final recipe's full-length run and real data below it."""
    budget, epochs = cpu_budget(logs), COMPARE_AT_EPOCHS
    lines = ["| run | change | " + " | ".join(f"IS, epoch {e}" for e in epochs)
             + f" | FID, epoch {epochs[-1]} | p > 0.9, epoch {epochs[-1]} | digit shares, epoch {epochs[-1]} "
             f"| CPU min per epoch | IS at {budget:.1f} CPU min | FID at {budget:.1f} CPU min |",
             "|---|---|" + "---|" * (len(epochs) + 6)]
    based_on = dict(zip(ABLATION[1:], ABLATION)) | {DCGAN: ABLATION[0]}  # the run each one changes

    def end_scores(row):
        return f"{row['fid']:.2f} | {row['confident']:.1%} | {row['class_min']:.1%}-{row['class_max']:.1%}"

    def by_epoch(log):  # IS at each of `epochs`, the other scores at the last; "-" past the run's end
        rows = [evaluation_at(log, epoch=e) if log["evaluations"][-1]["epoch"] >= e else None for e in epochs]
        return " | ".join([f"{row['inception_score']:.2f}" if row else "-" for row in rows]
                          + [end_scores(rows[-1]) if rows[-1] else "- | - | -"])

    for name, log in logs.items():
        last, cheap = log["evaluations"][-1], evaluation_at(log, cpu_minutes=budget)
        change = (changes(log["config"], logs[based_on[name]]["config"]) if name in based_on
                  else "the assignment's template")
        lines.append(f"| {name} | {change} | {by_epoch(log)} | {last['train_cpu_seconds'] / 60 / last['epoch']:.2f} "
                     f"| {cheap['inception_score']:.2f} | {cheap['fid']:.2f} |")
    if final is not None:  # trained on another machine: its CPU minutes do not compare
        lines.append(f"| {FINAL} | the row `{ABLATION[-1]}`'s recipe, to {final['evaluations'][-1]['epoch']:g} epochs "
                     f"| {by_epoch(final)} | | | |")
    lines.append("| real data | 10,000 training images | " + " | " * (len(epochs) - 1)
                 + f"{baseline['inception_score']:.2f} | {end_scores(baseline)} | | | |")
    return "\n".join(lines) + "\n"


STYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))
MARKERS = ("o", "s", "^", "D", "v", "x")


def plot_scores(logs, baseline, path=None):
    """FID over epochs and over CPU minutes of training, one line style and marker per run."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    for (name, log), style, marker in zip(logs.items(), STYLES, MARKERS):
        rows = log["evaluations"][1:]  # step 0 is an untrained G
        fid = [r["fid"] for r in rows]
        for ax, x in zip(axes, ([r["epoch"] for r in rows], [r["train_cpu_seconds"] / 60 for r in rows])):
            ax.plot(x, fid, ls=style, marker=marker, markevery=5, ms=5, lw=1.4, label=name)
    for ax, xlabel in zip(axes, ("epoch", "CPU minutes of training (one thread)")):
        ax.axhline(baseline["fid"], color="gray", lw=0.8)
        ax.annotate("real data", (1, baseline["fid"]), xycoords=("axes fraction", "data"), ha="right",
                    va="bottom", color="gray", fontsize=9)
        ax.set(xlabel=xlabel, yscale="log")
        ax.grid(alpha=0.3)
    axes[0].set(ylabel="FID (lower is better)", title="FID against epochs")
    axes[1].set(title="FID against CPU time")
    axes[0].legend(fontsize=9, loc="upper right")
    return save_figure(fig, path)


def plot_losses(logs, path=None):
    """D's loss and G's non-saturating loss over training, one panel per run."""
    fig = Figure(figsize=(11, 3.5), layout="constrained")
    for ax, (name, log) in zip(fig.subplots(1, len(logs), squeeze=False)[0], logs.items()):
        epochs = [row["step"] / log["steps_per_epoch"] for row in log["losses"]]
        ax.plot(epochs, [row["loss_d"] for row in log["losses"]], lw=0.8, label="D: -log D(x) - log(1 - D(G(z)))")
        ax.plot(epochs, [row["loss_g"] for row in log["losses"]], lw=0.8, ls="--", label="G: -log D(G(z))")
        ax.set(title=name, xlabel="epoch", ylabel="loss (mean of 100 batches)")
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_training_grids(runs=GRID_RUNS, path=None):
    """The kept 5x5 grids of one fixed latent batch while each run trained, a row per run."""
    grids = {run: sorted((FIGURES / "training_grids").glob(f"{run}_step_*.png")) for run in runs}
    columns = max(len(paths) for paths in grids.values())
    fig = Figure(figsize=(2.1 * columns, 2.45 * len(runs)), layout="constrained")
    for row, (run, paths) in zip(fig.subplots(len(runs), columns, squeeze=False), grids.items()):
        for ax in row:
            ax.axis("off")
        for ax, grid in zip(row, paths):
            ax.imshow(imread(grid), cmap="gray", interpolation="nearest")
            ax.set_title(f"{run}, step {int(grid.stem.rsplit('_', 1)[1]):,}", fontsize=9)
    return save_figure(fig, path)


def plot_samples(path=None, seed=0):
    """25 samples of the committed start, middle and end generators from one latent batch."""
    fig = Figure(figsize=(13, 4.6), layout="constrained")
    for ax, stage in zip(fig.subplots(1, 3), ("start", "middle", "end")):
        G = my_gan.load_generator(CHECKPOINTS / f"generator_{stage}.pt")
        step = torch.load(CHECKPOINTS / f"generator_{stage}.pt", weights_only=True)["step"]
        with torch.no_grad():
            images = G(torch.randn(25, G.latent_dim, generator=torch.Generator().manual_seed(seed)))
        grid = make_grid(images, nrow=5, normalize=True, value_range=(-1, 1), pad_value=1)
        ax.imshow(grid.permute(1, 2, 0), interpolation="nearest")
        ax.set_title(f"{stage} (after {step:,} generator updates)")
        ax.axis("off")
    return save_figure(fig, path)


def plot_interpolation(path=None, digits=None, seed=0, steps=9):
    """Linear and spherical walks of the end generator between two confidently different digits."""
    G, classifier = my_gan.load_generator(CHECKPOINTS / "generator_end.pt"), load_classifier()
    z_a, z_b, _ = find_latent_pair(G, classifier, digits, seed=seed)
    fig = Figure(figsize=(1.6 * steps, 4.4), layout="constrained")
    axes = fig.subplots(2, steps)
    plot_strip(G, classifier, lerp(z_a, z_b, steps), "linear", axes[0])
    plot_strip(G, classifier, slerp(z_a, z_b, steps), "spherical", axes[1])
    return save_figure(fig, path)


def read_logs():
    """The ablation's logs in table order (DCGAN last) and the final run's log."""
    logs = {name: read_json(RESULTS / f"gan_{name}.json") for name in (*ABLATION, DCGAN)}
    return logs, read_json(RESULTS / f"gan_{FINAL}.json")


def figures():
    """The ablation table and every figure, from committed results and checkpoints."""
    logs, final = read_logs()
    baseline = read_json(RESULTS / "real_baseline.json")
    table = ablation_table(logs, baseline, final)
    atomic_save(RESULTS / "gan_ablation.md", lambda tmp: tmp.write_text(table))
    plot_scores(logs, baseline, FIGURES / "gan_scores.png")
    plot_losses({"template": logs["template"], FINAL: final}, FIGURES / "gan_losses.png")
    plot_training_grids(path=FIGURES / "training_grids.png")
    plot_samples(FIGURES / "samples_start_middle_end.png")
    plot_interpolation(FIGURES / "interpolation.png")
    return table


def parse_run(text):
    name, _, folder = text.partition("=")
    if not name or not Path(folder, "log.json").is_file():
        raise argparse.ArgumentTypeError(f"expected NAME=FOLDER with FOLDER/log.json, got {text!r}")
    return name, Path(folder)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    collect_parser = commands.add_parser("collect", help="bring finished runs into results/")
    collect_parser.add_argument("runs", type=parse_run, nargs="+", help="NAME=FOLDER of a finished my_gan.py run")
    collect_parser.add_argument("--machine", default=platform.node(), help="where the runs were timed")
    commands.add_parser("figures", help="redraw the table and figures from committed files")
    args = parser.parse_args(argv)
    if args.command == "collect":
        try:
            collect(dict(args.runs), args.machine)
        except (MnistUnavailable, ValueError, KeyError, OSError) as error:
            parser.error(str(error).splitlines()[0])
    print(figures(), end="")


if __name__ == "__main__":
    main()

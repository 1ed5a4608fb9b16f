"""Part 2's results: finished runs collected into results/, the ablation table and the figures.

    python Part2/gan_report.py collect template=Part2/runs/template shipped=Part2/runs/shipped
    python Part2/gan_report.py figures

`collect` copies each run's log.json to results/gan_NAME.json, writes its one-line summary into
results/runs.csv (every run ever made, kept as data), keeps a few of its sample grids and scores
real training images as the baseline; for the run named `shipped` it also copies the generators
to checkpoints/ and scores the end generator on five latent seeds. `figures` redraws the ladder
table and every figure from committed files alone: no data, no training.
"""

import argparse
import csv
import json
import platform
import shutil
import statistics
from pathlib import Path

from mnist_data import DEFAULT_ROOT, MnistUnavailable, atomic_save, prepare_mnist
import my_gan
from my_gan import PLACE_FLAGS, load_generator, parse_args

HERE = Path(__file__).resolve().parent
RESULTS, FIGURES, CHECKPOINTS = HERE / "results", HERE / "figures", HERE / "checkpoints"
# The ablation ladder: each run adds one change to the run above it; the DCGAN stands apart.
LADDER = ("template", "ema", "batch256", "mbstd", "ema9999", "shipped", "dcgan")
COMPARE_AT_EPOCH = 30  # the template's length
GRID_STEPS = (0, 500, 1000, 2000, 5000, 10000)
SCORES = ("inception_score", "fid", "confident", "class_min", "class_max")
# Flags that say how a run was kept or where it ran, not what was trained.
NOT_THE_RECIPE = (*PLACE_FLAGS, "out_dir", "save_interval", "eval_interval")


def label_of(config, base=None):
    """The flags in which `config` differs from `base` (my_gan.py's defaults): 'template' if none.
    Only the keys of `base` count: against the defaults, settings that older logs hold and today's
    script no longer has are left out."""
    base = vars(parse_args([])[1]) if base is None else base
    changed = [key for key in base if key not in NOT_THE_RECIPE and key in config and config[key] != base[key]]
    return " ".join(f"--{key}" if config[key] is True else f"--{key} {config[key]:g}"
                    if isinstance(config[key], float) else f"--{key} {config[key]}" for key in changed) or "template"


def write_json(obj, path):
    atomic_save(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=1) + "\n"))


def copy(source, target):
    atomic_save(target, lambda tmp: shutil.copyfile(source, tmp))


def save_figure(fig, path):
    if path is not None:
        atomic_save(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    return fig


def read_json(path):
    return json.loads(Path(path).read_text())


def summary_of(name, log, machine, base=None):
    """One row of runs.csv: a run's recipe, length, cost and final scores."""
    final = log["evaluations"][-1]
    return {"run": name, "flags": label_of(log["config"], base), "epochs": round(final["epoch"], 2),
            "cpu_minutes": round(final["train_cpu_seconds"] / 60, 1),
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
    """Bring finished runs (name -> folder) into results/, figures/ and (shipped) checkpoints/."""
    from gan_metrics import Scorer

    logs = {name: read_json(folder / "log.json") for name, folder in runs.items()}  # all checked first
    for name, log in logs.items():
        if not log["evaluations"]:
            raise ValueError(f"{runs[name]} has no scores (trained with --eval_interval 0)")
    for stage in ("start", "middle", "end") if "shipped" in runs else ():
        if not (runs["shipped"] / f"generator_{stage}.pt").is_file():
            raise ValueError(f"{runs['shipped']} has no generator_{stage}.pt")
    scorer = Scorer(prepare_mnist(data_root))
    write_json(scorer.real_data_baseline(n=my_gan.EVAL_SAMPLES), RESULTS / "real_baseline.json")
    table = {row["run"]: row for row in read_runs(RESULTS / "runs.csv")} if (RESULTS / "runs.csv").is_file() else {}
    (FIGURES / "training_grids").mkdir(parents=True, exist_ok=True)
    for name, folder in runs.items():
        write_json(logs[name], RESULTS / f"gan_{name}.json")
        table[name] = summary_of(name, logs[name], machine)
        for step in (*GRID_STEPS, logs[name]["evaluations"][-1]["step"]):
            if (folder / "samples" / f"step_{step:07d}.png").is_file():
                copy(folder / "samples" / f"step_{step:07d}.png", FIGURES / "training_grids" / f"{name}_step_{step:07d}.png")
        if name == "shipped":
            for stage in ("start", "middle", "end"):
                copy(folder / f"generator_{stage}.pt", CHECKPOINTS / f"generator_{stage}.pt")
            write_json(seed_spread(load_generator(CHECKPOINTS / "generator_end.pt"), scorer),
                       RESULTS / "gan_seed_spread.json")
    write_runs(list(table.values()), RESULTS / "runs.csv")


def score_at(log, epoch):
    """The Inception Score of the evaluation at `epoch`, or None if the run was not scored there."""
    return next((row["inception_score"] for row in log["evaluations"] if row["epoch"] == epoch), None)


def ladder_table(logs, runs, baseline):
    """The ablation ladder as a markdown table: each rung's change, its scores and its cost."""
    lines = [f"| run | adds to the row above | epochs | IS at {COMPARE_AT_EPOCH} | IS | FID | p > 0.9 | classes "
             "| CPU min | machine |", "|---|---|---|---|---|---|---|---|---|---|"]
    previous = vars(parse_args([])[1])
    for name, log in logs.items():
        row, config = runs[name], log["config"]
        at = score_at(log, COMPARE_AT_EPOCH)
        adds = label_of(config, previous) if name != "dcgan" else label_of(config)
        lines.append(f"| {name} | {adds} | {float(row['epochs']):g} | {'-' if at is None else f'{at:.2f}'} "
                     f"| {float(row['inception_score']):.2f} | {float(row['fid']):.2f} "
                     f"| {float(row['confident']):.1%} | {float(row['class_min']):.1%}-{float(row['class_max']):.1%} "
                     f"| {float(row['cpu_minutes']):.1f} | {row['machine']} |")
        # Each rung is read against all the rungs above it, older logs' own flags included: the
        # mbstd run also switched on the EMA's warm-up, then a flag of its own (built into --ema now).
        previous = {**previous, **config} if name != "dcgan" else previous
    b = baseline
    lines.append(f"| real data | training images | | | {b['inception_score']:.2f} | {b['fid']:.2f} "
                 f"| {b['confident']:.1%} | {b['class_min']:.1%}-{b['class_max']:.1%} | | |")
    return "\n".join(lines) + "\n"


def plot_scores(logs, baseline, path=None):
    """Inception Score and FID over epochs for the MLP rungs of the ladder."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    for name, log in logs.items():
        rows = log["evaluations"][1:]  # step 0 is an untrained G
        for ax, key in zip(axes, ("inception_score", "fid")):
            ax.plot([r["epoch"] for r in rows], [r[key] for r in rows], label=name, lw=2 if name == "shipped" else 1)
    for ax, key, title in zip(axes, ("inception_score", "fid"), ("Inception Score", "FID (log scale)")):
        ax.axhline(baseline[key], color="gray", ls=":")
        ax.annotate("real data", (1, baseline[key]), xycoords=("axes fraction", "data"), ha="right",
                    va="bottom", color="gray", fontsize=8)
        ax.set(title=title, xlabel="epoch")
    axes[0].set_ylim(6, 10)
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)


def plot_losses(logs, path=None):
    """D's loss and G's non-saturating loss over training, one panel per run."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 3.5), layout="constrained")
    for ax, (name, log) in zip(fig.subplots(1, len(logs), squeeze=False)[0], logs.items()):
        epochs = [row["step"] / log["steps_per_epoch"] for row in log["losses"]]
        ax.plot(epochs, [row["loss_d"] for row in log["losses"]], lw=0.8, label="D: -log D(x) - log(1 - D(G(z)))")
        ax.plot(epochs, [row["loss_g"] for row in log["losses"]], lw=0.8, label="G: -log D(G(z))")
        ax.set(title=name, xlabel="epoch", ylabel="loss (mean of 100 batches)")
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_samples(path=None, seed=0):
    """25 samples of the committed start, middle and end generators from one latent batch."""
    import torch
    from matplotlib.figure import Figure
    from torchvision.utils import make_grid

    fig = Figure(figsize=(13, 4.6), layout="constrained")
    for ax, stage in zip(fig.subplots(1, 3), ("start", "middle", "end")):
        G = load_generator(CHECKPOINTS / f"generator_{stage}.pt")
        step = torch.load(CHECKPOINTS / f"generator_{stage}.pt", weights_only=True)["step"]
        with torch.no_grad():
            images = G(torch.randn(25, G.latent_dim, generator=torch.Generator().manual_seed(seed)))
        grid = make_grid(images, nrow=5, normalize=True, value_range=(-1, 1), pad_value=1)
        ax.imshow(grid.permute(1, 2, 0), interpolation="nearest")
        ax.set_title(f"{stage} (after {step} generator updates)")
        ax.axis("off")
    return save_figure(fig, path)


def plot_interpolation(path, digits=None, seed=0, steps=9):
    """Linear and spherical walks of the end generator between two confidently different digits."""
    from matplotlib.figure import Figure

    from latent_walk import find_latent_pair, lerp, plot_strip, slerp
    from mnist_classifier import load_classifier

    G, classifier = load_generator(CHECKPOINTS / "generator_end.pt"), load_classifier()
    z_a, z_b, _ = find_latent_pair(G, classifier, digits, seed=seed)
    fig = Figure(figsize=(1.6 * steps, 4.4), layout="constrained")
    axes = fig.subplots(2, steps)
    plot_strip(G, classifier, lerp(z_a, z_b, steps), "linear", axes[0])
    plot_strip(G, classifier, slerp(z_a, z_b, steps), "spherical", axes[1])
    return save_figure(fig, path)


def figures():
    """The ladder table and every figure, from committed results and checkpoints."""
    logs = {name: read_json(RESULTS / f"gan_{name}.json") for name in LADDER}
    runs = {row["run"]: row for row in read_runs(RESULTS / "runs.csv")}
    baseline = read_json(RESULTS / "real_baseline.json")
    table = ladder_table(logs, runs, baseline)
    atomic_save(RESULTS / "gan_ladder.md", lambda tmp: tmp.write_text(table))
    plot_scores({name: log for name, log in logs.items() if name != "dcgan"}, baseline,
                FIGURES / "gan_scores.png")
    plot_losses({name: logs[name] for name in ("template", "shipped")}, FIGURES / "gan_losses.png")
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

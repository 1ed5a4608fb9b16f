"""Results of the GAN runs: collect them from training folders, compare them, draw them.

    python Part2/gan_report.py collect --run mlp=Part2/runs/mlp --run dcgan=Part2/runs/dcgan --chosen dcgan
    python Part2/gan_report.py figures
    python Part2/gan_report.py spread
    python Part2/gan_report.py ranking --run NAME=Part2/runs/NAME

`collect` copies each run's log.json to results/gan_<name>.json and a few of its sample grids
to figures/training_grids/, copies the chosen run's generator_{start,middle,end}.pt to
checkpoints/, scores real MNIST training images against the test set as a baseline, and
writes results/gan_comparison.json (final scores, time to reach the template's quality,
targets met). `figures` redraws every figure from those committed JSON files alone,
without data, checkpoints or retraining. `spread` scores the committed end generator on
samples from several latent seeds and writes results/gan_seed_spread.json. `ranking` splits
batches of a run's last samples by D's rating and writes the digits of each half to
results/gan_d_ranking.json.
"""

import argparse
import json
import os
import shutil
import statistics
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FIGURES = HERE / "figures"
CHECKPOINTS = HERE / "checkpoints"

# The quality the template MLP reaches after 30 epochs, and the bars for the chosen model.
REFERENCE_IS = 8.2
TARGETS = {"inception_score_min": 9.3, "confident_min": 0.93, "class_min": 0.08, "class_max": 0.12,
           "fid_max_times_baseline": 5.0, "train_cpu_minutes_max": 60.0}
GRID_STEPS = (0, 500, 1000, 2000, 5000, 10000)
DEFAULT_LR, DEFAULT_BATCH_SIZE = 2e-4, 64  # my_gan.py's defaults; other values are named in labels
DEFAULT_BETAS = (0.5, 0.999)


def write_json(obj, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def first_reaching(evaluations, inception_score):
    """The first evaluation whose Inception Score reaches the given value, or None."""
    return next((row for row in evaluations if row["inception_score"] >= inception_score), None)


def summarize(log, baseline):
    """Final scores of one run, its cost, and whether each target is met."""
    final = log["evaluations"][-1]
    reached = first_reaching(log["evaluations"], REFERENCE_IS)
    summary = {
        "arch": log["config"]["arch"],
        "ema": log["config"]["ema"],
        "lr": log["config"].get("lr", DEFAULT_LR),
        "batch_size": log["config"].get("batch_size", DEFAULT_BATCH_SIZE),
        "width": log["config"].get("width", 1),
        "spectral_norm": log["config"].get("spectral_norm", False),
        **{key: log["config"][key] for key in ("d_arch", "d_width", "mbstd", "d_dropout", "ema_warmup",
                                                   "ema_warmup_k", "lr_decay", "lr_d", "r1", "r1_interval",
                                                   "r1_epochs", "topk", "beta1", "beta2")
           if key in log["config"]},
        "n_epochs_planned": log["config"]["n_epochs"],
        "epochs": final["epoch"],
        "steps": final["step"],
        "completed": final["step"] == log["config"]["n_epochs"] * log["steps_per_epoch"],
        "train_cpu_minutes": final["train_cpu_seconds"] / 60,
        "final": {k: final[k] for k in ("inception_score", "fid", "confident", "class_min",
                                        "class_max", "class_fractions")},
        "fid_times_baseline": final["fid"] / baseline["fid"],
        f"cpu_minutes_to_is_{REFERENCE_IS}": reached and reached["train_cpu_seconds"] / 60,
        f"step_to_is_{REFERENCE_IS}": reached and reached["step"],
    }
    summary["targets_met"] = {
        "inception_score": final["inception_score"] >= TARGETS["inception_score_min"],
        "confident": final["confident"] >= TARGETS["confident_min"],
        "class_balance": TARGETS["class_min"] <= final["class_min"] and final["class_max"] <= TARGETS["class_max"],
        "fid": summary["fid_times_baseline"] <= TARGETS["fid_max_times_baseline"],
        "cpu_budget": summary["train_cpu_minutes"] <= TARGETS["train_cpu_minutes_max"],
    }
    if "raw" in final:  # with --ema: the same scores for the raw (non-averaged) generator
        raw_reached = next((row for row in log["evaluations"]
                            if row["raw"]["inception_score"] >= REFERENCE_IS), None)
        summary["raw_generator"] = {
            "final": {k: final["raw"][k] for k in ("inception_score", "fid", "confident",
                                                   "class_min", "class_max")},
            f"cpu_minutes_to_is_{REFERENCE_IS}": raw_reached and raw_reached["train_cpu_seconds"] / 60,
        }
    return summary


SPREAD_KEYS = ("inception_score", "fid", "confident", "class_min", "class_max")


def seed_spread(seeds=5, eval_samples=10000):
    """The end generator's scores on `eval_samples` samples from each latent seed 0..seeds-1:
    how far the scores of one generator move with the samples drawn, the yardstick for the
    small differences between runs (each run's log scores the samples of seed 0)."""
    from gan_metrics import Scorer
    from mnist_data import DEFAULT_ROOT, prepare_mnist
    from my_gan import load_generator

    G = load_generator(CHECKPOINTS / "generator_end.pt")
    scorer = Scorer(prepare_mnist(DEFAULT_ROOT))
    rows = [{"seed": seed, **scorer.evaluate_generator(G, n=eval_samples, seed=seed)}
            for seed in range(seeds)]
    spread = {key: {"min": min(row[key] for row in rows), "max": max(row[key] for row in rows),
                    "mean": statistics.mean(row[key] for row in rows),
                    "std": statistics.stdev(row[key] for row in rows)}
              for key in SPREAD_KEYS}
    result = {"generator": "checkpoints/generator_end.pt", "eval_samples": eval_samples,
              "seeds": rows, "spread": spread}
    write_json(result, RESULTS / "gan_seed_spread.json")
    return result


def split_by_d(G, D, classify, batch_size, batches, latent_dim, seed=0):
    """The digits of the half of each batch of G's samples that D rates most real, and of the
    other half: the fractions of each digit in both, over `batches` batches. `classify` maps
    images to labels. This is the split the top-k update (my_gan.py --topk 0.5) trains G on."""
    import torch

    torch.manual_seed(seed)
    counts = {"top_half": torch.zeros(10), "bottom_half": torch.zeros(10)}
    with torch.no_grad():
        for _ in range(batches):
            images = G(torch.randn(batch_size, latent_dim))
            top = torch.zeros(batch_size, dtype=torch.bool)
            top[D.logits(images).squeeze(1).topk(batch_size // 2).indices] = True
            labels = classify(images)
            counts["top_half"] += torch.bincount(labels[top], minlength=10)
            counts["bottom_half"] += torch.bincount(labels[~top], minlength=10)
    return {half: (count / count.sum()).tolist() for half, count in counts.items()}


def d_ranking(runs, batches=40):
    """Which digits D rates most real at the end of each run: its last G (not the average) and
    D from latest.pt, both in training mode as in G's step, on batches of the run's size.
    Added to results/gan_d_ranking.json, keeping the runs measured before."""
    from mnist_classifier import classify, load_classifier
    from my_gan import OLDER_DEFAULTS, Generator, discriminator_of, read_training_checkpoint

    classifier = load_classifier()
    path = RESULTS / "gan_d_ranking.json"
    result = json.loads(path.read_text()) if path.is_file() else {}
    for name, folder in runs:
        state = read_training_checkpoint(Path(folder) / "latest.pt")
        config = argparse.Namespace(**{**OLDER_DEFAULTS, **state["config"]})
        G = Generator(config.latent_dim, config.arch, config.width)
        G.load_state_dict(state["G"])
        D = discriminator_of(config)
        D.load_state_dict(state["D"])
        halves = split_by_d(G.train(), D.train(), lambda images: classify(images, classifier)[0],
                            config.batch_size, batches, config.latent_dim)
        result[name] = {"step": state["step"], "batch_size": config.batch_size, "batches": batches, **halves}
    write_json(result, path)
    return result


def parse_checkpoint_run(text):
    name, sep, folder = text.partition("=")
    if not sep or not name or not Path(folder, "latest.pt").is_file():
        raise argparse.ArgumentTypeError(f"expected NAME=FOLDER with FOLDER/latest.pt, got {text!r}")
    return name, Path(folder)


def template_of(summary):
    """The template run a run was timed against; runs collected before this was recorded were
    all timed against the run named mlp."""
    return summary.get("template", "mlp")


def collect(runs, chosen, template="mlp", eval_samples=10000):
    """Copy run logs, grids and the chosen run's generators into the repository; compare these
    runs and those collected before (whose logs are already in results/).

    `template` names the run of the template MLP among `runs`, timed on the same machine: their
    CPU minutes are compared with its minutes only, as CPU time is not comparable across
    machines. Runs collected before keep the template they were compared with. Everything is
    read and checked before anything is written.
    """
    from gan_metrics import Scorer  # needs MNIST and the classifier; `figures` does not
    from mnist_data import DEFAULT_ROOT, prepare_mnist

    folders = dict(runs)
    if template not in folders:
        raise ValueError(f"--template {template} is not one of the --run names; the template run is "
                         f"collected with the runs timed beside it")
    logs, templates = {}, {}
    if (RESULTS / "gan_comparison.json").is_file():
        logs = load_runs()
        previous = json.loads((RESULTS / "gan_comparison.json").read_text())["runs"]
        templates = {name: template_of(summary) for name, summary in previous.items()}
    for name, folder in folders.items():
        logs[name] = json.loads((folder / "log.json").read_text())
        templates[name] = template
    if chosen not in logs:
        raise ValueError(f"--chosen {chosen} is neither a --run name nor a run collected before")
    if chosen in folders:
        missing = [stage for stage in ("start", "middle", "end")
                   if not (folders[chosen] / f"generator_{stage}.pt").is_file()]
        if missing:
            raise ValueError(f"{folders[chosen]} has no generator_{missing[0]}.pt")

    baseline = Scorer(prepare_mnist(DEFAULT_ROOT)).real_data_baseline(n=eval_samples)
    comparison = {"reference_inception_score": REFERENCE_IS, "targets": TARGETS,
                  "real_baseline": baseline, "chosen": chosen,
                  "runs": {name: {**summarize(log, baseline), "template": templates[name]}
                           for name, log in logs.items()}}
    # "Time to the template's quality": the template's own final score under this project's
    # classifier is the bar, and its CPU time to get there the yardstick.
    for name, summary in comparison["runs"].items():
        reference = comparison["runs"][summary["template"]]
        summary["template_final_inception_score"] = bar = reference["final"]["inception_score"]
        reached = first_reaching(logs[name]["evaluations"], bar)
        summary["cpu_minutes_to_template_final_is"] = reached and reached["train_cpu_seconds"] / 60
    for summary in comparison["runs"].values():
        reference = comparison["runs"][summary["template"]]
        for key in (f"cpu_minutes_to_is_{REFERENCE_IS}", "cpu_minutes_to_template_final_is"):
            if reference[key] and summary[key]:
                summary[key.replace("cpu_minutes", "time") + "_vs_template"] = summary[key] / reference[key]

    write_json(baseline, RESULTS / "real_baseline.json")
    grids = FIGURES / "training_grids"
    grids.mkdir(parents=True, exist_ok=True)
    for name, folder in folders.items():
        write_json(logs[name], RESULTS / f"gan_{name}.json")
        for step in (*GRID_STEPS, logs[name]["evaluations"][-1]["step"]):
            source = folder / "samples" / f"step_{step:07d}.png"
            if source.is_file():
                shutil.copyfile(source, grids / f"{name}_step_{step:07d}.png")
    if chosen in folders:
        for stage in ("start", "middle", "end"):
            shutil.copyfile(folders[chosen] / f"generator_{stage}.pt", CHECKPOINTS / f"generator_{stage}.pt")
    write_json(comparison, RESULTS / "gan_comparison.json")
    return comparison


def load_runs():
    """Every collected run log, by name, in the order they were collected."""
    comparison = json.loads((RESULTS / "gan_comparison.json").read_text())
    return {name: json.loads((RESULTS / f"gan_{name}.json").read_text()) for name in comparison["runs"]}


def arch_name(arch):
    return {"mlp": "template MLP", "conv": "small conv"}.get(arch, arch.upper())


def label_of(log):
    """'template MLP', 'DCGAN + EMA 0.999', 'DCGAN x2 + EMA 0.999, lr 0.0004',
    'template MLP + EMA 0.999 (warm-up), lr 0.0004 decayed, batch 256', ..."""
    config = log["config"]
    arch, d_arch = config["arch"], config.get("d_arch") or config["arch"]
    width, d_width = config.get("width", 1), config.get("d_width")
    label = arch_name(arch)
    if d_arch != arch:  # 'DCGAN G, template MLP D x2'
        label += " G" + (f" x{width}" if width != 1 else "") + f", {arch_name(d_arch)} D"
        d_width = width if d_width is None else d_width
        label += f" x{d_width}" if d_width != 1 else ""
    elif d_width is not None and d_width != width:
        label += f" x{width} (D x{d_width})"
    elif width != 1:
        label += f" x{width}"
    label += " + spectral norm" if config.get("spectral_norm") else ""
    label += " + minibatch std" if config.get("mbstd") else ""
    label += f" + dropout {config['d_dropout']:g} in D" if config.get("d_dropout") else ""
    if config.get("r1"):
        interval = config.get("r1_interval", 1)
        label += f" + R1 {config['r1']:g}" + (f" every {interval} steps" if interval != 1 else "")
        label += f" for {config['r1_epochs']} epochs" if config.get("r1_epochs") else ""
    topk = config.get("topk", 1.0)
    label += f" + top-k G update (down to {topk:g})" if topk < 1 else ""
    label += f" + EMA {config['ema']}" if config["ema"] else ""
    if config.get("ema_warmup"):
        k = config.get("ema_warmup_k", 10)
        label += " (warm-up)" if k == 10 else f" (warm-up, mean age n/{k})"
    lr, lr_d = config.get("lr", DEFAULT_LR), config.get("lr_d")
    lr_d = None if lr_d == lr else lr_d
    label += f", lr {lr:g}" if lr != DEFAULT_LR or lr_d is not None else ""
    label += f" (D {lr_d:g})" if lr_d is not None else ""
    label += " decayed" if config.get("lr_decay") else ""
    betas = (config.get("beta1", DEFAULT_BETAS[0]), config.get("beta2", DEFAULT_BETAS[1]))
    label += f", Adam betas ({betas[0]:g}, {betas[1]:g})" if betas != DEFAULT_BETAS else ""
    batch_size = config.get("batch_size", DEFAULT_BATCH_SIZE)
    return label + (f", batch {batch_size}" if batch_size != DEFAULT_BATCH_SIZE else "")


def timed_with(comparison, runs, template):
    """The runs whose CPU minutes were compared with `template`'s: timed on one machine."""
    return {name: log for name, log in runs.items() if template_of(comparison["runs"][name]) == template}


def plot_metrics(runs, baseline, path=None, highlight=("mlp",)):
    """IS, FID, confident share and class range over training CPU minutes, one line per run;
    the runs named in `highlight` (the template, the chosen run) drawn bold."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    # The legend goes under the panels, where long run labels do not cover the curves: a tenth
    # of an inch per entry, one per run and one each for the real-data and IS 8.2 lines.
    fig = Figure(figsize=(12, 8 + 0.1 * (len(runs) + 2)), layout="constrained")
    axes = fig.subplots(2, 2)
    panels = [("inception_score", "Inception Score", axes[0, 0]), ("fid", "FID (log scale)", axes[0, 1]),
              ("confident", "share with p > 0.9", axes[1, 0]), ("class_min", "class share", axes[1, 1])]
    # One colour per run across the panels: matplotlib's ten colours, their lighter shades, then
    # tab20b's twenty, so up to 40 runs are told apart.
    palette = (colormaps["tab20"].colors[0::2] + colormaps["tab20"].colors[1::2]
               + colormaps["tab20b"].colors[0::2] + colormaps["tab20b"].colors[1::2])
    for i, (name, log) in enumerate(runs.items()):
        color = palette[i % len(palette)]
        rows = log["evaluations"][1:]  # skip step 0: an untrained G
        minutes = [row["train_cpu_seconds"] / 60 for row in rows]
        style = {"lw": 2.2} if name in highlight else {"lw": 1, "alpha": 0.55}
        for key, title, ax in panels:
            ax.plot(minutes, [row[key] for row in rows], color=color, label=f"{name}: {label_of(log)}", **style)
            if key == "class_min":
                ax.plot(minutes, [row["class_max"] for row in rows], color=color, ls="--", **style)
    for key, title, ax in panels:
        ax.set_title(title)
        ax.set_xlabel("training CPU minutes (1 thread)")
        if key != "class_min":
            ax.axhline(baseline[key], color="gray", ls=":", label="real data")
    axes[0, 0].axhline(REFERENCE_IS, color="black", lw=0.8, ls="-.", label=f"IS {REFERENCE_IS}")
    axes[0, 1].set_yscale("log")
    axes[1, 1].set_title("smallest (solid) and largest (dashed) class share")
    axes[1, 1].axhspan(TARGETS["class_min"], TARGETS["class_max"], color="green", alpha=0.1)
    axes[1, 1].set_ylim(0, 0.3)  # the first evaluations (one class only) are off the top
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", fontsize=7)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def plot_losses(runs, path=None):
    """Discriminator and generator losses of each run over its generator updates."""
    from matplotlib.figure import Figure

    columns = min(len(runs), 4)
    rows = -(-len(runs) // columns)
    fig = Figure(figsize=(4 * columns, 3.3 * rows), tight_layout=True)
    axes = fig.subplots(rows, columns, squeeze=False).flatten()
    for ax in axes[len(runs):]:
        ax.set_visible(False)
    for ax, (name, log) in zip(axes, runs.items()):
        steps = [row["step"] for row in log["losses"]]
        ax.plot(steps, [row["loss_d"] for row in log["losses"]], label="D loss")
        ax.plot(steps, [row["loss_g"] for row in log["losses"]], label="G loss (non-saturating)")
        ax.set_title(f"{name}\n{label_of(log)}", fontsize=8)
        ax.set_xlabel("generator update")
        ax.legend(fontsize=7)
    if path is not None:
        fig.savefig(path, dpi=100)
    return fig


def comparison_rows(comparison):
    """The comparison as rows of strings: a header then one row per run and the real data."""
    keys = [f"cpu_minutes_to_is_{REFERENCE_IS}", "cpu_minutes_to_template_final_is"]
    rows = [["run", "model", "epochs", "IS", "FID", "p>0.9", "classes", "CPU min", "min/epoch",
             f"min to IS {REFERENCE_IS}", "min to template's IS", "template", "time / template's"]]
    for name, s in comparison["runs"].items():
        f = s["final"]
        ratio = s.get("time_to_template_final_is_vs_template")
        rows.append([name, label_of({"config": s}),
                     f"{s['epochs']:.0f}" + ("" if s["completed"] else " (stopped)"),
                     f"{f['inception_score']:.2f}", f"{f['fid']:.2f}", f"{f['confident']:.1%}",
                     f"{f['class_min']:.1%}-{f['class_max']:.1%}", f"{s['train_cpu_minutes']:.1f}",
                     f"{s['train_cpu_minutes'] / s['epochs']:.2f}" if s["epochs"] else "",
                     *("not reached" if s.get(k) is None else f"{s[k]:.1f}" for k in keys),
                     template_of(s), "" if ratio is None else f"{ratio:.2f}"])
    b = comparison["real_baseline"]
    rows.append(["real", "real data (train vs test)", "", f"{b['inception_score']:.2f}", f"{b['fid']:.2f}",
                 f"{b['confident']:.1%}", f"{b['class_min']:.1%}-{b['class_max']:.1%}", "", "", "", "", "", ""])
    return rows


def format_table(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows)


def plot_samples(path, seed=0):
    """25 samples of the committed start, middle and end generators from one latent batch,
    as samples.ipynb draws them."""
    import torch
    from matplotlib.figure import Figure
    from torchvision.utils import make_grid

    from my_gan import load_generator

    stages = ("start", "middle", "end")
    generators = {stage: load_generator(CHECKPOINTS / f"generator_{stage}.pt") for stage in stages}
    steps = {stage: torch.load(CHECKPOINTS / f"generator_{stage}.pt", weights_only=True)["step"] for stage in stages}
    z = torch.randn(25, generators["end"].latent_dim, generator=torch.Generator().manual_seed(seed))
    fig = Figure(figsize=(13, 4.6))
    for ax, stage in zip(fig.subplots(1, 3), stages):
        with torch.no_grad():
            grid = make_grid(generators[stage](z), nrow=5, normalize=True, value_range=(-1, 1), pad_value=1)
        ax.imshow(grid.permute(1, 2, 0), interpolation="nearest")
        ax.set_title(f"{stage} (after {steps[stage]} generator updates)")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_interpolation(path, digits=None, seed=0, steps=9):
    """Linear and spherical walks of the committed end generator between two digits the
    classifier reads with p > 0.9, as interpolation.ipynb draws them."""
    from matplotlib.figure import Figure

    from latent_walk import find_latent_pair, lerp, plot_strip, slerp
    from mnist_classifier import load_classifier
    from my_gan import load_generator

    G = load_generator(CHECKPOINTS / "generator_end.pt")
    classifier = load_classifier()
    z_a, z_b, _ = find_latent_pair(G, classifier, digits, seed=seed)
    fig = Figure(figsize=(1.6 * steps, 4.4))
    axes = fig.subplots(2, steps)
    plot_strip(G, classifier, lerp(z_a, z_b, steps), "linear", axes[0])
    plot_strip(G, classifier, slerp(z_a, z_b, steps), "spherical", axes[1])
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def figures():
    """Redraw every committed figure: curves from the committed JSON files, samples and walks
    from the committed checkpoints (no data, no training)."""
    FIGURES.mkdir(parents=True, exist_ok=True)
    runs = load_runs()
    comparison = json.loads((RESULTS / "gan_comparison.json").read_text())
    # One figure per machine, as CPU minutes are comparable only on one: the chosen run's
    # machine first, under the name the documents link to.
    chosen = comparison["chosen"]
    main_template = template_of(comparison["runs"][chosen])
    for template in dict.fromkeys(map(template_of, comparison["runs"].values())):
        name = "" if template == main_template else f"_{template}"
        plot_metrics(timed_with(comparison, runs, template), comparison["real_baseline"],
                     FIGURES / f"gan_metrics_over_training{name}.png", highlight=(template, chosen))
    plot_losses(runs, FIGURES / "gan_losses.png")
    plot_samples(FIGURES / "samples_start_middle_end.png")
    plot_interpolation(FIGURES / "interpolation.png")
    plot_interpolation(FIGURES / "interpolation_4_to_1.png", digits=(4, 1))
    (RESULTS / "gan_comparison.txt").write_text(format_table(comparison_rows(comparison)) + "\n")


def parse_run(text):
    name, sep, folder = text.partition("=")
    if not sep or not name or not Path(folder, "log.json").is_file():
        raise argparse.ArgumentTypeError(f"expected NAME=FOLDER with FOLDER/log.json, got {text!r}")
    try:
        evaluations = json.loads(Path(folder, "log.json").read_text())["evaluations"]
    except (ValueError, KeyError, TypeError):
        raise argparse.ArgumentTypeError(f"{folder}/log.json is not a my_gan.py log") from None
    if not evaluations:
        raise argparse.ArgumentTypeError(f"{folder} has no evaluations (trained with --no_eval?)")
    return name, Path(folder)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    collect_parser = commands.add_parser("collect", help="copy run logs and grids, score real data",
                                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    collect_parser.add_argument("--run", type=parse_run, action="append", required=True,
                                help="NAME=FOLDER of a finished my_gan.py run (repeat; mlp = template); "
                                     "runs collected before are kept unless named again")
    collect_parser.add_argument("--chosen", required=True,
                                help="NAME of the run whose generator checkpoints are in checkpoints/ "
                                     "(copied there if it is a --run)")
    collect_parser.add_argument("--template", default="mlp",
                                help="NAME of the --run of the template MLP, timed on the same machine "
                                     "as the other --run runs")
    collect_parser.add_argument("--eval_samples", type=int, default=10000,
                                help="training images scored for the real-data baseline")
    commands.add_parser("figures", help="redraw the figures from results/*.json")
    spread_parser = commands.add_parser("spread", help="score the end generator with several latent seeds",
                                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    spread_parser.add_argument("--seeds", type=int, default=5, help="latent seeds 0 .. SEEDS-1")
    spread_parser.add_argument("--eval_samples", type=int, default=10000, help="samples per seed")
    ranking_parser = commands.add_parser("ranking", help="the digits D rates most real at the end of runs",
                                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ranking_parser.add_argument("--run", type=parse_checkpoint_run, action="append", required=True,
                                help="NAME=FOLDER of a my_gan.py run with FOLDER/latest.pt (repeat)")
    ranking_parser.add_argument("--batches", type=int, default=40, help="batches of G's samples per run")
    args = parser.parse_args(argv)
    if args.command == "ranking":
        if args.batches < 1:
            parser.error("--batches must be at least 1")
        try:
            result = d_ranking(args.run, args.batches)
        except (FileNotFoundError, RuntimeError, ValueError, KeyError) as error:
            parser.error(str(error).splitlines()[0])
        for name, _ in args.run:
            for half in ("top_half", "bottom_half"):
                print(f"{name} {half:11s} " + " ".join(f"{digit}:{fraction:.1%}"
                                                     for digit, fraction in enumerate(result[name][half])))
        return
    if args.command == "spread":
        if args.seeds < 2 or args.eval_samples < 2:
            parser.error("--seeds and --eval_samples must be at least 2")
        from mnist_data import MnistUnavailable

        try:
            spread = seed_spread(args.seeds, args.eval_samples)["spread"]
        except (MnistUnavailable, FileNotFoundError, ValueError) as error:
            parser.error(str(error))
        for key, stats in spread.items():
            print(f"{key:16s} min {stats['min']:.4f}  max {stats['max']:.4f}  "
                  f"mean {stats['mean']:.4f}  std {stats['std']:.4f}")
        return
    if args.command == "collect":
        if args.eval_samples < 2:
            parser.error("--eval_samples must be at least 2")
        try:
            collect(args.run, args.chosen, args.template, args.eval_samples)
        except ValueError as error:
            parser.error(str(error))
    figures()
    print(format_table(comparison_rows(json.loads((RESULTS / "gan_comparison.json").read_text()))))


if __name__ == "__main__":
    main()

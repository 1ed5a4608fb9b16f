"""Figures and tables of Part 1, drawn from the JSON files experiments.py writes.

    python Part1/plots.py        # redraw every figure from Part1/results/ into Part1/figures/
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import train  # noqa: E402
from benchmark import LONG_T, PAIRS  # noqa: E402

HERE = Path(__file__).resolve().parent
COLORS = {"lstm": "tab:blue", "rnn": "tab:red"}
NAMES = {"lstm": "LSTM", "rnn": "RNN"}


def load(results_dir, name):
    path = Path(results_dir) / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def curves(runs, key):
    """Steps and a (runs, evaluations) array of `key` from runs with the same schedule."""
    steps = [h["step"] for h in runs[0]["history"]]
    return np.array(steps), np.array([[h[key] for h in r["history"]] for r in runs])


def band(ax, runs, key, label, color):
    """Mean over runs, with a band from the lowest to the highest."""
    steps, values = curves(runs, key)
    ax.plot(steps, values.mean(0), color=color, label=label)
    ax.fill_between(steps, values.min(0), values.max(0), color=color, alpha=0.2, linewidth=0)


def group(runs, **match):
    return [r for r in runs if all(r[k] == v for k, v in match.items())]


def lengths_of(runs):
    return sorted({r["T"] for r in runs})


def draw_comparison(comparison, figures_dir):
    """Accuracy against step at the short lengths, and final accuracy against length."""
    runs = comparison["runs"]
    shown = [T for T in lengths_of(runs) if T <= 20]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 3.2), sharey=True, squeeze=False)
    for ax, T in zip(axes[0], shown):
        for model in ("lstm", "rnn"):
            band(ax, group(runs, model=model, T=T), "val_accuracy", NAMES[model], COLORS[model])
        ax.set_title(f"T = {T}")
        ax.set_xlabel("training step")
        ax.axhline(0.1, color="gray", lw=0.8, ls=":")
    axes[0][0].set_ylabel("validation accuracy")
    axes[0][0].legend(loc="lower right")
    written = [save(fig, figures_dir / "comparison_curves.png")]

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    lengths = lengths_of(runs)
    for model, shift in (("lstm", -0.12), ("rnn", 0.12)):
        finals = [[r["final"]["val_accuracy"] for r in group(runs, model=model, T=T)] for T in lengths]
        x = np.arange(len(lengths))
        ax.plot(x, [np.mean(f) for f in finals], color=COLORS[model], marker="o", label=f"{NAMES[model]}, mean")
        for xi, f in zip(x, finals):
            ax.scatter([xi + shift] * len(f), f, color=COLORS[model], s=14, alpha=0.5, linewidths=0)
    ax.axhline(0.1, color="gray", lw=0.8, ls=":")
    ax.annotate("chance", (0, 0.1), xytext=(0, 3), textcoords="offset points", color="gray", fontsize=8)
    ax.set_xticks(np.arange(len(lengths)), [str(T) for T in lengths])
    ax.set(xlabel="palindrome length T", ylabel=f"validation accuracy after {comparison['settings']['steps']} steps",
           ylim=(0, 1.04))
    ax.legend(title=f"dots: the {len(comparison['settings']['seeds'])} seeds", fontsize=8, title_fontsize=8)
    return written + [save(fig, figures_dir / "comparison_final.png")]


def curriculum_name(run):
    return NAMES[run["model"]] + (", new optimiser per length" if run["optimizer_per_stage"] else "")


def curriculum_color(run):
    return "0.45" if run["optimizer_per_stage"] else COLORS[run["model"]]


def draw_curriculum(curriculum, figures_dir):
    """Steps spent at each length, one line per run; a cross marks the length a run failed."""
    runs, cap = curriculum["runs"], curriculum["settings"]["stage_steps"]
    lengths = curriculum["settings"]["curriculum_lengths"]
    seeds = sorted({r["seed"] for r in runs})
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for run in runs:
        shift = 0.08 * (seeds.index(run["seed"]) - (len(seeds) - 1) / 2)
        x = [lengths.index(s["T"]) + shift for s in run["stages"]]
        first = run["seed"] == seeds[0]
        ax.plot(x, [s["steps"] for s in run["stages"]], color=curriculum_color(run), marker="o", ms=4, lw=1.2,
                label=curriculum_name(run) if first else None)
        last = run["stages"][-1]
        if not last["reached"]:
            ax.plot(x[-1], last["steps"], marker="X", ms=11, color=curriculum_color(run), mec="black", mew=0.6)
    ax.set_xticks(range(len(lengths)), [str(T) for T in lengths])
    ax.set_yscale("log")
    ax.set(xlabel="palindrome length T of the stage", ylabel="training steps at that length",
           title=f"Curriculum, {len(seeds)} seeds per model (X: not learned within {cap} steps)")
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    return [save(fig, figures_dir / "curriculum.png")]


def gradient_run_name(run):
    name = NAMES[run["model"]] + (f", forget bias {run['forget_bias']:g}" if run["model"] == "lstm" else "")
    return name + (", orthogonal" if run["recurrent_init"] == "orthogonal" else "")


def draw_gradients(gradients, figures_dir):
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for run, color in zip(gradients["runs"], plt.cm.tab10.colors):
        label = gradient_run_name(run)
        for ax, key in zip(axes, ("at_init", "trained")):
            values = run[key]
            ax.semilogy(range(1, len(values) + 1), values, color=color, label=label)
    axes[0].set_title(f"At initialisation, T = {gradients['runs'][0]['init_T']}")
    axes[1].set_title(f"After training at T = {gradients['runs'][0]['trained_T']}")
    for ax in axes:
        ax.set_xlabel("step t of the sequence")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8)
    axes[0].set_ylabel("||dL / dh_t|| (mean over 256 palindromes)")
    return [save(fig, figures_dir / "gradients.png")]


def percent(x):
    return f"{100 * x:.1f}%"


def steps_text(steps, budget):
    return " / ".join(str(s) if s is not None else f">{budget}" for s in steps)


def comparison_markdown(comparison):
    settings, config = comparison["settings"], comparison["runs"][0]["config"]
    budget = settings["steps"]
    lines = [f"### LSTM and RNN at the assignment's defaults (digits as values, RMSprop {config['learning_rate']:g}, "
             f"batch {config['batch_size']}, {config['num_hidden']} hidden, clipping {config['max_norm']:g}; "
             f"{budget} steps per run; seeds {settings['seeds']})\n",
             "| model | T | final accuracy, mean (min-max) | steps to 99%, per seed |", "|---|---|---|---|"]
    for model in ("lstm", "rnn"):
        for T in lengths_of(comparison["runs"]):
            runs = group(comparison["runs"], model=model, T=T)
            acc = [r["final"]["val_accuracy"] for r in runs]
            lines.append(f"| {NAMES[model]} | {T} | {percent(np.mean(acc))} ({percent(min(acc))}-{percent(max(acc))}) "
                         f"| {steps_text([r['final']['steps_to_99'] for r in runs], budget)} |")
    return "\n".join(lines)


def curriculum_markdown(curriculum):
    settings = curriculum["settings"]
    lines = [f"### Curriculum (lengths {', '.join(map(str, settings['curriculum_lengths']))}; at most "
             f"{settings['stage_steps']} steps per length, batch {settings['curriculum_batch_size']}; "
             f"seeds {settings['seeds']})\n",
             "| model | seed | longest T learned | first T not learned (accuracy there) | steps in all | minutes |",
             "|---|---|---|---|---|---|"]
    for run in curriculum["runs"]:
        last = run["stages"][-1]
        failed = "-" if last["reached"] else f"{last['T']} ({percent(last['val_accuracy'])})"
        lines.append(f"| {curriculum_name(run)} | {run['seed']} | {run['longest_T'] or 'none'} | {failed} "
                     f"| {sum(s['steps'] for s in run['stages'])} | {sum(s['seconds'] for s in run['stages']) / 60:.1f} |")
    return "\n".join(lines)


def gradients_markdown(gradients):
    runs = gradients["runs"]
    lines = [f"### Gradients through time (||dL/dh_1|| / ||dL/dh_{{T-1}}||; at initialisation T = {runs[0]['init_T']}, "
             f"after training T = {runs[0]['trained_T']}; seed {runs[0]['seed']})\n",
             "| model | at initialisation | mean factor per step | after training | accuracy after training |",
             "|---|---|---|---|---|"]
    for run in runs:
        ratio = run["at_init"][0] / run["at_init"][-1]
        per_step = ratio ** (1 / (len(run["at_init"]) - 1))  # geometric mean over the steps between
        lines.append(f"| {gradient_run_name(run)} | {ratio:.1e} | {per_step:.2f} "
                     f"| {run['trained'][0] / run['trained'][-1]:.1e} | {percent(run['final']['val_accuracy'])} |")
    return "\n".join(lines)


def benchmark_markdown(benchmark):
    """One row per pair and T, three columns per thread count: the two models' ms per step, the
    median ratio with its lowest and highest pair, and both times as multiples of the floor."""
    config, memory = benchmark["config"], benchmark["peak_memory"]
    threads = config["threads"]
    lines = [f"### Training-step time (B = {config['batch_size']}, H = {config['num_hidden']}, one-hot input; each "
             f"model alone in a fresh process, {config['warmup']} warm-up steps, then {config['steps']} consecutive "
             f"steps timed ({config['long_steps']} at T ≥ {LONG_T}); ratio: median over {config['pairs']} rounds "
             "that each run every model once, lowest-highest round in brackets; floor: the step's matrix-product FLOPs at the "
             "machine's measured torch.mm rate)\n",
             "| pair | T | " + " | ".join(f"{n} thread{'s' * (n != 1)}: ms | ratio | × floor" for n in threads) + " |",
             "|---|---|" + "---|---|---|" * len(threads)]
    rows = {(r["pair"], r["T"], r["threads"]): r for r in benchmark["results"]}
    order = list(PAIRS)
    for pair, T in sorted({(r["pair"], r["T"]) for r in benchmark["results"]}, key=lambda k: (order.index(k[0]), k[1])):
        cells = []
        for n in threads:
            r = rows[(pair, T, n)]
            low, high = r["ratio_range"]
            cells += [f"{r['ours_ms']:.1f} / {r['reference_ms']:.1f}", f"{r['ratio']:.2f} ({low:.2f}-{high:.2f})",
                      f"{r['ours_floor_ratio']:.1f} / {r['reference_floor_ratio']:.1f}"]
        lines.append(f"| {PAIRS[pair]} | {T} | " + " | ".join(cells) + " |")
    floors = sorted({(r["T"], r["threads"], r["flops"], r["mm_gflops"], r["floor_ms"]) for r in benchmark["results"]
                     if r["pair"] == "lstm"})
    lines.append("\nThe LSTM's floor: " + "; ".join(
        f"T = {T}, {n} thread{'s' * (n != 1)}: {flops / 1e6:.0f} MFLOP at {rate:.0f} GFLOP/s = {floor:.1f} ms"
        for T, n, flops, rate, floor in floors) + ".")
    if memory:
        lines.append(f"\nPeak memory of one LSTM training step at T = {memory['T']} (resident set of a fresh process, "
                     f"which holds {memory['ours_peak_mb'] - memory['ours_step_mb']:.0f} MB before the step): "
                     f"ours {memory['ours_peak_mb']:.0f} MB (+{memory['ours_step_mb']:.0f} MB), "
                     f"torch.nn.LSTM {memory['torch_peak_mb']:.0f} MB (+{memory['torch_step_mb']:.0f} MB).")
    return "\n".join(lines)


MARKDOWN = {"comparison": comparison_markdown, "curriculum": curriculum_markdown, "gradients": gradients_markdown,
            "benchmark": benchmark_markdown}


def summary_markdown(results_dir):
    """Markdown tables of every results file present: the numbers report.md quotes."""
    tables = [table(data) for name, table in MARKDOWN.items() if (data := load(results_dir, name))]
    return "\n\n".join(tables) + "\n"


def save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


DRAWERS = {"comparison": draw_comparison, "curriculum": draw_curriculum, "gradients": draw_gradients}


def draw_all(results_dir=HERE / "results", figures_dir=HERE / "figures"):
    """Draw the figure of every results file present; return the paths written."""
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in DRAWERS.items():
        data = load(results_dir, name)
        if data is not None:
            written += draw(data, figures_dir)
    summary = figures_dir / "summary.md"
    train.atomic_write(summary, lambda tmp: tmp.write_text(summary_markdown(results_dir)))
    return written + [summary]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--results_dir", type=Path, default=HERE / "results", help="JSON files from experiments.py")
    parser.add_argument("--figures_dir", type=Path, default=HERE / "figures", help="where the PNG files go")
    args = parser.parse_args(argv)
    if not args.results_dir.is_dir():
        parser.error(f"--results_dir {args.results_dir} is not a folder")
    for path in draw_all(args.results_dir, args.figures_dir):
        print(path)


if __name__ == "__main__":
    main()

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


def sweep_table(sweep):
    """One row per model and T: final accuracy over seeds and each seed's steps to 99%."""
    rows = []
    for model in ("lstm", "rnn"):
        for T in sorted({r["T"] for r in sweep["runs"]}):
            runs = group(sweep["runs"], model=model, T=T)
            acc = [r["final"]["val_accuracy"] for r in runs]
            rows.append({"model": model, "T": T, "mean_accuracy": float(np.mean(acc)), "min_accuracy": min(acc),
                         "max_accuracy": max(acc), "steps_to_99": [r["final"]["steps_to_99"] for r in runs],
                         "seeds": [r["seed"] for r in runs]})
    return rows


def draw_sweep(sweep, figures_dir):
    lengths = sorted({r["T"] for r in sweep["runs"]})
    written = []
    for key, name, ylabel in (("val_accuracy", "sweep_accuracy", "validation accuracy"),
                              ("loss", "sweep_loss", "training loss")):
        cols = min(3, len(lengths))
        rows = -(-len(lengths) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), sharey=True, squeeze=False)
        for ax, T in zip(axes.flat, lengths):
            for model in ("lstm", "rnn"):
                band(ax, group(sweep["runs"], model=model, T=T), key, NAMES[model], COLORS[model])
            ax.set_title(f"T = {T}")
            ax.set_xlabel("step")
            if key == "loss":
                ax.set_yscale("log")
        for ax in axes[:, 0]:
            ax.set_ylabel(ylabel)
        for ax in list(axes.flat)[len(lengths):]:
            ax.axis("off")
        axes[0, 0].legend()
        fig.suptitle(f"{ylabel.capitalize()} during training: mean and min-max over {len(sweep['settings']['seeds'])} seeds")
        written.append(save(fig, figures_dir / f"{name}.png"))

    fig, ax = plt.subplots(figsize=(5, 3.5))
    table = sweep_table(sweep)
    for model in ("lstm", "rnn"):
        rows = [r for r in table if r["model"] == model]
        T = [r["T"] for r in rows]
        mean = np.array([r["mean_accuracy"] for r in rows])
        err = [mean - [r["min_accuracy"] for r in rows], [r["max_accuracy"] for r in rows] - mean]
        ax.errorbar(T, mean, yerr=err, marker="o", capsize=3, color=COLORS[model], label=NAMES[model])
    ax.axhline(0.1, color="gray", linestyle=":", label="chance")
    ax.set_xlabel("palindrome length T")
    ax.set_ylabel("final validation accuracy")
    ax.set_title(f"After {sweep['settings']['steps']} steps (min-max over seeds)")
    ax.legend()
    written.append(save(fig, figures_dir / "sweep_final.png"))
    return written


def draw_lr_search(lr_search, figures_dir):
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
    for ax, model in zip(axes, ("lstm", "rnn")):
        for run in group(lr_search["runs"], model=model):
            steps, values = curves([run], "val_accuracy")
            best = " (chosen)" if run["learning_rate"] == lr_search["best_lr"][model] else ""
            ax.plot(steps, values[0], label=f"lr {run['learning_rate']:g}{best}")
        ax.set_title(f"{NAMES[model]}, T = {lr_search['settings']['lr_search_length']}")
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("validation accuracy")
    return [save(fig, figures_dir / "lr_search.png")]


def draw_init(init, figures_dir):
    """One panel per setting, one line per seed: with two seeds, shaded bands of four settings
    would lie on top of each other."""
    columns = [("lstm", 0.0), ("lstm", 1.0), ("rnn", 0.0)]
    fig, axes = plt.subplots(2, 3, figsize=(10, 5), sharex=True, sharey=True)
    for row, recurrent_init in enumerate(("uniform", "orthogonal")):
        for col, (model, forget_bias) in enumerate(columns):
            ax = axes[row, col]
            runs = group(init["runs"], model=model, forget_bias=forget_bias, recurrent_init=recurrent_init)
            for run in runs:
                steps, values = curves([run], "val_accuracy")
                ax.plot(steps, values[0], color=COLORS[model], alpha=0.8, linewidth=1.2)
            mean = np.mean([r["final"]["val_accuracy"] for r in runs])
            bias = f", forget bias {forget_bias:g}" if model == "lstm" else ""
            ax.set_title(f"{NAMES[model]}, {recurrent_init} W_h{bias}\nfinal mean {percent(mean)}", fontsize=9)
            ax.axhline(0.1, color="gray", linestyle=":", linewidth=0.8)
        axes[row, 0].set_ylabel("validation accuracy")
    for ax in axes[1]:
        ax.set_xlabel("step")
    fig.suptitle(f"Initialisation at T = {init['T']}: one line per seed ({len(init['settings']['init_seeds'])} seeds)")
    return [save(fig, figures_dir / "init.png")]


def curriculum_name(run):
    return NAMES[run["model"]] + (", new optimiser per length" if run["optimizer_per_stage"] else "")


def curriculum_color(run):
    return "0.55" if run["optimizer_per_stage"] else COLORS[run["model"]]


def draw_curriculum(curriculum, figures_dir):
    """Left: each run's accuracy in a panel of its own, its stages between dotted lines and
    named above them (on one shared axis, the LSTM's 40-step stages crowd their labels).
    Right: the time each stage took."""
    runs = curriculum["runs"]
    fig = plt.figure(figsize=(12, 1.6 * len(runs) + 1.2))
    grid = fig.add_gridspec(len(runs), 2)
    for k, run in enumerate(runs):
        ax = fig.add_subplot(grid[k, 0])
        offset, color = 0, curriculum_color(run)
        for stage in run["stages"]:
            steps = [offset + h["step"] for h in stage["history"]]
            ax.plot(steps, [h["val_accuracy"] for h in stage["history"]], color=color)
            ax.axvline(offset, color="gray", linestyle=":", linewidth=0.8)
            ax.text((offset + steps[-1]) / 2, 1.04, str(stage["T"]), transform=ax.get_xaxis_transform(),
                    fontsize=7, ha="center", va="bottom")
            offset = steps[-1]
        ax.set_xlim(0, offset)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("val. accuracy", fontsize=8)
        ax.set_title(f"{curriculum_name(run)}: longest T = {run['longest_T'] or 'none'}", fontsize=9, pad=14)
    ax.set_xlabel("training step (all stages; numbers above: the stage's length T)")
    ax = fig.add_subplot(grid[:, 1])
    width = 0.8 / len(runs)
    for k, run in enumerate(runs):
        stages = run["stages"]
        x = np.arange(len(stages)) + (k - (len(runs) - 1) / 2) * width
        ax.bar(x, [s["seconds"] for s in stages], width, color=curriculum_color(run), label=curriculum_name(run))
        for xi, s in zip(x, stages):
            ax.annotate(f"{s['steps']}", (xi, s["seconds"]), fontsize=6, ha="center",
                        xytext=(0, 2), textcoords="offset points")
    longest = max(runs, key=lambda r: len(r["stages"]))
    ax.set_xticks(np.arange(len(longest["stages"])), [str(s["T"]) for s in longest["stages"]])
    ax.set_yscale("log")
    ax.set_xlabel("stage length T")
    ax.set_ylabel("seconds (one CPU thread)")
    ax.set_title("Time per stage (numbers: steps)")
    ax.legend(fontsize=7)
    return [save(fig, figures_dir / "curriculum.png")]


def gradient_run_name(run):
    name = NAMES[run["model"]] + (f", forget bias {run['forget_bias']:g}" if run["model"] == "lstm" else "")
    return name + (", orthogonal" if run["recurrent_init"] == "orthogonal" else "")


def draw_gradients(gradients, figures_dir):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for run, color in zip(gradients["runs"], plt.cm.tab10.colors):
        label = gradient_run_name(run)
        for ax, key in zip(axes, ("at_init", "trained")):
            values = run[key]
            ax.semilogy(range(1, len(values) + 1), values, color=color, label=label)
    axes[0].set_title(f"At initialisation, T = {gradients['runs'][0]['init_T']}")
    axes[1].set_title(f"After training at T = {gradients['runs'][0]['trained_T']}")
    for ax in axes:
        ax.set_xlabel("step t of the sequence")
        ax.legend(fontsize=8)
    axes[0].set_ylabel("||dL / dh_t|| (mean over 256 palindromes)")
    return [save(fig, figures_dir / "gradients.png")]


def percent(x):
    return f"{100 * x:.1f}%"


def steps_text(steps, budget):
    return " / ".join(str(s) if s is not None else f">{budget}" for s in steps)


def lr_search_markdown(lr_search):
    budget = lr_search["settings"]["steps"]
    lines = [f"### Learning-rate search (T = {lr_search['settings']['lr_search_length']}, seed 0)\n",
             "| model | learning rate | final accuracy | steps to 99% |", "|---|---|---|---|"]
    for r in lr_search["runs"]:
        chosen = " (chosen)" if r["learning_rate"] == lr_search["best_lr"][r["model"]] else ""
        lines.append(f"| {NAMES[r['model']]} | {r['learning_rate']:g}{chosen} | {percent(r['final']['val_accuracy'])} "
                     f"| {steps_text([r['final']['steps_to_99']], budget)} |")
    return "\n".join(lines)


def length_rows(runs, budget):
    """Markdown rows of sweep_table: one per model and T."""
    return [f"| {NAMES[row['model']]} | {row['T']} | {percent(row['mean_accuracy'])} "
            f"({percent(row['min_accuracy'])}-{percent(row['max_accuracy'])}) "
            f"| {steps_text(row['steps_to_99'], budget)} |" for row in sweep_table({"runs": runs})]


def sweep_markdown(sweep):
    budget = sweep["settings"]["steps"]
    lines = [f"### Length sweep ({budget} steps per run, seeds {sweep['settings']['seeds']})\n",
             "| model | T | final accuracy, mean (min-max) | steps to 99%, per seed |", "|---|---|---|---|"]
    return "\n".join(lines + length_rows(sweep["runs"], budget))


def defaults_markdown(defaults):
    config, settings = defaults["runs"][0]["config"], defaults["settings"]
    budget = settings["defaults_steps"]
    lines = [f"### The assignment's defaults (digits as values, RMSprop {config['learning_rate']:g}, "
             f"batch {config['batch_size']}, {config['num_hidden']} hidden, clipping {config['max_norm']:g}; "
             f"at most {budget} steps, stopping once 99% holds at 3 evaluations; seeds {settings['seeds']})\n",
             "| model | T | final accuracy, mean (min-max) | steps to 99%, per seed |", "|---|---|---|---|"]
    return "\n".join(lines + length_rows(defaults["runs"], budget))


def init_markdown(init):
    budget = init["settings"]["steps"]
    lines = [f"### Initialisation (T = {init['T']}, {budget} steps, seeds {init['settings']['init_seeds']})\n",
             "| model | recurrent weights | forget bias | final accuracy, mean | steps to 99%, per seed |",
             "|---|---|---|---|---|"]
    for model, forget_bias, recurrent_init in sorted({(r["model"], r["forget_bias"], r["recurrent_init"])
                                                     for r in init["runs"]}):
        runs = group(init["runs"], model=model, forget_bias=forget_bias, recurrent_init=recurrent_init)
        mean = np.mean([r["final"]["val_accuracy"] for r in runs])
        bias = f"{forget_bias:g}" if model == "lstm" else "-"
        lines.append(f"| {NAMES[model]} | {recurrent_init} | {bias} | {percent(mean)} "
                     f"| {steps_text([r['final']['steps_to_99'] for r in runs], budget)} |")
    return "\n".join(lines)


def curriculum_markdown(curriculum):
    lines = [f"### Curriculum (at most {curriculum['settings']['stage_steps']} steps per length)\n",
             "| model | T | reached 99% | steps | seconds | validation accuracy | peak memory (MB) |",
             "|---|---|---|---|---|---|---|"]
    for run in curriculum["runs"]:
        for s in run["stages"]:
            lines.append(f"| {curriculum_name(run)} | {s['T']} | {'yes' if s['reached'] else 'no'} | {s['steps']} "
                         f"| {s['seconds']:.0f} | {percent(s['val_accuracy'])} | {s['peak_memory_mb']:.0f} |")
    for run in curriculum["runs"]:
        lines.append(f"\n{curriculum_name(run)}: longest length learned T = {run['longest_T'] or 'none'}, "
                     f"{sum(s['seconds'] for s in run['stages']) / 60:.1f} minutes in all.")
    return "\n".join(lines)


def gradients_markdown(gradients):
    runs = gradients["runs"]
    lines = [f"### Gradients through time (||dL/dh_1|| / ||dL/dh_T-1||; at initialisation T = {runs[0]['init_T']}, "
             f"after training T = {runs[0]['trained_T']})\n",
             "| model | at initialisation | factor per step | after training | accuracy after training |",
             "|---|---|---|---|---|"]
    for run in runs:
        ratio = run["at_init"][0] / run["at_init"][-1]
        per_step = ratio ** (1 / (len(run["at_init"]) - 1))  # geometric mean over the steps between
        lines.append(f"| {gradient_run_name(run)} | {ratio:.1e} | {per_step:.2f} "
                     f"| {run['trained'][0] / run['trained'][-1]:.1e} | {percent(run['final']['val_accuracy'])} |")
    return "\n".join(lines)


BENCHMARK_PAIRS = {"lstm": "our LSTM / torch.nn.LSTM", "lstm_reference": "plain autograd loop / our LSTM",
                   "rnn": "our RNN / torch.nn.RNN"}


def benchmark_markdown(benchmark):
    """One row per pair and T, one pair of columns per thread count: the two medians (ms) and the
    median ratio with its lowest and highest block."""
    config, memory = benchmark["config"], benchmark["peak_memory"]
    threads = config["threads"]
    lines = [f"### Training-step time (B = {config['batch_size']}, H = {config['num_hidden']}, one-hot input; "
             f"ratio: median over {config['blocks']} blocks of {config['repeats']} interleaved steps, "
             f"lowest-highest block in brackets)\n",
             "| pair | T | " + " | ".join(f"{n} thread{'s' * (n != 1)}: ms | ratio" for n in threads) + " |",
             "|---|---|" + "---|---|" * len(threads)]
    rows = {(r["pair"], r["T"], r["threads"]): r for r in benchmark["results"]}
    order = list(BENCHMARK_PAIRS)
    for pair, T in sorted({(r["pair"], r["T"]) for r in benchmark["results"]}, key=lambda k: (order.index(k[0]), k[1])):
        cells = []
        for n in threads:
            r = rows[(pair, T, n)]
            low, high = r["ratio_range"]
            cells += [f"{r['ours_ms']:.1f} / {r['reference_ms']:.1f}", f"{r['ratio']:.2f} ({low:.2f}-{high:.2f})"]
        lines.append(f"| {BENCHMARK_PAIRS[pair]} | {T} | " + " | ".join(cells) + " |")
    if memory:
        lines.append(f"\nPeak memory of one LSTM training step at T = {memory['T']} (resident set of a fresh process, "
                     f"which holds {memory['ours_peak_mb'] - memory['ours_step_mb']:.0f} MB before the step): "
                     f"ours {memory['ours_peak_mb']:.0f} MB (+{memory['ours_step_mb']:.0f} MB), "
                     f"torch.nn.LSTM {memory['torch_peak_mb']:.0f} MB (+{memory['torch_step_mb']:.0f} MB).")
    return "\n".join(lines)


MARKDOWN = {"benchmark": benchmark_markdown, "defaults": defaults_markdown, "lr_search": lr_search_markdown,
            "sweep": sweep_markdown, "init": init_markdown, "curriculum": curriculum_markdown,
            "gradients": gradients_markdown}


def summary_markdown(results_dir):
    """Markdown tables of every results file present: the numbers report.md quotes."""
    tables = [table(data) for name, table in MARKDOWN.items() if (data := load(results_dir, name))]
    return "\n\n".join(tables) + "\n"


def save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


DRAWERS = {"sweep": draw_sweep, "lr_search": draw_lr_search, "init": draw_init,
           "curriculum": draw_curriculum, "gradients": draw_gradients}


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
    summary.write_text(summary_markdown(results_dir))
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

"""Part 1's experiments, from scratch, as runs of train.py's functions.

    python Part1/experiments.py                              # all of them, then the figures
    python Part1/experiments.py --only sweep                 # one of them
    python Part1/experiments.py --quick --out_dir /tmp/p1    # tiny budgets: checks the pipeline

defaults    LSTM and RNN at the assignment's own settings: digits as values, RMSprop 1e-3
lr_search   learning rates for each model on one length; the sweep and the rest use the best
sweep       LSTM and RNN at several lengths, several seeds, one step budget per run
init        forget-gate bias and orthogonal recurrent weights, compared at one length
curriculum  one model trained on growing lengths, moving on at >= 99% validation accuracy
gradients   ||dL/dh_t|| against t, at initialisation and after training

Runs go to worker processes with one thread each. Each experiment writes one JSON file under
--out_dir; plots.py draws the figures from those files without training anything.
"""

import argparse
import json
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

import plots
import train
from dataset import random_batch

HERE = Path(__file__).resolve().parent
EXPERIMENTS = ["defaults", "lr_search", "sweep", "init", "curriculum", "gradients"]

# --quick replaces these flags: the pipeline end to end in a minute or two, nothing learned.
QUICK = {
    "lengths": [4, 6], "seeds": [0], "init_seeds": [0], "steps": 40, "lr_grid": [1e-3, 1e-2], "lr_search_length": 4,
    "init_length": 5, "curriculum_lengths": [4, 6, 8], "stage_steps": 40, "gradient_length": 8,
    "num_hidden": 16, "batch_size": 32, "curriculum_batch_size": 32, "eval_size": 100, "eval_every": 10,
    "defaults_lengths": [4, 6], "defaults_steps": 40,
}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=EXPERIMENTS, default=EXPERIMENTS, help="experiments to run, in this order")
    parser.add_argument("--out_dir", type=Path, default=HERE / "results", help="where the JSON results go")
    parser.add_argument("--figures_dir", type=Path, default=HERE / "figures", help="where the figures go")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel runs, one thread each")
    parser.add_argument("--quick", action="store_true", help="tiny budgets and models, to check the pipeline")
    parser.add_argument("--lengths", type=int, nargs="+", default=[5, 10, 15, 20, 30, 50], help="sweep: palindrome lengths T")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="sweep: seeds per setting")
    parser.add_argument("--init_seeds", type=int, nargs="+", default=[0, 1], help="init: seeds per setting")
    parser.add_argument("--steps", type=int, default=1500, help="step budget of each sweep, init and lr_search run")
    parser.add_argument("--input_dim", type=int, choices=[1, 10], default=10,
                        help="1: digits fed as values; 10: one-hot (every experiment but defaults)")
    parser.add_argument("--defaults_lengths", type=int, nargs="+", default=[5, 10, 15, 20],
                        help="defaults: palindrome lengths T, each with every --seeds")
    parser.add_argument("--defaults_steps", type=int, default=3000,
                        help="defaults: most steps of each run (it stops once 99%% has held at 3 evaluations)")
    parser.add_argument("--lr_grid", type=float, nargs="+", default=[3e-4, 1e-3, 3e-3, 1e-2], help="lr_search: learning rates tried")
    parser.add_argument("--lr_search_length", type=int, default=15, help="lr_search: palindrome length")
    parser.add_argument("--init_length", type=int, default=30, help="init: palindrome length")
    parser.add_argument("--curriculum_lengths", type=int, nargs="+", default=[10, 20, 40, 80, 160, 320, 640, 1000],
                        help="curriculum: lengths in order")
    parser.add_argument("--stage_steps", type=int, default=1000, help="curriculum: most steps at one length")
    parser.add_argument("--curriculum_lr", type=float, nargs=2, default=[1e-3, 3e-4], metavar=("LSTM", "RNN"),
                        help="curriculum: learning rate of the LSTM and of the RNN")
    parser.add_argument("--curriculum_batch_size", type=int, default=64,
                        help="curriculum: batch size (smaller than the rest: a step at T=1000 is long)")
    parser.add_argument("--gradient_length", type=int, default=100, help="gradients: length at initialisation")
    parser.add_argument("--num_hidden", type=int, default=128, help="hidden units of every model")
    parser.add_argument("--batch_size", type=int, default=128, help="batch size of every run")
    parser.add_argument("--eval_size", type=int, default=1000, help="validation palindromes of every run")
    parser.add_argument("--eval_every", type=int, default=50, help="steps between evaluations")
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    sizes = [args.workers, args.steps, args.defaults_steps, args.stage_steps, args.num_hidden, args.batch_size,
             args.curriculum_batch_size, args.eval_size, args.eval_every]
    if min(sizes) < 1:
        parser.error("--workers, --steps, --defaults_steps, --stage_steps, --num_hidden, --batch_size, "
                     "--curriculum_batch_size, --eval_size and --eval_every must be positive")
    lengths = (args.lengths + args.defaults_lengths + args.curriculum_lengths
               + [args.lr_search_length, args.init_length, args.gradient_length])
    if min(lengths) < 2:
        parser.error("every palindrome length must be at least 2")
    if min(args.lr_grid) <= 0 or min(args.curriculum_lr) <= 0:
        parser.error("--lr_grid and --curriculum_lr must be positive learning rates")
    if args.quick and (args.out_dir.resolve() == HERE / "results" or args.figures_dir.resolve() == HERE / "figures"):
        parser.error("--quick would overwrite the committed results: give --out_dir and --figures_dir elsewhere")
    for flag, folder in (("--out_dir", args.out_dir), ("--figures_dir", args.figures_dir)):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            parser.error(f"cannot create {flag} {folder}: {error.strerror}")
        if (error := train.write_error(folder / "probe")) is not None:
            parser.error(f"cannot write to {flag} {folder}: {error}")
    return args


def run_config(args, **overrides):
    """train.py's flags for one run: its defaults, this experiment's sizes, then overrides."""
    config = train.build_parser().parse_args([])
    config.num_hidden, config.batch_size = args.num_hidden, args.batch_size
    config.eval_size, config.eval_every = args.eval_size, args.eval_every
    config.target_accuracy, config.patience = 0.99, 0  # run the whole budget: curves of equal length
    config.quiet, config.threads, config.device, config.input_dim = True, 1, "cpu", args.input_dim
    for name, value in overrides.items():
        setattr(config, name, value)
    return config


def peak_memory_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def train_task(task):
    """One training run in a worker: (labels, config) -> labels + train.py's record."""
    labels, config = task
    result, _ = train.train(config, progress=False)
    return {**labels, **result}


def submit(pool, function, tasks):
    """Queue tasks on the pool, longest first; returns their pending results in order."""
    order = sorted(range(len(tasks)), key=lambda k: -tasks[k][1].input_length * tasks[k][1].train_steps)
    jobs = {k: pool.apply_async(function, (tasks[k],)) for k in order}
    return [jobs[k] for k in range(len(tasks))]


def collect(jobs, desc):
    return [job.get() for job in tqdm(jobs, desc=desc, dynamic_ncols=True)]


def run_tasks(pool, function, tasks, desc):
    return collect(submit(pool, function, tasks), desc)


def best_learning_rates(out_dir):
    """The learning rate lr_search chose for each model."""
    path = out_dir / "lr_search.json"
    if not path.exists():
        sys.exit(f"experiments.py: error: {path} is missing: run --only lr_search first")
    return json.loads(path.read_text())["best_lr"]


def score(run):
    """Fewer steps to 99% is better; never reaching it ranks by final accuracy."""
    steps = run["final"]["steps_to_99"]
    return (0, steps) if steps is not None else (1, -run["final"]["val_accuracy"])


def defaults(args, pool):
    """The assignment asks whether the LSTM reaches close to perfect accuracy at T = 5 with the
    default parameters: train.py's own (digits as values on one input line, RMSprop at 1e-3,
    clipping at 10; batch 128 and 128 hidden units are this script's defaults too), not the
    one-hot input and searched learning rates of the other experiments. A run stops once 99%
    has held at 3 evaluations in a row."""
    default = train.build_parser().parse_args([])
    assignment = {name: getattr(default, name) for name in ("input_dim", "learning_rate", "optimizer", "max_norm")}
    tasks = [({"model": m, "T": T, "seed": s},
              run_config(args, model=m, input_length=T, seed=s, train_steps=args.defaults_steps, patience=3,
                         **assignment))
             for m in ("lstm", "rnn") for T in args.defaults_lengths for s in args.seeds]
    return {"runs": run_tasks(pool, train_task, tasks, "defaults")}


def lr_search(args, pool):
    tasks = [({"model": m, "learning_rate": lr},
              run_config(args, model=m, learning_rate=lr, input_length=args.lr_search_length, train_steps=args.steps))
             for m in ("lstm", "rnn") for lr in args.lr_grid]
    runs = run_tasks(pool, train_task, tasks, "lr_search")
    best = {m: min((r for r in runs if r["model"] == m), key=score)["learning_rate"] for m in ("lstm", "rnn")}
    return {"runs": runs, "best_lr": best}


def sweep(args, pool):
    lr = best_learning_rates(args.out_dir)
    tasks = [({"model": m, "T": T, "seed": s},
              run_config(args, model=m, input_length=T, seed=s, learning_rate=lr[m], train_steps=args.steps))
             for m in ("lstm", "rnn") for T in args.lengths for s in args.seeds]
    return {"learning_rate": lr, "runs": run_tasks(pool, train_task, tasks, "sweep")}


INIT_VARIANTS = [
    ("lstm", 0.0, "uniform"), ("lstm", 1.0, "uniform"), ("lstm", 0.0, "orthogonal"), ("lstm", 1.0, "orthogonal"),
    ("rnn", 0.0, "uniform"), ("rnn", 0.0, "orthogonal"),
]


def init_comparison(args, pool):
    lr = best_learning_rates(args.out_dir)
    tasks = [({"model": m, "forget_bias": fb, "recurrent_init": init, "seed": s},
              run_config(args, model=m, forget_bias=fb, recurrent_init=init, input_length=args.init_length,
                         seed=s, learning_rate=lr[m], train_steps=args.steps))
             for m, fb, init in INIT_VARIANTS for s in args.init_seeds]
    return {"T": args.init_length, "learning_rate": lr, "runs": run_tasks(pool, train_task, tasks, "init")}


def curriculum_task(task):
    """Train one model on each length in turn, moving on once validation accuracy has held
    at >= 99% at two evaluations in a row; stop at the first length it cannot learn.

    One optimiser serves every stage unless labels["optimizer_per_stage"]. A fresh RMSprop
    starts its running average of squared gradients at zero, so its first update moves every
    weight by about ten times the learning rate, whatever its gradient: a shock that can erase
    what the model learned at the last length."""
    labels, config = task
    model = train.build_model(config)
    optimizer = train.OPTIMIZERS[config.optimizer](model.parameters(), lr=config.learning_rate)
    stages = []
    for T in labels["lengths"]:
        config.input_length = T
        if labels["optimizer_per_stage"]:
            optimizer = train.OPTIMIZERS[config.optimizer](model.parameters(), lr=config.learning_rate)
        result, model = train.train(config, model=model, optimizer=optimizer, progress=False)
        reached = result["final"]["val_accuracy"] >= config.target_accuracy
        stages.append({"T": T, "reached": reached, "steps": result["final"]["step"],
                       "seconds": result["final"]["seconds"], "val_accuracy": result["final"]["val_accuracy"],
                       "history": result["history"], "peak_memory_mb": peak_memory_mb()})
        if not reached:
            break
    longest = max((s["T"] for s in stages if s["reached"]), default=None)
    return {**labels, "config": train.config_dict(config), "stages": stages, "longest_T": longest}


def curriculum(args, pool):
    """Queued before anything else, so that each curriculum starts in a fresh process (its peak
    memory is the curriculum's own) and the longest runs while the other experiments share the
    remaining workers. The LSTM's runs twice: with one optimiser throughout, and with a new
    one at every length, to show what the optimiser's fresh state does."""
    lr = dict(zip(("lstm", "rnn"), args.curriculum_lr))
    variants = [("lstm", False), ("rnn", False), ("lstm", True)]
    tasks = [({"model": m, "optimizer_per_stage": per_stage, "lengths": args.curriculum_lengths},
              run_config(args, model=m, learning_rate=lr[m], batch_size=args.curriculum_batch_size,
                         train_steps=args.stage_steps, patience=2, eval_every=min(args.eval_every, 20)))
             for m, per_stage in variants]
    jobs = submit(pool, curriculum_task, tasks)
    return lambda: {"runs": collect(jobs, "curriculum")}


def hidden_state_gradients(model, inputs, labels):
    """||dL/dh_t|| for t = 1..T, averaged over the batch (L: the summed cross-entropy, so
    each palindrome's gradient is its own)."""
    states = model.hidden_states(inputs)
    loss = nn.functional.cross_entropy(model.head(states[-1]), labels, reduction="sum")
    grads = torch.autograd.grad(loss, states)
    return [g.norm(dim=1).mean().item() for g in grads]


def gradient_task(task):
    """dL/dh_t of a fresh model at a long length, and of the same model trained at a short one."""
    labels, config = task
    generator = torch.Generator().manual_seed(1234)
    model = train.build_model(config)
    inputs, targets = random_batch(256, labels["init_T"], config.input_dim == 10, generator)
    at_init = hidden_state_gradients(model, inputs, targets)
    result, model = train.train(config, model=model, progress=False)
    inputs, targets = random_batch(256, config.input_length, config.input_dim == 10, generator)
    trained = hidden_state_gradients(model, inputs, targets)
    return {**labels, "at_init": at_init, "trained": trained, "trained_T": config.input_length,
            "final": result["final"]}


def gradients(args, pool):
    lr = best_learning_rates(args.out_dir)
    trained_T = min(20, args.init_length)
    tasks = [({"model": m, "forget_bias": fb, "recurrent_init": init, "init_T": args.gradient_length},
              run_config(args, model=m, forget_bias=fb, recurrent_init=init, input_length=trained_T,
                         learning_rate=lr[m], train_steps=args.steps, patience=2))
             for m, fb, init in INIT_VARIANTS if init == "uniform" or m == "rnn"]
    return {"runs": run_tasks(pool, gradient_task, tasks, "gradients")}


RUNNERS = {"defaults": defaults, "lr_search": lr_search, "sweep": sweep, "init": init_comparison, "curriculum": curriculum,
           "gradients": gradients}


def main(argv=None):
    args = parse_args(argv)
    settings = train.config_dict(args)
    started = time.perf_counter()

    def finish(name, result, start):
        result = {"experiment": name, "settings": settings, "minutes": (time.perf_counter() - start) / 60, **result}
        train.write_json(args.out_dir / f"{name}.json", result)
        print(f"{name}: {result['minutes']:.1f} minutes -> {args.out_dir / (name + '.json')}")

    context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools
    with context.Pool(args.workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        pending = curriculum(args, pool) if "curriculum" in args.only else None
        for name in args.only:
            if name != "curriculum":
                start = time.perf_counter()
                finish(name, RUNNERS[name](args, pool), start)
        if pending is not None:
            finish("curriculum", pending(), started)
        pool.close()
        pool.join()
    written = plots.draw_all(args.out_dir, args.figures_dir)
    print(f"{len(written)} figures -> {args.figures_dir}; all in {(time.perf_counter() - started) / 60:.1f} minutes")


if __name__ == "__main__":
    main()

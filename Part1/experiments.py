"""Part 1's experiments, from scratch, as runs of train.py's functions.

    python Part1/experiments.py                              # all of them, then the figures
    python Part1/experiments.py --only comparison            # one of them
    python Part1/experiments.py --quick --out_dir /tmp/p1 --figures_dir /tmp/p1   # tiny budgets

comparison  LSTM and RNN at the assignment's defaults, several lengths and seeds, one step budget
curriculum  one model trained on growing lengths, moving on at >= 99% validation accuracy
gradients   ||dL/dh_t|| against t, at initialisation and after training

Every run uses train.py's defaults, the assignment's settings (digits fed as values, 128 hidden
units, batch 128, RMSprop at 1e-3, gradient norm clipped at 10), so that the LSTM and the RNN
differ only in the network. Runs go to worker processes with one thread each. Each experiment
writes one JSON file under --out_dir; plots.py draws the figures from those files alone.
"""

import argparse
import copy
import multiprocessing
import os
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

import plots
import train
from dataset import random_batch
from train import positive_int

HERE = Path(__file__).resolve().parent
EXPERIMENTS = ["curriculum", "comparison", "gradients"]  # queued in this order, the longest first
MODELS = ("lstm", "rnn")

# --quick replaces these flags: the pipeline end to end in a minute, nothing learned.
QUICK = {"lengths": [4, 6], "seeds": [0, 1], "steps": 40, "curriculum_lengths": [4, 6, 8], "stage_steps": 40,
         "gradient_length": 8, "num_hidden": 16, "eval_size": 100, "eval_every": 10}


def length(text):
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"a palindrome length must be at least 2, got {value}")
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=EXPERIMENTS, default=EXPERIMENTS, help="experiments to run")
    parser.add_argument("--out_dir", type=Path, default=HERE / "results", help="where the JSON results go")
    parser.add_argument("--figures_dir", type=Path, default=HERE / "figures", help="where the figures go")
    parser.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1, help="parallel runs, one thread each")
    parser.add_argument("--quick", action="store_true", help="tiny budgets and models, to check the pipeline")
    parser.add_argument("--lengths", type=length, nargs="+", default=[5, 10, 15, 20, 30, 50],
                        help="comparison: palindrome lengths T")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds of every experiment")
    parser.add_argument("--steps", type=positive_int, default=3000,
                        help="comparison: training steps of every run (no early stop: curves of equal length)")
    parser.add_argument("--curriculum_lengths", type=length, nargs="+", default=[10, 20, 40, 80, 160, 320, 640, 1000],
                        help="curriculum: lengths in order")
    parser.add_argument("--stage_steps", type=positive_int, default=1000, help="curriculum: most steps at one length")
    parser.add_argument("--curriculum_batch_size", type=positive_int, default=64,
                        help="curriculum: batch size (smaller than the rest: a step at T = 1000 is long)")
    parser.add_argument("--gradient_length", type=length, default=100, help="gradients: length at initialisation")
    parser.add_argument("--num_hidden", type=positive_int, default=128, help="hidden units of every model")
    parser.add_argument("--eval_size", type=positive_int, default=1000, help="validation palindromes of every run")
    parser.add_argument("--eval_every", type=positive_int, default=50, help="steps between evaluations")
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
        if args.out_dir.resolve() == HERE / "results" or args.figures_dir.resolve() == HERE / "figures":
            parser.error("--quick would overwrite the committed results: give --out_dir and --figures_dir elsewhere")
    train.check_writable(parser, "--out_dir", args.out_dir, folder=True)
    train.check_writable(parser, "--figures_dir", args.figures_dir, folder=True)
    return args


def run_config(args, **overrides):
    """train.py's flags for one run: its defaults, this experiment's sizes, then overrides."""
    config = train.build_parser().parse_args([])
    config.num_hidden, config.eval_size, config.eval_every = args.num_hidden, args.eval_size, args.eval_every
    config.target_accuracy, config.patience = 0.99, 0  # run the whole budget: curves of equal length
    config.quiet, config.threads, config.device = True, 1, "cpu"
    for name, value in overrides.items():
        setattr(config, name, value)
    return config


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


def comparison(args, pool):
    """LSTM and RNN at identical settings, every length and seed, the same budget."""
    tasks = [({"model": m, "T": T, "seed": s}, run_config(args, model=m, input_length=T, seed=s, train_steps=args.steps))
             for m in MODELS for T in args.lengths for s in args.seeds]
    jobs = submit(pool, train_task, tasks)
    return lambda: {"runs": collect(jobs, "comparison")}


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
                       "history": result["history"]})
        if not reached:
            break
    longest = max((s["T"] for s in stages if s["reached"]), default=None)
    return {**labels, "config": train.config_dict(config), "stages": stages, "longest_T": longest}


def curriculum(args, pool):
    """Each model on growing lengths, three ways: the LSTM and the RNN with one optimiser
    throughout, and the LSTM with a new one at every length, to show what the optimiser's
    fresh state does. Digits one-hot, for both models."""
    variants = [("lstm", False), ("rnn", False), ("lstm", True)]
    tasks = [({"model": m, "optimizer_per_stage": per_stage, "seed": s, "lengths": args.curriculum_lengths},
              run_config(args, model=m, seed=s, input_dim=10, batch_size=args.curriculum_batch_size, train_steps=args.stage_steps,
                         input_length=max(args.curriculum_lengths), patience=2, eval_every=min(args.eval_every, 20)))
             for m, per_stage in variants for s in args.seeds]
    jobs = submit(pool, curriculum_task, tasks)
    return lambda: {"runs": collect(jobs, "curriculum")}


def hidden_state_gradients(model, inputs, labels):
    """||dL/dh_t|| for t = 1..T, averaged over the batch (L: the summed cross-entropy, so
    each palindrome's gradient is its own). In float64: at T = 100 the RNN's gradient at the
    first steps is below the smallest float32."""
    model = copy.deepcopy(model).double()
    states = model.hidden_states(inputs.double())
    loss = nn.functional.cross_entropy(model.head(states[-1]), labels, reduction="sum")
    grads = torch.autograd.grad(loss, states)
    return [g.norm(dim=1).mean().item() for g in grads]


def gradient_task(task):
    """dL/dh_t of a fresh model at a long length, and of the same model trained at a short one."""
    labels, config = task
    generator = torch.Generator().manual_seed(1234)
    one_hot = config.input_dim == 10
    model = train.build_model(config)
    inputs, targets = random_batch(256, labels["init_T"], one_hot, generator)
    at_init = hidden_state_gradients(model, inputs, targets)
    result, model = train.train(config, model=model, progress=False)
    inputs, targets = random_batch(256, config.input_length, one_hot, generator)
    trained = hidden_state_gradients(model, inputs, targets)
    return {**labels, "at_init": at_init, "trained": trained, "trained_T": config.input_length,
            "final": result["final"]}


GRADIENT_VARIANTS = [("lstm", 0.0, "uniform"), ("lstm", 1.0, "uniform"), ("rnn", 0.0, "uniform"),
                     ("rnn", 0.0, "orthogonal")]


def gradients(args, pool):
    """Seed 0 only: the ratios at initialisation are orders of magnitude apart."""
    trained_T = min(20, max(args.lengths))
    tasks = [({"model": m, "forget_bias": fb, "recurrent_init": init, "init_T": args.gradient_length,
               "seed": args.seeds[0]},
              run_config(args, model=m, forget_bias=fb, recurrent_init=init, input_length=trained_T,
                         train_steps=args.steps, patience=2, seed=args.seeds[0]))
             for m, fb, init in GRADIENT_VARIANTS]
    jobs = submit(pool, gradient_task, tasks)
    return lambda: {"runs": collect(jobs, "gradients")}


RUNNERS = {"comparison": comparison, "curriculum": curriculum, "gradients": gradients}


def main(argv=None):
    args = parse_args(argv)
    settings = train.config_dict(args)
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools
    with context.Pool(args.workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        # Everything is queued at once, the longest runs first, so that no worker idles.
        pending = {name: RUNNERS[name](args, pool) for name in EXPERIMENTS if name in args.only}
        for name, result in pending.items():
            result = {"experiment": name, "settings": settings, **result()}
            train.write_json(args.out_dir / f"{name}.json", result)
            print(f"{name}: done after {(time.perf_counter() - started) / 60:.1f} minutes")
        pool.close()
        pool.join()
    written = plots.draw_all(args.out_dir, args.figures_dir)
    print(f"{len(written)} files -> {args.figures_dir}; all in {(time.perf_counter() - started) / 60:.1f} minutes")


if __name__ == "__main__":
    main()

"""Time a training step of our LSTM and vanilla RNN against torch.nn.LSTM and torch.nn.RNN.

One step is what train.py does each step: forward, cross-entropy on the last step, backward and an
RMSprop update, on a one-hot palindrome batch. Each model is timed alone, as training runs it: in a
fresh process of its own set to the thread count, --warmup untimed steps, then --steps consecutive
steps (--long_steps at long lengths) timed as one stretch. (Alternating two models step by step in
one process measures how they disturb each other's caches, allocator and thread pool, not
training.) Each of --pairs rounds runs every model once, one process after the other, so that
drift in the machine's speed hits them all; a ratio is the median over rounds of ours / reference
in ms per step, and its range is the lowest and highest round. Three comparisons, at every length and
thread count: our LSTM (the fused path train.py uses) against torch.nn.LSTM, the plain autograd loop
of the same equations (LSTM(..., fused=False)) against the fused path, and our RNN against
torch.nn.RNN. How close to the limit: each row also gives the floating-point operations of
one training step's matrix products, the rate at which this machine multiplies matrices of the
recurrent products' shape (a torch.mm timed in every process), and the floor, the time those
operations take at that rate, with each model's time as a multiple of it. `--peak_memory_T` also
measures the peak memory of one training step of each LSTM at a long length, each in a fresh
process.

    python Part1/benchmark.py --json Part1/results/benchmark.json
"""

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

import train
from train import non_negative_int, positive_int
from lstm import LSTM
from vanilla_rnn import VanillaRNN

HERE = Path(__file__).resolve().parent

PAIRS = {"lstm": "our LSTM / torch.nn.LSTM", "lstm_reference": "plain autograd loop / our LSTM",
         "rnn": "our RNN / torch.nn.RNN"}
# Each comparison's two models, (ours, reference), by the names build_model knows.
COMPARED = {"lstm": ("lstm", "torch_lstm"), "lstm_reference": ("lstm_plain", "lstm"), "rnn": ("rnn", "torch_rnn")}
LONG_T = 100  # from this length on, a process times --long_steps steps instead of --steps


class TorchRecurrent(nn.Module):
    """torch.nn.LSTM or torch.nn.RNN with a Linear head on the last step: the reference."""

    def __init__(self, kind, input_dim, num_hidden, num_classes):
        super().__init__()
        rnn = nn.LSTM if kind == "lstm" else nn.RNN
        self.rnn = rnn(input_dim, num_hidden, batch_first=True)
        self.head = nn.Linear(num_hidden, num_classes)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


def build_model(name, T, input_dim, num_hidden, num_classes=10):
    """A timed model by name: lstm (ours, fused), lstm_plain, rnn, torch_lstm or torch_rnn."""
    if name == "lstm":
        return LSTM(T, input_dim, num_hidden, num_classes)
    if name == "lstm_plain":
        return LSTM(T, input_dim, num_hidden, num_classes, fused=False)
    if name == "rnn":
        return VanillaRNN(T, input_dim, num_hidden, num_classes)
    return TorchRecurrent(name.removeprefix("torch_"), input_dim, num_hidden, num_classes)


def make_step(model, x, y):
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)

    def step():
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def one_hot_batch(batch_size, T):
    x = nn.functional.one_hot(torch.randint(0, 10, (batch_size, T)), 10).float()  # (batch, T, 10)
    return x, torch.randint(0, 10, (batch_size,))


def training_flops(kind, T, batch_size, num_hidden, input_dim=10, num_classes=10):
    """Floating-point operations in the matrix products of one training step of an LSTM or RNN
    (kind), each product of an (m, k) and a (k, n) matrix counted as 2mkn. Forward: x_t W_x at
    every step and h_{t-1} W_h from the second (h_0 = 0); backward: the gradients of W_x and W_h,
    each a product of the same size, and δh_{t-1} = δa_t W_hᵀ from the second step; and the head's
    three products. Additions of biases and element-wise work are not counted."""
    B, H, D = batch_size, num_hidden, input_dim
    gates = 4 if kind == "lstm" else 1  # columns of W_x and W_h: 4H for the LSTM's gates, H for the RNN
    return 2 * B * gates * H * (2 * T * D + 3 * (T - 1) * H) + 3 * 2 * B * H * num_classes


def mm_gflops(rows, inner, cols, reps=200):
    """This process's rate, in GFLOP/s, of torch.mm on an (rows, inner) @ (inner, cols) product."""
    a, b, out = torch.randn(rows, inner), torch.randn(inner, cols), torch.empty(rows, cols)
    for _ in range(20):
        torch.mm(a, b, out=out)
    start = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b, out=out)
    return 2 * rows * inner * cols * reps / (time.perf_counter() - start) / 1e9


def time_training(name, T, threads, batch_size, num_hidden, warmup, steps):
    """Milliseconds per training step of one model, and the rate of a matrix product of the shape
    of its recurrent products, (gates * hidden, hidden) @ (hidden, batch): run in a process of its
    own (see run_alone)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, y = one_hot_batch(batch_size, T)
    step = make_step(build_model(name, T, 10, num_hidden), x, y)
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    ms = 1000 * (time.perf_counter() - start) / steps
    gates = 4 if "lstm" in name else 1
    return {"ms": ms, "mm_gflops": mm_gflops(gates * num_hidden, num_hidden, batch_size),
            "threads": torch.get_num_threads()}


def run_alone(name, T, threads, args, steps):
    """time_training in a fresh Python process, so that nothing else has warmed or filled its caches."""
    call = f"time_training({name!r}, {T}, {threads}, {args.batch_size}, {args.num_hidden}, {args.warmup}, {steps})"
    out = subprocess.run([sys.executable, "-c", f"import json, benchmark; print(json.dumps(benchmark.{call}))"],
                         cwd=HERE, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def compare(pair, T, threads, ours_ms, reference_ms):
    """One row from the ms per step of each pair of processes: the two models' medians over pairs,
    and the median and range over pairs of their ratio."""
    ratios = sorted(a / b for a, b in zip(ours_ms, reference_ms, strict=True))
    return {"pair": pair, "T": T, "threads": threads, "ours_ms": statistics.median(ours_ms),
            "reference_ms": statistics.median(reference_ms), "ratio": statistics.median(ratios),
            "ratio_range": [ratios[0], ratios[-1]]}


def add_floor(row, flops, gflops):
    """The row's matrix-product floor: flops at the median of the processes' measured rates, and
    each model's time as a multiple of it."""
    rate = statistics.median(gflops)
    floor_ms = flops / rate / 1e6
    row.update(flops=flops, mm_gflops=rate, floor_ms=floor_ms, ours_floor_ratio=row["ours_ms"] / floor_ms,
               reference_floor_ratio=row["reference_ms"] / floor_ms)
    return row


def peak_memory_mb(kind, T, batch_size, num_hidden):
    """Peak resident memory of one training step, in a fresh process (ru_maxrss, MB)."""
    code = (
        "import resource, torch, benchmark as b\n"
        f"model = b.build_model({'lstm' if kind == 'ours' else 'torch_lstm'!r}, {T}, 10, {num_hidden})\n"
        f"x, y = b.one_hot_batch({batch_size}, {T})\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "b.make_step(model, x, y)()\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(after / 1024, (after - before) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=HERE, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--lengths", type=positive_int, nargs="+", default=[10, 50, 200], help="sequence lengths T to time")
    parser.add_argument("--threads", type=positive_int, nargs="+", default=[1, 2], help="torch thread counts to time at")
    parser.add_argument("--batch_size", type=positive_int, default=128, help="batch size B")
    parser.add_argument("--num_hidden", type=positive_int, default=128, help="hidden size H")
    parser.add_argument("--pairs", type=positive_int, default=4, help="rounds, each timing every model once in a process of its own")
    parser.add_argument("--steps", type=positive_int, default=120, help="consecutive timed steps per process")
    parser.add_argument("--long_steps", type=positive_int, default=25,
                        help=f"consecutive timed steps per process at T >= {LONG_T}, where fewer steps take as long")
    parser.add_argument("--warmup", type=non_negative_int, default=10, help="untimed steps per process first")
    parser.add_argument("--models", nargs="+", choices=["lstm", "rnn"], default=["lstm", "rnn"], help="models to time")
    parser.add_argument("--peak_memory_T", type=non_negative_int, default=1000,
                        help="also measure peak memory of one LSTM step at this length (0: skip)")
    parser.add_argument("--json", type=Path, default=None, help="write the results to this JSON file")
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    train.check_writable(parser, "--json", args.json)
    return args


def main(argv=None):
    args = parse_args(argv)
    steps = {T: args.long_steps if T >= LONG_T else args.steps for T in args.lengths}
    print(f"B={args.batch_size} H={args.num_hidden} one-hot input; each model alone in its own process, "
          f"{args.warmup} steps of warm-up, then consecutive steps timed; ratio: median over {args.pairs} "
          f"rounds (lowest-highest round)")
    print("floor: the matrix products' MFLOP of one step at the rate of a same-shaped torch.mm; ours and ref. "
          "as multiples of it")
    print(f"{'pair':32s} {'T':>5s} {'threads':>7s} {'ours ms':>8s} {'ref. ms':>8s} {'ratio':>6s} {'range':>11s} "
          f"{'MFLOP':>7s} {'GFLOP/s':>7s} {'floor ms':>8s} {'ours x':>6s} {'ref. x':>6s}")
    pairs = [p for p in PAIRS if p.startswith(tuple(args.models))]
    results = []
    for threads in args.threads:
        for T in args.lengths:
            # Every model of this length once per round, each process after the other; a model in two
            # comparisons (our LSTM) is timed once per round for both.
            names = list(dict.fromkeys(name for p in pairs for name in COMPARED[p]))
            timings = {name: [] for name in names}
            for _ in range(args.pairs):
                for name in names:
                    timings[name].append(run_alone(name, T, threads, args, steps[T]))
            for pair in pairs:
                ours, reference = (timings[name] for name in COMPARED[pair])
                r = compare(pair, T, threads, [t["ms"] for t in ours], [t["ms"] for t in reference])
                r["steps"] = steps[T]
                add_floor(r, training_flops("rnn" if pair == "rnn" else "lstm", T, args.batch_size, args.num_hidden),
                          [t["mm_gflops"] for t in ours + reference])
                print(f"{PAIRS[pair]:32s} {T:5d} {threads:7d} {r['ours_ms']:8.2f} {r['reference_ms']:8.2f} "
                      f"{r['ratio']:6.2f} {r['ratio_range'][0]:5.2f}-{r['ratio_range'][1]:5.2f} "
                      f"{r['flops'] / 1e6:7.1f} {r['mm_gflops']:7.1f} {r['floor_ms']:8.2f} "
                      f"{r['ours_floor_ratio']:6.2f} {r['reference_floor_ratio']:6.2f}", flush=True)
                results.append(r)
    memory = None
    if args.peak_memory_T:
        T = args.peak_memory_T
        memory = {"T": T}
        for kind in ("ours", "torch"):
            peak, step = peak_memory_mb(kind, T, args.batch_size, args.num_hidden)
            memory[f"{kind}_peak_mb"], memory[f"{kind}_step_mb"] = peak, step
        print(f"LSTM peak memory of one training step at T={T}: ours {memory['ours_peak_mb']:.0f} MB "
              f"(+{memory['ours_step_mb']:.0f} MB for the step), torch {memory['torch_peak_mb']:.0f} MB "
              f"(+{memory['torch_step_mb']:.0f} MB)")
    if args.json is not None:
        train.write_json(args.json, {"config": train.config_dict(args), "torch_version": torch.__version__,
                                     "results": results, "peak_memory": memory})


if __name__ == "__main__":
    main()

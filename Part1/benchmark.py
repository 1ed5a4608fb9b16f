"""Time a training step of our LSTM and vanilla RNN against torch.nn.LSTM and torch.nn.RNN.

One step is forward, cross-entropy on the last step, backward and an RMSprop update, on one-hot
palindrome inputs. The models compared run alternately, step by step, after a warm-up, so that
whatever else the machine is doing slows them alike. Each of --blocks blocks times --repeats
steps of every model; a ratio is the median over blocks of the two models' medians in a block,
and its spread is the lowest and highest block. Three pairs, at every thread count: our LSTM
(the fused path train.py uses) against torch.nn.LSTM, the plain autograd loop of the same
equations (lstm_reference) against the fused path, and our RNN against torch.nn.RNN.
`--peak_memory_T` also measures the peak memory of one training step of each LSTM at a long
length, each in a fresh process.

    python Part1/benchmark.py --json Part1/results/benchmark.json
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn

import train
from lstm import LSTM
from vanilla_rnn import VanillaRNN


class TorchRecurrent(nn.Module):
    """torch.nn.LSTM or torch.nn.RNN with a Linear head on the last step: the reference."""

    def __init__(self, kind, input_dim, num_hidden, num_classes):
        super().__init__()
        rnn = nn.LSTM if kind == "lstm" else nn.RNN
        self.rnn = rnn(input_dim, num_hidden, batch_first=True)
        self.head = nn.Linear(num_hidden, num_classes)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])


def build_pair(kind, T, input_dim, num_hidden, num_classes=10):
    ours = LSTM if kind == "lstm" else VanillaRNN
    return ours(T, input_dim, num_hidden, num_classes), TorchRecurrent(kind, input_dim, num_hidden, num_classes)


def make_step(model, x, y):
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)

    def step():
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def time_blocks(steps, warmup, blocks, repeats):
    """Run the steps alternately; return each one's median milliseconds per block."""
    for _ in range(warmup):
        for step in steps:
            step()
    medians = [[] for _ in steps]
    for _ in range(blocks):
        times = [[] for _ in steps]
        for _ in range(repeats):
            for step, record in zip(steps, times):
                start = time.perf_counter()
                step()
                record.append(1000 * (time.perf_counter() - start))
        for record, block_medians in zip(times, medians):
            block_medians.append(statistics.median(record))
    return medians


def compare(pair, T, threads, ours_ms, reference_ms):
    """One row: the two models' medians over blocks, and the median and range of their ratio per block."""
    ratios = sorted(a / b for a, b in zip(ours_ms, reference_ms))
    return {"pair": pair, "T": T, "threads": threads, "ours_ms": statistics.median(ours_ms),
            "reference_ms": statistics.median(reference_ms), "ratio": statistics.median(ratios),
            "ratio_range": [ratios[0], ratios[-1]]}


def peak_memory_mb(kind, T, batch_size, num_hidden):
    """Peak resident memory of one training step, in a fresh process (ru_maxrss, MB)."""
    code = (
        "import resource, torch, benchmark as b\n"
        f"ours, ref = b.build_pair('lstm', {T}, 10, {num_hidden})\n"
        f"model = ours if {kind == 'ours'} else ref\n"
        f"x = torch.nn.functional.one_hot(torch.randint(0, 10, ({batch_size}, {T})), 10).float()\n"
        f"y = torch.randint(0, 10, ({batch_size},))\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "b.make_step(model, x, y)()\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(after / 1024, (after - before) / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent,
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


PAIRS = {"lstm": "our LSTM / torch.nn.LSTM", "lstm_reference": "plain autograd loop / our LSTM",
         "rnn": "our RNN / torch.nn.RNN"}


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 50, 200], help="sequence lengths T to time")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to time at")
    parser.add_argument("--batch_size", type=int, default=128, help="batch size B")
    parser.add_argument("--num_hidden", type=int, default=128, help="hidden size H")
    parser.add_argument("--blocks", type=int, default=7, help="blocks of timed steps per length and thread count")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps of each model per block")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps of each model first")
    parser.add_argument("--models", nargs="+", choices=["lstm", "rnn"], default=["lstm", "rnn"], help="models to time")
    parser.add_argument("--peak_memory_T", type=int, default=1000,
                        help="also measure peak memory of one LSTM step at this length (0: skip)")
    parser.add_argument("--json", type=Path, default=None, help="write the results to this JSON file")
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("batch_size", "num_hidden", "blocks", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if min(args.lengths) < 1 or min(args.threads) < 1 or args.warmup < 0 or args.peak_memory_T < 0:
        parser.error("--lengths and --threads must be positive; --warmup and --peak_memory_T non-negative")
    train.check_writable(parser, "--json", args.json)
    return args


def main(argv=None):
    args = parse_args(argv)
    print(f"B={args.batch_size} H={args.num_hidden} one-hot input; ratio: median over {args.blocks} blocks "
          f"of {args.repeats} interleaved steps (lowest-highest block)")
    print(f"{'pair':32s} {'T':>5s} {'threads':>7s} {'ours ms':>8s} {'ref. ms':>8s} {'ratio':>6s} {'spread':>11s}")
    results = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        for kind in args.models:
            for T in args.lengths:
                torch.manual_seed(0)
                x = nn.functional.one_hot(torch.randint(0, 10, (args.batch_size, T)), 10).float()
                y = torch.randint(0, 10, (args.batch_size,))
                ours, ref = build_pair(kind, T, 10, args.num_hidden)
                models = [ours, ref]
                if kind == "lstm":  # the same weights through the plain loop
                    plain = LSTM(T, 10, args.num_hidden, 10, fused=False)
                    plain.load_state_dict(ours.state_dict())
                    models.append(plain)
                ms = time_blocks([make_step(m, x, y) for m in models], args.warmup, args.blocks, args.repeats)
                rows = [compare(kind, T, threads, ms[0], ms[1])]
                if kind == "lstm":
                    rows.append(compare("lstm_reference", T, threads, ms[2], ms[0]))
                for r in rows:
                    print(f"{PAIRS[r['pair']]:32s} {T:5d} {threads:7d} {r['ours_ms']:8.2f} {r['reference_ms']:8.2f} "
                          f"{r['ratio']:6.2f} {r['ratio_range'][0]:5.2f}-{r['ratio_range'][1]:5.2f}")
                results += rows
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

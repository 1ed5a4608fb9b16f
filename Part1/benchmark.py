"""Time a training step of our LSTM and vanilla RNN against torch.nn.LSTM and torch.nn.RNN.

One step is forward, cross-entropy on the last step, backward and an RMSprop update, on one-hot
palindrome inputs. The two models of a pair run alternately, step by step, after a warm-up, so
that whatever else the machine is doing slows both alike; the ratio of their medians is the
figure to read. `--peak_memory_T` also measures the peak memory of one training step of each
LSTM at a long length, each in a fresh process.

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


def time_pair(steps, warmup, repeats):
    """Run the steps alternately; return each one's list of seconds per step."""
    for _ in range(warmup):
        for step in steps:
            step()
    times = [[] for _ in steps]
    for _ in range(repeats):
        for step, record in zip(steps, times):
            start = time.perf_counter()
            step()
            record.append(time.perf_counter() - start)
    return times


def summarise(seconds):
    ms = sorted(1000 * s for s in seconds)
    return statistics.median(ms), ms[len(ms) // 10], ms[-1 - len(ms) // 10]


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


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 50, 200], help="sequence lengths T to time")
    parser.add_argument("--batch_size", type=int, default=128, help="batch size B")
    parser.add_argument("--num_hidden", type=int, default=128, help="hidden size H")
    parser.add_argument("--repeats", type=int, default=30, help="timed steps of each model per length")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps of each model first")
    parser.add_argument("--models", nargs="+", choices=["lstm", "rnn"], default=["lstm", "rnn"], help="pairs to time")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--peak_memory_T", type=int, default=1000,
                        help="also measure peak memory of one LSTM step at this length (0: skip)")
    parser.add_argument("--json", type=Path, default=None, help="write the results to this JSON file")
    return parser


def parse_args(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("batch_size", "num_hidden", "repeats"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if min(args.lengths) < 1 or args.warmup < 0 or args.threads < 0 or args.peak_memory_T < 0:
        parser.error("--lengths must be positive; --warmup, --threads and --peak_memory_T non-negative")
    train.check_writable(parser, "--json", args.json)
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"B={args.batch_size} H={args.num_hidden} one-hot input, {torch.get_num_threads()} threads, "
          f"median of {args.repeats} steps (10th-90th percentile)")
    print(f"{'model':6s} {'T':>5s} {'ours ms':>22s} {'torch ms':>22s} {'ours/torch':>10s}")
    results = []
    for kind in args.models:
        for T in args.lengths:
            x = nn.functional.one_hot(torch.randint(0, 10, (args.batch_size, T)), 10).float()
            y = torch.randint(0, 10, (args.batch_size,))
            ours, ref = build_pair(kind, T, 10, args.num_hidden)
            ours_s, ref_s = time_pair([make_step(ours, x, y), make_step(ref, x, y)], args.warmup, args.repeats)
            (ours_ms, ours_lo, ours_hi), (ref_ms, ref_lo, ref_hi) = summarise(ours_s), summarise(ref_s)
            ratio = ours_ms / ref_ms
            print(f"{kind:6s} {T:5d} {ours_ms:8.2f} ({ours_lo:6.2f}-{ours_hi:6.2f}) "
                  f"{ref_ms:8.2f} ({ref_lo:6.2f}-{ref_hi:6.2f}) {ratio:10.2f}")
            results.append({"model": kind, "T": T, "ours_ms": ours_ms, "torch_ms": ref_ms, "ratio": ratio,
                            "ours_ms_p10_p90": [ours_lo, ours_hi], "torch_ms_p10_p90": [ref_lo, ref_hi]})
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
        payload = {"config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                   "threads": torch.get_num_threads(), "torch_version": torch.__version__,
                   "results": results, "peak_memory": memory}
        train.write_json(args.json, payload)


if __name__ == "__main__":
    main()

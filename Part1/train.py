"""Train an LSTM or a vanilla RNN to predict the last digit of a palindrome.

    python Part1/train.py                                  # LSTM, T=10, the assignment's settings
    python Part1/train.py --model rnn --input_length 5 --output rnn_T5.json --save rnn_T5.pt

Every step draws a fresh batch of palindromes; every --eval_every steps the model is scored on a
fixed validation set drawn from --seed. Training stops after --train_steps, or earlier once
validation accuracy has reached --target_accuracy at --patience evaluations in a row.
"""

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from dataset import PalindromeDataset, random_batch
from lstm import LSTM
from vanilla_rnn import VanillaRNN

MODELS = {"lstm": LSTM, "rnn": VanillaRNN}
OPTIMIZERS = {"rmsprop": torch.optim.RMSprop, "adam": torch.optim.Adam}
REPOSITORY = Path(__file__).resolve().parent.parent  # result files store paths relative to it


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def positive_float(text):
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return value


def finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {value}")
    return value


def accuracy(text):
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="lstm", help="which network")
    parser.add_argument("--input_length", type=int, default=10,
                        help="palindrome length T: the model reads T-1 digits and predicts the T-th")
    parser.add_argument("--input_dim", type=int, choices=[1, 10], default=1,
                        help="1: each digit is fed as its value; 10: one-hot")
    parser.add_argument("--num_classes", type=int, default=10, help="output classes (digits 0-9 need 10)")
    parser.add_argument("--num_hidden", type=positive_int, default=128, help="hidden units")
    parser.add_argument("--batch_size", type=positive_int, default=128, help="palindromes per training step")
    parser.add_argument("--learning_rate", type=positive_float, default=1e-3, help="optimiser step size")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="rmsprop", help="optimiser")
    parser.add_argument("--train_steps", type=positive_int, default=10000, help="most training steps")
    parser.add_argument("--max_norm", type=positive_float, default=10.0, help="clip the gradient's global norm to this")
    parser.add_argument("--forget_bias", type=finite_float, default=1.0,
                        help="LSTM only: added to the forget gate's bias b_f")
    parser.add_argument("--recurrent_init", choices=["uniform", "orthogonal"], default="uniform",
                        help="initialisation of the recurrent weights (W_·h)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights, the training batches and the validation set")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto",
                        help="where to train; auto takes cuda, then mps, then cpu")
    parser.add_argument("--threads", type=non_negative_int, default=0, help="CPU threads for torch (0: torch's default)")
    parser.add_argument("--eval_every", type=positive_int, default=100, help="steps between validation scores")
    parser.add_argument("--eval_size", type=positive_int, default=2000, help="palindromes in the validation set")
    parser.add_argument("--target_accuracy", type=accuracy, default=1.0,
                        help="validation accuracy (0-1) that counts towards stopping early")
    parser.add_argument("--patience", type=non_negative_int, default=3,
                        help="stop after this many evaluations in a row at --target_accuracy (0: never stop early)")
    parser.add_argument("--output", type=Path, default=None, help="write config, history and final scores to this JSON file")
    parser.add_argument("--save", type=Path, default=None, help="write the trained model's checkpoint (.pt) here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def check_writable(parser, flag, path, folder=False):
    """Exit 2 before any long work unless a file can be written at `path` (or into the folder
    `path`, created if need be). Tried by creating and removing the temporary file atomic_write
    would write: permission bits do not tell the truth for root or on read-only file systems
    such as /proc."""
    if path is None:
        return
    try:
        if folder:
            path.mkdir(parents=True, exist_ok=True)
            path = path / "probe"
        elif path.is_dir():
            parser.error(f"{flag} {path} is a directory, not a file")
        probe = temporary_path(path)
        probe.open("x").close()
        probe.unlink()
    except OSError as error:
        parser.error(f"cannot write {flag} {path}: {error.strerror or error}")


def device_available(name):
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return torch.backends.mps.is_available()
    return True


def resolve_device(name):
    if name == "auto":
        return next(d for d in ("cuda", "mps", "cpu") if device_available(d))
    return name


def parse_args(argv=None):
    """Parse and check the flags; any problem exits with status 2 and a one-line message."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.input_length < 2:
        parser.error(f"--input_length must be at least 2 (one digit to read, one to predict), got {args.input_length}")
    if args.num_classes < 10:
        parser.error(f"--num_classes must be at least 10 to cover the digits 0-9, got {args.num_classes}")
    if not device_available(args.device):
        parser.error(f"--device {args.device} is not available on this machine")
    check_writable(parser, "--output", args.output)
    check_writable(parser, "--save", args.save)
    return args


def build_model(config):
    """The model the config describes, its weights drawn afresh from config.seed."""
    torch.manual_seed(config.seed)
    kwargs = {"recurrent_init": config.recurrent_init}
    if config.model == "lstm":
        kwargs["forget_bias"] = config.forget_bias
    return MODELS[config.model](config.input_length, config.input_dim, config.num_hidden,
                                config.num_classes, **kwargs)


@torch.no_grad()
def evaluate(model, inputs, labels):
    """Mean cross-entropy and accuracy (0-1) of the model on these palindromes."""
    logits = model(inputs)
    loss = nn.functional.cross_entropy(logits, labels).item()
    return loss, (logits.argmax(1) == labels).float().mean().item()


def train(config, model=None, optimizer=None, progress=True):
    """Train `model` (a new one from the config if None) with `optimizer` (a new one if None)
    and return the run's record, {"config": the flags, "history": one entry per evaluation,
    "final": the last scores}, and the model."""
    device = torch.device(resolve_device(config.device))
    one_hot = config.input_dim == 10
    val_set = PalindromeDataset(config.input_length, config.eval_size, one_hot, seed=config.seed)
    val_inputs, val_labels = val_set.inputs.to(device), val_set.labels.to(device)
    # The training stream has a seed of its own, so that it does not replay the validation set.
    generator = torch.Generator().manual_seed(config.seed + 1)
    model = (model if model is not None else build_model(config)).to(device)
    if optimizer is None:
        optimizer = OPTIMIZERS[config.optimizer](model.parameters(), lr=config.learning_rate)

    history, streak = [], 0
    loss_sum = correct = seen = 0
    start = time.perf_counter()
    bar = tqdm(range(1, config.train_steps + 1), desc=f"{config.model} T={config.input_length}",
               disable=not progress, dynamic_ncols=True)
    for step in bar:
        model.train()
        inputs, labels = random_batch(config.batch_size, config.input_length, one_hot, generator)
        inputs, labels = inputs.to(device), labels.to(device)
        logits = model(inputs)
        loss = nn.functional.cross_entropy(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), config.max_norm)
        optimizer.step()

        loss_sum += loss.item() * len(labels)
        correct += (logits.argmax(1) == labels).sum().item()
        seen += len(labels)
        if step % config.eval_every == 0 or step == config.train_steps:
            model.eval()
            val_loss, val_accuracy = evaluate(model, val_inputs, val_labels)
            history.append({
                "step": step,
                "loss": loss_sum / seen,  # training loss, averaged since the last evaluation
                "train_accuracy": correct / seen,
                "val_loss": val_loss,
                "val_accuracy": val_accuracy,
                "grad_norm": grad_norm.item(),  # before clipping, at this step
                "seconds": time.perf_counter() - start,
            })
            loss_sum = correct = seen = 0
            bar.set_postfix(loss=f"{history[-1]['loss']:.3f}", acc=f"{history[-1]['train_accuracy']:.3f}",
                            val_acc=f"{val_accuracy:.3f}")
            streak = streak + 1 if val_accuracy >= config.target_accuracy else 0
            if config.patience and streak >= config.patience:
                break
    bar.close()

    last = history[-1]
    steps_to_99 = next((h["step"] for h in history if h["val_accuracy"] >= 0.99), None)
    final = {"val_accuracy": last["val_accuracy"], "val_loss": last["val_loss"], "step": last["step"],
             "seconds": last["seconds"], "steps_to_99": steps_to_99}
    return {"config": config_dict(config), "history": history, "final": final}, model


def config_dict(config):
    """The flags as JSON values; paths inside the repository relative to it, so that result
    files read the same on every machine."""
    def portable(value):
        if not isinstance(value, Path):
            return value
        path = value.resolve()
        return str(path.relative_to(REPOSITORY)) if path.is_relative_to(REPOSITORY) else str(value)

    return {k: portable(v) for k, v in vars(config).items()}


def temporary_path(path):
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write(path, write):
    """Call write(temporary path), then move the file into place, so that `path` never holds
    half a file: an interrupted run leaves the old file or none."""
    tmp = temporary_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path, data):
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2) + "\n"))


def save_checkpoint(path, model, config):
    """The model's weights and the flags that rebuild it."""
    checkpoint = {"state_dict": model.state_dict(), "config": config_dict(config)}
    atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


def load_checkpoint(path, device="cpu"):
    """Rebuild a model saved by save_checkpoint; returns (model in eval mode, config)."""
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    config = argparse.Namespace(**checkpoint["config"])
    model = build_model(config)
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(device).eval(), config


def main(argv=None):
    config = parse_args(argv)
    if config.threads:
        torch.set_num_threads(config.threads)
    result, model = train(config, progress=not config.quiet)
    if config.output is not None:
        write_json(config.output, result)
    if config.save is not None:
        save_checkpoint(config.save, model, config)
    final = result["final"]
    reached = f"first >= 99% at step {final['steps_to_99']}" if final["steps_to_99"] else "never reached 99%"
    print(f"{config.model} T={config.input_length}: validation accuracy {100 * final['val_accuracy']:.2f}% "
          f"after {final['step']} steps, {final['seconds']:.1f} s ({reached})")


if __name__ == "__main__":
    sys.exit(main())

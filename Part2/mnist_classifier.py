"""A small CNN that classifies MNIST digits, used to score generated samples.

The model, its training loop (`python Part2/mnist_classifier.py`), and `classify(images)`.
Images everywhere in Part 2 live in [-1, 1] with shape (N, 1, 28, 28), the range of the
generator's Tanh output, so generated and real digits go through exactly the same path.
"""

import argparse
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

from mnist_data import (DEFAULT_ROOT, MnistUnavailable, atomic_save, check_writable, config_dict, mnist_tensors,
                        non_negative_int, positive_float, positive_int, prepare_mnist, torch_device, write_json)

HERE = Path(__file__).resolve().parent
DEFAULT_CHECKPOINT = HERE / "checkpoints" / "mnist_classifier.pt"
DEFAULT_RESULTS = HERE / "results" / "mnist_classifier.json"


class MnistClassifier(nn.Module):
    """Three conv blocks and global average pooling: ~130k parameters, a ~0.5 MB checkpoint.

    `features` is the 128-d penultimate layer in which FID is measured.
    """

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 32, 14, 14)
            nn.Conv2d(32, 64, 5, padding=2, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 64, 7, 7)
            nn.Conv2d(64, 128, 3, padding=1, bias=False), nn.BatchNorm2d(128), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),  # (N, 128)
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(128, 10)

    def features(self, x):
        return self.body(x)

    def forward(self, x):
        return self.head(self.dropout(self.features(x)))


def load_classifier(path=DEFAULT_CHECKPOINT, device="cpu"):
    """The trained classifier (`python Part2/mnist_classifier.py` writes it) in eval mode."""
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    model = MnistClassifier()
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval()


@torch.no_grad()
def classify(images, classifier=None, batch_size=1000):
    """Images (N, 1, 28, 28) in [-1, 1] -> labels (N,) and class probabilities (N, 10)."""
    classifier = classifier if classifier is not None else load_classifier()
    device = next(classifier.parameters()).device
    probs = torch.cat([F.softmax(classifier(batch.to(device)), dim=1).cpu()
                       for batch in images.split(batch_size)])
    return probs.argmax(dim=1), probs


def accuracy(model, images, labels, batch_size=1000):
    model.eval()
    predicted, _ = classify(images, model, batch_size)
    return (predicted == labels).float().mean().item()


def random_shift(images, max_shift):
    """Shift each image by up to max_shift pixels in x and y (zero padding is -1 = black).

    MNIST digits are centred by their centre of mass; small shifts make the classifier
    robust to the slight misplacement that generated digits have.
    """
    n = images.shape[0]
    padded = F.pad(images, [max_shift] * 4, value=-1.0)  # (N, 1, 28 + 2s, 28 + 2s)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, n))
    rows = dy[:, None, None] + torch.arange(28)[None, :, None]  # (N, 28, 1)
    cols = dx[:, None, None] + torch.arange(28)[None, None, :]  # (N, 1, 28)
    return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)


def train(config):
    """Train the classifier on the MNIST training set; return (model, test accuracy, log)."""
    torch.manual_seed(config.seed)
    device = torch.device(config.device)
    train_x, train_y = mnist_tensors(config.data_root, train=True)
    test_x, test_y = mnist_tensors(config.data_root, train=False)

    model = MnistClassifier().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    steps_per_epoch = (len(train_x) + config.batch_size - 1) // config.batch_size
    # One-cycle: a short warm-up then annealing to ~0 reaches high accuracy in few epochs.
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch)

    log = []
    start = time.process_time()
    for epoch in range(config.epochs):
        model.train()
        order = torch.randperm(len(train_x))
        progress = tqdm(order.split(config.batch_size), desc=f"epoch {epoch + 1}/{config.epochs}")
        for index in progress:
            x, y = train_x[index], train_y[index]
            if config.max_shift > 0:
                x = random_shift(x, config.max_shift)
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            progress.set_postfix(loss=f"{loss.item():.4f}")
        test_accuracy = accuracy(model, test_x, test_y)
        log.append({"epoch": epoch + 1, "test_accuracy": test_accuracy,
                    "cpu_seconds": time.process_time() - start})
        tqdm.write(f"epoch {epoch + 1}: test accuracy {test_accuracy:.4f}")
    return model, log[-1]["test_accuracy"], log


def main(argv=None):
    parser = argparse.ArgumentParser(description="Train the MNIST classifier that scores generated digits.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=positive_int, default=4, help="passes over the training set")
    parser.add_argument("--batch_size", type=positive_int, default=128, help="images per step")
    parser.add_argument("--lr", type=positive_float, default=3e-3, help="peak learning rate of the one-cycle schedule")
    parser.add_argument("--max_shift", type=int, choices=range(5), default=2,
                        help="random translation in pixels for augmentation (0 = none)")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--device", type=torch_device, default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--threads", type=non_negative_int, default=0, help="CPU threads for torch (0 = its default)")
    parser.add_argument("--data_root", type=Path, default=DEFAULT_ROOT, help="folder holding MNIST/raw/")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="where to write the trained model")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS,
                        help="JSON file for config, test accuracy and per-epoch log")
    config = parser.parse_args(argv)
    try:
        prepare_mnist(config.data_root)
    except MnistUnavailable as error:
        parser.error(str(error))
    check_writable(parser, "--checkpoint", config.checkpoint.parent)
    check_writable(parser, "--results", config.results.parent)
    if config.threads:
        torch.set_num_threads(config.threads)
    model, test_accuracy, log = train(config)
    settings = config_dict(config)
    checkpoint = {"model": model.state_dict(), "config": settings, "test_accuracy": test_accuracy}
    results = {"config": settings, "test_accuracy": test_accuracy, "log": log,
               "parameters": sum(p.numel() for p in model.parameters())}
    atomic_save(config.checkpoint, lambda tmp: torch.save(checkpoint, tmp))
    write_json(config.results, results)
    print(f"test accuracy {test_accuracy:.4f}; saved {config.checkpoint}")


if __name__ == "__main__":
    main()

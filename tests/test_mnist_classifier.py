"""The scoring classifier: its API, its training CLI, and (slow) the committed checkpoint on real MNIST."""

import json

import pytest
import torch

import mnist_classifier
from gan_metrics import Scorer
from conftest import write_synthetic_mnist
from mnist_data import DEFAULT_ROOT, mnist_tensors, prepare_mnist


@pytest.fixture(scope="module")
def classifier():
    return mnist_classifier.load_classifier()


def test_classify_returns_labels_and_probabilities(classifier):
    images = torch.rand(7, 1, 28, 28) * 2 - 1
    labels, probs = mnist_classifier.classify(images, classifier, batch_size=3)
    assert labels.shape == (7,) and probs.shape == (7, 10)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(7, dtype=probs.dtype))
    assert torch.equal(labels, probs.argmax(dim=1))


def test_random_shift_moves_whole_images():
    image = torch.full((1, 1, 28, 28), -1.0)
    image[0, 0, 10:18, 12:16] = 1.0  # a bar away from the border
    shifted = mnist_classifier.random_shift(image.repeat(16, 1, 1, 1), max_shift=2)
    assert torch.equal(mnist_classifier.random_shift(image, 0), image)
    # pixels move but none are lost or invented
    assert ((shifted == 1).sum(dim=(1, 2, 3)) == 32).all()
    assert len({tuple(s.nonzero()[0].tolist()) for s in (shifted == 1)}) > 1


def test_training_cli_writes_checkpoint_and_results(tmp_path):
    root = write_synthetic_mnist(tmp_path / "data", n_train=64, n_test=32)
    checkpoint, results = tmp_path / "clf.pt", tmp_path / "clf.json"
    mnist_classifier.main(["--epochs", "1", "--batch_size", "32", "--threads", "1", "--data_root", str(root),
                           "--checkpoint", str(checkpoint), "--results", str(results)])
    report = json.loads(results.read_text())
    assert report["config"]["epochs"] == 1 and 0 <= report["test_accuracy"] <= 1
    model = mnist_classifier.load_classifier(checkpoint)
    assert not model.training
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["test_accuracy"] == report["test_accuracy"]


def test_training_cli_refuses_bad_flags_and_unwritable_targets_before_training(tmp_path, capsys):
    root = write_synthetic_mnist(tmp_path / "data", n_train=64, n_test=32)
    (tmp_path / "a_file").write_text("")
    for flags in (["--epochs", "0"], ["--max_shift", "9"], ["--checkpoint", str(tmp_path / "a_file" / "clf.pt")],
                  ["--results", str(tmp_path / "a_file" / "clf.json")]):
        with pytest.raises(SystemExit) as exit_info:
            mnist_classifier.main(["--data_root", str(root), "--checkpoint", str(tmp_path / "clf.pt"),
                                   "--results", str(tmp_path / "clf.json"), *flags])
        assert exit_info.value.code == 2 and flags[0] in capsys.readouterr().err.strip().splitlines()[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "data"]


def test_the_committed_classifier_stores_no_machine_paths():
    config = torch.load(mnist_classifier.DEFAULT_CHECKPOINT, weights_only=True)["config"]
    assert config["checkpoint"] == "Part2/checkpoints/mnist_classifier.pt" and config["data_root"] == "Part2/data"


def test_load_classifier_refuses_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="none.pt"):
        mnist_classifier.load_classifier(tmp_path / "none.pt")


@pytest.mark.slow
def test_committed_classifier_reaches_99_2_percent_on_real_mnist(classifier):
    prepare_mnist(DEFAULT_ROOT)
    images, labels = mnist_tensors(DEFAULT_ROOT, train=False)
    accuracy = mnist_classifier.accuracy(classifier, images, labels)
    assert accuracy >= 0.992
    recorded = json.loads(mnist_classifier.DEFAULT_RESULTS.read_text())["test_accuracy"]
    assert accuracy == pytest.approx(recorded, abs=1e-4)


@pytest.mark.slow
def test_real_data_baseline_scores_like_real_digits():
    prepare_mnist(DEFAULT_ROOT)
    baseline = Scorer(DEFAULT_ROOT).real_data_baseline(n=10000)
    assert baseline["inception_score"] > 9.5
    assert baseline["confident"] > 0.95
    assert 0.08 < baseline["class_min"] and baseline["class_max"] < 0.12
    assert baseline["fid"] < 1.0  # train vs test in the classifier's feature space

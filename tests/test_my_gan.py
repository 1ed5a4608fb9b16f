"""The GAN: its models, that each step learns, that a short run learns, resume, checkpoints, bad input."""

import itertools
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import my_gan
from gan_metrics import Scorer
from mnist_data import mnist_tensors

CHECKPOINTS = Path(my_gan.__file__).resolve().parent / "checkpoints"
TINY = ["--batch_size", "32", "--save_interval", "3", "--eval_interval", "0", "--threads", "1"]  # 8 steps an epoch


def train_tiny(mnist_root, out_dir, *flags):
    my_gan.main([*TINY, "--data_root", str(mnist_root), "--out_dir", str(out_dir), *map(str, flags)])
    return torch.load(Path(out_dir) / "latest.pt", weights_only=True)


def exit_of(capsys, *flags):
    """Run main expecting it to exit; return (status, last line of stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        my_gan.main([str(flag) for flag in flags])
    return exit_info.value.code, capsys.readouterr().err.strip().splitlines()[-1]


def fixed_models(arch="mlp", mbstd=False):
    torch.manual_seed(0)
    G, D = my_gan.Generator(arch=arch), my_gan.Discriminator(arch, mbstd)
    return G, D, torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999)), \
        torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))


@pytest.mark.parametrize("arch", ["mlp", "dcgan"])
def test_models_map_latents_to_images_and_images_to_probabilities(arch):
    G, D, _, _ = fixed_models(arch)
    images = G(torch.randn(5, 100))
    assert images.shape == (5, 1, 28, 28) and images.abs().max() <= 1
    assert D(images).shape == (5, 1) and ((D(images) > 0) & (D(images) < 1)).all()


def test_minibatch_std_lets_d_tell_a_collapsed_batch_from_a_varied_one():
    layer = my_gan.MinibatchStd()
    varied, collapsed = torch.randn(8, 5), torch.randn(1, 5).expand(8, 5)
    assert layer(varied).shape == (8, 6)
    assert (layer(varied)[:, -1] > 0.5).all() and (layer(collapsed)[:, -1] < 1e-3).all()
    _, D, _, _ = fixed_models(mbstd=True)
    assert D.net[1].out_features + 1 == D.net[4].in_features  # the spread enters D's second layer


def test_discriminator_step_separates_real_from_fake_and_leaves_g_alone(mnist_root):
    G, D, _, opt_D = fixed_models()
    real = mnist_tensors(mnist_root)[0][:64]
    fake = G(torch.randn(64, 100))
    gap = [(D(real).mean() - D(fake).mean()).item()]
    for _ in range(3):
        my_gan.discriminator_step(D, opt_D, real, fake)
        gap.append((D(real).mean() - D(fake).mean()).item())
    assert gap[1] > gap[0] and gap[3] > gap[1] + 0.1, gap
    assert all(p.grad is None for p in G.parameters())  # the fakes were detached


def test_generator_step_raises_d_of_g_z():
    G, D, opt_G, _ = fixed_models()
    z = torch.randn(64, 100)
    verdict = [D(G(z)).mean().item()]
    for _ in range(3):
        my_gan.generator_step(D, opt_G, G(z))
        verdict.append(D(G(z)).mean().item())
    assert verdict[3] > verdict[0] + 0.02, verdict


def test_a_short_run_moves_the_samples_toward_the_data(mnist_root, tmp_path):
    train_tiny(mnist_root, tmp_path, "--n_epochs", 4, "--lr", 1e-3)
    images, _ = mnist_tensors(mnist_root)
    z = torch.randn(256, 100, generator=torch.Generator().manual_seed(1))
    distance = {}
    for stage in ("start", "end"):
        with torch.no_grad():
            samples = my_gan.load_generator(tmp_path / f"generator_{stage}.pt")(z)
        distance[stage] = (samples.mean(dim=0) - images.mean(dim=0)).norm().item()
    assert distance["end"] < 0.5 * distance["start"], distance


def test_ema_warms_up_then_holds_its_decay():
    assert my_gan.ema_decay(0.999, 0) == pytest.approx(0.1)  # the first average is mostly G
    assert my_gan.ema_decay(0.999, 90) == pytest.approx(0.91)
    assert my_gan.ema_decay(0.999, 10**6) == 0.999
    G = my_gan.Generator(latent_dim=4)
    average = my_gan.averaged(G, 0.999)
    first = G.net[0].weight.detach().clone()
    with torch.no_grad():
        G.net[0].weight.add_(1.0)
    average.update_parameters(G)  # n = 0: the copy of G is taken as it is
    average.update_parameters(G)  # n = 1: d = 2 / 11
    torch.testing.assert_close(average.module.net[0].weight, first + 1.0)
    with torch.no_grad():
        G.net[0].weight.add_(1.0)
    average.update_parameters(G)  # n = 2: d = 3 / 12
    torch.testing.assert_close(average.module.net[0].weight, first + 1.0 + (1 - 3 / 12))


def test_tiny_run_writes_grids_checkpoints_and_scores(mnist_root, tmp_path, monkeypatch):
    monkeypatch.setattr(my_gan, "EVAL_SAMPLES", 50)
    state = train_tiny(mnist_root, tmp_path, "--n_epochs", 2, "--eval_interval", 1, "--mbstd", "--ema", 0.9)
    assert state["step"] == 16 and "G_ema" in state
    grids = sorted(p.name for p in (tmp_path / "samples").glob("*.png"))
    assert grids == [f"step_{s:07d}.png" for s in (0, 3, 6, 9, 12, 15, 16)]
    assert [torch.load(tmp_path / f"generator_{s}.pt", weights_only=True)["step"]
            for s in ("start", "middle", "end")] == [0, 8, 16]
    log = json.loads((tmp_path / "log.json").read_text())
    assert log == state["log"] and sorted(log) == ["config", "evaluations", "losses", "steps_per_epoch",
                                                   "train_cpu_seconds"]
    assert [row["epoch"] for row in log["evaluations"]] == [0, 1, 2]
    # the logged scores are those of the saved generator
    scores = Scorer(mnist_root).evaluate_generator(my_gan.load_generator(tmp_path / "generator_end.pt"), n=50)
    assert {key: log["evaluations"][-1][key] for key in scores} == scores
    assert log["config"]["mbstd"] and log["config"]["out_dir"] == str(tmp_path)
    # samples and checkpoints come from the average, not from the raw G
    torch.testing.assert_close(torch.load(tmp_path / "generator_end.pt", weights_only=True)["model"],
                               {k.removeprefix("module."): v for k, v in state["G_ema"].items()
                                if k.startswith("module.")})


def test_a_killed_and_resumed_run_writes_the_log_of_an_uninterrupted_one(mnist_root, tmp_path, monkeypatch):
    monkeypatch.setattr(my_gan, "EVAL_SAMPLES", 50)
    monkeypatch.setattr(my_gan, "LOG_INTERVAL", 5)  # rows at 5, 10, 15, 16; latest.pt at 3, 6, 9, ...
    flags = ("--n_epochs", 2, "--eval_interval", 1, "--ema", 0.9)
    straight = train_tiny(mnist_root, tmp_path / "straight", *flags)
    step, calls = my_gan.generator_step, itertools.count(1)

    def killed_at_the_seventh(*args):
        if next(calls) == 7:
            raise KeyboardInterrupt
        return step(*args)

    monkeypatch.setattr(my_gan, "generator_step", killed_at_the_seventh)
    with pytest.raises(KeyboardInterrupt):
        train_tiny(mnist_root, tmp_path / "killed", *flags)
    monkeypatch.setattr(my_gan, "generator_step", step)
    latest = tmp_path / "killed" / "latest.pt"
    assert torch.load(latest, weights_only=True)["step"] == 6  # one loss since the row at 5
    my_gan.main(["--resume", str(latest)])
    resumed = torch.load(latest, weights_only=True)
    for part in ("G", "D", "G_ema", "opt_G", "opt_D"):
        torch.testing.assert_close(resumed[part], straight[part], rtol=0, atol=0)
    logs = [json.loads((tmp_path / run / "log.json").read_text()) for run in ("straight", "killed")]
    for log in logs:
        log.pop("train_cpu_seconds")
        for row in log["evaluations"]:
            row.pop("train_cpu_seconds")
        assert log["config"].pop("out_dir").endswith(("straight", "killed"))
    assert logs[1]["config"].pop("resume") == str(latest) and logs[0]["config"].pop("resume") is None
    assert logs[1] == logs[0]
    assert [row["step"] for row in logs[1]["losses"]] == [5, 10, 15, 16]


def test_resume_takes_the_checkpoints_settings_and_the_flags_given(mnist_root, tmp_path):
    train_tiny(mnist_root, tmp_path, "--n_epochs", 1, "--mbstd", "--lr", 1e-3)
    my_gan.main(["--resume", str(tmp_path / "latest.pt"), "--n_epochs", "2", "--lr", "5e-4"])
    resumed = torch.load(tmp_path / "latest.pt", weights_only=True)
    assert resumed["step"] == 16
    config = json.loads((tmp_path / "log.json").read_text())["config"]
    assert (config["n_epochs"], config["lr"], config["mbstd"], config["batch_size"]) == (2, 5e-4, True, 32)
    assert resumed["opt_G"]["param_groups"][0]["lr"] == resumed["opt_D"]["param_groups"][0]["lr"] == 5e-4


def test_resume_refuses_what_it_cannot_continue_and_writes_nothing(mnist_root, tmp_path, capsys):
    train_tiny(mnist_root, tmp_path, "--n_epochs", 1)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    latest = tmp_path / "latest.pt"
    for flags in (["--resume", tmp_path / "missing.pt"],
                  ["--resume", tmp_path / "generator_end.pt"],  # weights, not a training state
                  ["--resume", latest, "--n_epochs", 2, "--latent_dim", 8],  # the model's shape is the checkpoint's
                  ["--resume", latest, "--n_epochs", 1]):  # already at its end
        status, line = exit_of(capsys, *flags)
        assert status == 2 and ("--resume" in line or "--latent_dim" in line), line
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


def test_bad_flags_exit_2_before_anything_is_written(tmp_path, capsys):
    for flags in (["--batch_size", 0], ["--ema", 1], ["--device", "nonsense"], ["--arch", "dcgan", "--mbstd"]):
        status, line = exit_of(capsys, *flags, "--out_dir", tmp_path / "out")
        assert status == 2 and flags[0] in line, line
    assert not (tmp_path / "out").exists()


def test_an_unwritable_out_dir_exits_2_before_training(tmp_path, capsys, mnist_root):
    (tmp_path / "a_file").write_text("")
    for out_dir in (tmp_path / "a_file", "/proc/gan_run"):  # a file; a file system that refuses folders
        status, line = exit_of(capsys, "--out_dir", out_dir, "--data_root", mnist_root)
        assert status == 2 and "--out_dir" in line
    assert sorted(tmp_path.iterdir()) == [tmp_path / "a_file"]


def test_bad_input_found_after_parsing_exits_2_and_leaves_nothing(tmp_path, capsys, mnist_root, monkeypatch):
    status, line = exit_of(capsys, "--batch_size", 1000, "--data_root", mnist_root, "--out_dir", tmp_path / "out")
    assert status == 2 and "--batch_size" in line

    def no_classifier(*args, **kwargs):
        raise FileNotFoundError("no classifier checkpoint at nowhere.pt")

    monkeypatch.setattr(my_gan, "load_classifier", no_classifier)
    status, line = exit_of(capsys, "--batch_size", 32, "--n_epochs", 1, "--data_root", mnist_root,
                           "--out_dir", tmp_path / "out")  # scoring on: the classifier is needed
    assert status == 2 and "classifier" in line
    assert not (tmp_path / "out").exists()


def test_script_runs_from_any_folder_and_rejects_bad_flags(tmp_path):
    result = subprocess.run([sys.executable, my_gan.__file__, "--batch_size", "0"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2 and "--batch_size" in result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("stage", ["start", "middle", "end"])
def test_the_committed_generators_load_and_store_no_machine_paths(stage):
    G = my_gan.load_generator(CHECKPOINTS / f"generator_{stage}.pt")
    assert not G.training and G.arch == "mlp" and G.latent_dim == 100
    z = torch.randn(4, 100)
    torch.testing.assert_close(G(z[:1]), G(z)[:1])  # eval mode: BatchNorm's running statistics, not the batch's
    config = torch.load(CHECKPOINTS / f"generator_{stage}.pt", weights_only=True)["config"]
    assert not [value for value in config.values() if isinstance(value, str) and value.startswith("/")]


def test_load_generator_refuses_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        my_gan.load_generator(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(pickle.UnpicklingError):
        my_gan.load_generator(tmp_path / "corrupt.pt")
    torch.save({"model": my_gan.Generator(8).state_dict(), "config": {"arch": "dcgan", "latent_dim": 8}},
               tmp_path / "mismatched.pt")
    with pytest.raises(RuntimeError, match="state_dict"):
        my_gan.load_generator(tmp_path / "mismatched.pt")

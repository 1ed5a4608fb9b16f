"""The GAN: its models, that each step learns, that a short run learns, resume, checkpoints, bad input."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

import my_gan
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
    log = state["log"]
    assert [row["epoch"] for row in log["evaluations"]] == [0, 1, 2]
    assert 1 <= log["evaluations"][-1]["inception_score"] <= 10
    assert log["config"]["mbstd"] and log["config"]["out_dir"] == str(tmp_path)
    # samples and checkpoints come from the average, not from the raw G
    torch.testing.assert_close(torch.load(tmp_path / "generator_end.pt", weights_only=True)["model"],
                               {k.removeprefix("module."): v for k, v in state["G_ema"].items()
                                if k.startswith("module.")})


def test_resume_continues_as_if_never_stopped(mnist_root, tmp_path):
    straight = train_tiny(mnist_root, tmp_path / "straight", "--n_epochs", 2, "--ema", 0.9)
    train_tiny(mnist_root, tmp_path / "stopped", "--n_epochs", 1, "--ema", 0.9)
    my_gan.main(["--resume", str(tmp_path / "stopped" / "latest.pt"), "--n_epochs", "2"])
    resumed = torch.load(tmp_path / "stopped" / "latest.pt", weights_only=True)
    assert resumed["step"] == straight["step"] == 16
    for part in ("G", "D", "G_ema"):
        torch.testing.assert_close(resumed[part], straight[part], rtol=0, atol=0)
    assert [row["step"] for row in resumed["log"]["losses"]] == [8, 16]  # a row at the end of each part
    assert resumed["config"]["n_epochs"] == 2


def test_resume_takes_the_settings_from_the_checkpoint(mnist_root, tmp_path, capsys):
    train_tiny(mnist_root, tmp_path, "--n_epochs", 1)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    checkpoint = tmp_path / "latest.pt"
    generator_only, older = tmp_path / "generator_end.pt", tmp_path / "older.pt"
    torch.save({**torch.load(checkpoint, weights_only=True), "config": {"arch": "mlp", "width": 1}}, older)
    before[older] = older.stat().st_mtime_ns
    for flags, message in [(["--lr", 1e-3], "--lr: with --resume the settings come from the checkpoint"),
                           (["--lr", 2e-4], "--lr: with --resume the settings come from the checkpoint"),
                           (["--mbstd"], "--mbstd: with --resume the settings come from the checkpoint"),
                           (["--n_epochs", 1], "is at step 8, the end of --n_epochs 1")]:
        status, line = exit_of(capsys, "--resume", checkpoint, *flags)
        assert status == 2 and message in line, line
    for path, message in [(tmp_path / "missing.pt", "no checkpoint at"), (generator_only, "not a training checkpoint"),
                          (older, "written by another version of my_gan.py")]:
        status, line = exit_of(capsys, "--resume", path)
        assert status == 2 and message in line, line
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before


@pytest.mark.parametrize("flags, message", [
    (["--arch", "resnet"], "invalid choice"),
    (["--batch_size", "0"], "--batch_size must be at least 1"),
    (["--n_epochs", "-1"], "--n_epochs must be at least 1"),
    (["--latent_dim", "0"], "--latent_dim must be at least 1"),
    (["--eval_interval", "-1"], "--eval_interval must be 0 or positive"),
    (["--lr", "0"], "--lr must be positive"),
    (["--ema", "1"], "--ema must be in [0, 1)"),
    (["--beta1", "-0.1"], "--beta1 must be in [0, 1)"),
    (["--arch", "dcgan", "--mbstd"], "--mbstd needs --arch mlp"),
    (["--device", "nonsense"], "is not a torch device"),
])
def test_bad_flags_exit_2_with_one_line(flags, message, tmp_path, capsys):
    status, line = exit_of(capsys, *flags, "--out_dir", tmp_path / "out")
    assert status == 2 and message in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("out_dir", ["a_file", "/proc/gan_run"])
def test_an_unwritable_out_dir_exits_2_before_training(out_dir, tmp_path, capsys, mnist_root):
    (tmp_path / "a_file").write_text("")
    status, line = exit_of(capsys, "--out_dir", tmp_path / out_dir, "--data_root", mnist_root)
    assert status == 2 and "is not a writable folder" in line
    assert sorted(tmp_path.iterdir()) == [tmp_path / "a_file"]


def test_bad_input_found_after_parsing_exits_2_and_leaves_nothing(tmp_path, capsys, mnist_root, monkeypatch):
    status, line = exit_of(capsys, "--batch_size", 1000, "--data_root", mnist_root, "--out_dir", tmp_path / "out")
    assert status == 2 and "--batch_size 1000 exceeds the 256 training images" in line
    import gan_metrics

    def no_classifier(*args, **kwargs):
        raise FileNotFoundError("no classifier checkpoint at nowhere.pt")

    monkeypatch.setattr(gan_metrics, "load_classifier", no_classifier)
    status, line = exit_of(capsys, "--batch_size", 32, "--n_epochs", 1, "--data_root", mnist_root,
                           "--out_dir", tmp_path / "out")  # scoring on: the classifier is needed
    assert status == 2 and "no classifier checkpoint" in line
    assert not (tmp_path / "out").exists()


def test_script_runs_from_any_folder_and_rejects_bad_flags(tmp_path):
    result = subprocess.run([sys.executable, my_gan.__file__, "--batch_size", "0"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("--batch_size must be at least 1")


@pytest.mark.parametrize("stage", ["start", "middle", "end"])
def test_the_committed_generators_load(stage):
    G = my_gan.load_generator(CHECKPOINTS / f"generator_{stage}.pt")
    assert not G.training and G.arch == "mlp" and G.latent_dim == 100
    z = torch.randn(4, 100)
    torch.testing.assert_close(G(z[:1]), G(z)[:1])  # eval mode: BatchNorm's running statistics, not the batch's


def test_load_generator_explains_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no generator checkpoint"):
        my_gan.load_generator(tmp_path / "missing.pt")
    (tmp_path / "corrupt.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="is not a generator checkpoint"):
        my_gan.load_generator(tmp_path / "corrupt.pt")
    torch.save({"model": my_gan.Generator(8).state_dict(), "config": {"arch": "dcgan", "latent_dim": 8}},
               tmp_path / "mismatched.pt")
    with pytest.raises(ValueError, match="is not a generator checkpoint"):
        my_gan.load_generator(tmp_path / "mismatched.pt")

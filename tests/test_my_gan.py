"""The GAN: model shapes, a tiny training run, resume, checkpoints, bad input, and the scores."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import my_gan
from gan_metrics import frechet_distance, inception_score
from mnist_data import write_synthetic_mnist

TINY = ["--n_epochs", "2", "--batch_size", "32", "--save_interval", "3", "--log_interval", "2",
        "--threads", "1"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    # 256 training images / 32 per batch = 8 steps per epoch
    return write_synthetic_mnist(tmp_path_factory.mktemp("mnist"), n_train=256, n_test=64)


def exit_of(capsys, *args, main=my_gan.main):
    """Run my_gan's main (or another CLI's) in this process, expecting it to exit; return (status, stderr)."""
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    return exit_info.value.code, capsys.readouterr().err


def train_tiny(data_root, out_dir, *extra):
    my_gan.main([*TINY, "--data_root", str(data_root), "--out_dir", str(out_dir), *map(str, extra)])


def state_of(path):
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("arch, width", [("mlp", 1), ("mlp", 2), ("dcgan", 1), ("dcgan", 2)])
def test_generator_maps_latents_to_images_in_range(arch, width):
    G = my_gan.Generator(latent_dim=16, arch=arch, width=width).eval()
    images = G(torch.randn(5, 16))
    assert images.shape == (5, 1, 28, 28)
    assert images.min() >= -1 and images.max() <= 1
    D = my_gan.Discriminator(arch, width).eval()
    probability = D(images)
    assert probability.shape == (5, 1)
    assert ((probability > 0) & (probability < 1)).all()
    torch.testing.assert_close(probability, torch.sigmoid(D.logits(images)))


@pytest.mark.parametrize("arch", my_gan.D_ARCHS)
def test_spectral_norm_scales_every_layer_of_d_to_unit_norm(arch):
    D = my_gan.Discriminator(arch, spectral_norm=True)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    with torch.no_grad():
        for _ in range(30):  # each forward in training mode runs one power iteration
            D.logits(torch.randn(4, 1, 28, 28))
    layers = [m for m in D.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    assert len(layers) == 3
    for layer in layers:
        sigma = torch.linalg.matrix_norm(layer.weight.flatten(1), ord=2)
        assert abs(sigma.item() - 1) < 0.05


def test_minibatch_std_lets_d_tell_a_collapsed_batch_from_a_varied_one():
    D = my_gan.Discriminator("mlp", mbstd=True)
    assert D.net[4].in_features == 512 + 1
    varied = torch.randn(8, 1, 28, 28)
    collapsed = varied[:1].expand(8, -1, -1, -1)
    features = D.net[:4]  # up to and including the spread feature
    assert (features(collapsed)[:, -1] < 1e-3).all() and (features(varied)[:, -1] > 0.1).all()
    # the same image scores differently in the two batches: D sees its batch's spread
    assert not torch.allclose(D.logits(collapsed)[0], D.logits(varied)[0])
    with pytest.raises(ValueError, match="mlp and conv discriminators only"):
        my_gan.Discriminator("dcgan", mbstd=True)


def test_conv_d_takes_the_spread_of_its_flattened_features():
    D = my_gan.Discriminator("conv", mbstd=True)
    kinds = [type(module).__name__ for module in D.net]
    assert kinds == ["Conv2d", "LeakyReLU", "Conv2d", "LeakyReLU", "Flatten", "MinibatchStd", "Linear"]
    assert D.net[-1].in_features == 32 * 7 * 7 + 1
    assert my_gan.Discriminator("conv", width=2).net[-1].in_features == 64 * 7 * 7
    varied = torch.randn(8, 1, 28, 28)
    collapsed = varied[:1].expand(8, -1, -1, -1)
    assert not torch.allclose(D.logits(collapsed)[0], D.logits(varied)[0])
    with pytest.raises(ValueError, match="mlp discriminator only"):
        my_gan.Discriminator("conv", dropout=0.3)
    with pytest.raises(ValueError, match="unknown arch 'conv'"):  # a D architecture only
        my_gan.Generator(arch="conv")


def test_dropout_in_d_is_random_in_training_only_and_absent_at_zero():
    torch.manual_seed(0)
    D = my_gan.Discriminator("mlp", mbstd=True, dropout=0.5)
    x = torch.randn(8, 1, 28, 28)
    assert not torch.equal(D.logits(x), D.logits(x))  # a new mask at every call
    D.eval()
    torch.testing.assert_close(D.logits(x), D.logits(x))
    # the spread is measured before the dropout, which would add its own noise to it
    kinds = [type(module).__name__ for module in D.net]
    assert kinds == ["Flatten", "Linear", "LeakyReLU", "MinibatchStd", "Dropout",
                     "Linear", "LeakyReLU", "Dropout", "Linear"]
    # without dropout the layers keep the names that checkpoints of older runs use
    plain = my_gan.Discriminator("mlp", mbstd=True, dropout=0.0)
    assert list(plain.state_dict()) == ["net.1.weight", "net.1.bias", "net.4.weight",
                                        "net.4.bias", "net.6.weight", "net.6.bias"]
    with pytest.raises(ValueError, match="mlp discriminator only"):
        my_gan.Discriminator("dcgan", dropout=0.3)
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        my_gan.Discriminator("mlp", dropout=1.0)


def test_tiny_run_writes_grids_checkpoints_and_logs(data_root, tmp_path):
    out = tmp_path / "run"
    train_tiny(data_root, out, "--arch", "mlp", "--eval_samples", "50")
    samples = sorted(p.name for p in (out / "samples").iterdir())
    assert samples == [f"step_{s:07d}.png" for s in (0, 3, 6, 9, 12, 15, 16)]
    for name in ("generator_start.pt", "generator_middle.pt", "generator_end.pt", "latest.pt",
                 "log.json", "losses.png"):
        assert (out / name).is_file(), name
    assert [state_of(out / f"generator_{n}.pt")["step"] for n in ("start", "middle", "end")] == [0, 8, 16]
    assert not list(out.rglob("*.tmp"))  # atomic writes leave no temp files

    log = json.loads((out / "log.json").read_text())
    assert log["config"]["arch"] == "mlp" and log["config"]["batch_size"] == 32
    assert [row["step"] for row in log["losses"]] == list(range(2, 17, 2))
    assert all(np.isfinite([row["loss_d"], row["loss_g"]]).all() for row in log["losses"])
    assert [row["step"] for row in log["evaluations"]] == [0, 8, 16]  # start and epoch ends
    scores = log["evaluations"][-1]
    assert 1 <= scores["inception_score"] <= 10
    assert scores["fid"] >= 0 and 0 <= scores["confident"] <= 1
    assert sum(scores["class_fractions"]) == pytest.approx(1)
    cpu = [row["train_cpu_seconds"] for row in log["evaluations"]]
    assert cpu[0] == 0 and cpu[1] > 0 and cpu[2] > cpu[1]


def test_resume_continues_from_saved_step(data_root, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_tiny(data_root, straight, "--arch", "dcgan", "--ema", "0.9", "--no_eval")
    train_tiny(data_root, resumed, "--arch", "dcgan", "--ema", "0.9", "--no_eval", "--n_epochs", "1")
    assert state_of(resumed / "latest.pt")["step"] == 8
    train_tiny(data_root, resumed, "--arch", "dcgan", "--ema", "0.9", "--no_eval",
               "--resume", resumed / "latest.pt")

    a, b = state_of(straight / "latest.pt"), state_of(resumed / "latest.pt")
    assert b["step"] == 16
    # Same batches, same noise, same optimiser state: the interrupted run ends where the
    # uninterrupted one does.
    for key in ("G", "D", "G_ema"):
        for name in a[key]:
            torch.testing.assert_close(a[key][name], b[key][name], msg=f"{key}.{name}")
    assert [row["step"] for row in b["log"]["losses"]] == [row["step"] for row in a["log"]["losses"]]
    assert (resumed / "samples" / "step_0000015.png").is_file()


def test_mlp_width_scales_hidden_layers_of_g_and_d():
    G, D = my_gan.Generator(arch="mlp", width=2), my_gan.Discriminator("mlp", width=2)
    assert [m.out_features for m in G.net if isinstance(m, torch.nn.Linear)] == [256, 512, 1024, 2048, 784]
    assert [m.out_features for m in D.net if isinstance(m, torch.nn.Linear)] == [1024, 512, 1]
    _, config = my_gan.parse_args(["--width", "2", "--d_width", "1"])
    D = my_gan.discriminator_of(config)
    assert [m.out_features for m in D.net if isinstance(m, torch.nn.Linear)] == [512, 256, 1]


def test_d_arch_pairs_a_convolutional_g_with_the_mlp_d(data_root, tmp_path):
    _, config = my_gan.parse_args(["--arch", "dcgan", "--d_arch", "mlp", "--mbstd", "--d_dropout", "0.3"])
    D = my_gan.discriminator_of(config)
    assert [m.out_features for m in D.net if isinstance(m, torch.nn.Linear)] == [512, 256, 1]
    assert any(isinstance(m, my_gan.MinibatchStd) for m in D.net)
    assert any(isinstance(m, torch.nn.Dropout) for m in D.net)
    out = tmp_path / "run"
    train_tiny(data_root, out, "--arch", "dcgan", "--d_arch", "mlp", "--mbstd", "--no_eval")
    state = state_of(out / "latest.pt")
    assert state["D"]["net.1.weight"].shape == (512, 28 * 28)
    assert state["config"]["d_arch"] == "mlp"
    G = my_gan.load_generator(out / "generator_end.pt")
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in G.net)
    assert G(torch.randn(3, G.latent_dim)).shape == (3, 1, 28, 28)


def test_d_arch_conv_trains_against_the_mlp_g(data_root, tmp_path):
    train_tiny(data_root, tmp_path, "--d_arch", "conv", "--mbstd", "--no_eval")
    state = state_of(tmp_path / "latest.pt")
    assert state["D"]["net.0.weight"].shape == (16, 1, 4, 4)
    assert state["config"]["d_arch"] == "conv" and state["step"] == 16
    torch.manual_seed(0)  # train()'s seed and order of construction: D as it started
    my_gan.Generator()
    start = my_gan.Discriminator("conv", mbstd=True).state_dict()
    assert start.keys() == state["D"].keys()
    assert all(not torch.equal(state["D"][name], start[name]) for name in start)  # every layer learnt


def test_ema_without_warmup_is_torchs_ema_and_warmup_forgets_the_start():
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    torch.manual_seed(0)
    G = my_gan.Generator(latent_dim=8)
    ours = AveragedModel(G, multi_avg_fn=my_gan.ema_update(0.9, warmup=False), use_buffers=True)
    torchs = AveragedModel(G, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    for _ in range(3):
        with torch.no_grad():
            for p in G.parameters():
                p.add_(torch.randn_like(p))
        G(torch.randn(4, 8))  # BatchNorm's running statistics and batch count move too
        ours.update_parameters(G)
        torchs.update_parameters(G)
    for name, value in torchs.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[name], value, msg=name)

    # With warm-up, AveragedModel's first update copies G and the n-th after it averages with
    # d = (1 + n) / (10 + n): 2/11, 3/12, ... until that exceeds the decay.
    G = torch.nn.Linear(1, 1, bias=False)
    warm = AveragedModel(G, multi_avg_fn=my_gan.ema_update(0.999, warmup=True))
    expected = 0.0
    for n, value in enumerate([0.0, 1.0, 1.0]):
        with torch.no_grad():
            G.weight.fill_(value)
        warm.update_parameters(G)
        d = (1 + n) / (10 + n)
        expected = value if n == 0 else d * expected + (1 - d) * value
        torch.testing.assert_close(warm.module.weight.item(), expected)
    assert expected == pytest.approx(1 - 2 / 11 * 3 / 12)
    plain = my_gan.ema_update(0.999, warmup=True)
    averaged = [torch.zeros(3)]
    plain(averaged, [torch.ones(3)], torch.tensor(10**5))  # late on: the plain decay
    torch.testing.assert_close(averaged[0], torch.full((3,), 0.001))


def test_ema_warmup_k_lengthens_the_average():
    from torch.optim.swa_utils import AveragedModel

    # With k, the n-th update after the first averages with d = (1 + n) / (k + n) ...
    for k in (4, 10):
        averaged, update = [torch.zeros(1)], my_gan.ema_update(0.99999, warmup=True, k=k)
        update(averaged, [torch.ones(1)], torch.tensor(5))
        torch.testing.assert_close(averaged[0], torch.full((1,), 1 - 6 / (k + 5)))
    # ... so that after n updates the mean age of the averaged weights is about n / k.
    G = torch.nn.Linear(1, 1, bias=False)
    for k in (4, 10):
        warm = AveragedModel(G, multi_avg_fn=my_gan.ema_update(0.99999, warmup=True, k=k))
        for step in range(2000):
            with torch.no_grad():
                G.weight.fill_(step)  # the weight is the step: the average is the mean step
            warm.update_parameters(G)
        assert 1999 - warm.module.weight.item() == pytest.approx(2000 / k, rel=0.01)


def test_r1_penalty_is_the_squared_input_gradient_of_d():
    # D(x) = w . x + b has the gradient w at every x: the penalty is ||w||^2
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(28 * 28, 1))
    x = torch.randn(6, 1, 28, 28, requires_grad=True)
    penalty = my_gan.r1_penalty(linear(x), x)
    torch.testing.assert_close(penalty, linear[1].weight.pow(2).sum())
    # for the MLP D (no batch feature) each image's gradient is its own: compare one at a time
    D = my_gan.Discriminator("mlp")
    one_by_one = []
    for image in x.detach():
        image = image[None].requires_grad_(True)
        (grad,) = torch.autograd.grad(D.logits(image).sum(), image)
        one_by_one.append(grad.pow(2).sum())
    penalty = my_gan.r1_penalty(D.logits(x), x)
    torch.testing.assert_close(penalty, torch.stack(one_by_one).mean())
    # the graph is kept: descending the penalty flattens D around the data
    optimizer = torch.optim.Adam(D.parameters(), lr=1e-3)
    before = penalty.item()
    for _ in range(20):
        optimizer.zero_grad()
        my_gan.r1_penalty(D.logits(x), x).backward()
        optimizer.step()
    assert my_gan.r1_penalty(D.logits(x), x).item() < 0.5 * before


def test_r1_is_applied_every_interval_with_its_weight(data_root, tmp_path, monkeypatch):
    weights = []

    class Penalty:  # stands for the penalty and records the weight training gives it
        def __init__(self, logit_real):
            self.zero = logit_real.sum() * 0

        def __rmul__(self, weight):
            weights.append(weight)
            return self.zero

    monkeypatch.setattr(my_gan, "r1_penalty", lambda logit_real, x: Penalty(logit_real))
    train_tiny(data_root, tmp_path, "--arch", "mlp", "--mbstd", "--r1", "0.5", "--r1_interval", "3",
               "--no_eval")
    # 16 steps: the penalty at steps 0, 3, 6, 9, 12 and 15, weighted gamma / 2 * interval
    assert weights == [0.5 / 2 * 3] * 6
    weights.clear()
    train_tiny(data_root, tmp_path / "first_epoch", "--arch", "mlp", "--r1", "0.5", "--r1_interval", "3",
               "--r1_epochs", "1", "--no_eval")
    assert len(weights) == 3  # steps 0, 3 and 6 of the first epoch's 8


def test_topk_count_keeps_less_of_the_batch_each_epoch_down_to_its_floor():
    assert my_gan.topk_count(256, 0.5, 0) == 256
    assert my_gan.topk_count(256, 0.5, 10) == round(256 * 0.99 ** 10) == 232
    assert my_gan.topk_count(256, 0.5, 100) == 128  # 0.99^100 = 0.37 is below the floor 0.5
    assert my_gan.topk_count(256, 1.0, 50) == 256
    assert my_gan.topk_count(4, 0.01, 1000) == 1


def test_generator_loss_learns_from_the_top_k_fakes_only():
    logit_fake = torch.tensor([[0.3], [-2.0], [1.5], [-0.1]], requires_grad=True)
    loss = my_gan.generator_loss(logit_fake, k=2)
    torch.testing.assert_close(loss, -torch.log(torch.sigmoid(torch.tensor([1.5, 0.3]))).mean())
    (grad,) = torch.autograd.grad(loss, logit_fake)
    assert grad[1] == 0 and grad[3] == 0 and (grad[[0, 2]] < 0).all()
    everything = my_gan.generator_loss(logit_fake)
    torch.testing.assert_close(everything, -torch.log(torch.sigmoid(logit_fake)).mean())


def test_topk_run_updates_g_on_the_kept_fakes(data_root, tmp_path, monkeypatch):
    calls = []

    def topk_count(batch_size, topk, epoch):
        calls.append((batch_size, topk, epoch))
        return 4  # of 32: far from the whole batch, so G must train differently

    monkeypatch.setattr(my_gan, "topk_count", topk_count)
    train_tiny(data_root, tmp_path / "plain", "--arch", "mlp", "--no_eval")
    assert calls == []
    train_tiny(data_root, tmp_path / "topk", "--arch", "mlp", "--topk", "0.5", "--no_eval")
    assert calls == [(32, 0.5, 0)] * 8 + [(32, 0.5, 1)] * 8
    plain, topk = state_of(tmp_path / "plain" / "latest.pt"), state_of(tmp_path / "topk" / "latest.pt")
    assert topk["config"]["topk"] == 0.5
    assert not torch.equal(plain["G"]["net.0.weight"], topk["G"]["net.0.weight"])


def test_lr_decay_holds_for_half_then_falls_linearly_to_zero():
    assert [my_gan.lr_factor(step, 100) for step in (0, 25, 50, 75, 100)] == [1, 1, 1, 0.5, 0]


def test_tiny_run_with_every_option_trains_and_decays_lr(data_root, tmp_path):
    out = tmp_path / "run"
    train_tiny(data_root, out, "--arch", "mlp", "--width", "2", "--d_width", "3", "--mbstd",
               "--d_dropout", "0.3", "--ema", "0.99", "--ema_warmup", "--lr_decay", "--lr", "1e-3",
               "--lr_d", "2e-3", "--r1", "0.5", "--r1_interval", "3", "--beta1", "0", "--beta2", "0.99",
               "--no_eval")
    state = state_of(out / "latest.pt")
    assert state["opt_G"]["param_groups"][0]["betas"] == state["opt_D"]["param_groups"][0]["betas"] == (0, 0.99)
    assert state["config"]["r1"] == 0.5 and state["config"]["r1_interval"] == 3
    assert state["config"]["lr_decay"] and state["step"] == 16
    # the lr of the last step (15 of 16): lr * (16 - 15) / 8, D's from its own --lr_d
    assert state["opt_G"]["param_groups"][0]["lr"] == pytest.approx(1e-3 / 8)
    assert state["opt_D"]["param_groups"][0]["lr"] == pytest.approx(2e-3 / 8)
    log = json.loads((out / "log.json").read_text())
    assert all(np.isfinite([row["loss_d"], row["loss_g"]]).all() for row in log["losses"])
    G = my_gan.load_generator(out / "generator_end.pt")
    assert G.net[0].out_features == 256  # width 2, read back from the checkpoint
    assert state["D"]["net.1.weight"].shape == (512 * 3, 28 * 28)  # D's own width 3


def test_resume_with_ema_warmup_continues_from_saved_step(data_root, tmp_path, capsys):
    options = ["--arch", "mlp", "--ema", "0.9", "--ema_warmup", "--no_eval"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_tiny(data_root, straight, *options)
    train_tiny(data_root, resumed, *options, "--n_epochs", "1")
    train_tiny(data_root, resumed, *options, "--resume", resumed / "latest.pt")
    a, b = state_of(straight / "latest.pt"), state_of(resumed / "latest.pt")
    # the warm-up continues from the saved update count
    for key in ("G", "D", "G_ema"):
        for name in a[key]:
            torch.testing.assert_close(a[key][name], b[key][name], msg=f"{key}.{name}")
    status, stderr = exit_of(capsys, *TINY, "--data_root", data_root, "--out_dir", resumed, *options,
                             "--ema_warmup_k", "4", "--n_epochs", "3", "--resume", resumed / "latest.pt")
    assert status == 2 and "trained with --ema_warmup_k 10" in stderr.strip().splitlines()[-1]
    # k changes the average only: G and D train exactly as with k = 10
    longer = tmp_path / "longer"
    train_tiny(data_root, longer, *options, "--ema_warmup_k", "4")
    c = state_of(longer / "latest.pt")
    for key in ("G", "D"):
        for name in a[key]:
            torch.testing.assert_close(c[key][name], a[key][name], msg=f"{key}.{name}")
    assert not torch.equal(c["G_ema"]["module.net.0.weight"], a["G_ema"]["module.net.0.weight"])


def test_checkpoints_from_before_a_flag_resume_with_its_default(data_root, tmp_path):
    out = tmp_path / "run"
    train_tiny(data_root, out, "--arch", "mlp", "--ema", "0.9", "--ema_warmup", "--no_eval", "--n_epochs", "1")
    state = state_of(out / "latest.pt")
    # a checkpoint from before these flags existed was trained with their defaults, and lacks them
    dropped = [key for key, value in my_gan.OLDER_DEFAULTS.items() if state["config"][key] == value]
    assert {"d_arch", "d_width", "ema_warmup_k", "r1", "r1_interval", "r1_epochs", "topk", "beta1",
            "beta2"} <= set(dropped)
    for key in dropped:
        del state["config"][key]
    older = tmp_path / "older.pt"
    torch.save(state, older)
    _, config = my_gan.parse_args([*TINY, "--arch", "mlp", "--ema", "0.9", "--ema_warmup", "--n_epochs", "2"])
    assert my_gan.load_resume_checkpoint(older, config)["step"] == state["step"]
    _, config = my_gan.parse_args([*TINY, "--arch", "mlp", "--ema", "0.9", "--ema_warmup", "--ema_warmup_k", "4",
                                   "--n_epochs", "2"])
    with pytest.raises(ValueError, match="trained with --ema_warmup_k 10"):
        my_gan.load_resume_checkpoint(older, config)
    _, config = my_gan.parse_args([*TINY, "--arch", "mlp", "--ema", "0.9", "--ema_warmup", "--beta1", "0",
                                   "--n_epochs", "2"])
    with pytest.raises(ValueError, match="trained with --beta1 0.5"):
        my_gan.load_resume_checkpoint(older, config)


def test_load_generator_round_trips(data_root, tmp_path):
    train_tiny(data_root, tmp_path, "--arch", "dcgan", "--width", "2", "--latent_dim", "12", "--no_eval",
               "--n_epochs", "1")
    G = my_gan.load_generator(tmp_path / "generator_end.pt")
    assert not G.training and G.latent_dim == 12 and G.arch == "dcgan"
    assert G.net[0].out_features == 128 * 7 * 7  # width 2, read back from the checkpoint
    saved = state_of(tmp_path / "generator_end.pt")
    for name, value in G.state_dict().items():
        torch.testing.assert_close(value, saved["model"][name])
    z = torch.randn(3, 12)
    torch.testing.assert_close(G(z), my_gan.load_generator(tmp_path / "generator_end.pt")(z))


def test_load_generator_explains_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no generator checkpoint"):
        my_gan.load_generator(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable checkpoint"):
        my_gan.load_generator(corrupt)
    mismatched = tmp_path / "mismatched.pt"
    G = my_gan.Generator(latent_dim=8, arch="mlp")
    torch.save({"model": G.state_dict(), "config": {"arch": "dcgan", "latent_dim": 8}}, mismatched)
    with pytest.raises(ValueError, match="does not match"):
        my_gan.load_generator(mismatched)
    wide = my_gan.Generator(latent_dim=8, arch="dcgan", width=2)
    torch.save({"model": wide.state_dict(), "config": {"arch": "dcgan", "latent_dim": 8}}, mismatched)
    with pytest.raises(ValueError, match="does not match"):  # width 1 unless the config says so
        my_gan.load_generator(mismatched)


@pytest.mark.parametrize("flags, message", [
    (["--n_epochs", "0"], "--n_epochs must be at least 1"),
    (["--lr", "-0.1"], "--lr must be positive"),
    (["--ema", "1"], "--ema must be in [0, 1)"),
    (["--arch", "resnet"], "invalid choice"),
    (["--ema_warmup"], "--ema_warmup needs --ema"),
    (["--ema", "0.9", "--ema_warmup", "--ema_warmup_k", "1"], "--ema_warmup_k must be at least 2"),
    (["--ema", "0.9", "--ema_warmup_k", "4"], "--ema_warmup_k needs --ema_warmup"),
    (["--arch", "dcgan", "--mbstd"], "--mbstd needs an mlp or conv D"),
    (["--arch", "mlp", "--d_arch", "dcgan", "--mbstd"], "--mbstd needs an mlp or conv D"),
    (["--arch", "conv"], "invalid choice"),
    (["--d_arch", "conv", "--d_dropout", "0.3"], "--d_dropout needs an mlp D"),
    (["--d_arch", "resnet"], "invalid choice"),
    (["--lr_d", "0"], "--lr_d must be positive"),
    (["--d_width", "0"], "--d_width must be at least 1"),
    (["--r1", "-1"], "--r1 must be 0 or a positive number"),
    (["--r1", "inf"], "--r1 must be 0 or a positive number"),
    (["--r1_interval", "0"], "--r1_interval must be at least 1"),
    (["--r1_epochs", "-1"], "--r1_epochs must be 0 or positive"),
    (["--d_dropout", "1"], "--d_dropout must be in [0, 1)"),
    (["--beta1", "1"], "--beta1 must be in [0, 1)"),
    (["--beta2", "-0.1"], "--beta2 must be in [0, 1)"),
    (["--topk", "0"], "--topk must be in (0, 1]"),
    (["--topk", "1.5"], "--topk must be in (0, 1]"),
    (["--arch", "dcgan", "--d_dropout", "0.3"], "--d_dropout needs an mlp D"),
    (["--arch", "mlp", "--d_arch", "dcgan", "--d_dropout", "0.3"], "--d_dropout needs an mlp D"),
    (["--arch", "dcgan", "--width", "0"], "--width must be at least 1"),
    (["--device", "nonsense"], "is not a torch device"),
])
def test_bad_flags_exit_2_with_one_line(flags, message, tmp_path, capsys):
    status, stderr = exit_of(capsys, *flags, "--out_dir", tmp_path / "out")
    assert status == 2
    assert message in stderr.strip().splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_script_runs_from_any_folder_and_rejects_bad_flags(tmp_path):
    result = subprocess.run([sys.executable, my_gan.__file__, "--batch_size", "0"],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith("--batch_size must be at least 1")


def test_bad_resume_fails_before_touching_outputs(data_root, tmp_path, capsys):
    out = tmp_path / "run"
    train_tiny(data_root, out, "--arch", "mlp", "--no_eval", "--n_epochs", "1")
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00garbage")
    common = [*TINY, "--no_eval", "--data_root", data_root, "--out_dir", out]
    cases = [
        (["--arch", "mlp", "--resume", tmp_path / "missing.pt"], "no such checkpoint"),
        (["--arch", "mlp", "--resume", corrupt], "not a readable checkpoint"),
        (["--arch", "mlp", "--resume", out / "generator_end.pt"], "not a training checkpoint"),
        (["--arch", "dcgan", "--resume", out / "latest.pt"], "trained with --arch mlp"),
        (["--arch", "mlp", "--lr", "1e-3", "--resume", out / "latest.pt"], "trained with --lr 0.0002"),
        (["--arch", "mlp", "--lr_decay", "--resume", out / "latest.pt"], "trained with --lr_decay False"),
        (["--arch", "mlp", "--mbstd", "--resume", out / "latest.pt"], "trained with --mbstd False"),
        (["--arch", "mlp", "--d_dropout", "0.3", "--resume", out / "latest.pt"],
         "trained with --d_dropout 0.0"),
        (["--arch", "mlp", "--lr_d", "1e-3", "--resume", out / "latest.pt"], "trained with --lr_d None"),
        (["--arch", "mlp", "--d_width", "2", "--resume", out / "latest.pt"],
         "trained with --d_width None"),
        (["--arch", "mlp", "--d_arch", "dcgan", "--resume", out / "latest.pt"],
         "trained with --d_arch None"),
        (["--arch", "mlp", "--r1", "1", "--resume", out / "latest.pt"], "trained with --r1 0.0"),
        (["--arch", "mlp", "--r1_interval", "4", "--resume", out / "latest.pt"], "trained with --r1_interval 1"),
        (["--arch", "mlp", "--r1_epochs", "3", "--resume", out / "latest.pt"], "trained with --r1_epochs 0"),
        (["--arch", "mlp", "--topk", "0.5", "--resume", out / "latest.pt"], "trained with --topk 1.0"),
        (["--arch", "mlp", "--beta1", "0", "--resume", out / "latest.pt"], "trained with --beta1 0.5"),
        (["--arch", "mlp", "--beta2", "0.99", "--resume", out / "latest.pt"], "trained with --beta2 0.999"),
        (["--arch", "mlp", "--resume", out / "latest.pt", "--n_epochs", "1"], "nothing left to train"),
    ]
    for flags, message in cases:
        status, stderr = exit_of(capsys, *common, *flags)
        assert status == 2 and message in stderr, stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_inception_score_bounds():
    confident_uniform = torch.eye(10).repeat(5, 1)  # every class equally often, each certain
    assert inception_score(confident_uniform) == pytest.approx(10, rel=1e-6)
    one_class = torch.zeros(50, 10)
    one_class[:, 3] = 1
    assert inception_score(one_class) == pytest.approx(1)
    assert inception_score(torch.full((50, 10), 0.1)) == pytest.approx(1)


def test_frechet_distance_matches_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    sigma = a @ a.T + np.eye(4)
    mu = rng.normal(size=4)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0, abs=1e-8)
    # Diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2
    s1, s2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 1.0])
    m1, m2 = np.zeros(3), np.array([1.0, 2.0, 0.0])
    expected = 5 + ((np.sqrt(s1) - np.sqrt(s2)) ** 2).sum()
    assert frechet_distance(m1, np.diag(s1), m2, np.diag(s2)) == pytest.approx(expected)


# ---------------------------------------------------------------- latent walks (latent_walk.py)


def test_lerp_and_slerp_run_from_one_latent_to_the_other():
    from latent_walk import lerp, slerp

    torch.manual_seed(0)
    z_a, z_b = torch.randn(100), torch.randn(100)
    for path in (lerp(z_a, z_b, 9), slerp(z_a, z_b, 9)):
        assert path.shape == (9, 100)
        torch.testing.assert_close(path[0], z_a)
        torch.testing.assert_close(path[-1], z_b)
    # Independent Gaussian latents are nearly orthogonal: the line's midpoint is much shorter
    # than either end, the arc's is not.
    line_mid, arc_mid = lerp(z_a, z_b, 9)[4].norm(), slerp(z_a, z_b, 9)[4].norm()
    assert line_mid < 0.8 * min(z_a.norm(), z_b.norm())
    assert arc_mid > 0.95 * min(z_a.norm(), z_b.norm())
    # between latents of equal norm the arc moves at constant angular speed on that sphere
    arc = slerp(z_a, z_b * z_a.norm() / z_b.norm(), 9)
    torch.testing.assert_close(arc.norm(dim=1), z_a.norm().expand(9))
    unit = arc / arc.norm(dim=1, keepdim=True)
    cosines = (unit[1:] * unit[:-1]).sum(dim=1)
    torch.testing.assert_close(cosines, cosines[:1].expand(8))


class FixedLabels(torch.nn.Module):
    """A stand-in classifier: the digit is read off the first latent coordinate."""

    def __init__(self):
        super().__init__()
        self.unused = torch.nn.Parameter(torch.zeros(1))  # classify() reads the device from it

    def features(self, x):
        return x.flatten(1)[:, :10]

    def forward(self, x):
        digit = (x.flatten(1)[:, 0].abs() * 10).long().clamp(max=9)
        return torch.nn.functional.one_hot(digit, 10).float() * 20


class Passthrough(torch.nn.Module):
    latent_dim = 784

    def forward(self, z):
        return z.view(-1, 1, 28, 28)


def test_find_latent_pair_returns_confident_different_digits():
    from latent_walk import find_latent_pair

    G, classifier = Passthrough(), FixedLabels()
    z_a, z_b, digits = find_latent_pair(G, classifier, seed=1, batch_size=16)
    assert digits[0] != digits[1]
    assert [(z[0].abs() * 10).long().clamp(max=9).item() for z in (z_a, z_b)] == list(digits)
    z_4, z_1, digits = find_latent_pair(G, classifier, digits=(4, 1), seed=1, batch_size=16)
    assert digits == (4, 1) and int(z_4[0].abs() * 10) == 4 and int(z_1[0].abs() * 10) == 1
    with pytest.raises(ValueError, match="two different digits"):
        find_latent_pair(G, classifier, digits=(3, 3))


# ------------------------------------------------------------------ run reports (gan_report.py)


def test_report_finds_the_first_evaluation_reaching_the_reference():
    import gan_report

    rows = [{"step": s, "inception_score": v, "train_cpu_seconds": 60 * s} for s, v in
            [(0, 1.0), (1, 8.3), (2, 7.9), (3, 9.0)]]
    assert gan_report.first_reaching(rows, 8.2)["step"] == 1
    assert gan_report.first_reaching(rows, 9.5) is None
    final = {"inception_score": 9.4, "fid": 0.5, "confident": 0.95, "class_min": 0.085,
             "class_max": 0.115, "class_fractions": [0.1] * 10}
    log = {"config": {"arch": "dcgan", "ema": 0.999, "n_epochs": 4}, "steps_per_epoch": 1,
           "evaluations": rows + [{"step": 4, "epoch": 4.0, "train_cpu_seconds": 240, **final}]}
    summary = gan_report.summarize(log, {"fid": 0.2})
    assert summary["cpu_minutes_to_is_8.2"] == 1 and summary["fid_times_baseline"] == pytest.approx(2.5)
    assert summary["completed"] and summary["epochs"] == 4
    log["config"].update(d_arch="mlp", ema_warmup=True, ema_warmup_k=4, topk=0.5, beta1=0.0)
    summary = gan_report.summarize(log, {"fid": 0.2})
    assert summary["d_arch"] == "mlp" and summary["ema_warmup_k"] == 4 and summary["topk"] == 0.5
    assert summary["beta1"] == 0
    assert all(summary["targets_met"].values())


def test_report_labels_tell_runs_apart_by_arch_ema_and_learning_rate():
    import gan_report

    assert gan_report.label_of({"config": {"arch": "mlp", "ema": 0.0, "lr": 2e-4}}) == "template MLP"
    assert gan_report.label_of({"config": {"arch": "dcgan", "ema": 0.999}}) == "DCGAN + EMA 0.999"
    assert (gan_report.label_of({"config": {"arch": "dcgan", "width": 2, "ema": 0.0, "lr": 4e-4}})
            == "DCGAN x2, lr 0.0004")
    assert (gan_report.label_of({"config": {"arch": "mlp", "spectral_norm": True, "ema": 0.999,
                                            "batch_size": 128}})
            == "template MLP + spectral norm + EMA 0.999, batch 128")
    assert (gan_report.label_of({"config": {"arch": "mlp", "ema": 0.999, "lr": 4e-4}})
            == "template MLP + EMA 0.999, lr 0.0004")
    assert (gan_report.label_of({"config": {"arch": "mlp", "width": 2, "ema": 0.999, "ema_warmup": True,
                                            "lr": 4e-4, "lr_decay": True, "batch_size": 256}})
            == "template MLP x2 + EMA 0.999 (warm-up), lr 0.0004 decayed, batch 256")
    assert (gan_report.label_of({"config": {"arch": "mlp", "mbstd": True, "ema": 0.999, "lr": 8e-4}})
            == "template MLP + minibatch std + EMA 0.999, lr 0.0008")
    assert (gan_report.label_of({"config": {"arch": "mlp", "mbstd": True, "d_dropout": 0.3,
                                            "ema": 0.9999, "lr": 4e-4, "lr_d": 8e-4}})
            == "template MLP + minibatch std + dropout 0.3 in D + EMA 0.9999, lr 0.0004 (D 0.0008)")
    assert (gan_report.label_of({"config": {"arch": "mlp", "ema": 0.999, "lr_d": 8e-4, "lr_decay": True}})
            == "template MLP + EMA 0.999, lr 0.0002 (D 0.0008) decayed")
    assert gan_report.label_of({"config": {"arch": "mlp", "ema": 0.0, "lr": 4e-4, "lr_d": 4e-4}}) \
        == "template MLP, lr 0.0004"
    assert (gan_report.label_of({"config": {"arch": "mlp", "width": 2, "d_width": 1, "ema": 0.0}})
            == "template MLP x2 (D x1)")
    assert gan_report.label_of({"config": {"arch": "mlp", "width": 2, "d_width": 2, "ema": 0.0}}) \
        == "template MLP x2"
    assert (gan_report.label_of({"config": {"arch": "dcgan", "d_arch": "mlp", "mbstd": True, "ema": 0.0}})
            == "DCGAN G, template MLP D + minibatch std")
    assert (gan_report.label_of({"config": {"arch": "dcgan", "d_arch": "mlp", "width": 2, "d_width": 1,
                                            "ema": 0.0}}) == "DCGAN G x2, template MLP D")
    assert gan_report.label_of({"config": {"arch": "mlp", "d_arch": "mlp", "ema": 0.0}}) == "template MLP"
    assert (gan_report.label_of({"config": {"arch": "mlp", "d_arch": "conv", "mbstd": True, "ema": 0.0}})
            == "template MLP G, small conv D + minibatch std")
    assert (gan_report.label_of({"config": {"arch": "mlp", "ema": 0.99999, "ema_warmup": True, "ema_warmup_k": 4}})
            == "template MLP + EMA 0.99999 (warm-up, mean age n/4)")
    assert (gan_report.label_of({"config": {"arch": "mlp", "ema": 0.9999, "ema_warmup": True, "ema_warmup_k": 10}})
            == "template MLP + EMA 0.9999 (warm-up)")
    assert (gan_report.label_of({"config": {"arch": "mlp", "mbstd": True, "r1": 0.1, "r1_interval": 4,
                                            "ema": 0.9999, "lr": 4e-4}})
            == "template MLP + minibatch std + R1 0.1 every 4 steps + EMA 0.9999, lr 0.0004")
    assert gan_report.label_of({"config": {"arch": "mlp", "r1": 1.0, "ema": 0.0}}) == "template MLP + R1 1"
    assert (gan_report.label_of({"config": {"arch": "mlp", "r1": 1.0, "r1_epochs": 10, "ema": 0.0}})
            == "template MLP + R1 1 for 10 epochs")
    assert (gan_report.label_of({"config": {"arch": "mlp", "mbstd": True, "topk": 0.75, "ema": 0.9999}})
            == "template MLP + minibatch std + top-k G update (down to 0.75) + EMA 0.9999")
    assert gan_report.label_of({"config": {"arch": "mlp", "topk": 1.0, "ema": 0.0}}) == "template MLP"
    assert (gan_report.label_of({"config": {"arch": "mlp", "ema": 0.0, "beta1": 0.0, "batch_size": 256}})
            == "template MLP, Adam betas (0, 0.999), batch 256")
    assert gan_report.label_of({"config": {"arch": "mlp", "ema": 0.0, "beta1": 0.5, "beta2": 0.999}}) \
        == "template MLP"


def test_collect_keeps_earlier_runs_and_times_each_against_its_own_template(tmp_path, monkeypatch):
    import gan_metrics
    import gan_report
    import mnist_data

    class StubScorer:
        def __init__(self, root):
            pass

        def real_data_baseline(self, n):
            return {"inception_score": 9.7, "fid": 0.1, "confident": 0.97, "class_min": 0.09, "class_max": 0.11}

    monkeypatch.setattr(gan_metrics, "Scorer", StubScorer)
    monkeypatch.setattr(mnist_data, "prepare_mnist", lambda root: root)
    for name in ("RESULTS", "FIGURES", "CHECKPOINTS"):
        monkeypatch.setattr(gan_report, name, tmp_path / name.lower())
    (tmp_path / "checkpoints").mkdir()

    def run(name, minutes_to_8, config=None):
        folder = tmp_path / "runs" / name
        (folder / "samples").mkdir(parents=True, exist_ok=True)
        scores = {"fid": 1.0, "confident": 0.9, "class_min": 0.09, "class_max": 0.11, "class_fractions": [0.1] * 10}
        evaluations = [{"step": step, "epoch": float(step), "train_cpu_seconds": 60 * minutes,
                        "inception_score": score, **scores}
                       for step, minutes, score in [(1, minutes_to_8 / 2, 7.0), (2, minutes_to_8, 8.0)]]
        log = {"config": {"arch": "mlp", "ema": 0.0, "n_epochs": 2, **(config or {})}, "steps_per_epoch": 1,
               "losses": [], "evaluations": evaluations}
        (folder / "log.json").write_text(json.dumps(log))
        for stage in ("start", "middle", "end"):
            (folder / f"generator_{stage}.pt").write_text(name)
        return name, folder

    ema = {"ema": 0.999}
    gan_report.collect([run("mlp", 10), run("a", 2, ema)], chosen="a")

    def snapshot():
        return {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file() and "runs" not in path.parts}

    before = snapshot()
    with pytest.raises(ValueError, match="--template mlp_here is not one of the --run names"):
        gan_report.collect([run("b", 5, ema)], chosen="b", template="mlp_here")
    with pytest.raises(ValueError, match="--chosen nowhere"):
        gan_report.collect([run("mlp_here", 20), run("c", 5, ema)], chosen="nowhere", template="mlp_here")
    assert snapshot() == before  # refused before anything was written

    comparison = gan_report.collect([run("mlp_here", 20), run("c", 5, ema)], chosen="c", template="mlp_here")
    summaries = comparison["runs"]
    assert list(summaries) == ["mlp", "a", "mlp_here", "c"]
    assert [summaries[n]["template"] for n in summaries] == ["mlp", "mlp", "mlp_here", "mlp_here"]
    assert summaries["a"]["time_to_template_final_is_vs_template"] == pytest.approx(0.2)
    assert summaries["c"]["time_to_template_final_is_vs_template"] == pytest.approx(0.25)
    assert (tmp_path / "checkpoints" / "generator_end.pt").read_text() == "c"
    runs = gan_report.load_runs()
    assert list(gan_report.timed_with(comparison, runs, "mlp_here")) == ["mlp_here", "c"]
    rows = gan_report.comparison_rows(comparison)
    assert [row[0] for row in rows] == ["run", "mlp", "a", "mlp_here", "c", "real"]
    assert rows[4][-2:] == ["mlp_here", "0.25"]
    assert rows[4][rows[0].index("min/epoch")] == "2.50"  # 5 minutes over 2 epochs

    # an earlier run can stay the chosen one; its checkpoints are left alone
    comparison = gan_report.collect([run("mlp_3", 10), run("d", 5, ema)], chosen="c", template="mlp_3")
    assert comparison["chosen"] == "c" and comparison["runs"]["d"]["template"] == "mlp_3"
    assert (tmp_path / "checkpoints" / "generator_end.pt").read_text() == "c"


def test_seed_spread_scores_the_end_generator_once_per_seed(tmp_path, monkeypatch, capsys):
    import gan_metrics
    import gan_report
    import mnist_data

    seen = []

    class StubScorer:
        def __init__(self, root):
            pass

        def evaluate_generator(self, G, n, seed):
            seen.append((type(G).__name__, n, seed))
            return {"inception_score": 9.0 + seed / 10, "fid": 0.1, "confident": 0.9,
                    "class_min": 0.09, "class_max": 0.11}

    monkeypatch.setattr(gan_metrics, "Scorer", StubScorer)
    monkeypatch.setattr(mnist_data, "prepare_mnist", lambda root: root)
    for name in ("RESULTS", "CHECKPOINTS"):
        monkeypatch.setattr(gan_report, name, tmp_path / name.lower())
    with pytest.raises(SystemExit) as exit_info:  # nothing to score yet
        gan_report.main(["spread"])
    assert exit_info.value.code == 2 and "no generator checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()

    G = my_gan.Generator(latent_dim=8)
    (tmp_path / "checkpoints").mkdir()
    my_gan.atomic_torch_save(my_gan.generator_checkpoint(G, {"arch": "mlp", "latent_dim": 8}, 0),
                             tmp_path / "checkpoints" / "generator_end.pt")
    gan_report.main(["spread", "--seeds", "3", "--eval_samples", "50"])
    assert seen == [("Generator", 50, 0), ("Generator", 50, 1), ("Generator", 50, 2)]
    result = json.loads((tmp_path / "results" / "gan_seed_spread.json").read_text())
    spread = result["spread"]["inception_score"]
    assert (spread["min"], spread["max"]) == (9.0, 9.2)
    assert spread["mean"] == pytest.approx(9.1) and spread["std"] == pytest.approx(0.1)
    assert result["spread"]["fid"]["std"] == 0


def test_split_by_d_counts_the_digits_of_the_samples_d_rates_highest():
    import gan_report

    class Bright(torch.nn.Module):  # G: an image of one grey level, z's first coordinate
        def forward(self, z):
            return z[:, :1, None, None].expand(-1, 1, 28, 28)

    class RatesBrightness(torch.nn.Module):  # D: the brighter, the more real
        def logits(self, images):
            return images.mean(dim=(1, 2, 3))[:, None]

    halves = gan_report.split_by_d(Bright(), RatesBrightness(), lambda images: (images.mean(dim=(1, 2, 3)) > 0).long(),
                                   batch_size=64, batches=20, latent_dim=4)
    assert sum(halves["top_half"]) == pytest.approx(1) and sum(halves["bottom_half"]) == pytest.approx(1)
    # about half of the samples are bright (digit 1), and D ranks all of them above the dark ones
    assert halves["top_half"][1] > 0.85 and halves["bottom_half"][1] < 0.15


def test_ranking_reads_a_runs_last_g_and_d_and_keeps_earlier_runs(data_root, tmp_path, monkeypatch, capsys):
    import gan_report

    monkeypatch.setattr(gan_report, "RESULTS", tmp_path / "results")
    train_tiny(data_root, tmp_path / "run", "--arch", "mlp", "--mbstd", "--no_eval")
    gan_report.main(["ranking", "--run", f"first={tmp_path / 'run'}", "--batches", "2"])
    gan_report.main(["ranking", "--run", f"second={tmp_path / 'run'}", "--batches", "3"])
    result = json.loads((tmp_path / "results" / "gan_d_ranking.json").read_text())
    assert list(result) == ["first", "second"]
    assert result["second"]["batches"] == 3 and result["second"]["batch_size"] == 32
    assert result["second"]["step"] == 16
    assert sum(result["second"]["top_half"]) == pytest.approx(1)
    assert "second top_half" in capsys.readouterr().out
    (tmp_path / "corrupt").mkdir()
    (tmp_path / "corrupt" / "latest.pt").write_bytes(b"\x00garbage")
    (tmp_path / "other").mkdir()
    torch.save({"G": {}}, tmp_path / "other" / "latest.pt")
    before = (tmp_path / "results" / "gan_d_ranking.json").read_text()
    for args, message in [(["--run", f"x={tmp_path}"], "with FOLDER/latest.pt"),
                          (["--run", f"x={tmp_path / 'run'}", "--batches", "0"], "--batches must be at least 1"),
                          (["--run", f"x={tmp_path / 'corrupt'}"], "is not a readable checkpoint"),
                          (["--run", f"x={tmp_path / 'run'}", "--run", f"y={tmp_path / 'other'}"],
                           "is not a training checkpoint")]:
        status, stderr = exit_of(capsys, "ranking", *args, main=gan_report.main)
        assert status == 2 and message in stderr.strip().splitlines()[-1]
    assert (tmp_path / "results" / "gan_d_ranking.json").read_text() == before  # nothing half-written

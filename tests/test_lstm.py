"""The LSTM computes equations (1)-(8): it agrees with torch.nn.LSTM and with autograd."""

import pytest
import torch
from torch import nn

from lstm import LSTM, LSTMFunction, lstm_reference

H, D, C = 6, 3, 10


def torch_twin(model):
    """torch.nn.LSTM + Linear holding the same weights as our LSTM.

    Ours stores the gates in the assignment's order g | i | f | o, torch stores i | f | g | o,
    and torch has two biases per gate where the equations have one.
    """
    hidden = model.W_h.shape[0]
    order = [1, 2, 0, 3]  # torch's gate k is our gate order[k]

    def reorder(w):  # (..., 4 * hidden) columns in our order -> rows in torch's order
        return torch.cat([w[..., k * hidden:(k + 1) * hidden] for k in order], dim=-1)

    lstm = nn.LSTM(model.W_x.shape[0], hidden, batch_first=True)
    head = nn.Linear(hidden, model.W_ph.shape[1])
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(reorder(model.W_x).t())
        lstm.weight_hh_l0.copy_(reorder(model.W_h).t())
        lstm.bias_ih_l0.copy_(reorder(model.b))
        lstm.bias_hh_l0.zero_()
        head.weight.copy_(model.W_ph.t())
        head.bias.copy_(model.b_p)
    return lstm, head, reorder


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "reference"])
@pytest.mark.parametrize("T,input_dim", [(1, 1), (7, 3), (12, 10)])
def test_lstm_matches_torch_lstm(fused, T, input_dim):
    torch.manual_seed(0)
    model = LSTM(T, input_dim, H, C, fused=fused)
    lstm, head, reorder = torch_twin(model)
    x = torch.randn(5, T, input_dim)
    y = torch.randint(0, C, (5,))

    ours = model(x)
    theirs = head(lstm(x)[0][:, -1])
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)

    nn.functional.cross_entropy(ours, y).backward()
    nn.functional.cross_entropy(theirs, y).backward()
    grads = {
        "W_x": (model.W_x.grad, lstm.weight_ih_l0.grad.t()),
        "W_h": (model.W_h.grad, lstm.weight_hh_l0.grad.t()),
        "b": (model.b.grad, lstm.bias_ih_l0.grad),
        "W_ph": (model.W_ph.grad.t(), head.weight.grad),
        "b_p": (model.b_p.grad, head.bias.grad),
    }
    for name, (g_ours, g_theirs) in grads.items():
        if name in ("W_x", "W_h", "b"):
            g_ours = reorder(g_ours)
        assert (g_ours - g_theirs).abs().max() <= 1e-5, name
    # torch's second bias receives the same gradient as its first: one bias per gate suffices.
    torch.testing.assert_close(lstm.bias_hh_l0.grad, lstm.bias_ih_l0.grad)


def test_lstm_function_passes_gradcheck():
    torch.manual_seed(0)
    T, batch = 5, 3
    args = [torch.randn(batch, T, D), torch.randn(D, 4 * H), torch.randn(H, 4 * H) / 2, torch.randn(4 * H)]
    args = [a.double().requires_grad_() for a in args]
    assert torch.autograd.gradcheck(LSTMFunction.apply, args)


def test_fused_and_reference_agree_in_float64():
    torch.manual_seed(1)
    x = torch.randn(4, 30, D, dtype=torch.float64, requires_grad=True)
    params = [torch.randn(D, 4 * H), torch.randn(H, 4 * H), torch.randn(4 * H)]
    params = [p.double().requires_grad_() for p in params]
    h_fused = LSTMFunction.apply(x, *params)
    grads_fused = torch.autograd.grad(h_fused.sum(), [x, *params])
    h_ref = lstm_reference(x, *params)
    grads_ref = torch.autograd.grad(h_ref.sum(), [x, *params])
    torch.testing.assert_close(h_fused, h_ref, atol=1e-12, rtol=0)
    for g_fused, g_ref in zip(grads_fused, grads_ref):
        torch.testing.assert_close(g_fused, g_ref, atol=1e-12, rtol=1e-10)


def test_lstm_accepts_lengths_other_than_seq_length():
    model = LSTM(10, 1, H, C)
    for T in (2, 10, 40):
        assert model(torch.randn(3, T, 1)).shape == (3, C)


def test_evaluation_without_autograd_gives_the_same_logits():
    torch.manual_seed(2)
    model = LSTM(9, 10, H, C)
    x = torch.randn(4, 9, 10)
    with torch.no_grad():
        evaluated = model(x)
    torch.testing.assert_close(model(x), evaluated, atol=1e-6, rtol=0)


def test_reference_iterates_without_per_step_slicing():
    """x[:, t] in the loop would leave one SelectBackward node per step, each of which
    allocates a gradient the size of the whole input: backward would cost O(T^2)."""
    x = torch.randn(2, 50, D, requires_grad=True)
    h = lstm_reference(x, torch.randn(D, 4 * H), torch.randn(H, 4 * H), torch.randn(4 * H))
    seen, stack, kinds = set(), [h.grad_fn], []
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        kinds.append(type(node).__name__)
        stack.extend(f for f, _ in node.next_functions)
    assert "SelectBackward0" not in kinds and "SliceBackward0" not in kinds
    assert kinds.count("UnbindBackward0") == 1


def test_forget_gate_bias_and_orthogonal_recurrent_init():
    torch.manual_seed(3)
    plain = LSTM(5, 1, H, C, forget_bias=0.0)
    torch.manual_seed(3)
    biased = LSTM(5, 1, H, C, forget_bias=1.0, recurrent_init="orthogonal")
    delta = biased.b - plain.b
    torch.testing.assert_close(delta[2 * H:3 * H], torch.ones(H))  # only b_f moves
    torch.testing.assert_close(delta[:2 * H], torch.zeros(2 * H))
    torch.testing.assert_close(delta[3 * H:], torch.zeros(H))
    for W in biased.W_h.detach().split(H, dim=1):
        torch.testing.assert_close(W.t() @ W, torch.eye(H), atol=1e-5, rtol=0)
    with pytest.raises(ValueError):
        LSTM(5, 1, H, C, recurrent_init="zeros")


def test_buffers_reused_between_steps_give_the_same_gradients():
    """The module's workspace carries buffers from one step to the next, also across lengths."""
    torch.manual_seed(4)
    model = LSTM(7, D, H, C)
    params = [model.W_x, model.W_h, model.b]
    for T in (7, 7, 4, 7):
        x = torch.randn(5, T, D)
        reused = torch.autograd.grad(LSTMFunction.apply(x, *params, model.workspace).square().sum(), params)
        fresh = torch.autograd.grad(LSTMFunction.apply(x, *params).square().sum(), params)
        for g_reused, g_fresh in zip(reused, fresh):
            torch.testing.assert_close(g_reused, g_fresh, atol=0, rtol=0)
    assert {"gates", "kappa", "grad_pre"} <= model.workspace.keys()


def test_two_forward_passes_before_backward_keep_their_own_buffers():
    torch.manual_seed(5)
    model = LSTM(6, D, H, C)
    x_a, x_b = torch.randn(3, 6, D), torch.randn(3, 6, D)
    model(x_a).sum().backward()  # the workspace now holds buffers of this shape
    together = torch.autograd.grad((model(x_a) + 2 * model(x_b)).sum(), [model.W_h])[0]
    apart = sum(w * torch.autograd.grad(model(x).sum(), [model.W_h])[0] for w, x in ((1, x_a), (2, x_b)))
    torch.testing.assert_close(together, apart)
    # A graph kept for a second backward whose buffers a later forward pass took fails loudly.
    loss = model(x_a).sum()
    loss.backward(retain_graph=True)
    model(x_b)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()

"""The vanilla RNN computes h_t = tanh(W_hx x_t + W_hh h_{t-1} + b_h), p = W_ph h_T + b_p."""

import pytest
import torch
from torch import nn

from vanilla_rnn import VanillaRNN

H, C = 7, 10


@pytest.mark.parametrize("T,input_dim", [(1, 1), (9, 10)])
def test_rnn_matches_torch_rnn(T, input_dim):
    torch.manual_seed(0)
    model = VanillaRNN(T, input_dim, H, C)
    rnn = nn.RNN(input_dim, H, batch_first=True)  # tanh non-linearity by default
    head = nn.Linear(H, C)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(model.W_hx.t())
        rnn.weight_hh_l0.copy_(model.W_hh.t())
        rnn.bias_ih_l0.copy_(model.b_h)
        rnn.bias_hh_l0.zero_()
        head.weight.copy_(model.W_ph.t())
        head.bias.copy_(model.b_p)
    x = torch.randn(4, T, input_dim)
    y = torch.randint(0, C, (4,))
    ours, theirs = model(x), head(rnn(x)[0][:, -1])
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)

    nn.functional.cross_entropy(ours, y).backward()
    nn.functional.cross_entropy(theirs, y).backward()
    for g_ours, g_theirs in [(model.W_hx.grad.t(), rnn.weight_ih_l0.grad), (model.W_hh.grad.t(), rnn.weight_hh_l0.grad),
                             (model.b_h.grad, rnn.bias_ih_l0.grad), (model.W_ph.grad.t(), head.weight.grad),
                             (model.b_p.grad, head.bias.grad)]:
        assert (g_ours - g_theirs).abs().max() <= 1e-5


def test_rnn_passes_gradcheck():
    torch.manual_seed(0)
    model = VanillaRNN(4, 2, 3, 4).double()
    x = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
    params = tuple(model.parameters())

    def logits(x, *weights):
        return torch.func.functional_call(model, dict(zip([n for n, _ in model.named_parameters()], weights)), (x,))

    assert torch.autograd.gradcheck(logits, (x, *params))


def test_rnn_accepts_other_lengths_and_orthogonal_init():
    model = VanillaRNN(5, 1, H, C, recurrent_init="orthogonal")
    torch.testing.assert_close(model.W_hh.t() @ model.W_hh, torch.eye(H), atol=1e-5, rtol=0)
    for T in (2, 17):
        assert model(torch.randn(3, T, 1)).shape == (3, C)

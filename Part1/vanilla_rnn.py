"""A vanilla recurrent network written from its equations.

With h_0 = 0, for t = 1..T:

    h_t = tanh(W_hx x_t + W_hh h_{t-1} + b_h)
    p_t = W_ph h_t + b_p

Only the last step's prediction p_T is used; softmax is left to the cross-entropy loss.
"""

import math

import torch
from torch import nn


class VanillaRNN(nn.Module):
    """forward(x) takes x of shape (batch, T, input_dim), for any T >= 1 (seq_length is the
    length it is built for, kept for reference), and returns logits (batch, num_classes).

    recurrent_init "orthogonal" draws W_hh as an orthogonal matrix, whose products neither
    shrink nor grow a vector, so gradients through time start out neither vanishing nor
    exploding (Saxe et al., 2014).
    """

    def __init__(self, seq_length, input_dim, num_hidden, num_classes, recurrent_init="uniform"):
        super().__init__()
        self.seq_length = seq_length
        H = num_hidden
        self.W_hx = nn.Parameter(torch.empty(input_dim, H))
        self.W_hh = nn.Parameter(torch.empty(H, H))
        self.b_h = nn.Parameter(torch.empty(H))
        self.W_ph = nn.Parameter(torch.empty(H, num_classes))
        self.b_p = nn.Parameter(torch.empty(num_classes))
        # Uniform in ±1/sqrt(H), as torch.nn.RNN and torch.nn.Linear initialise.
        bound = 1 / math.sqrt(H)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)
        if recurrent_init == "orthogonal":
            with torch.no_grad():
                nn.init.orthogonal_(self.W_hh)
        elif recurrent_init != "uniform":
            raise ValueError(f"recurrent_init must be 'uniform' or 'orthogonal', not {recurrent_init!r}")

    def forward(self, x):
        return self.head(self.hidden_states(x)[-1])

    def head(self, h):
        return h @ self.W_ph + self.b_p  # p_T = W_ph h_T + b_p

    def hidden_states(self, x):
        """[h_1, ..., h_T], each (batch, hidden)."""
        # The input's share, W_hx x_t + b_h, for all steps in one product: (batch, T, hidden).
        x_proj = torch.addmm(self.b_h, x.reshape(-1, x.shape[-1]), self.W_hx).view(*x.shape[:2], -1)
        h = x.new_zeros(x.shape[0], self.W_hh.shape[0])
        # unbind hands out every step at once; indexing x_proj[:, t] in the loop would make each
        # slice's backward allocate a gradient of the full input, so backward would cost O(T^2).
        states = []
        for x_t in x_proj.unbind(1):
            h = torch.tanh(torch.addmm(x_t, h, self.W_hh))  # h_t = tanh(W_hx x_t + W_hh h_{t-1} + b_h)
            states.append(h)
        return states

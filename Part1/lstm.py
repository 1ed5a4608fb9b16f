"""A long short-term memory network written from its equations.

With h_0 = c_0 = 0, for t = 1..T (numbered as in the assignment):

    (1) g_t = tanh(W_gx x_t + W_gh h_{t-1} + b_g)
    (2) i_t = sigmoid(W_ix x_t + W_ih h_{t-1} + b_i)
    (3) f_t = sigmoid(W_fx x_t + W_fh h_{t-1} + b_f)
    (4) o_t = sigmoid(W_ox x_t + W_oh h_{t-1} + b_o)
    (5) c_t = g_t ⊙ i_t + c_{t-1} ⊙ f_t
    (6) h_t = tanh(c_t) ⊙ o_t
    (7) p_t = W_ph h_t + b_p
    (8) ŷ_t = softmax(p_t)

Only the last step's prediction is used; softmax (8) is left to the cross-entropy loss.

The four gates' weights are stored side by side, in the order g | i | f | o, so that
(1)-(4) are one matrix product: W_x = [W_gx W_ix W_fx W_ox] and W_h likewise.
`lstm_reference` computes (1)-(6) line by line with autograd. `LSTMFunction` computes the
same numbers with a hand-written backward pass through time, which is what `LSTM` uses:
autograd would record ten operations per step and replay them one by one, and on a CPU
that bookkeeping costs more than the arithmetic. tests/test_lstm.py proves the two agree
with each other, with `torch.nn.LSTM`, and with `torch.autograd.gradcheck`.
"""

import math

import torch
from torch import nn


def lstm_reference(x, W_x, W_h, b):
    """Equations (1)-(6), plainly. x: (batch, T, input_dim). Returns h_T: (batch, hidden).
    Without autograd, only the current step's tensors are alive at any time."""
    for h in lstm_steps(x, W_x, W_h, b):
        pass
    return h


def lstm_states(x, W_x, W_h, b):
    """The hidden states [h_1, ..., h_T] of equations (1)-(6), each (batch, hidden)."""
    return list(lstm_steps(x, W_x, W_h, b))


def lstm_steps(x, W_x, W_h, b):
    """Equations (1)-(6), one step at a time: yields h_1, ..., h_T, each (batch, hidden)."""
    batch, hidden = x.shape[0], W_h.shape[0]
    h = x.new_zeros(batch, hidden)
    c = x.new_zeros(batch, hidden)
    # unbind hands out every step at once; indexing x[:, t] in the loop would make each
    # slice's backward allocate a gradient of the full input, so backward would cost O(T^2).
    for x_t in x.unbind(1):
        a_g, a_i, a_f, a_o = (x_t @ W_x + h @ W_h + b).chunk(4, dim=1)
        g = torch.tanh(a_g)  # (1)
        i = torch.sigmoid(a_i)  # (2)
        f = torch.sigmoid(a_f)  # (3)
        o = torch.sigmoid(a_o)  # (4)
        c = g * i + c * f  # (5) c_t = g_t ⊙ i_t + c_{t-1} ⊙ f_t
        h = torch.tanh(c) * o  # (6) h_t = tanh(c_t) ⊙ o_t
        yield h


def _tanh_(z):
    """tanh(z) = 2 sigmoid(2z) - 1, in place. (On torch 2.14.1 at 128 x 128, torch.tanh_ alone
    measures faster; switching changes float rounding, so the committed results keep this form.)"""
    return z.mul_(2).sigmoid_().mul_(2).sub_(1)


class LSTMFunction(torch.autograd.Function):
    """Equations (1)-(6) with backpropagation through time written out.

    Each step's four pre-activations come from one product, [W_h; W_x; b]ᵀ [h_{t-1}; x_t; 1]
    (the bias is the weight of an input that is always 1). Every per-step tensor is laid out
    feature-major, (features, batch), so that the gates (4 * hidden, batch) split into four
    contiguous blocks, which element-wise kernels run through faster than the strided column
    blocks of (batch, 4 * hidden). Forward keeps the activated gates, c_t and tanh(c_t) of
    every step in buffers allocated once; backward walks the steps in reverse, turning dL/dh_t
    into the gradients of the gates' pre-activations and accumulating the weights' gradients
    as it goes. Neither loop allocates tensor storage.
    """

    @staticmethod
    def forward(ctx, x, W_x, W_h, b):
        batch, T, input_dim = x.shape
        hidden = W_h.shape[0]
        # Zero rows pad [W_h; W_x; b] to a multiple of 16 rows: the BLAS kernels that accumulate
        # dL/dW in backward run about a third slower on odd sizes such as 139 than on 144.
        rows = hidden + input_dim + 1
        padding = W_h.new_zeros(-rows % 16, 4 * hidden)
        W_t = torch.cat([W_h, W_x, b[None], padding]).t().contiguous()  # (4 * hidden, rows + padding)
        # hx[t] = [h_t; x_{t+1}; 1; 0], (rows + padding, batch); h_0 = 0.
        hx = x.new_zeros(T + 1, W_t.shape[1], batch)
        hx[:T, hidden:rows - 1] = x.permute(1, 2, 0)
        hx[:, rows - 1] = 1
        hs = hx[:, :hidden]  # hs[t] = h_t
        gates = x.new_empty(T, 4 * hidden, batch)  # activated gates [g; i; f; o] of each step
        cs = x.new_zeros(T + 1, hidden, batch)  # cs[t] = c_t
        tanh_cs = x.new_empty(T, hidden, batch)  # tanh(c_{t+1}), reused by backward
        for t in range(T):
            a = torch.mm(W_t, hx[t], out=gates[t])  # pre-activations of (1)-(4)
            _tanh_(a[:hidden])  # (1) g
            a[hidden:].sigmoid_()  # (2)-(4) i, f, o
            g, i, f, o = a.chunk(4)
            c = torch.mul(g, i, out=cs[t + 1])
            c.addcmul_(cs[t], f)  # (5) c_t = g_t ⊙ i_t + c_{t-1} ⊙ f_t
            tanh_c = _tanh_(tanh_cs[t].copy_(c))
            torch.mul(tanh_c, o, out=hs[t + 1])  # (6) h_t = tanh(c_t) ⊙ o_t
        ctx.rows = rows
        ctx.save_for_backward(W_t, hx, gates, cs, tanh_cs)
        return hs[T].t().contiguous()  # (batch, hidden)

    @staticmethod
    def backward(ctx, grad_h):
        W_t, hx, gates, cs, tanh_cs = ctx.saved_tensors
        T, hidden, batch = tanh_cs.shape
        rows = ctx.rows
        W_h = W_t[:, :hidden].t()  # (hidden, 4 * hidden)
        grad_W_t = torch.zeros_like(W_t)
        grad_pre = torch.empty_like(gates)  # dL/d(pre-activations of (1)-(4)) of each step
        grad_h = grad_h.t().contiguous()  # dL/dh_t, (hidden, batch), overwritten step by step
        grad_c = torch.zeros_like(grad_h)  # dL/dc_t
        tmp = torch.empty_like(grad_h)
        tmp3 = grad_h.new_empty(3 * hidden, batch)
        for t in reversed(range(T)):
            a, d = gates[t], grad_pre[t]
            g, i, f, o = a.chunk(4)
            d_g, d_i, d_f, d_o = d.chunk(4)
            tanh_c = tanh_cs[t]
            torch.mul(grad_h, tanh_c, out=d_o)  # (6): dL/do_t
            # (6): dL/dc_t += dL/dh_t ⊙ o_t ⊙ (1 - tanh²(c_t))
            torch.mul(o, tanh_c, out=tmp)
            torch.addcmul(o, tmp, tanh_c, value=-1, out=tmp)
            grad_c.addcmul_(grad_h, tmp)
            torch.mul(grad_c, i, out=d_g)  # (5): dL/dg_t
            torch.mul(grad_c, g, out=d_i)  # (5): dL/di_t
            torch.mul(grad_c, cs[t], out=d_f)  # (5): dL/df_t
            grad_c.mul_(f)  # (5): dL/dc_{t-1}
            # Back through the activations: tanh' = 1 - g², sigmoid' = s - s².
            torch.mul(d_g, g, out=tmp)
            d_g.addcmul_(tmp, g, value=-1)
            s, d_s = a[hidden:], d[hidden:]
            torch.mul(d_s, s, out=tmp3)
            torch.addcmul(tmp3, tmp3, s, value=-1, out=d_s)
            grad_W_t.addmm_(d, hx[t].t())  # (1)-(4): dL/d[W_h; W_x; b]ᵀ += d_t [h_{t-1}; x_t; 1]ᵀ
            torch.mm(W_h, d, out=grad_h)  # (1)-(4): dL/dh_{t-1}
        grad_W = grad_W_t.t()
        grad_x = None
        if ctx.needs_input_grad[0]:  # (1)-(4): dL/dx_t = W_x d_t, for all steps at once
            grad_x = torch.matmul(W_t[:, hidden:rows - 1].t(), grad_pre).permute(2, 0, 1)
        return grad_x, grad_W[hidden:rows - 1], grad_W[:hidden], grad_W[rows - 1]


class LSTM(nn.Module):
    """LSTM over a sequence, classifying from its last hidden state.

    forward(x) takes x of shape (batch, T, input_dim), for any T >= 1 (seq_length is the
    length it is built for, kept for reference), and returns logits (batch, num_classes).

    forget_bias is added to b_f: a forget gate that starts near sigmoid(1) = 0.73 instead of
    0.5 lets c_t carry a memory across many more steps before training has tuned it
    (Jozefowicz et al., 2015). recurrent_init "orthogonal" draws each gate's W_·h as an
    orthogonal matrix, whose products neither shrink nor grow a vector.
    """

    def __init__(self, seq_length, input_dim, num_hidden, num_classes,
                 forget_bias=1.0, recurrent_init="uniform", fused=True):
        super().__init__()
        self.seq_length = seq_length
        self.fused = fused
        H = num_hidden
        self.W_x = nn.Parameter(torch.empty(input_dim, 4 * H))  # [W_gx W_ix W_fx W_ox]ᵀ
        self.W_h = nn.Parameter(torch.empty(H, 4 * H))  # [W_gh W_ih W_fh W_oh]ᵀ
        self.b = nn.Parameter(torch.empty(4 * H))  # [b_g b_i b_f b_o]
        self.W_ph = nn.Parameter(torch.empty(H, num_classes))
        self.b_p = nn.Parameter(torch.empty(num_classes))
        # Uniform in ±1/sqrt(H), as torch.nn.LSTM and torch.nn.Linear initialise.
        bound = 1 / math.sqrt(H)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)
        with torch.no_grad():
            if recurrent_init == "orthogonal":
                for W in self.W_h.split(H, dim=1):
                    nn.init.orthogonal_(W)
            elif recurrent_init != "uniform":
                raise ValueError(f"recurrent_init must be 'uniform' or 'orthogonal', not {recurrent_init!r}")
            self.b[2 * H:3 * H] += forget_bias

    def forward(self, x):
        if self.fused and torch.is_grad_enabled():
            h = LSTMFunction.apply(x, self.W_x, self.W_h, self.b)
        else:
            # Without autograd (evaluation), the plain loop keeps only the current step, where
            # LSTMFunction would keep every step for a backward pass that will not come.
            h = lstm_reference(x, self.W_x, self.W_h, self.b)
        return self.head(h)

    def head(self, h):
        return h @ self.W_ph + self.b_p  # (7) p_T = W_ph h_T + b_p

    def hidden_states(self, x):
        """[h_1, ..., h_T] computed by the plain loop, for looking inside (dL/dh_t)."""
        return lstm_states(x, self.W_x, self.W_h, self.b)

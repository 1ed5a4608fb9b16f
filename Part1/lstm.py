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
    """tanh(z) = 2 sigmoid(2z) - 1, in place: four kernels, yet on a 128 x 128 tensor with torch
    2.14.1 on one thread they take 30 µs where torch.tanh_ takes 52 µs (measured on the machine
    of the committed benchmark)."""
    return z.mul_(2).sigmoid_().mul_(2).sub_(1)


class LSTMFunction(torch.autograd.Function):
    """Equations (1)-(6) with backpropagation through time written out.

    Each step's four pre-activations a_t = [a^g_t; a^i_t; a^f_t; a^o_t] come from one product,
    a_t = [W_h; W_x; b]ᵀ [h_{t-1}; x_t; 1] (the bias is the weight of an input that is always 1),
    and g_t = tanh(a^g_t), i_t = σ(a^i_t), f_t = σ(a^f_t), o_t = σ(a^o_t) as in (1)-(4).

    Backward, with δh_t = dL/dh_t and δc_t = dL/dc_t, starts from δh_T (the head's gradient,
    which autograd hands in) and δc_{T+1} = 0, and for t = T, ..., 1 computes:

        (B1) δo_t = δh_t ⊙ tanh(c_t)                                           by (6)
        (B2) δc_t = δh_t ⊙ o_t ⊙ (1 - tanh²(c_t)) + δc_{t+1} ⊙ f_{t+1}          by (6), and (5) at t+1
        (B3) δg_t = δc_t ⊙ i_t,   δi_t = δc_t ⊙ g_t,   δf_t = δc_t ⊙ c_{t-1}    by (5)
        (B4) δa^g_t = δg_t ⊙ (1 - g_t²)                                        by (1): tanh' = 1 - tanh²
             δa^i_t = δi_t ⊙ i_t ⊙ (1 - i_t), likewise δa^f_t and δa^o_t     by (2)-(4): σ' = σ(1 - σ)
        (B5) δh_{t-1} = W_gh^T δa^g_t + W_ih^T δa^i_t + W_fh^T δa^f_t + W_oh^T δa^o_t = W_h δa_t    by (1)-(4)
        (B6) dL/d[W_h; W_x; b]ᵀ += δa_t [h_{t-1}; x_t; 1]ᵀ                         by (1)-(4)

    and after the loop (B7) dL/dx_t = W_x δa_t for every step at once.

    Only δh_t and δc_t carry the recursion; every other factor of (B1)-(B4) is a value of the
    forward pass. So before the loop, for all steps at once, backward turns the buffer of δa_t
    into those factors, κ^o_t = tanh(c_t) ⊙ o_t ⊙ (1 - o_t), κ^g_t = i_t ⊙ (1 - g_t²),
    κ^i_t = g_t ⊙ i_t ⊙ (1 - i_t), κ^f_t = c_{t-1} ⊙ f_t ⊙ (1 - f_t), and keeps
    κ^c_t = o_t ⊙ (1 - tanh²(c_t)) beside it; the loop then needs five kernels a step:
    δc_t = δh_t ⊙ κ^c_t + δc_{t+1} ⊙ f_{t+1}, δa^o_t = δh_t ⊙ κ^o_t, δa^{g,i,f}_t = δc_t ⊙ κ^{g,i,f}_t,
    and the products (B5) and (B6). (Measured as benchmark.py does, interleaved, against the same
    code doing (B1)-(B4) step by step in fourteen kernels: 3-7% less time per training step at
    T = 10, 50 and 200, at one thread and at two.)

    Every per-step tensor is laid out feature-major, (features, batch), so that the gates
    (4 * hidden, batch) split into four contiguous blocks, which element-wise kernels run through
    faster than the strided column blocks of (batch, 4 * hidden). Forward keeps the activated
    gates, c_t and tanh(c_t) of every step in buffers allocated once, and neither loop allocates
    tensor storage. Both loops take their steps' views from `unbind` up front rather than slicing
    inside the loop: on 128 x 128 tensors each slice costs about as much as an element-wise kernel
    (2-7% of a training step, measured as above).
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
        gates = x.new_empty(T, 4 * hidden, batch)  # activated gates [g; i; f; o] of each step
        cs = x.new_zeros(T + 1, hidden, batch)  # cs[t] = c_t; c_0 = 0
        tanh_cs = x.new_empty(T, hidden, batch)  # tanh(c_t) of steps 1..T, reused by backward
        g, i, f, o = gates.view(T, 4, hidden, batch).unbind(1)  # each (T, hidden, batch)
        steps = zip(hx.unbind(0), hx[1:, :hidden].unbind(0), gates.unbind(0), gates[:, hidden:].unbind(0),
                    g.unbind(0), i.unbind(0), f.unbind(0), o.unbind(0), cs.unbind(0), cs[1:].unbind(0),
                    tanh_cs.unbind(0))
        for hx_prev, h, a, s, g_t, i_t, f_t, o_t, c_prev, c, tanh_c in steps:
            torch.mm(W_t, hx_prev, out=a)  # pre-activations of (1)-(4)
            _tanh_(g_t)  # (1) g_t = tanh(a^g_t)
            s.sigmoid_()  # (2)-(4) i_t, f_t, o_t = σ(a^i_t), σ(a^f_t), σ(a^o_t)
            torch.mul(g_t, i_t, out=c).addcmul_(c_prev, f_t)  # (5) c_t = g_t ⊙ i_t + c_{t-1} ⊙ f_t
            _tanh_(tanh_c.copy_(c))
            torch.mul(tanh_c, o_t, out=h)  # (6) h_t = tanh(c_t) ⊙ o_t
        ctx.rows = rows
        ctx.save_for_backward(W_t, hx, gates, cs, tanh_cs)
        return hx[T, :hidden].t().contiguous()  # h_T, (batch, hidden)

    @staticmethod
    def backward(ctx, grad_h):
        W_t, hx, gates, cs, tanh_cs = ctx.saved_tensors
        T, hidden, batch = tanh_cs.shape
        rows = ctx.rows
        g, i, f, o = gates.view(T, 4, hidden, batch).unbind(1)  # each (T, hidden, batch)
        grad_pre = torch.empty_like(gates)  # κ_t first, then δa_t, of each step
        k_g, k_i, k_f, k_o = grad_pre.view(T, 4, hidden, batch).unbind(1)
        k_c = torch.empty_like(tanh_cs)
        # The factors of (B1)-(B4) that the forward pass fixes, for all steps at once, in place.
        torch.mul(o, o, out=k_o).neg_().add_(o).mul_(tanh_cs)  # κ^o = tanh(c) ⊙ o ⊙ (1 - o)
        torch.mul(tanh_cs, tanh_cs, out=k_c).mul_(o).neg_().add_(o)  # κ^c = o ⊙ (1 - tanh²(c))
        torch.mul(g, g, out=k_g).mul_(i).neg_().add_(i)  # κ^g = i ⊙ (1 - g²)
        torch.mul(i, i, out=k_i).neg_().add_(i).mul_(g)  # κ^i = g ⊙ i ⊙ (1 - i)
        torch.mul(f, f, out=k_f).neg_().add_(f).mul_(cs[:T])  # κ^f = c_{t-1} ⊙ f ⊙ (1 - f)

        W_h = W_t[:, :hidden].t()  # (hidden, 4 * hidden)
        grad_W_t = torch.zeros_like(W_t)
        grad_h = grad_h.t().contiguous()  # δh_t, (hidden, batch), overwritten step by step
        grad_c = torch.zeros_like(grad_h)  # δc_t
        steps = zip(hx.unbind(0), grad_pre.unbind(0), grad_pre[:, :3 * hidden].view(T, 3, hidden, batch).unbind(0),
                    k_o.unbind(0), k_c.unbind(0), f.unbind(0))
        for hx_prev, d, d_gif, d_o, k_c_t, f_t in reversed(list(steps)):
            grad_c.addcmul_(grad_h, k_c_t)  # (B2) δc_t, its second term left by the step before
            d_o.mul_(grad_h)  # (B1), (B4) δa^o_t = δh_t ⊙ κ^o_t
            d_gif.mul_(grad_c)  # (B3), (B4) δa^{g,i,f}_t = δc_t ⊙ κ^{g,i,f}_t
            grad_c.mul_(f_t)  # (B2)'s second term for step t-1: δc_t ⊙ f_t
            grad_W_t.addmm_(d, hx_prev.t())  # (B6)
            torch.mm(W_h, d, out=grad_h)  # (B5) δh_{t-1}
        grad_W = grad_W_t.t()
        grad_x = None
        if ctx.needs_input_grad[0]:  # (B7) dL/dx_t = W_x δa_t, for all steps at once
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

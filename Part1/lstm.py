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

The four gates' weights are stored side by side, in the order g | i | f | o, so that the
terms of (1)-(4) are two matrix products, x_t W_x and h_{t-1} W_h, with W_x = [W_gx W_ix W_fx W_ox]
and W_h likewise.
`lstm_reference` computes (1)-(6) line by line with autograd. `LSTMFunction` computes the
same numbers with a hand-written backward pass through time, which is what `LSTM` uses:
autograd would record ten operations per step and replay them one by one, where the
hand-written pass does the element-wise work of all steps at once where it can, skips the
products of h_0 = 0 and reuses its buffers (benchmark.py times the plain loop against it).
tests/test_lstm.py checks that the two agree with each other and with `torch.nn.LSTM` (to 1e-5
in float32), and runs `torch.autograd.gradcheck` on `LSTMFunction`.
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


class LSTMFunction(torch.autograd.Function):
    """Equations (1)-(6) with backpropagation through time written out.

    Each step's four pre-activations a_t = [a^g_t; a^i_t; a^f_t; a^o_t] are [W_x; b]ᵀ [x_t; 1] (the
    bias is the weight of an input that is always 1), computed for all steps at once before the
    loop, plus W_hᵀ h_{t-1}, added step by step from t = 2 (h_0 = 0 adds nothing); then
    g_t = tanh(a^g_t), i_t = σ(a^i_t), f_t = σ(a^f_t), o_t = σ(a^o_t) as in (1)-(4).

    Backward, with δh_t = dL/dh_t and δc_t = dL/dc_t, starts from δh_T (the head's gradient,
    which autograd hands in) and δc_{T+1} = 0, and for t = T, ..., 1 computes:

        (B1) δo_t = δh_t ⊙ tanh(c_t)                                           by (6)
        (B2) δc_t = δh_t ⊙ o_t ⊙ (1 - tanh²(c_t)) + δc_{t+1} ⊙ f_{t+1}          by (6), and (5) at t+1
        (B3) δg_t = δc_t ⊙ i_t,   δi_t = δc_t ⊙ g_t,   δf_t = δc_t ⊙ c_{t-1}    by (5)
        (B4) δa^g_t = δg_t ⊙ (1 - g_t²)                                        by (1): tanh' = 1 - tanh²
             δa^i_t = δi_t ⊙ i_t ⊙ (1 - i_t), likewise δa^f_t and δa^o_t     by (2)-(4): σ' = σ(1 - σ)
        (B5) δh_{t-1} = W_gh^T δa^g_t + W_ih^T δa^i_t + W_fh^T δa^f_t + W_oh^T δa^o_t = W_h δa_t    by (1)-(4)
        (B6) dL/dW_hᵀ += δa_t h_{t-1}ᵀ                                           by (1)-(4)

    (B5) and (B6) are skipped at t = 1, where h_0 = 0. After the loop, for all steps at once,
    (B6') dL/d[W_x; b]ᵀ = Σ_t δa_t [x_t; 1]ᵀ and (B7) dL/dx_t = W_x δa_t.

    Only δh_t and δc_t carry the recursion; every other factor of (B1)-(B4) is a value of the
    forward pass. So before the loop, for all steps at once, backward computes those factors,
    κ^g_t = i_t ⊙ (1 - g_t²), κ^i_t = g_t ⊙ i_t ⊙ (1 - i_t), κ^f_t = c_{t-1} ⊙ f_t ⊙ (1 - f_t),
    κ^o_t = tanh(c_t) ⊙ o_t ⊙ (1 - o_t) and κ^c_t = o_t ⊙ (1 - tanh²(c_t)), two kernels each; the
    loop then needs four element-wise kernels a step, δc_t = δh_t ⊙ κ^c_t + δc_{t+1} ⊙ f_{t+1},
    δa^o_t = δh_t ⊙ κ^o_t, δa^{g,i,f}_t = δc_t ⊙ κ^{g,i,f}_t and δc_t ⊙ f_t, and the products (B5), (B6).

    Every per-step tensor is laid out feature-major, (features, batch), so that the gates
    (4 * hidden, batch) split into four contiguous blocks. Kernels write whole contiguous blocks:
    an `out=` that is a strided view makes PyTorch compute into a temporary and copy it over
    (four times the kernel's time on (10, 128, 128) here). Both loops take their steps' views from
    `unbind` up front rather than slicing inside the loop: on 128 x 128 tensors each slice costs
    about as much as an element-wise kernel.

    A training step allocates the same buffers every step, and freshly allocated memory costs page
    faults on its first write: given a `workspace` (a dict, which `LSTM` keeps), forward and
    backward take their buffers out of it when it holds them in the right shape, and backward puts
    them all back when it is done (5% of a training step at T = 10 for backward's own buffers,
    another 5% for forward's). A buffer is out of the workspace while a graph may still need it,
    so two forward passes before a backward get buffers of their own; only a graph kept for a
    second backward (retain_graph=True) can see its buffers reused by a later forward pass, and
    PyTorch's check of saved tensors then raises an error rather than computing wrong gradients.
    """

    @staticmethod
    def forward(ctx, x, W_x, W_h, b, workspace=None):
        batch, T, input_dim = x.shape
        hidden = W_h.shape[0]
        x1 = x.new_empty(T, input_dim + 1, batch)  # [x_t; 1] of each step
        x1[:, :input_dim] = x.permute(1, 2, 0)
        x1[:, input_dim] = 1
        W_x1 = torch.cat([W_x, b[None]]).t()  # [W_x; b]ᵀ, (4 * hidden, input_dim + 1)
        gates = take_buffer(workspace, "gates", x, (T, 4 * hidden, batch))  # the activated gates [g; i; f; o]
        torch.matmul(W_x1, x1, out=gates)  # first [W_x; b]ᵀ [x_t; 1] of each step
        W_h_t = W_h.t().contiguous()  # (4 * hidden, hidden)
        cs = take_buffer(workspace, "cs", x, (T + 1, hidden, batch))  # cs[t] = c_t
        cs[0] = 0  # c_0
        hs = take_buffer(workspace, "hs", x, (T, hidden, batch))  # hs[t - 1] = h_t
        tanh_cs = take_buffer(workspace, "tanh_cs", x, (T, hidden, batch))  # tanh(c_t), reused by backward
        g, i, f, o = gates.unflatten(1, (4, hidden)).unbind(1)  # each (T, hidden, batch)
        c_steps = cs.unbind(0)
        steps = zip(gates.unbind(0), gates[:, hidden:].unbind(0), g.unbind(0), i.unbind(0), f.unbind(0),
                    o.unbind(0), c_steps, c_steps[1:], tanh_cs.unbind(0), hs.unbind(0))
        h_prev = None  # h_0
        for a, ifo, g_t, i_t, f_t, o_t, c_prev, c, tanh_c, h in steps:
            if h_prev is not None:  # + W_hᵀ h_{t-1}: the pre-activations of (1)-(4) are complete
                a.addmm_(W_h_t, h_prev)
            g_t.tanh_()  # (1) g_t = tanh(a^g_t)
            ifo.sigmoid_()  # (2)-(4) i_t, f_t, o_t = σ(a^i_t), σ(a^f_t), σ(a^o_t)
            torch.mul(g_t, i_t, out=c).addcmul_(c_prev, f_t)  # (5) c_t = g_t ⊙ i_t + c_{t-1} ⊙ f_t
            torch.tanh(c, out=tanh_c)
            torch.mul(tanh_c, o_t, out=h)  # (6) h_t = tanh(c_t) ⊙ o_t
            h_prev = h
        ctx.workspace = workspace
        ctx.save_for_backward(x1, W_x, W_h, gates, cs, tanh_cs, hs)
        return hs[T - 1].t().contiguous()  # h_T, (batch, hidden)

    @staticmethod
    def backward(ctx, grad_h):
        x1, W_x, W_h, gates, cs, tanh_cs, hs = ctx.saved_tensors
        T, hidden, batch = hs.shape
        input_dim = W_x.shape[0]
        g, i, f, o = gates.unflatten(1, (4, hidden)).unbind(1)  # each (T, hidden, batch)
        kappa = take_buffer(ctx.workspace, "kappa", gates, (5, T, hidden, batch))
        grad_pre = take_buffer(ctx.workspace, "grad_pre", gates, gates.shape)  # δa_t of each step
        k_g, k_i, k_f, k_o, k_c = kappa.unbind(0)  # each (T, hidden, batch)
        # The factors of (B1)-(B4) that the forward pass fixes, for all steps at once.
        one = gates.new_ones(())
        torch.addcmul(one, g, g, value=-1, out=k_g).mul_(i)  # κ^g = i ⊙ (1 - g²)
        torch.addcmul(i, i, i, value=-1, out=k_i).mul_(g)  # κ^i = g ⊙ i ⊙ (1 - i)
        torch.addcmul(f, f, f, value=-1, out=k_f).mul_(cs[:T])  # κ^f = c_{t-1} ⊙ f ⊙ (1 - f)
        torch.addcmul(o, o, o, value=-1, out=k_o).mul_(tanh_cs)  # κ^o = tanh(c) ⊙ o ⊙ (1 - o)
        torch.addcmul(one, tanh_cs, tanh_cs, value=-1, out=k_c).mul_(o)  # κ^c = o ⊙ (1 - tanh²(c))

        grad_W_h_t = torch.zeros_like(W_h.t())  # dL/dW_hᵀ, (4 * hidden, hidden)
        grad_h = grad_h.t().contiguous()  # δh_t, (hidden, batch), overwritten step by step
        grad_c = torch.zeros_like(grad_h)  # δc_t
        steps = list(zip(grad_pre.unbind(0), grad_pre[:, :3 * hidden].unflatten(1, (3, hidden)).unbind(0),
                         grad_pre[:, 3 * hidden:].unbind(0), kappa[:3].unbind(1), k_o.unbind(0), k_c.unbind(0),
                         f.unbind(0), (None, *hs.unbind(0))))
        for d, d_gif, d_o, k_gif, k_o_t, k_c_t, f_t, h_prev in reversed(steps):
            grad_c.addcmul_(grad_h, k_c_t)  # (B2) δc_t, its second term left by the step before
            torch.mul(grad_h, k_o_t, out=d_o)  # (B1), (B4) δa^o_t = δh_t ⊙ κ^o_t
            torch.mul(grad_c, k_gif, out=d_gif)  # (B3), (B4) δa^{g,i,f}_t = δc_t ⊙ κ^{g,i,f}_t
            if h_prev is not None:  # t > 1
                grad_c.mul_(f_t)  # (B2)'s second term for step t-1: δc_t ⊙ f_t
                grad_W_h_t.addmm_(d, h_prev.t())  # (B6)
                torch.mm(W_h, d, out=grad_h)  # (B5) δh_{t-1}
        grad_W_x1 = torch.bmm(grad_pre, x1.transpose(1, 2)).sum(0).t()  # (B6'), (input_dim + 1, 4 * hidden)
        grad_x = None
        if ctx.needs_input_grad[0]:  # (B7) dL/dx_t = W_x δa_t, for all steps at once
            grad_x = torch.matmul(W_x, grad_pre).permute(2, 0, 1)
        if ctx.workspace is not None:  # every buffer back, for the next training step
            ctx.workspace.update(gates=gates, cs=cs, hs=hs, tanh_cs=tanh_cs, kappa=kappa, grad_pre=grad_pre)
        return grad_x, grad_W_x1[:input_dim], grad_W_h_t.t(), grad_W_x1[input_dim], None


def take_buffer(workspace, name, like, shape):
    """An uninitialised tensor of this shape, like `like`: the one `workspace` holds under `name`,
    taken out of it, if it fits; else a new one (always, when workspace is None)."""
    buffer = None if workspace is None else workspace.pop(name, None)
    if buffer is None or buffer.shape != tuple(shape) or buffer.dtype != like.dtype or buffer.device != like.device:
        buffer = like.new_empty(shape)
    return buffer


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
        self.workspace = {}  # LSTMFunction's buffers, reused from one training step to the next
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
            h = LSTMFunction.apply(x, self.W_x, self.W_h, self.b, self.workspace)
        else:
            # Without autograd (evaluation), the plain loop keeps only the current step, where
            # LSTMFunction would keep every step for a backward pass that will not come.
            h = lstm_reference(x, self.W_x, self.W_h, self.b)
        return self.head(h)

    def head(self, h):
        return torch.addmm(self.b_p, h, self.W_ph)  # (7) p_T = W_ph h_T + b_p

    def hidden_states(self, x):
        """[h_1, ..., h_T] computed by the plain loop, for looking inside (dL/dh_t)."""
        return lstm_states(x, self.W_x, self.W_h, self.b)

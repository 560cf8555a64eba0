"""Recurrent layers: RNN, GRU and LSTM over whole sequences, and their cells.

Layouts, gate orders and parameter names are PyTorch's, so weights load
from it unchanged. Each layer (and direction) keeps

    weight_ih_l{k}  (G H, input size)   weight_hh_l{k}  (G H, H)
    bias_ih_l{k}    (G H,)              bias_hh_l{k}    (G H,)

with a ``_reverse`` suffix for the backward direction, where the G gate
blocks are stacked in the order RNN: (h), GRU: (r, z, n), LSTM: (i, f, g, o).

The input-to-hidden products do not depend on the previous step, so they
are computed for all time steps at once, one matmul per layer and
direction; each step then needs one matmul, hidden-to-hidden, for all its
gates. Each layer and direction is one node of the graph
(``RecurrentSequence``), whose backward through time is written once for
arrays and Tensors: an ordinary backward runs it on arrays, one with
``create_graph=True`` on chainrule's ops, so that it too can be
differentiated.

Packed input (``nn.utils.rnn.PackedSequence``: sequences of different
lengths) runs through the same nodes on its padded batch, each sequence's
outputs and final state read at its own steps.
"""
import math
import warnings
from types import SimpleNamespace

import numpy

from .. import creation
from ..autograd import Function, is_grad_enabled
from ..backend import array_module
from ..tensor import constant
from ..ops.activation import relu, sigmoid, tanh
from ..ops.linear import linear
from ..ops.shape import cat, stack
from . import init
from .dropout import dropout
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence, packed_positions, pad_packed_sequence


# ------------------------------------------------------------------ one direction of a layer as one node

def _array_sigmoid(x):
    # σ(x) = (1 + tanh(x/2)) / 2: cannot overflow, and one ufunc call cheaper than exp.
    return 0.5 + 0.5 * array_module(x).tanh(0.5 * x)


def _array_relu(x):
    return array_module(x).maximum(x, 0)


def _array_positive(x):
    """1 where x > 0, else 0: relu's slope, piecewise constant, so with no second derivative."""
    return (x > 0).astype(x.dtype)


def _array_stack(arrays, dim=0):
    return array_module(arrays[0]).stack(arrays, axis=dim)


def _array_cat(arrays, dim=0):
    return array_module(arrays[0]).concatenate(arrays, axis=dim)


# What a step and its backward need beyond arithmetic, indexing and reshape, for arrays and for Tensors.
ARRAY_MATHS = SimpleNamespace(sigmoid=_array_sigmoid, tanh=lambda x: array_module(x).tanh(x), relu=_array_relu,
                              positive=_array_positive, stack=_array_stack, cat=_array_cat)
TENSOR_MATHS = SimpleNamespace(sigmoid=sigmoid, tanh=tanh, relu=relu,
                               positive=lambda x: constant(_array_positive(x.data)), stack=stack, cat=cat)


def _hidden_product(h, weight_hh, bias_hh):
    product = h @ weight_hh.T
    return product if bias_hh is None else product + bias_hh


def _in_time_order(per_step, maths):
    return maths.stack([per_step[t] for t in range(len(per_step))])


class RecurrentSequence(Function):
    """One direction of one recurrent layer over a whole sequence, as one node.

    Inputs: ``gates_x`` (T, N, G H), the input-to-hidden products
    x_t W_ih^T + b_ih of every step; the initial state, ``states`` tensors
    (N, H) (h, or h and c); ``weight_hh`` (G H, H); optionally ``bias_hh``
    (G H,), where G is ``gates``. Output: the state after each step,
    (states, T, N, H), in time order; ``reverse`` runs from t = T-1 down to 0.

    A subclass gives ``step``, one step's arithmetic, and ``through_time``,
    the backward through time. Both are written once for arrays and Tensors
    alike (``maths`` supplies the nonlinearities, stack and cat). The
    forward runs ``step`` on arrays and saves its intermediates. An ordinary
    backward runs ``through_time`` on arrays too, from those, and wraps the
    gradients as Tensors at the end; while recording (``create_graph=True``)
    it reruns ``step`` on the inputs as Tensors, so that what it reads enters
    the new graph, and ``through_time`` on Tensors. Every local derivative of
    a step is the incoming gradient times a coefficient that the
    intermediates give for all t at once; only the gradient carried from
    step to step runs sequentially.
    """

    states = 1
    gates = 1

    def forward(self, gates_x, *args, reverse):
        self.reverse = reverse
        initial, weight_hh, bias_hh = self.split(args)
        self.saved, states = self.trace(gates_x, initial, weight_hh, bias_hh, ARRAY_MATHS)
        return array_module(gates_x).stack(states)

    def backward(self, g):
        # NOTE: on Tensors, each of the dozen or so ops per step pays Function.apply's
        # dispatch, which is most of a small model's training step; the arrays skip it.
        # The arithmetic is the same, in the same order.
        gates_x, *args = self.inputs
        initial, weight_hh, bias_hh = self.split(args)
        if is_grad_enabled():
            intermediates = self.trace(gates_x, initial, weight_hh, bias_hh, TENSOR_MATHS)[0]
            return self.through_time(g, intermediates, weight_hh, TENSOR_MATHS)
        grads = self.through_time(g.data, self.saved, weight_hh.data, ARRAY_MATHS)
        return tuple(constant(grad) for grad in grads)

    def split(self, args):
        """(initial state, weight_hh, bias_hh or None) from the inputs after gates_x."""
        bias_hh = args[self.states + 1] if len(args) > self.states + 1 else None
        return tuple(args[:self.states]), args[self.states], bias_hh

    def order(self, steps):
        return range(steps - 1, -1, -1) if self.reverse else range(steps)

    def trace(self, gates_x, state, weight_hh, bias_hh, maths):
        """Run every step; returns the intermediates and the states, each
        stacked over time (T, N, H) in time order."""
        records = {}
        for t in self.order(len(gates_x)):
            intermediates, state = self.step(gates_x[t], state, weight_hh, bias_hh, maths)
            records[t] = intermediates + state
        columns = [maths.stack(column) for column in zip(*(records[t] for t in range(len(records))))]
        return columns[:-self.states], columns[-self.states:]

    def weight_grads(self, d_gates, previous_h):
        """dW_hh = Σ_t d gates_t^T h_{t-1}, one matmul over all steps; db_hh = Σ_t d gates_t."""
        rows = d_gates.reshape(-1, d_gates.shape[-1])
        d_weight = rows.mT @ previous_h.reshape(-1, previous_h.shape[-1])
        return (d_weight, rows.sum(0)) if len(self.inputs) > self.states + 2 else (d_weight,)


class ElmanSequence(RecurrentSequence):
    """h' = act(x-part + h W_hh^T + b_hh), with act tanh or relu (``activation``)."""

    activation = "tanh"

    @classmethod
    def step(cls, gates_x, state, weight_hh, bias_hh, maths):
        (h,) = state
        new = getattr(maths, cls.activation)(gates_x + _hidden_product(h, weight_hh, bias_hh))
        return (h, new), (new,)

    def through_time(self, g, intermediates, weight_hh, maths):
        previous, new = intermediates
        slope = self.slope(new, maths)
        dh = None
        dhs = {}
        for t in reversed(self.order(g.shape[1])):
            dh = g[0, t] if dh is None else g[0, t] + dh
            dhs[t] = dh
            dh = (dh * slope[t]) @ weight_hh
        d_gates = _in_time_order(dhs, maths) * slope
        return (d_gates, dh) + self.weight_grads(d_gates, previous)

    @staticmethod
    def slope(new, maths):
        return 1 - new * new  # tanh' = 1 - tanh²


class ReLUElmanSequence(ElmanSequence):
    activation = "relu"

    @staticmethod
    def slope(new, maths):
        return maths.positive(new)


class GRUSequence(RecurrentSequence):
    """r, z = σ(x-part + h-part); n = tanh(x-part_n + r m) with m = h W_hn^T + b_hn;
    h' = (1 - z) n + z h, written n + z (h - n).

    With a_n = x-part_n + r m, and dh the gradient reaching h':

        d a_n = dh (1 - z)(1 - n²)           =: dh c_n
        d a_z = dh (h - n) z (1 - z)         =: dh c_z
        d a_r = dh c_n m r (1 - r)           =: dh c_r
        d m   = dh c_n r                     =: dh c_m

    so d gates_x = dh [c_r, c_z, c_n], d gates_h = dh [c_r, c_z, c_m], and
    dh_{t-1} = g_{t-1} + dh_t z_t + d gates_h,t W_hh.
    """

    gates = 3

    @staticmethod
    def step(gates_x, state, weight_hh, bias_hh, maths):
        (h,) = state
        size = h.shape[-1]
        gates_h = _hidden_product(h, weight_hh, bias_hh)
        reset_update = maths.sigmoid(gates_x[..., :2 * size] + gates_h[..., :2 * size])
        reset, update = reset_update[..., :size], reset_update[..., size:]
        hidden_part = gates_h[..., 2 * size:]
        candidate = maths.tanh(gates_x[..., 2 * size:] + reset * hidden_part)
        return (reset, update, candidate, hidden_part, h), (candidate + update * (h - candidate),)

    def through_time(self, g, intermediates, weight_hh, maths):
        reset, update, candidate, hidden_part, previous = intermediates
        c_n = (1 - update) * (1 - candidate * candidate)
        c_z = (previous - candidate) * update * (1 - update)
        c_r = c_n * hidden_part * reset * (1 - reset)
        # Gate blocks stacked on axis 2, so that dh (.., N, 1, H) broadcasts over them.
        to_gates_x = maths.stack([c_r, c_z, c_n], dim=2)
        to_gates_h = maths.stack([c_r, c_z, c_n * reset], dim=2)
        steps, batch, size = previous.shape
        dh = None
        dhs = {}
        for t in reversed(self.order(steps)):
            dh = g[0, t] if dh is None else g[0, t] + dh
            dhs[t] = dh.reshape(batch, 1, size)
            d_gates_h = (dhs[t] * to_gates_h[t]).reshape(batch, 3 * size)
            dh = dh * update[t] + d_gates_h @ weight_hh
        dh_all = _in_time_order(dhs, maths)
        d_gates_x = (dh_all * to_gates_x).reshape(steps, batch, 3 * size)
        d_gates_h = (dh_all * to_gates_h).reshape(steps, batch, 3 * size)
        return (d_gates_x, dh) + self.weight_grads(d_gates_h, previous)


class LSTMSequence(RecurrentSequence):
    """i, f, o = σ(...), g = tanh(...); c' = f c + i g; h' = o tanh(c').

    With dh and dc the gradients reaching h' and c' from later steps and
    the outputs, dc gains dh o (1 - tanh²c'); then

        d a_i = dc g i (1 - i)     d a_f = dc c f (1 - f)     d a_g = dc i (1 - g²)
        d a_o = dh tanh(c') o (1 - o)

    are the gradients of every gate pre-activation (from x and from h alike),
    and dh_{t-1} = d gates_t W_hh, dc_{t-1} = dc_t f_t.
    """

    states = 2
    gates = 4

    @staticmethod
    def step(gates_x, state, weight_hh, bias_hh, maths):
        h, c = state
        size = h.shape[-1]
        gates = gates_x + _hidden_product(h, weight_hh, bias_hh)
        input_forget = maths.sigmoid(gates[..., :2 * size])
        input_gate, forget = input_forget[..., :size], input_forget[..., size:]
        cell = maths.tanh(gates[..., 2 * size:3 * size])
        output = maths.sigmoid(gates[..., 3 * size:])
        new_c = forget * c + input_gate * cell
        tanh_c = maths.tanh(new_c)
        return (input_gate, forget, cell, output, c, tanh_c, h), (output * tanh_c, new_c)

    def through_time(self, g, intermediates, weight_hh, maths):
        input_gate, forget, cell, output, previous_c, tanh_c, previous_h = intermediates
        h_to_c = output * (1 - tanh_c * tanh_c)
        c_to_gates = maths.stack([cell * input_gate * (1 - input_gate), previous_c * forget * (1 - forget),
                                  input_gate * (1 - cell * cell)], dim=2)
        h_to_output_gate = tanh_c * output * (1 - output)
        steps, batch, size = previous_h.shape
        dh = dc = None
        dhs, dcs = {}, {}
        for t in reversed(self.order(steps)):
            dh = g[0, t] if dh is None else g[0, t] + dh
            dc = g[1, t] + dh * h_to_c[t] if dc is None else g[1, t] + dh * h_to_c[t] + dc
            dhs[t], dcs[t] = dh, dc.reshape(batch, 1, size)
            d_gates = maths.cat([(dcs[t] * c_to_gates[t]).reshape(batch, 3 * size),
                                 dh * h_to_output_gate[t]], dim=1)
            dh, dc = d_gates @ weight_hh, dc * forget[t]
        d_gates = maths.cat([(_in_time_order(dcs, maths) * c_to_gates).reshape(steps, batch, 3 * size),
                             _in_time_order(dhs, maths) * h_to_output_gate], dim=2)
        return (d_gates, dh, dc) + self.weight_grads(d_gates, previous_h)


SEQUENCES = {"RNN_TANH": ElmanSequence, "RNN_RELU": ReLUElmanSequence, "GRU": GRUSequence, "LSTM": LSTMSequence}


def _uniform_init(module):
    bound = 1 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -bound, bound)


def _sequence_ends(lengths):
    """Indices into a padded batch (L, N, ...) whose sequence b has ``lengths[b]``
    steps: ``reversed`` reverses each sequence within its length, leaving the
    padding in place (so it is its own inverse), and ``last`` picks each
    sequence's last step from states stacked as (states, L, N, H)."""
    steps = numpy.arange(lengths.max())[:, None]
    sequences = numpy.arange(len(lengths))
    reversed_steps = numpy.where(steps < lengths, lengths - 1 - steps, steps)
    return SimpleNamespace(reversed=(reversed_steps, sequences), last=(slice(None), lengths - 1, sequences))


def _shape_text(*sizes):
    return "(" + ", ".join(str(n) for n in sizes) + ")"


# ------------------------------------------------------------------ sequence layers

class RNNBase(Module):
    """The sequence layer that RNN, GRU and LSTM share; ``mode`` picks the step."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=None):
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError(f"{type(self).__name__}: dropout must be a number in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{type(self).__name__}: dropout={dropout} acts between layers, so with "
                          f"num_layers=1 it does nothing", stacklevel=2)
        if hidden_size <= 0 or num_layers <= 0:
            raise ValueError(f"{type(self).__name__}: hidden_size and num_layers must be positive, "
                             f"got {hidden_size} and {num_layers}")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, float(dropout), bidirectional
        self.num_directions = 2 if bidirectional else 1
        gate_size = SEQUENCES[mode].gates * hidden_size
        self._weight_names = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                shapes = {"weight_ih": (gate_size, layer_input), "weight_hh": (gate_size, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                for name, shape in shapes.items():
                    setattr(self, name + suffix, Parameter(creation.empty(*shape, dtype=dtype)))
                self._weight_names.append([name + suffix if name in shapes else None
                                           for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")])
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias uniform on ±1/sqrt(hidden_size), as in PyTorch."""
        _uniform_init(self)

    def _weights(self, index):
        return [getattr(self, name) if name else None for name in self._weight_names[index]]

    def forward(self, input, hx=None):
        """Run the layers over ``input``; see ``RNN`` for the shapes."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        batched = self._check_input(input)
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        states = self._initial_states(hx, input, batched)
        output, finals = self._layers(input, states)
        if not batched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, self._final_states(finals, batched)

    def _forward_packed(self, input, hx):
        """The layers over a ``PackedSequence``, run on its padded batch in the original order."""
        if input.data.ndim != 2 or input.data.shape[1] != self.input_size:
            raise ValueError(f"{self!r}: expected packed data of shape {_shape_text('steps', self.input_size)}, "
                             f"got {input.data.shape}")
        padded, lengths = pad_packed_sequence(input)
        states = self._initial_states(hx, padded, batched=True)
        output, finals = self._layers(padded, states, _sequence_ends(lengths.data))
        return input._replace(data=output[packed_positions(input)]), self._final_states(finals, batched=True)

    def _layers(self, input, states, ends=None):
        """The last layer's output (L, N, D H) and each layer's and direction's
        final state (states, N, H), from a time-major ``input``; ``ends``
        (``_sequence_ends``) when the sequences end at their own lengths."""
        finals = []
        layer_input = input
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                output, final = self._direction(index, layer_input, states[index], direction == 1, ends)
                outputs.append(output)
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else cat(outputs, dim=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = dropout(layer_input, self.dropout)
        return layer_input, finals

    def _direction(self, index, input, state, reverse, ends):
        """One layer and direction over ``input``: its output and its final state."""
        weight_ih, weight_hh, bias_ih, bias_hh = self._weights(index)
        gates_x = linear(input, weight_ih, bias_ih)
        bias = () if bias_hh is None else (bias_hh,)
        sequence = SEQUENCES[self.mode]
        if ends is None:
            after_each_step = sequence.apply(gates_x, *state, weight_hh, *bias, reverse=reverse)
            return after_each_step[0], after_each_step[:, 0 if reverse else -1]
        # NOTE: the padding lies after each sequence's end and a step reads only earlier
        # steps, so a run forward in time keeps the padding out of every sequence's own
        # outputs and gradients. The backward direction runs forward too, over each
        # sequence reversed within its length, and its output is turned back.
        if reverse:
            gates_x = gates_x[ends.reversed]
        after_each_step = sequence.apply(gates_x, *state, weight_hh, *bias, reverse=False)
        output = after_each_step[0][ends.reversed] if reverse else after_each_step[0]
        return output, after_each_step[ends.last]

    def _check_input(self, input):
        """Whether ``input`` has a batch dim; raises if its shape does not fit."""
        batch_layout = _shape_text(*(("N", "L") if self.batch_first else ("L", "N")), self.input_size)
        if input.ndim not in (2, 3) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"{self!r}: expected input of shape {batch_layout}, or {_shape_text('L', self.input_size)} "
                f"unbatched, got {input.shape}"
            )
        batched = input.ndim == 3
        if input.shape[1 if batched and self.batch_first else 0] == 0:
            raise ValueError(f"{self!r}: expected a sequence of at least one step, got input of shape {input.shape}")
        return batched

    def _initial_states(self, hx, input, batched):
        """One initial state per layer and direction: (h,), or (h, c) for LSTM."""
        layers = self.num_layers * self.num_directions
        expected = (layers, input.shape[1], self.hidden_size) if batched else (layers, self.hidden_size)
        if hx is None:
            zeros = creation.zeros(*expected, dtype=input.dtype)
            hx = (zeros, zeros) if self.mode == "LSTM" else zeros
        parts = self._state_parts(hx)
        for label, part in parts.items():
            if part.shape != expected:
                raise ValueError(f"{self!r}: expected {label} of shape {expected}, got {part.shape}")
        if not batched:
            parts = {label: part.unsqueeze(1) for label, part in parts.items()}
        return [tuple(part[i] for part in parts.values()) for i in range(layers)]

    def _state_parts(self, hx):
        if self.mode != "LSTM":
            return {"h0": hx}
        if not isinstance(hx, tuple) or len(hx) != 2:
            raise ValueError(f"{self!r}: the initial state must be a tuple (h0, c0), got {type(hx).__name__}")
        return {"h0": hx[0], "c0": hx[1]}

    def _final_states(self, finals, batched):
        """h_n, or (h_n, c_n), each (layers x directions, N, H), from each
        layer's and direction's final state (states, N, H)."""
        stacked = stack(finals, dim=1)
        if not batched:
            stacked = stacked.squeeze(2)
        return (stacked[0], stacked[1]) if self.mode == "LSTM" else stacked[0]

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity='relu'"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).

    Parameters
    ----------
    input_size, hidden_size : features in x and in h
    num_layers : stacked layers, each reading the previous one's outputs
    nonlinearity : 'tanh' or 'relu'
    bias : use b_ih and b_hh
    batch_first : input and output are (N, L, features) instead of (L, N, features)
    dropout : dropout on the outputs of every layer but the last, in training
    bidirectional : also run each layer backwards in time; outputs are concatenated

    Calling ``rnn(input, h0=None)`` returns ``(output, h_n)``: output
    (L, N, D H) holds the last layer's h_t for every t, h_n
    (num_layers D, N, H) every layer's final state (D = 2 if bidirectional,
    else 1). h0 has h_n's shape and defaults to zeros. An unbatched input
    (L, input_size) gives unbatched results.

    The input may also be a ``PackedSequence`` (``nn.utils.rnn``), for
    sequences of different lengths; the output is then packed alike, and
    h_n holds each sequence's state after its own last step (the backward
    direction starts at that step). ``batch_first`` does not apply to it.

    Example
    -------
    >>> rnn = nn.RNN(10, 20, num_layers=2)
    >>> output, h_n = rnn(chainrule.randn(5, 3, 10))
    >>> output.shape, h_n.shape
    ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, dtype)
        self.nonlinearity = nonlinearity


class GRU(RNNBase):
    """Gated recurrent unit (Cho et al., 2014), with PyTorch's gate order (r, z, n):

        r = σ(W_ir x + b_ir + W_hr h + b_hr)      z = σ(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r (W_hn h + b_hn))
        h' = (1 - z) n + z h

    Arguments, shapes and results as for ``RNN`` (without ``nonlinearity``).

    Example
    -------
    >>> gru = nn.GRU(1, 6, batch_first=True, bidirectional=True)
    >>> output, h_n = gru(chainrule.randn(100, 40, 1))
    >>> output.shape, h_n.shape
    ((100, 40, 12), (2, 100, 6))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype)


class LSTM(RNNBase):
    """Long short-term memory (Hochreiter & Schmidhuber, 1997), with PyTorch's gate order (i, f, g, o):

        i, f, o = σ(W_i* x + b_i* + W_h* h + b_h*)     g = tanh(W_ig x + b_ig + W_hg h + b_hg)
        c' = f c + i g                                 h' = o tanh(c')

    Arguments as for ``GRU``. Calling ``lstm(input, (h0, c0))`` returns
    ``(output, (h_n, c_n))``; h0 and c0 default to zeros.

    Example
    -------
    >>> lstm = nn.LSTM(8, 16, batch_first=True)
    >>> output, (h_n, c_n) = lstm(chainrule.randn(4, 12, 8))
    >>> output.shape, c_n.shape
    ((4, 12, 16), (1, 4, 16))
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype)


# ------------------------------------------------------------------ cells

class RNNCellBase(Module):
    """One time step of a recurrent layer, with parameters ``weight_ih``,
    ``weight_hh``, ``bias_ih``, ``bias_hh`` laid out as in ``RNNBase``."""

    def __init__(self, mode, input_size, hidden_size, bias=True, dtype=None):
        super().__init__()
        self.mode, self.input_size, self.hidden_size, self.bias = mode, input_size, hidden_size, bias
        gate_size = SEQUENCES[mode].gates * hidden_size
        self.weight_ih = Parameter(creation.empty(gate_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(creation.empty(gate_size, hidden_size, dtype=dtype))
        self.bias_ih = Parameter(creation.empty(gate_size, dtype=dtype)) if bias else None
        self.bias_hh = Parameter(creation.empty(gate_size, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        """Every weight and bias uniform on ±1/sqrt(hidden_size), as in PyTorch."""
        _uniform_init(self)

    def forward(self, input, hx=None):
        """The next state from ``input`` (N, input_size) or (input_size,) and the
        previous state (zeros if None)."""
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{self!r}: expected input of shape (N, {self.input_size}) or "
                             f"({self.input_size},), got {input.shape}")
        batched = input.ndim == 2
        expected = (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        if hx is None:
            zeros = creation.zeros(*expected, dtype=input.dtype)
            hx = (zeros, zeros) if self.mode == "LSTM" else zeros
        if self.mode == "LSTM" and (not isinstance(hx, tuple) or len(hx) != 2):
            raise ValueError(f"{self!r}: the state must be a tuple (h, c), got {type(hx).__name__}")
        parts = hx if self.mode == "LSTM" else (hx,)
        for label, part in zip(("h", "c"), parts):
            if part.shape != expected:
                raise ValueError(f"{self!r}: expected the {label} state of shape {expected}, got {part.shape}")
        gates_x = linear(input, self.weight_ih, self.bias_ih)
        _, state = SEQUENCES[self.mode].step(gates_x, tuple(parts), self.weight_hh, self.bias_hh, TENSOR_MATHS)
        return state if self.mode == "LSTM" else state[0]

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        if self.mode == "RNN_RELU":
            text += ", nonlinearity='relu'"
        return text


class RNNCell(RNNCellBase):
    """One step of ``RNN``: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu).

    Example
    -------
    >>> cell = nn.RNNCell(10, 20)
    >>> h = cell(chainrule.randn(3, 10))          # h0 = zeros
    >>> cell(chainrule.randn(3, 10), h).shape
    (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(f"RNN_{nonlinearity.upper()}", input_size, hidden_size, bias, dtype)
        self.nonlinearity = nonlinearity


class GRUCell(RNNCellBase):
    """One step of ``GRU``; ``cell(x, h)`` returns h'.

    Example
    -------
    >>> nn.GRUCell(10, 20)(chainrule.randn(3, 10)).shape
    (3, 20)
    """

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, dtype)


class LSTMCell(RNNCellBase):
    """One step of ``LSTM``; ``cell(x, (h, c))`` returns (h', c').

    Example
    -------
    >>> h, c = nn.LSTMCell(10, 20)(chainrule.randn(3, 10))
    >>> h.shape, c.shape
    ((3, 20), (3, 20))
    """

    def __init__(self, input_size, hidden_size, bias=True, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, dtype)

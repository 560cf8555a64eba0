"""Recurrent layers and cells against PyTorch in float64, with PyTorch's
weights copied through the state dict: outputs, final states and the
gradients of inputs, parameters and initial states, in every layout; the
MNIST-1D GRU (workload W5); finite differences to second order; the
backward through time on arrays against the one recorded on Tensors; and
packed sequences of different lengths; the errors a user can cause."""
import math
import warnings

import numpy
import pytest

import chainrule
from chainrule.nn.linear import Linear
from chainrule.nn.rnn import GRU, LSTM, RNN, SEQUENCES, TENSOR_MATHS, GRUCell, LSTMCell, RNNCell
from chainrule.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from helpers import check_gradients, requires_torch, torch

OURS = {"RNN": RNN, "GRU": GRU, "LSTM": LSTM, "RNNCell": RNNCell, "GRUCell": GRUCell, "LSTMCell": LSTMCell}
TOLERANCES = {"rtol": 1e-9, "atol": 1e-11}


def twins(name, *args, **kwargs):
    """The same layer in both libraries, in float64, holding PyTorch's weights."""
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = OURS[name](*args, **kwargs).double()
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    return ours, theirs


def flatten(result):
    """(output, h_n) or (output, (h_n, c_n)) or a cell's state, as a flat list."""
    if isinstance(result, (tuple, list)):
        return [leaf for part in result for leaf in flatten(part)]
    return [result]


def assert_twins_agree(ours, theirs, arrays, state_is_tuple=False, run=None):
    """Run both layers on ``arrays`` (input, then initial-state arrays), or
    through ``run(layer, library, inputs)`` when given, and compare every
    output and every gradient of sum(output * v)."""
    ours_in = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]

    def call(layer, library, inputs):
        if run is not None:
            return run(layer, library, inputs)
        if len(inputs) == 1:
            return layer(inputs[0])
        state = tuple(inputs[1:]) if state_is_tuple else inputs[1]
        return layer(inputs[0], state)

    outs, expected = flatten(call(ours, chainrule, ours_in)), flatten(call(theirs, torch, theirs_in))
    assert len(outs) == len(expected)
    rng = numpy.random.default_rng(7)
    cotangents = [rng.standard_normal(tuple(e.shape)) for e in expected]
    for o, e in zip(outs, expected):
        assert o.shape == tuple(e.shape)
        numpy.testing.assert_allclose(o.data, e.detach().numpy(), **TOLERANCES)
    sum((o * chainrule.tensor(v)).sum() for o, v in zip(outs, cotangents)).backward()
    sum((e * torch.tensor(v)).sum() for e, v in zip(expected, cotangents)).backward()
    for i, (a, b) in enumerate(zip(ours_in, theirs_in)):
        numpy.testing.assert_allclose(a.grad.data, b.grad.numpy(), **TOLERANCES, err_msg=f"gradient of input {i}")
    their_params = dict(theirs.named_parameters())
    assert [name for name, _ in ours.named_parameters()] == list(their_params)
    for name, p in ours.named_parameters():
        numpy.testing.assert_allclose(p.grad.data, their_params[name].grad.numpy(), **TOLERANCES,
                                      err_msg=f"gradient of {name}")


def sequence_arrays(mode, batch_first, layers, with_state, batched=True, seed=0):
    rng = numpy.random.default_rng(seed)
    steps, batch, features, hidden = 5, 3, 4, 6
    shape = ((batch, steps) if batch_first else (steps, batch)) if batched else (steps,)
    arrays = [rng.standard_normal(shape + (features,))]
    if with_state:
        state_shape = (layers, batch, hidden) if batched else (layers, hidden)
        arrays += [rng.standard_normal(state_shape) for _ in range(2 if mode == "LSTM" else 1)]
    return arrays


MODES = {
    "rnn_tanh": ("RNN", {}),
    "rnn_relu": ("RNN", {"nonlinearity": "relu"}),
    "gru": ("GRU", {}),
    "lstm": ("LSTM", {}),
}


@requires_torch
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["one_way", "bidirectional"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("mode", MODES)
def test_sequence_layer_matches_torch(mode, num_layers, batch_first, bidirectional, with_state):
    name, extra = MODES[mode]
    ours, theirs = twins(name, 4, 6, num_layers=num_layers, batch_first=batch_first,
                         bidirectional=bidirectional, **extra)
    layers = num_layers * (2 if bidirectional else 1)
    arrays = sequence_arrays(name, batch_first, layers, with_state)
    assert_twins_agree(ours, theirs, arrays, state_is_tuple=name == "LSTM")


@requires_torch
@pytest.mark.parametrize("mode", MODES)
def test_sequence_layer_without_bias_matches_torch(mode):
    name, extra = MODES[mode]
    ours, theirs = twins(name, 4, 6, num_layers=2, bias=False, bidirectional=True, **extra)
    assert "bias_ih_l0" not in dict(ours.named_parameters())
    assert_twins_agree(ours, theirs, sequence_arrays(name, False, 4, True), state_is_tuple=name == "LSTM")


@requires_torch
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("mode", MODES)
def test_unbatched_sequence_matches_torch(mode, with_state):
    name, extra = MODES[mode]
    # batch_first does not apply to an unbatched (L, H_in) input, in either library.
    ours, theirs = twins(name, 4, 6, num_layers=2, bidirectional=True, batch_first=True, **extra)
    arrays = sequence_arrays(name, True, 4, with_state, batched=False)
    assert_twins_agree(ours, theirs, arrays, state_is_tuple=name == "LSTM")


CELLS = {
    "rnn_cell_tanh": ("RNNCell", {}),
    "rnn_cell_relu": ("RNNCell", {"nonlinearity": "relu"}),
    "rnn_cell_no_bias": ("RNNCell", {"bias": False}),
    "gru_cell": ("GRUCell", {}),
    "gru_cell_no_bias": ("GRUCell", {"bias": False}),
    "lstm_cell": ("LSTMCell", {}),
    "lstm_cell_no_bias": ("LSTMCell", {"bias": False}),
}


@requires_torch
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("cell", CELLS)
def test_cell_matches_torch(cell, with_state, batched):
    name, extra = CELLS[cell]
    ours, theirs = twins(name, 4, 6, **extra)
    rng = numpy.random.default_rng(3)
    lead = (3,) if batched else ()
    arrays = [rng.standard_normal(lead + (4,))]
    if with_state:
        arrays += [rng.standard_normal(lead + (6,)) for _ in range(2 if name == "LSTMCell" else 1)]
    assert_twins_agree(ours, theirs, arrays, state_is_tuple=name == "LSTMCell")


@requires_torch
def test_cell_run_over_a_sequence_equals_the_layer():
    ours, _ = twins("GRU", 4, 6)
    cell = GRUCell(4, 6).double()
    cell.load_state_dict({name[:-3]: value for name, value in ours.state_dict().items()})
    x = chainrule.tensor(numpy.random.default_rng(2).standard_normal((5, 3, 4)))
    h = None
    for t in range(5):
        h = cell(x[t], h)
    output, h_n = ours(x)
    numpy.testing.assert_allclose(h.data, h_n.data[0], **TOLERANCES)
    numpy.testing.assert_allclose(h.data, output.data[-1], **TOLERANCES)


# ------------------------------------------------------------------ W5: the MNIST-1D GRU

def w5_models(dtype):
    gru_theirs = torch.nn.GRU(1, 6, batch_first=True, bidirectional=True).to(dtype)
    head_theirs = torch.nn.Linear(480, 10).to(dtype)
    gru_ours = GRU(1, 6, batch_first=True, bidirectional=True)
    head_ours = Linear(480, 10)
    for ours, theirs in ((gru_ours, gru_theirs), (head_ours, head_theirs)):
        ours.to(numpy.dtype(str(dtype).removeprefix("torch.")))
        ours.load_state_dict({name: value.numpy() for name, value in theirs.state_dict().items()})
    return (gru_ours, head_ours), (gru_theirs, head_theirs)


@requires_torch
@pytest.mark.parametrize("dtype, tolerances", [("float64", TOLERANCES), ("float32", {"rtol": 2e-4, "atol": 1e-6})])
def test_w5_mnist1d_gru_forward_backward_equals_torch(dtype, tolerances):
    torch_dtype = getattr(torch, dtype)
    (gru, head), (gru_t, head_t) = w5_models(torch_dtype)
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((100, 40)).astype(dtype)
    labels = rng.integers(0, 10, 100)

    def loss_ours():
        output, _ = gru(chainrule.tensor(x).reshape(100, 40, 1), chainrule.zeros(2, 100, 6, dtype=dtype))
        logits = head(output.reshape(100, 480))
        return -logits.log_softmax(dim=1).gather(1, chainrule.tensor(labels).reshape(-1, 1)).mean()

    output_t, _ = gru_t(torch.tensor(x).reshape(100, 40, 1), torch.zeros(2, 100, 6, dtype=torch_dtype))
    loss_t = torch.nn.functional.cross_entropy(head_t(output_t.reshape(100, 480)), torch.tensor(labels))
    loss = loss_ours()
    assert loss.dtype == numpy.dtype(dtype)
    numpy.testing.assert_allclose(loss.item(), loss_t.item(), **tolerances)
    loss.backward()
    loss_t.backward()
    for ours, theirs in ((gru, gru_t), (head, head_t)):
        their_params = dict(theirs.named_parameters())
        for name, p in ours.named_parameters():
            assert p.grad.dtype == numpy.dtype(dtype)
            numpy.testing.assert_allclose(p.grad.data, their_params[name].grad.numpy(), **tolerances,
                                          err_msg=name)


# ------------------------------------------------------------------ finite differences

@pytest.mark.parametrize("name, kwargs, second_order", [
    ("GRU", {"bidirectional": True}, True),
    ("GRU", {"bias": False, "batch_first": True}, True),
    ("RNN", {"bidirectional": True}, True),
    ("RNN", {"nonlinearity": "relu"}, False),
    ("LSTM", {"bidirectional": True}, True),
], ids=["gru_bidirectional", "gru_no_bias_batch_first", "rnn_bidirectional", "rnn_relu", "lstm_bidirectional"])
def test_sequence_layer_gradients(name, kwargs, second_order):
    chainrule.manual_seed(0)
    layer = OURS[name](2, 2, **kwargs).double()
    rng = numpy.random.default_rng(1)
    directions = 2 if kwargs.get("bidirectional") else 1
    x = chainrule.tensor(rng.standard_normal((3, 3, 2)), requires_grad=True)
    h = chainrule.tensor(rng.standard_normal((directions, 3, 2)), requires_grad=True)

    # The parameters are inputs too: gradcheck perturbs their arrays in place, which the layer reads.
    def run(x, h, *parameters):
        output, final = layer(x, (h, h * 0.5) if name == "LSTM" else h)
        return (output,) + tuple(flatten(final))

    inputs = [x, h, *layer.parameters()]
    assert chainrule.gradcheck(run, inputs, atol=1e-6, rtol=1e-4)
    if second_order:
        assert chainrule.gradgradcheck(run, inputs, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("mode", list(SEQUENCES))
def test_fused_sequence_node_to_second_order(mode, bias, reverse):
    sequence = SEQUENCES[mode]
    gates = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4}[mode]
    rng = numpy.random.default_rng(4)
    arrays = [rng.standard_normal((3, 2, 2 * gates))]
    arrays += [rng.standard_normal((2, 2)) for _ in range(sequence.states)]
    arrays.append(rng.standard_normal((2 * gates, 2)))
    if bias:
        arrays.append(rng.standard_normal(2 * gates))
    check_gradients(lambda *inputs: sequence.apply(*inputs, reverse=reverse), arrays)


@requires_torch
@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_hessian_vector_product_equals_torch(name):
    ours, theirs = twins(name, 2, 3, bidirectional=True, num_layers=2)
    x = numpy.random.default_rng(6).standard_normal((4, 2, 2))
    xo = chainrule.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    (go,) = chainrule.grad((ours(xo)[0] ** 2).sum(), xo, create_graph=True)
    (gt,) = torch.autograd.grad((theirs(xt)[0] ** 2).sum(), xt, create_graph=True)
    (go * go).sum().backward()
    (gt * gt).sum().backward()
    numpy.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), **TOLERANCES)
    for name, p in ours.named_parameters():
        numpy.testing.assert_allclose(p.grad.data, dict(theirs.named_parameters())[name].grad.numpy(),
                                      **TOLERANCES, err_msg=name)


# ------------------------------------------------------------------ the backward on arrays and on Tensors

def sigmoid_as_on_arrays(monkeypatch):
    """Make the Tensor path compute σ as the array path does, 1/2 + tanh(x/2)/2; chainrule's
    sigmoid op takes another formula, equal only to rounding."""
    monkeypatch.setattr(TENSOR_MATHS, "sigmoid", lambda x: 0.5 + 0.5 * (0.5 * x).tanh())


def both_backward_paths(outputs, inputs):
    """First-order gradients of sum(outputs * v) with respect to ``inputs``, through
    one graph: recorded (create_graph=True, on Tensors), then ordinary (on arrays)."""
    rng = numpy.random.default_rng(5)
    loss = sum((o * chainrule.tensor(rng.standard_normal(o.shape))).sum() for o in outputs)
    recorded = chainrule.grad(loss, inputs, create_graph=True)
    plain = chainrule.grad(loss, inputs)
    assert all(g.requires_grad for g in recorded) and not any(g.requires_grad for g in plain)
    return plain, recorded


def assert_paths_agree(plain, recorded, exact):
    for i, (a, b) in enumerate(zip(plain, recorded)):
        assert a.dtype == b.dtype
        if exact:
            numpy.testing.assert_array_equal(a.data, b.data, err_msg=f"gradient {i}")
        else:
            numpy.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-14, err_msg=f"gradient {i}")


@pytest.mark.parametrize("same_sigmoid", [True, False], ids=["same_sigmoid", "sigmoid_op"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("mode", MODES)
def test_ordinary_backward_equals_the_recorded_one(mode, bias, same_sigmoid, monkeypatch):
    # Two layers, both directions, a given initial state: every input of every node gets a gradient.
    if same_sigmoid:
        sigmoid_as_on_arrays(monkeypatch)
    name, extra = MODES[mode]
    chainrule.manual_seed(0)
    layer = OURS[name](4, 6, num_layers=2, bidirectional=True, bias=bias, **extra).double()
    inputs = [chainrule.tensor(a, requires_grad=True) for a in sequence_arrays(name, False, 4, True)]
    state = tuple(inputs[1:]) if name == "LSTM" else inputs[1]
    plain, recorded = both_backward_paths(flatten(layer(inputs[0], state)), inputs + list(layer.parameters()))
    # The same arithmetic in the same order, so bit for bit, unless σ differs (GRU and LSTM).
    assert_paths_agree(plain, recorded, exact=same_sigmoid or name == "RNN")


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("mode", list(SEQUENCES))
def test_fused_sequence_node_ordinary_backward_equals_the_recorded_one(mode, reverse, monkeypatch):
    # The node alone, with a gradient reaching every state (c too) at every step.
    sigmoid_as_on_arrays(monkeypatch)
    sequence = SEQUENCES[mode]
    rng = numpy.random.default_rng(8)
    arrays = [rng.standard_normal((4, 3, 2 * sequence.gates))]
    arrays += [rng.standard_normal((3, 2)) for _ in range(sequence.states)]
    arrays += [rng.standard_normal((2 * sequence.gates, 2)), rng.standard_normal(2 * sequence.gates)]
    inputs = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    plain, recorded = both_backward_paths([sequence.apply(*inputs, reverse=reverse)], inputs)
    assert_paths_agree(plain, recorded, exact=True)


# ------------------------------------------------------------------ packed sequences

PACKED_LENGTHS = [3, 5, 1, 3]  # unsorted, with a tie


def packed_run(layer, module, x, lengths, state):
    """The padded output, then the final states, of ``layer`` on ``x`` (L, N, F) packed to ``lengths``."""
    packed = module.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    output, final = layer(packed) if state is None else layer(packed, state)
    assert isinstance(output, type(packed)) and (output.batch_sizes == packed.batch_sizes).all()
    return [output.data, module.nn.utils.rnn.pad_packed_sequence(output)[0]] + flatten(final)


@requires_torch
@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["one_way", "bidirectional"])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("mode", MODES)
def test_packed_sequence_matches_torch(mode, num_layers, bidirectional, with_state):
    name, extra = MODES[mode]
    # batch_first does not apply to packed input, in either library.
    ours, theirs = twins(name, 4, 6, num_layers=num_layers, bidirectional=bidirectional,
                         batch_first=num_layers == 2, **extra)
    layers = num_layers * (2 if bidirectional else 1)
    rng = numpy.random.default_rng(1)
    arrays = [rng.standard_normal((6, len(PACKED_LENGTHS), 4))]
    if with_state:
        arrays += [rng.standard_normal((layers, len(PACKED_LENGTHS), 6)) for _ in range(2 if name == "LSTM" else 1)]
    def run(layer, library, inputs):
        state = None if len(inputs) == 1 else tuple(inputs[1:]) if name == "LSTM" else inputs[1]
        return packed_run(layer, library, inputs[0], PACKED_LENGTHS, state)

    assert_twins_agree(ours, theirs, arrays, run=run)


@pytest.mark.parametrize("name, num_layers, second_order", [
    ("GRU", 2, False), ("LSTM", 2, False), ("RNN", 2, False), ("LSTM", 1, True),
], ids=["gru", "lstm", "rnn", "lstm_second_order"])
def test_packed_sequence_gradients(name, num_layers, second_order):
    chainrule.manual_seed(0)
    layer = OURS[name](2, 2, num_layers=num_layers, bidirectional=True).double()
    x = chainrule.tensor(numpy.random.default_rng(1).standard_normal((3, 2, 2)), requires_grad=True)

    def run(x, *parameters):
        output, final = layer(pack_padded_sequence(x, [1, 3], enforce_sorted=False))
        return (output.data,) + tuple(flatten(final))

    inputs = [x, *layer.parameters()]
    assert chainrule.gradcheck(run, inputs, atol=1e-6, rtol=1e-4)
    if second_order:
        assert chainrule.gradgradcheck(run, inputs, atol=1e-6, rtol=1e-4)


def test_packed_sequences_run_as_if_each_alone():
    chainrule.manual_seed(0)
    layer = LSTM(3, 4, num_layers=2, bidirectional=True).double()
    x = chainrule.tensor(numpy.random.default_rng(3).standard_normal((5, 2, 3)))
    output, (h_n, c_n) = layer(pack_padded_sequence(x, [2, 5], enforce_sorted=False))
    padded, _ = pad_packed_sequence(output)
    alone, (h_alone, c_alone) = layer(x[:2, :1])
    numpy.testing.assert_allclose(padded.data[:2, :1], alone.data, **TOLERANCES)
    numpy.testing.assert_allclose(h_n.data[:, :1], h_alone.data, **TOLERANCES)
    numpy.testing.assert_allclose(c_n.data[:, :1], c_alone.data, **TOLERANCES)
    assert not padded.data[2:, 0].any()


def test_packed_input_of_wrong_size():
    packed = pack_padded_sequence(chainrule.zeros(5, 3, 2), [5, 4, 1])
    with pytest.raises(ValueError, match=r"GRU\(4, 6\): expected packed data of shape \(steps, 4\), got \(10, 2\)"):
        GRU(4, 6)(packed)


# ------------------------------------------------------------------ dropout, parameters, repr

@requires_torch
def test_dropout_acts_between_layers_in_training_only():
    ours, theirs = twins("LSTM", 4, 6, num_layers=2, dropout=1.0)
    x = chainrule.tensor(numpy.random.default_rng(0).standard_normal((5, 3, 4)), requires_grad=True)
    output, _ = ours(x)
    output.sum().backward()
    # Everything layer 0 hands on is dropped, so the output does not depend on x.
    assert not x.grad.data.any()
    ours.eval()
    theirs.eval()
    numpy.testing.assert_allclose(ours(x)[0].data, theirs(torch.tensor(x.data))[0].detach().numpy(), **TOLERANCES)


def test_dropout_is_repeatable_from_the_seed():
    layer = GRU(4, 6, num_layers=3, dropout=0.5).double()
    x = chainrule.tensor(numpy.random.default_rng(0).standard_normal((5, 3, 4)))
    chainrule.manual_seed(1)
    first = layer(x)[0].data
    chainrule.manual_seed(1)
    numpy.testing.assert_array_equal(layer(x)[0].data, first)
    assert not numpy.allclose(layer.eval()(x)[0].data, first)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="num_layers=1"):
        GRU(4, 6, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        GRU(4, 6, num_layers=2, dropout=0.5)


@requires_torch
@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_parameter_names_shapes_and_init_match_torch(name):
    ours = OURS[name](3, 5, num_layers=2, bidirectional=True)
    theirs = getattr(torch.nn, name)(3, 5, num_layers=2, bidirectional=True)
    assert {k: v.shape for k, v in ours.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    bound = 1 / math.sqrt(5)
    for p in ours.parameters():
        assert p.dtype == numpy.float32
        assert numpy.abs(p.data).max() <= bound and numpy.abs(p.data).max() > 0.5 * bound
    for cell in ("RNNCell", "GRUCell", "LSTMCell"):
        assert {k: v.shape for k, v in OURS[cell](3, 5).state_dict().items()} == \
               {k: tuple(v.shape) for k, v in getattr(torch.nn, cell)(3, 5).state_dict().items()}


def test_float32_stays_float32():
    for name in ("RNN", "GRU", "LSTM"):
        output, _ = OURS[name](3, 4)(chainrule.randn(5, 2, 3))
        assert output.dtype == numpy.float32


@requires_torch
def test_reprs_match_torch():
    for args, kwargs in [((3, 4), {}), ((3, 4, 2), {"dropout": 0.5, "bidirectional": True}),
                         ((3, 4), {"bias": False, "batch_first": True})]:
        for name in ("GRU", "LSTM"):
            assert repr(OURS[name](*args, **kwargs)) == repr(getattr(torch.nn, name)(*args, **kwargs))
    assert repr(GRUCell(3, 4)) == repr(torch.nn.GRUCell(3, 4))


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("shape, expected", [
    ((5, 3), r"expected input of shape \(L, N, 4\), or \(L, 4\) unbatched, got \(5, 3\)"),
    ((2, 5, 3, 4), r"expected input of shape .* got \(2, 5, 3, 4\)"),
    ((4,), r"expected input of shape .* got \(4,\)"),
])
def test_wrong_input_shape_names_layer_expected_and_given(shape, expected):
    with pytest.raises(ValueError, match=r"GRU\(4, 6\): " + expected):
        GRU(4, 6)(chainrule.zeros(*shape))


def test_empty_sequence():
    with pytest.raises(ValueError, match=r"at least one step, got input of shape \(3, 0, 4\)"):
        GRU(4, 6, batch_first=True)(chainrule.zeros(3, 0, 4))
    output, h_n = GRU(4, 6)(chainrule.zeros(2, 0, 4))  # an empty batch is fine
    assert output.shape == (2, 0, 6) and h_n.shape == (1, 0, 6)


def test_wrong_input_shape_with_batch_first_shows_that_layout():
    with pytest.raises(ValueError, match=r"expected input of shape \(N, L, 4\)"):
        LSTM(4, 6, batch_first=True)(chainrule.zeros(2, 5, 3))


@pytest.mark.parametrize("name", ["RNN", "GRU"])
def test_wrong_h0_shape(name):
    layer = OURS[name](4, 6, num_layers=2)
    with pytest.raises(ValueError, match=rf"{name}\(4, 6, num_layers=2\): expected h0 of shape \(2, 3, 6\), "
                                         r"got \(1, 3, 6\)"):
        layer(chainrule.zeros(5, 3, 4), chainrule.zeros(1, 3, 6))


def test_wrong_lstm_state():
    layer = LSTM(4, 6, bidirectional=True)
    x = chainrule.zeros(5, 3, 4)
    with pytest.raises(ValueError, match=r"expected c0 of shape \(2, 3, 6\), got \(2, 3, 5\)"):
        layer(x, (chainrule.zeros(2, 3, 6), chainrule.zeros(2, 3, 5)))
    with pytest.raises(ValueError, match=r"tuple \(h0, c0\)"):
        layer(x, chainrule.zeros(2, 3, 6))


def test_wrong_cell_shapes():
    with pytest.raises(ValueError, match=r"GRUCell\(4, 6\): expected input of shape \(N, 4\) or \(4,\), got \(3, 5\)"):
        GRUCell(4, 6)(chainrule.zeros(3, 5))
    with pytest.raises(ValueError, match=r"LSTMCell\(4, 6\): expected the c state of shape \(3, 6\), got \(3, 7\)"):
        LSTMCell(4, 6)(chainrule.zeros(3, 4), (chainrule.zeros(3, 6), chainrule.zeros(3, 7)))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(4, 6, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        GRU(4, 6, num_layers=2, dropout=1.5)

"""Shape ops: values and gradients against PyTorch, finite differences to
second order, shapes drawn by hypothesis, and the errors a user can cause."""
import numpy
import pytest
from hypothesis import given, settings, strategies as st

import chainrule
from helpers import check_gradients, compare_with_torch, random_inputs, requires_torch, torch


def pad_of(lib):
    return chainrule.pad if lib is chainrule else torch.nn.functional.pad


# name -> (op(lib, *inputs), input shapes); ``lib`` is the chainrule or the torch module.
CASES = {
    "reshape": (lambda lib, x: x.reshape(6, 4), [(2, 3, 4)]),
    "reshape_inferred": (lambda lib, x: x.reshape(-1, 2, 3), [(2, 3, 4)]),
    "reshape_tuple": (lambda lib, x: x.reshape((4, 6)), [(2, 3, 4)]),
    "reshape_to_0d": (lambda lib, x: x.reshape(()), [(1, 1)]),
    "reshape_transposed": (lambda lib, x: x.transpose(0, 1).reshape(-1), [(2, 3)]),
    "view": (lambda lib, x: x.view(3, 8), [(2, 3, 4)]),
    "view_as": (lambda lib, x, y: x.view_as(y), [(2, 3), (3, 2)]),
    "reshape_as": (lambda lib, x, y: x.reshape_as(y), [(2, 3), (6,)]),
    "transpose": (lambda lib, x: x.transpose(0, 2), [(2, 3, 4)]),
    "transpose_negative": (lambda lib, x: x.transpose(-1, 0), [(2, 3, 4)]),
    "transpose_same_dim": (lambda lib, x: x.transpose(1, 1), [(2, 3)]),
    "swapaxes": (lambda lib, x: x.swapaxes(0, 1), [(2, 3, 4)]),
    "swapdims": (lambda lib, x: x.swapdims(-1, 1), [(2, 3, 4)]),
    "t_2d": (lambda lib, x: x.t(), [(3, 4)]),
    "t_1d": (lambda lib, x: x.t(), [(3,)]),
    "T": (lambda lib, x: x.T, [(2, 3, 4)]),
    "mT": (lambda lib, x: x.mT, [(2, 3, 4)]),
    "permute": (lambda lib, x: x.permute(2, 0, 1), [(2, 3, 4)]),
    "permute_tuple_negative": (lambda lib, x: x.permute((-1, 0, 1)), [(2, 3, 4)]),
    "expand": (lambda lib, x: x.expand(2, 3, 4), [(3, 1)]),
    "expand_keep_size": (lambda lib, x: x.expand(5, -1, 4), [(3, 1)]),
    "expand_as": (lambda lib, x, y: x.expand_as(y), [(1, 4), (3, 4)]),
    "broadcast_to": (lambda lib, x: lib.broadcast_to(x, (2, 3, 4)), [(1, 4)]),
    "broadcast_to_0d": (lambda lib, x: lib.broadcast_to(x, (2, 3)), [()]),
    "squeeze_all": (lambda lib, x: x.squeeze(), [(1, 3, 1, 2)]),
    "squeeze_dim": (lambda lib, x: x.squeeze(2), [(1, 3, 1, 2)]),
    "squeeze_negative": (lambda lib, x: x.squeeze(-4), [(1, 3, 1, 2)]),
    "squeeze_tuple": (lambda lib, x: x.squeeze((0, 2)), [(1, 3, 1, 2)]),
    "squeeze_size_above_1": (lambda lib, x: x.squeeze(1), [(1, 3, 1, 2)]),
    "unsqueeze_front": (lambda lib, x: x.unsqueeze(0), [(2, 3)]),
    "unsqueeze_end": (lambda lib, x: x.unsqueeze(-1), [(2, 3)]),
    "unsqueeze_middle": (lambda lib, x: x.unsqueeze(1), [(2, 3)]),
    "unsqueeze_0d": (lambda lib, x: x.unsqueeze(0), [()]),
    "flatten": (lambda lib, x: x.flatten(), [(2, 3, 4)]),
    "flatten_from_1": (lambda lib, x: x.flatten(1), [(2, 3, 4)]),
    "flatten_leading": (lambda lib, x: x.flatten(0, 1), [(2, 3, 4)]),
    "flatten_0d": (lambda lib, x: x.flatten(), [()]),
    "unflatten": (lambda lib, x: x.unflatten(1, (3, 4)), [(2, 12)]),
    "unflatten_inferred": (lambda lib, x: x.unflatten(-1, (2, -1)), [(2, 12)]),
    "cat": (lambda lib, x, y: lib.cat([x, y]), [(2, 3), (4, 3)]),
    "cat_last_dim": (lambda lib, x, y, z: lib.cat([x, y, z], -1), [(2, 1), (2, 3), (2, 2)]),
    "cat_one": (lambda lib, x: lib.cat([x], 1), [(2, 3)]),
    "concat": (lambda lib, x, y: lib.concat((x, y), dim=1), [(2, 3), (2, 1)]),
    "cat_same_tensor_twice": (lambda lib, x: lib.cat([x, x], 1), [(2, 3)]),
    "stack": (lambda lib, x, y: lib.stack([x, y]), [(2, 3), (2, 3)]),
    "stack_last_dim": (lambda lib, x, y, z: lib.stack([x, y, z], -1), [(2, 3)] * 3),
    "split_even": (lambda lib, x: x.split(2), [(6, 3)]),
    "split_uneven": (lambda lib, x: x.split(3, dim=1), [(2, 7)]),
    "split_sizes": (lambda lib, x: x.split([1, 4, 2], dim=-1), [(2, 7)]),
    "chunk": (lambda lib, x: x.chunk(3), [(7, 2)]),
    "chunk_fewer_than_asked": (lambda lib, x: x.chunk(4, dim=1), [(2, 6)]),
    "narrow": (lambda lib, x: x.narrow(1, 1, 2), [(3, 4)]),
    "narrow_negative_start": (lambda lib, x: x.narrow(-1, -3, 2), [(3, 4)]),
    "pad_last_dim": (lambda lib, x: pad_of(lib)(x, (1, 2)), [(2, 3)]),
    "pad_two_dims_with_value": (lambda lib, x: pad_of(lib)(x, (1, 0, 0, 2), value=1.5), [(2, 3)]),
    "pad_three_dims": (lambda lib, x: pad_of(lib)(x, (0, 0, 1, 1, 2, 0)), [(2, 3, 4)]),
    "pad_constant_named": (lambda lib, x: pad_of(lib)(x, (2, 0), mode="constant", value=-1.0), [(2, 3)]),
    "pad_reflect_1d": (lambda lib, x: pad_of(lib)(x, (2, 1), mode="reflect"), [(2, 3, 4)]),
    "pad_reflect_2d_unbatched": (lambda lib, x: pad_of(lib)(x, (1, 2, 0, 1), mode="reflect"), [(2, 3, 4)]),
    "pad_reflect_3d": (lambda lib, x: pad_of(lib)(x, (1, 0, 0, 2, 1, 1), mode="reflect"), [(1, 2, 2, 3, 3)]),
    "pad_replicate_1d_unbatched": (lambda lib, x: pad_of(lib)(x, (4, 1), mode="replicate"), [(2, 3)]),
    "pad_replicate_2d": (lambda lib, x: pad_of(lib)(x, (2, 0, 1, 3), mode="replicate"), [(1, 2, 3, 2)]),
    "pad_replicate_3d": (lambda lib, x: pad_of(lib)(x, (1, 2, 0, 1, 2, 0), mode="replicate"), [(1, 1, 2, 2, 3)]),
    "pad_circular_1d_whole_dim": (lambda lib, x: pad_of(lib)(x, (3, 1), mode="circular"), [(2, 1, 3)]),
    "pad_circular_2d": (lambda lib, x: pad_of(lib)(x, (1, 2, 2, 0), mode="circular"), [(1, 2, 3, 3)]),
    "pad_circular_3d_unbatched": (lambda lib, x: pad_of(lib)(x, (0, 1, 1, 1, 2, 1), mode="circular"),
                                  [(2, 2, 3, 2)]),
    "flip": (lambda lib, x: x.flip(0), [(2, 3, 4)]),
    "flip_several": (lambda lib, x: x.flip((0, -1)), [(2, 3, 4)]),
    "repeat": (lambda lib, x: x.repeat(2, 3), [(2, 3)]),
    "repeat_more_dims": (lambda lib, x: x.repeat(2, 1, 3), [(2, 3)]),
    "repeat_tuple": (lambda lib, x: x.repeat((1, 2, 2)), [(3, 1, 2)]),
    "tile_fewer_dims": (lambda lib, x: x.tile((2,)), [(2, 3)]),
    "tile_more_dims": (lambda lib, x: x.tile((2, 1, 2)), [(2, 3)]),
}


def in_chainrule(op):
    return lambda *xs: op(chainrule, *xs)


def in_torch(op):
    return lambda *xs: op(torch, *xs)


@requires_torch
@pytest.mark.parametrize("name", CASES)
def test_matches_torch(name):
    op, shapes = CASES[name]
    compare_with_torch(in_chainrule(op), in_torch(op), random_inputs(shapes))


@pytest.mark.parametrize("name", CASES)
def test_gradients(name):
    op, shapes = CASES[name]
    check_gradients(in_chainrule(op), random_inputs(shapes))


@pytest.mark.parametrize("name", CASES)
def test_float32_stays_float32(name):
    op, shapes = CASES[name]
    inputs = [chainrule.tensor(a, requires_grad=True) for a in random_inputs(shapes, dtype=numpy.float32)]
    outputs = op(chainrule, *inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    assert all(o.dtype == numpy.float32 for o in outputs)
    sum(o.sum() for o in outputs).backward()
    assert all(x.grad.dtype == numpy.float32 for x in inputs if x.grad is not None)


def test_repeat_and_tile_follow_torch_not_numpy():
    # numpy.repeat would give [1, 1, 2, 2]; PyTorch's repeat tiles the whole tensor.
    x = chainrule.tensor([1.0, 2.0])
    assert x.repeat(2).tolist() == [1.0, 2.0, 1.0, 2.0]
    assert x.tile((2, 1)).tolist() == [[1.0, 2.0], [1.0, 2.0]]


@pytest.mark.parametrize("mode, expected, gradient", [
    ("reflect", [3, 2, 1, 2, 3, 4, 3], [1, 2, 3, 1]),
    ("replicate", [1, 1, 1, 2, 3, 4, 4], [3, 1, 1, 2]),
    ("circular", [3, 4, 1, 2, 3, 4, 1], [2, 1, 2, 2]),
])
def test_pad_modes_copy_elements_and_add_gradients_back_onto_them(mode, expected, gradient):
    x = chainrule.tensor([[1.0, 2.0, 3.0, 4.0]], requires_grad=True)
    out = chainrule.pad(x, (2, 1), mode=mode)
    out.sum().backward()
    assert out.tolist() == [expected]
    assert x.grad.tolist() == [gradient]  # how many times each element was copied


def test_expand_gradient_sums_over_the_copies():
    x = chainrule.tensor([[1.0], [2.0]], requires_grad=True)
    x.expand(2, 3).sum().backward()
    assert x.grad.tolist() == [[3.0], [3.0]]


# ------------------------------------------------------------------ drawn shapes

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)


@st.composite
def shape_op_cases(draw, name):
    """An op of family ``name`` with drawn arguments, and the shapes of its inputs."""
    shape = draw(shapes)
    ndim = len(shape)
    if name == "permute":
        dims = tuple(draw(st.permutations(range(ndim))))
        return (lambda lib, x: x.permute(dims)), [shape]
    if name == "transpose":
        a, b = (draw(st.integers(-max(ndim, 1), max(ndim, 1) - 1)) for _ in range(2))
        return (lambda lib, x: x.transpose(a, b)), [shape]
    if name == "reshape":
        target = list(draw(st.permutations(shape)))
        target.insert(draw(st.integers(0, ndim)), 1)
        if draw(st.booleans()):
            target[draw(st.integers(0, ndim))] = -1
        return (lambda lib, x: x.reshape(target)), [shape]
    if name == "expand":
        lead = draw(st.lists(st.integers(1, 3), max_size=2))
        shape = tuple(draw(st.sampled_from([1, n])) for n in shape)
        sizes = lead + [draw(st.sampled_from([-1, n if n > 1 else draw(st.integers(1, 3))])) for n in shape]
        return (lambda lib, x: x.expand(tuple(sizes))), [shape]
    if name == "squeeze_unsqueeze":
        shape = tuple(draw(st.sampled_from([1, n])) for n in shape)
        dim = draw(st.integers(-ndim - 1, ndim))
        return (lambda lib, x: x.unsqueeze(dim).squeeze()), [shape]
    if name == "flip":
        dims = draw(st.lists(st.integers(0, max(ndim - 1, 0)), unique=True, max_size=ndim))
        return (lambda lib, x: x.flip(dims)), [shape]
    if name == "repeat":
        sizes = draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim + 2))
        return (lambda lib, x: x.repeat(tuple(sizes))), [shape]
    if name == "cat":
        shape = shape or (2,)
        dim = draw(st.integers(-len(shape), len(shape) - 1))
        sizes = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
        part_shapes = [shape[:dim % len(shape)] + (n,) + shape[dim % len(shape) + 1:] for n in sizes]
        return (lambda lib, *xs: lib.cat(xs, dim)), part_shapes
    if name == "split":
        shape = shape or (2,)
        dim = draw(st.integers(-len(shape), len(shape) - 1))
        size = draw(st.integers(1, 4))
        return (lambda lib, x: x.split(size, dim)), [shape]
    raise ValueError(name)


SHAPE_OP_FAMILIES = ["permute", "transpose", "reshape", "expand", "squeeze_unsqueeze", "flip", "repeat", "cat",
                     "split"]


@requires_torch
@settings(max_examples=25, deadline=None)
@given(data=st.data(), seed=st.integers(0, 2 ** 16))
@pytest.mark.parametrize("name", SHAPE_OP_FAMILIES)
def test_matches_torch_on_drawn_shapes(name, data, seed):
    op, input_shapes = data.draw(shape_op_cases(name))
    compare_with_torch(in_chainrule(op), in_torch(op), random_inputs(input_shapes, seed=seed))


# ------------------------------------------------------------------ errors

def test_cat_names_the_mismatched_shapes():
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \(2, 4\), which does not match "
                                         r"tensor 0's shape \(2, 3\) outside dim 0"):
        chainrule.cat([chainrule.ones(2, 3), chainrule.ones(2, 4)])


def test_reshape_names_both_shapes():
    with pytest.raises(ValueError, match=r"reshape: cannot reshape a tensor of shape \(2, 3\) "
                                         r"\(6 elements\) into \(4, 2\)"):
        chainrule.ones(2, 3).reshape(4, 2)


OUT_OF_RANGE = {  # op name -> a call with a dim outside a (2, 3) tensor's two dims
    "transpose": lambda x: x.transpose(0, 2),
    "swapaxes": lambda x: x.swapaxes(-3, 0),
    "permute": lambda x: x.permute(0, 2),
    "unsqueeze": lambda x: x.unsqueeze(3),
    "squeeze": lambda x: x.squeeze(2),
    "flatten": lambda x: x.flatten(0, 2),
    "unflatten": lambda x: x.unflatten(2, (1, 3)),
    "cat": lambda x: chainrule.cat([x, x], 2),
    "stack": lambda x: chainrule.stack([x, x], 3),
    "split": lambda x: x.split(1, dim=-3),
    "chunk": lambda x: x.chunk(2, dim=2),
    "narrow": lambda x: x.narrow(2, 0, 1),
    "flip": lambda x: x.flip(2),
}


@pytest.mark.parametrize("name", OUT_OF_RANGE)
def test_out_of_range_dim_raises_index_error_naming_the_op(name):
    # transpose and swapaxes are one function; its errors say transpose.
    op = "transpose" if name == "swapaxes" else name
    with pytest.raises(IndexError, match=f"^{op}: dim -?[23] is out of range"):
        OUT_OF_RANGE[name](chainrule.ones(2, 3))


BAD_ARGUMENTS = {  # a call that must fail on a (2, 3) tensor, and the start of its message
    "permute_not_a_permutation": (lambda x: x.permute(1, 1), r"permute: dims \(1, 1\) are not a permutation"),
    "expand_incompatible": (lambda x: x.expand(2, 4), "expand: "),
    "expand_minus_one_in_new_dim": (lambda x: x.expand(-1, 2, 3), "expand: -1 cannot size a new leading dim"),
    "t_of_3d": (lambda x: x.unsqueeze(0).t(), "t: expects a tensor of at most 2 dims"),
    "pad_odd_widths": (lambda x: chainrule.pad(x, (1, 2, 3)), "pad: expected an even number"),
    "pad_negative": (lambda x: chainrule.pad(x, (-1, 0)), "pad: widths must be non-negative"),
    "split_sizes_do_not_add_up": (lambda x: x.split([1, 1], dim=1), r"split: sizes \[1, 1\] add up to 2"),
    "split_size_zero": (lambda x: x.split(0), "split: split_size must be positive"),
    "chunk_zero": (lambda x: x.chunk(0), "chunk: the number of chunks must be positive"),
    "narrow_past_the_end": (lambda x: x.narrow(1, 2, 2), "narrow: start 2 \\+ length 2 exceeds dim 1 of size 3"),
    "narrow_start_out_of_range": (lambda x: x.narrow(1, -4, 1), "narrow: start -4 is out of range"),
    "repeat_too_few_sizes": (lambda x: x.repeat(2), r"repeat: needs at least 2 sizes for shape \(2, 3\)"),
    "stack_different_shapes": (lambda x: chainrule.stack([x, x.t()]), r"stack: tensor 1 has shape \(3, 2\)"),
    "cat_nothing": (lambda x: chainrule.cat([]), "cat: expected a non-empty sequence"),
    "cat_0d": (lambda x: chainrule.cat([x.sum(), x.sum()]), "cat: 0-d tensors cannot be concatenated"),
}


@pytest.mark.parametrize("name", BAD_ARGUMENTS)
def test_bad_arguments_raise_errors_naming_the_op(name):
    call, message = BAD_ARGUMENTS[name]
    with pytest.raises((ValueError, IndexError, NotImplementedError), match=f"^{message}"):
        call(chainrule.ones(2, 3))


PAD_ERRORS = {  # a padding of a (2, 3) tensor that both libraries refuse, and the start of our message
    "unknown_mode": (lambda pad, x: pad(x, (1, 1), mode="mirror"), "pad: mode must be 'constant', "),
    "mode_with_value": (lambda pad, x: pad(x, (1, 1), mode="reflect", value=1.0),
                        "pad: mode='reflect' pads with the input's own elements and takes no value"),
    "reflect_too_wide": (lambda pad, x: pad(x, (3, 0), mode="reflect"),
                         r"pad: reflect padding \(3, 0\) must be smaller than the size 3 of dim 1"),
    "circular_wraps_twice": (lambda pad, x: pad(x, (0, 4), mode="circular"),
                             r"pad: circular padding \(0, 4\) must be at most the size 3 of dim 1"),
    "replicate_empty": (lambda pad, x: pad(x[:, :0], (1, 0), mode="replicate"),
                        "pad: replicate padding has no edge to copy in the empty dim 1"),
    "mode_too_few_dims": (lambda pad, x: pad(x.reshape(6), (1, 1), mode="replicate"),
                          "pad: mode='replicate' pads the last 1, 2 or 3 dims"),
    "mode_too_many_dims": (lambda pad, x: pad(x.reshape(1, 1, 1, 2, 3), (1, 1), mode="circular"),
                           r"pad: mode='circular' .* 2 widths need an input of 2 or 3 dims, got shape"),
    "mode_four_dims": (lambda pad, x: pad(x.reshape(1, 1, 1, 1, 2, 3), (1,) * 8, mode="reflect"),
                       "pad: mode='reflect' pads the last 1, 2 or 3 dims"),
}


@pytest.mark.parametrize("name", PAD_ERRORS)
def test_pad_mode_errors_name_the_op(name):
    call, message = PAD_ERRORS[name]
    with pytest.raises((ValueError, NotImplementedError), match=f"^{message}"):
        call(chainrule.pad, chainrule.ones(2, 3))


@requires_torch
@pytest.mark.parametrize("name", PAD_ERRORS)
def test_torch_refuses_the_same_padding(name):
    call, _ = PAD_ERRORS[name]
    with pytest.raises((ValueError, RuntimeError, NotImplementedError)):
        call(torch.nn.functional.pad, torch.ones(2, 3))

"""Engine semantics: how gradients flow, accumulate, and fail loudly."""
import gc
import weakref

import numpy
import pytest

import chainrule as cr
from chainrule.autograd import sum_to_shape


def leaf(values, dtype=cr.float64):
    return cr.tensor(values, dtype=dtype, requires_grad=True)


# ---------------------------------------------------------------- accumulation and reuse

def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, [3 + 2, 3 + 4])


def test_a_tensor_used_many_times_sums_its_gradients():
    x = leaf([0.5, -1.5])
    y = x * x * x + x + x * 2
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad.data, 3 * x.data ** 2 + 3)


def test_an_intermediate_used_twice():
    x = leaf([0.3, 0.7])
    h = x.exp()
    (h * h + h).sum().backward()
    e = numpy.exp(x.data)
    numpy.testing.assert_allclose(x.grad.data, 2 * e * e + e)


def test_diamond_graph_runs_each_node_once():
    calls = []

    class Counted(cr.Function):
        def forward(self, x):
            return x * 2

        def backward(self, g):
            calls.append(1)
            return g * 2

    x = leaf([1.0])
    h = Counted.apply(x)
    (h.sin() + h.cos() + h).sum().backward()
    assert len(calls) == 1
    numpy.testing.assert_allclose(x.grad.data, 2 * (numpy.cos(2.0) - numpy.sin(2.0) + 1))


def test_a_path_that_sends_no_gradient_does_not_block_the_others():
    class Stop(cr.Function):
        saves_inputs = False

        def forward(self, a):
            return a.copy()

        def backward(self, g):
            return None

    x = leaf([1.0, 2.0])
    y = x * 3
    (Stop.apply(y) + y * 2).sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, [6.0, 6.0])
    z = leaf([1.0])
    Stop.apply(z * 2).sum().backward()  # nothing reaches z, and nothing hangs
    assert z.grad is None


def test_unused_input_gets_no_gradient():
    x, unused = leaf([1.0]), leaf([2.0])
    (x * 2).sum().backward()
    assert unused.grad is None
    with pytest.raises(RuntimeError, match="not used"):
        cr.grad((x * 2).sum(), [x, unused])
    gx, gu = cr.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.item() == 2


def test_backward_from_a_non_scalar_with_a_gradient():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).backward(cr.tensor([1.0, 0.0, 2.0], dtype=cr.float64))
    numpy.testing.assert_array_equal(x.grad.data, [2.0, 0.0, 12.0])


def test_backward_of_a_leaf_itself():
    x = leaf([1.0, 2.0])
    x.backward(cr.ones(2, dtype=cr.float64))
    numpy.testing.assert_array_equal(x.grad.data, [1.0, 1.0])


def test_long_chain_needs_no_recursion():
    x = leaf([1.0])
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad.data, [1.0001 ** 10_000], rtol=1e-10)


# ---------------------------------------------------------------- retain_graph and the freed graph

def test_second_backward_through_a_freed_graph_is_an_error():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    numpy.testing.assert_allclose(x.grad.data, 2 * first)


def test_backward_frees_saved_arrays():
    x = leaf(numpy.ones(1000))
    h = x.exp()
    node = h.grad_fn
    saved = weakref.ref(node.out)
    y = (h * 2).sum()
    del h
    gc.collect()
    assert saved() is not None
    y.backward()
    gc.collect()
    assert saved() is None and node.edges is None


# ---------------------------------------------------------------- grad mode

def test_no_grad_records_nothing():
    x = leaf([1.0])
    with cr.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert cr.is_grad_enabled()


def test_no_grad_and_enable_grad_as_decorators():
    x = leaf([1.0])

    @cr.no_grad()
    def frozen(t):
        return t * 2

    @cr.enable_grad()
    def recording(t):
        return t * 2

    assert not frozen(x).requires_grad
    with cr.no_grad():
        assert recording(x).requires_grad
        assert not (x * 2).requires_grad


def test_set_grad_enabled():
    x = leaf([1.0])
    with cr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_detach_cuts_the_graph():
    x = leaf([2.0])
    y = x * x.detach()
    y.sum().backward()
    assert x.grad.item() == 2.0


# ---------------------------------------------------------------- hooks

def test_leaf_hook_may_replace_the_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.data.copy()))
    handle = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    numpy.testing.assert_array_equal(seen[0], [3.0, 3.0])
    numpy.testing.assert_array_equal(x.grad.data, [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_grad_runs_leaf_hooks_as_pytorch_does():
    y = leaf([1.0, 1.0])
    y.register_hook(lambda g: g * 10)
    (g,) = cr.grad((y * 3).sum(), y)
    numpy.testing.assert_array_equal(g.data, [30.0, 30.0])


def test_a_leaf_hook_runs_as_soon_as_its_gradient_is_complete():
    """Before the rest of backward, so data-parallel training can send it early."""
    events = []

    class Early(cr.Function):
        def forward(self, x):
            return x * 2

        def backward(self, g):
            events.append("early op's backward")
            return g * 2

    first, last = leaf([1.0]), leaf([3.0])
    last.register_hook(lambda g: events.append("hook on the last layer's weight"))
    (Early.apply(first) * last).sum().backward()
    assert events == ["hook on the last layer's weight", "early op's backward"]
    assert last.grad.item() == 2.0 and first.grad.item() == 6.0


def test_non_leaf_hook_sees_the_total_gradient_and_can_change_it():
    x = leaf([1.0, 2.0])
    h = x * 2
    seen = []
    h.register_hook(lambda g: seen.append(g.data.copy()) or g * 0)
    (h * h + h).sum().backward()
    numpy.testing.assert_array_equal(seen[0], 2 * h.data + 1)
    numpy.testing.assert_array_equal(x.grad.data, [0.0, 0.0])


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    numpy.testing.assert_array_equal(h.grad.data, 2 * h.data)


# ---------------------------------------------------------------- in-place changes and the version counter

def test_in_place_change_to_a_saved_input_is_detected():
    a = cr.tensor([1.0, 2.0], dtype=cr.float64)
    w = leaf([3.0, 4.0])
    y = (a * w).sum()
    a.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_in_place_change_through_a_view_is_detected():
    a = cr.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=cr.float64)
    row = a[0]
    w = leaf([3.0, 4.0])
    y = (row * w).sum()
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_in_place_change_to_a_saved_output_is_detected():
    x = leaf([1.0, 2.0])
    y = x.exp()
    with cr.no_grad():
        y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()


def test_in_place_change_to_an_input_that_is_not_saved_is_fine():
    a = cr.tensor([1.0, 2.0], dtype=cr.float64)
    w = leaf([3.0, 4.0])
    y = (a + w).sum()
    a.mul_(2)
    y.backward()
    numpy.testing.assert_array_equal(w.grad.data, [1.0, 1.0])


def test_in_place_on_a_leaf_that_requires_grad_is_refused():
    w = leaf([1.0])
    with pytest.raises(RuntimeError, match="leaf tensor"):
        w.add_(1)
    with cr.no_grad():
        w.add_(1)
    assert w.item() == 2.0


def test_in_place_op_on_a_recorded_tensor_is_differentiated():
    w = leaf([1.0, 2.0])
    x = w * 3
    x.mul_(w)  # x = 3 w^2, computed from the values x had before the change
    x += w
    x.sum().backward()
    numpy.testing.assert_array_equal(w.grad.data, 6 * w.data + 1)


def test_setitem_records_the_assignment():
    w = leaf([1.5, -2.0])
    x = cr.zeros(4, dtype=cr.float64)
    x[1:3] = w * 2
    x[0] = 7.0
    assert x.requires_grad
    (x * cr.tensor([1.0, 2.0, 3.0, 4.0], dtype=cr.float64)).sum().backward()
    numpy.testing.assert_array_equal(x.data, [7.0, 3.0, -4.0, 0.0])
    numpy.testing.assert_array_equal(w.grad.data, [4.0, 6.0])


def test_writing_through_a_view_while_recording_is_refused():
    a = leaf([1.0, 2.0, 3.0])
    y = a * 1
    with pytest.raises(RuntimeError, match="in-place operation on a view"):
        y[1:][0] = 5.0
    x = cr.zeros(3, 2, dtype=cr.float64)
    with pytest.raises(RuntimeError, match=r"x\[1, 0\] = v"):
        x[1][0] = a[0] * 2
    x[1, 0] = a[0] * 2  # the direct write is recorded
    x.sum().backward()
    numpy.testing.assert_array_equal(a.grad.data, [2.0, 0.0, 0.0])


def test_a_reshape_that_copies_does_not_share_the_version_counter():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x.exp()
    z = y.t().reshape(-1)  # not contiguous: NumPy copies
    with cr.no_grad():
        z.mul_(2)
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad.data, numpy.exp(x.data))


def test_setitem_overwriting_a_recorded_region_blocks_its_gradient():
    w = leaf([1.0, 2.0, 3.0])
    x = w * 1
    x[1] = 0.0
    x.sum().backward()
    numpy.testing.assert_array_equal(w.grad.data, [1.0, 0.0, 1.0])


# ---------------------------------------------------------------- invariants

def test_backward_does_not_mutate_inputs_and_gradients_are_not_aliased():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    before = x.data.copy(), y.data.copy()
    (x + y).sum().backward()
    numpy.testing.assert_array_equal(x.data, before[0])
    numpy.testing.assert_array_equal(y.data, before[1])
    assert not numpy.shares_memory(x.grad.data, y.grad.data)
    x.grad.data += 1  # optimisers update gradients in place
    numpy.testing.assert_array_equal(y.grad.data, [1.0, 1.0])


def test_float32_stays_float32():
    x = cr.randn(3, requires_grad=True)
    y = (x * cr.tensor(2.0, dtype=cr.float64)).sum() + (x * 0.5).exp().mean()
    y.backward()
    assert x.grad.dtype == cr.float32


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
def test_nan_and_inf_propagate():
    x = leaf([float("nan"), float("inf"), 1.0])
    y = x * 2
    assert numpy.isnan(y.data[0]) and numpy.isinf(y.data[1])
    y.sum().backward()
    numpy.testing.assert_array_equal(x.grad.data, [2.0, 2.0, 2.0])
    z = leaf([-1.0]).log()
    assert numpy.isnan(z.item())


# ---------------------------------------------------------------- errors

def test_backward_on_a_non_scalar_needs_a_gradient():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"scalar output.*\(2,\)"):
        (x * 2).backward()


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.tensor([1.0]).sum().backward()


def test_gradient_of_the_wrong_shape():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\)"):
        (x * 2).backward(cr.ones(3, dtype=cr.float64))


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating-point"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="int64"):
        cr.arange(3).requires_grad_()


def test_shape_mismatch_names_the_op_and_both_shapes():
    with pytest.raises(ValueError, match=r"^add: .*\(3,\) and \(4,\)"):
        cr.ones(3) + cr.ones(4)
    with pytest.raises(ValueError, match=r"^mul: .*\(2, 3\) and \(2,\)"):
        cr.ones(2, 3) * cr.ones(2)


def test_a_backward_with_a_wrong_shape_is_caught():
    class Broken(cr.Function):
        def forward(self, x):
            return x.sum()

        def backward(self, g):
            return g.reshape(1, 1).expand(2, 2)

    with pytest.raises(RuntimeError, match=r"broken: backward produced a gradient of shape"):
        Broken.apply(leaf([1.0, 2.0, 3.0])).backward()


# ---------------------------------------------------------------- grad()

def test_grad_returns_instead_of_accumulating():
    x = leaf([1.0, 2.0])
    (g,) = cr.grad((x ** 3).sum(), x)
    numpy.testing.assert_allclose(g.data, 3 * x.data ** 2)
    assert x.grad is None and not g.requires_grad


def test_grad_with_respect_to_an_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 3
    (gh,) = cr.grad((h * h).sum(), h)
    numpy.testing.assert_allclose(gh.data, 2 * h.data)


def test_second_derivative_through_create_graph():
    x = leaf([1.0, 2.0])
    (g,) = cr.grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad
    (gg,) = cr.grad(g.sum(), x)
    numpy.testing.assert_allclose(gg.data, 6 * x.data)


def test_third_derivative_of_exp_sin():
    x = leaf([0.3])
    y = (x.sin()).exp()
    (d1,) = cr.grad(y, x, create_graph=True)
    (d2,) = cr.grad(d1, x, create_graph=True)
    (d3,) = cr.grad(d2, x)
    s, c, e = numpy.sin(0.3), numpy.cos(0.3), numpy.exp(numpy.sin(0.3))
    # d/dx of e^sin x three times: e (c^3 - 3 s c - c)
    numpy.testing.assert_allclose(d3.item(), e * (c ** 3 - 3 * s * c - c), rtol=1e-12)


def test_backward_with_create_graph_fills_grad_with_a_graph():
    x = leaf([1.0, 2.0])
    (x ** 2).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    (hessian_diag,) = cr.grad(x.grad.sum(), x)
    numpy.testing.assert_array_equal(hessian_diag.data, [2.0, 2.0])


# ---------------------------------------------------------------- sum_to_shape

@pytest.mark.parametrize("shape", [(), (1, 4), (4, 1), (3, 1, 4), (4,), (1,), (1, 1)])
def test_sum_to_shape_undoes_broadcasting(shape):
    big = numpy.broadcast_shapes(shape, (2, 3, 4, 4)) if shape else (2, 3)
    g = cr.tensor(numpy.arange(numpy.prod(big), dtype=numpy.float64).reshape(big))
    out = sum_to_shape(g, shape)
    assert out.shape == shape
    assert out.data.sum() == g.data.sum()


# ---------------------------------------------------------------- anomaly detection

@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_anomaly_mode_names_the_op_and_the_line_that_made_a_nan_forward():
    x = leaf([1.0, -1.0])
    with cr.autograd.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"log produced NaN.*test_autograd.py:\d+: .*x\.log\(\)"):
            x.log()


@pytest.mark.filterwarnings("ignore:divide by zero")
def test_anomaly_mode_catches_a_nan_born_in_backward():
    x = leaf([0.0, 4.0])
    with cr.autograd.detect_anomaly():
        y = x.sqrt()  # finite forward; its derivative 1 / (2 sqrt(x)) is infinite at 0
        with pytest.raises(FloatingPointError, match=r"sqrt produced NaN/Inf in the gradient.*y = x\.sqrt\(\)"):
            y.sum().backward()


def test_without_anomaly_mode_nan_propagates_silently_and_nothing_is_recorded():
    x = leaf([0.0])
    y = x.sqrt()
    assert "created_at" not in y.grad_fn.__dict__
    with numpy.errstate(divide="ignore"):
        y.sum().backward()
    assert numpy.isinf(x.grad.data[0])


def test_grad_runs_only_the_nodes_above_what_it_was_asked_for():
    # Off the path to the requested inputs no backward runs, so no hook there fires (as in PyTorch).
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    w = cr.tensor([3.0, 4.0], requires_grad=True)
    y = x * 2
    off_path = w * 5
    seen = []
    off_path.register_hook(lambda g: seen.append("off path"))
    y.register_hook(lambda g: seen.append("requested"))
    z = (y * y).sum() + off_path.sum()
    (g,) = cr.grad(z, y)
    numpy.testing.assert_array_equal(g.data, [4.0, 8.0])
    assert seen == ["requested"]
    (gx, gw) = cr.grad((x * w).sum() + (x * x).sum(), [x, w])
    numpy.testing.assert_array_equal(gx.data, [5.0, 8.0])
    numpy.testing.assert_array_equal(gw.data, [1.0, 2.0])

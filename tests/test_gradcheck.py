"""The user-facing finite-difference checks catch wrong gradients and say where."""
import numpy
import pytest

import chainrule as cr
from chainrule.gradcheck import GradcheckError
from chainrule.tensor import constant


class WrongCube(cr.Function):
    """x^3 with a deliberately wrong derivative (2x^2 instead of 3x^2)."""

    def forward(self, x):
        return x ** 3

    def backward(self, g):
        x = self.inputs[0]
        return g * 2 * x * x


class CubeFirstOrderOnly(cr.Function):
    """x^3 whose backward is right but treats x as a constant, so its own derivative is wrong."""

    def forward(self, x):
        return x ** 3

    def backward(self, g):
        x = constant(self.inputs[0].data)
        return g * 3 * x * x


def inputs(*shapes):
    rng = numpy.random.default_rng(0)
    return [cr.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


def test_correct_gradients_pass():
    assert cr.gradcheck(lambda a, b: (a @ b).tanh(), inputs((2, 3), (3, 4)))
    assert cr.gradgradcheck(lambda a, b: (a @ b).tanh(), inputs((2, 3), (3, 4)))


def test_a_wrong_gradient_is_reported_with_input_element_and_values():
    x = inputs((3,))[0]
    with pytest.raises(GradcheckError) as caught:
        cr.gradcheck(lambda x: WrongCube.apply(x), (x,))
    message = str(caught.value)
    assert "input 0" in message and "worst element" in message
    assert "analytical" in message and "numerical" in message
    assert cr.gradcheck(lambda x: WrongCube.apply(x), (x,), raise_exception=False) is False


def test_only_the_wrong_input_is_blamed():
    a, b = inputs((2,), (2,))
    with pytest.raises(GradcheckError, match="input 1"):
        cr.gradcheck(lambda a, b: a * 2 + WrongCube.apply(b), (a, b))


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = inputs((3,))[0]
    assert cr.gradcheck(lambda x: CubeFirstOrderOnly.apply(x), (x,))
    with pytest.raises(GradcheckError):
        cr.gradgradcheck(lambda x: CubeFirstOrderOnly.apply(x), (x,))


def test_float32_inputs_are_refused():
    with pytest.raises(TypeError, match="float64"):
        cr.gradcheck(lambda x: x * 2, (cr.ones(2, requires_grad=True),))


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_nan_gradients_fail():
    x = cr.tensor([0.0, 1.0], dtype=cr.float64, requires_grad=True)
    with pytest.raises(GradcheckError):
        cr.gradcheck(lambda x: x.sqrt() * 0 + x, (x,))


def test_non_contiguous_inputs_are_perturbed_in_place():
    x = cr.from_numpy(numpy.random.default_rng(0).standard_normal((3, 2)).T).requires_grad_()
    assert not x.data.flags.c_contiguous
    assert cr.gradcheck(lambda x: (x * x.exp()).sum(), (x,))

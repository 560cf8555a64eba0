"""Factories and the library-wide random generator."""
import numpy
import pytest

import chainrule as cr


@pytest.mark.parametrize("factory, value", [(cr.zeros, 0.0), (cr.ones, 1.0)])
def test_constant_factories(factory, value):
    for t in (factory(2, 3), factory((2, 3)), factory([2, 3])):
        assert t.shape == (2, 3) and t.dtype == cr.float32 and (t.data == value).all()
    assert factory(2, dtype=cr.float64).dtype == cr.float64
    assert factory(2, requires_grad=True).requires_grad


def test_full_follows_the_fill_value_dtype():
    assert cr.full((2,), 7).dtype == cr.int64
    assert cr.full((2,), 7.0).dtype == cr.float32
    assert cr.full((2, 2), 3.0).tolist() == [[3.0, 3.0], [3.0, 3.0]]


def test_like_factories_copy_shape_and_dtype():
    x = cr.zeros(2, 3, dtype=cr.float64)
    for t in (cr.zeros_like(x), cr.ones_like(x), cr.full_like(x, 2.0), cr.randn_like(x), cr.rand_like(x)):
        assert t.shape == x.shape and t.dtype == cr.float64


def test_ranges():
    assert cr.arange(4).tolist() == [0, 1, 2, 3] and cr.arange(4).dtype == cr.int64
    assert cr.arange(1, 2, 0.25).tolist() == [1.0, 1.25, 1.5, 1.75] and cr.arange(1, 2, 0.5).dtype == cr.float32
    assert cr.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert cr.eye(3).data.trace() == 3 and cr.eye(2, 3).shape == (2, 3)


def test_manual_seed_makes_draws_repeatable():
    cr.manual_seed(123)
    first = [cr.randn(4).tolist(), cr.rand(3).tolist(), cr.randint(0, 10, (5,)).tolist(), cr.randperm(6).tolist()]
    cr.manual_seed(123)
    second = [cr.randn(4).tolist(), cr.rand(3).tolist(), cr.randint(0, 10, (5,)).tolist(), cr.randperm(6).tolist()]
    assert first == second
    assert sorted(first[3]) == list(range(6))


def test_rng_state_round_trips():
    cr.manual_seed(5)
    state = cr.get_rng_state()
    a = cr.randn(3).tolist()
    cr.set_rng_state(state)
    assert cr.randn(3).tolist() == a


def test_random_draws_have_the_right_distribution():
    cr.manual_seed(0)
    normal = cr.randn(100_000).data
    uniform = cr.rand(100_000).data
    assert abs(normal.mean()) < 0.02 and abs(normal.std() - 1) < 0.02
    assert uniform.min() >= 0 and uniform.max() < 1 and abs(uniform.mean() - 0.5) < 0.01
    ints = cr.randint(3, 7, (10_000,))
    assert ints.dtype == cr.int64 and ints.data.min() == 3 and ints.data.max() == 6
    assert cr.randint(5, (3, 2)).shape == (3, 2)


def test_an_explicit_generator_leaves_the_global_one_alone():
    cr.manual_seed(1)
    expected = cr.randn(2).tolist()
    cr.manual_seed(1)
    cr.randn(3, generator=numpy.random.default_rng(9))
    assert cr.randn(2).tolist() == expected


def test_bad_sizes_are_named():
    with pytest.raises(TypeError, match="zeros: sizes must be ints"):
        cr.zeros(2.5)

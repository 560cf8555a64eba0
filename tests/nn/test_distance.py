"""PairwiseDistance and CosineSimilarity modules against PyTorch."""
import numpy
import pytest

import chainrule
from chainrule import nn
from helpers import requires_torch, torch

RNG = numpy.random.default_rng(0)
X1, X2 = RNG.standard_normal((5, 4)), RNG.standard_normal((5, 4))


@requires_torch
@pytest.mark.parametrize("name, kwargs", [("PairwiseDistance", {}), ("PairwiseDistance", dict(p=1.0, keepdim=True)),
                                          ("CosineSimilarity", {}), ("CosineSimilarity", dict(dim=0, eps=1e-6))])
def test_modules_match_torch_in_value_gradient_and_repr(name, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    a, b = chainrule.tensor(X1, requires_grad=True), chainrule.tensor(X2)
    ta, tb = torch.tensor(X1, requires_grad=True), torch.tensor(X2)
    out, expected = ours(a, b), theirs(ta, tb)
    numpy.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    out.sum().backward()
    expected.sum().backward()
    numpy.testing.assert_allclose(a.grad.data, ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert repr(ours) == repr(theirs)


def test_the_new_layers_and_functions_are_exported():
    from chainrule.nn import functional as F
    from chainrule.nn.normalization import InstanceNorm2d
    from chainrule.ops.normalization import instance_norm
    assert nn.InstanceNorm2d is InstanceNorm2d and F.instance_norm is instance_norm
    assert {"InstanceNorm1d", "InstanceNorm3d", "PairwiseDistance", "CosineSimilarity"} <= set(dir(nn))
    assert {"instance_norm", "pairwise_distance", "cosine_similarity"} <= set(F.__all__)

"""SyncBatchNorm: batch normalisation with statistics over every rank's batch.

Under plain ``BatchNorm`` each rank normalises with its own batch's mean
and variance, as PyTorch's DDP does by default. ``SyncBatchNorm`` combines
them, so a data-parallel run with per-rank batch B normalises exactly as a
single process with batch world_size × B would.

Forward: every rank shares (count, mean, M2) per channel, M2 being the sum
of squared deviations from the rank's own mean, and all ranks merge them in
rank order with Chan et al.'s pairwise update,

    mean = mean_a + δ n_b / n,   M2 = M2_a + M2_b + δ² n_a n_b / n,   δ = mean_b - mean_a,

which is stable where Σx² - n mean² is not. Backward: with g' = dy γ, the
closed form of batch norm's input gradient needs two per-channel means over
the global batch,

    dx = (1/σ) (g' - mean(g') - x̂ mean(g' x̂)),

so each rank sums Σg' and Σg'x̂ over its batch and all-reduces them. Each
rank's g' is the gradient of its own loss; summing over ranks and dividing
by the global count, then averaging parameter gradients over ranks (DDP),
gives the gradient of the mean loss over the global batch.
"""
import numpy

from ..autograd import Function, is_grad_enabled
from ..nn.normalization import _BatchNorm
from ..tensor import constant
from .world import world


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation of (N, C, *) inputs whose training statistics span all ranks.

    The same parameters, buffers and arguments as ``nn.BatchNorm1d``/``2d``.
    In training mode the mean and variance are those of the union of every
    rank's batch, and the running statistics move towards them, so they stay
    identical on every rank. In eval mode, or on a single process, it is
    plain batch normalisation. Every rank must call it the same number of
    times (it communicates in forward and in backward).

    Example
    -------
    >>> model = distributed.convert_sync_batchnorm(make_model())
    >>> model = distributed.DistributedDataParallel(model)
    """

    ranks = (2, 3, 4, 5)
    layout = "(N, {C}, *)"

    def forward(self, input):
        communicator = world()
        if not self.training or communicator.size == 1:
            return super().forward(input)
        if input.ndim not in self.ranks or input.shape[1] != self.num_features:
            raise ValueError(f"{self!r}: expected input of shape {self.layout.format(C=self.num_features)}, "
                             f"got {input.shape}")
        momentum = self.momentum
        running = None
        if self.track_running_stats:
            self.num_batches_tracked.data += 1
            self.num_batches_tracked._version[0] += 1
            if momentum is None:  # a cumulative average: batch k weighs 1/k
                momentum = 1.0 / int(self.num_batches_tracked.item())
            running = (self.running_mean, self.running_var, momentum)
        params = [p for p in (self.weight, self.bias) if p is not None]
        return _SyncBatchNormalization.apply(
            input, *params, affine=(self.weight is not None, self.bias is not None), eps=self.eps,
            running=running, communicator=communicator)


def convert_sync_batchnorm(module):
    """Replace every BatchNorm1d/BatchNorm2d in ``module`` by a SyncBatchNorm.

    Each replacement shares the original's parameters and buffers (the same
    tensors), so an optimiser made before the conversion still updates them.
    Returns ``module``, or its replacement when it is itself a batch norm.

    Example
    -------
    >>> model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU())
    >>> distributed.convert_sync_batchnorm(model)[1]
    SyncBatchNorm(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
    """
    return _converted(module, {})


def _converted(module, done):
    if id(module) in done:
        return done[id(module)]
    if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
        replacement = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                    module.track_running_stats, bias=module.bias is not None or not module.affine)
        replacement.weight, replacement.bias = module.weight, module.bias
        for name in ("running_mean", "running_var", "num_batches_tracked"):
            setattr(replacement, name, getattr(module, name))
        replacement.train(module.training)
    else:
        replacement = module
        # A child registered under two names is converted once and stays shared.
        for name, child in list(module._modules.items()):
            if child is not None:
                setattr(module, name, _converted(child, done))
    done[id(module)] = replacement
    return replacement


class _SyncBatchNormalization(Function):
    """x normalised per channel with statistics over every rank's batch, then γ x̂ + β."""

    def forward(self, x, *params, affine, eps, running, communicator):
        channels = x.shape[1]
        self.dims = (0,) + tuple(range(2, x.ndim))
        self.affine, self.affine_shape = affine, (1, channels) + (1,) * (x.ndim - 2)
        self.communicator = communicator
        local_mean = x.mean(axis=self.dims)
        local_centred = x - local_mean.reshape(self.affine_shape)
        local_m2 = (local_centred * local_centred).sum(axis=self.dims)
        shared = numpy.stack([numpy.full(channels, x.size // channels, dtype=x.dtype), local_mean, local_m2])
        gathered = numpy.empty((communicator.size,) + shared.shape, dtype=shared.dtype)
        communicator.wait(communicator.start_all_gather(shared, gathered), "SyncBatchNorm's batch statistics")
        self.total, mean, m2 = _merge_statistics(gathered)
        if self.total <= 1:
            raise ValueError("SyncBatchNorm: expected more than 1 value per channel over all ranks when training")
        self.inv_std = 1 / numpy.sqrt(m2 / self.total + eps)
        self.x_hat = (x - mean.reshape(self.affine_shape)) * self.inv_std.reshape(self.affine_shape)
        if running is not None:
            _update_running_statistics(*running, mean, m2 / (self.total - 1))
        weight, bias = _split_affine(params, affine)
        out = self.x_hat * weight.reshape(self.affine_shape) if weight is not None else self.x_hat.copy()
        if bias is not None:
            out += bias.reshape(self.affine_shape)
        return out

    def backward(self, g):
        if is_grad_enabled():
            raise NotImplementedError("SyncBatchNorm: gradients of gradients (create_graph=True) are not "
                                      "supported; use BatchNorm for double backward")
        g = g.data
        weight, bias = _split_affine([p.data for p in self.inputs[1:]], self.affine)
        g_hat = g * weight.reshape(self.affine_shape) if weight is not None else g
        grads = [None]
        if self.edges[0] is not None:
            sums = numpy.stack([g_hat.sum(axis=self.dims), (g_hat * self.x_hat).sum(axis=self.dims)])
            self.communicator.wait(self.communicator.start_all_reduce(sums),
                                   "SyncBatchNorm's gradient sums")
            mean_g, mean_g_x_hat = (s.reshape(self.affine_shape) / self.total for s in sums)
            grads[0] = constant((g_hat - mean_g - self.x_hat * mean_g_x_hat)
                                * self.inv_std.reshape(self.affine_shape))
        needs = iter(self.edges[1:])
        if weight is not None:
            grads.append(constant((g * self.x_hat).sum(axis=self.dims)) if next(needs) is not None else None)
        if bias is not None:
            grads.append(constant(g.sum(axis=self.dims)) if next(needs) is not None else None)
        return tuple(grads)


def _merge_statistics(gathered):
    """(count, mean, M2) of the union of every rank's batch, from each rank's
    (count, mean, M2) rows, merged in rank order."""
    count, mean, m2 = (row.copy() for row in gathered[0])
    for count_b, mean_b, m2_b in gathered[1:]:
        total = count + count_b
        delta = mean_b - mean
        mean += delta * (count_b / total)
        m2 += m2_b + delta * delta * (count * count_b / total)
        count = total
    return float(count[0]), mean, m2


def _update_running_statistics(running_mean, running_var, momentum, mean, unbiased_var):
    # NOTE: the running variance is the unbiased one, as in BatchNorm, while
    # the batch is normalised with the biased one.
    for buffer, batch_value in ((running_mean, mean), (running_var, unbiased_var)):
        buffer.data *= 1 - momentum
        buffer.data += momentum * batch_value
        buffer._version[0] += 1


def _split_affine(params, affine):
    """(weight, bias) from the inputs after x, with None for each one absent."""
    params = iter(params)
    return tuple(next(params) if given else None for given in affine)

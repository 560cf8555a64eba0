"""DistributedDataParallel: the same model on every rank, gradients averaged.

How one step goes, on every rank:

1. ``forward`` runs the wrapped model on this rank's batch, then walks the
   recorded graph back from the outputs to learn which parameters the
   outputs depend on; those are the gradients this step waits for.
2. During ``backward`` a hook on each parameter receives its gradient for
   this backward and copies it (added to any gradient already in
   ``.grad``) into the flat array of its bucket. Buckets hold parameters
   in reverse registration order, so the last layers, whose gradients come
   first, fill the first buckets. A full bucket starts its all-reduce at
   once (non-blocking), but only after every bucket before it has started:
   MPI matches collectives by the order in which ranks issue them, so every
   rank must issue them in the same order.
3. When the last awaited gradient arrives, the hook finishes the step:
   starts the remaining buckets (a parameter that got no gradient
   contributes zeros and a flag saying so), waits for all of them, divides
   by the world size, and writes the averages into ``.grad``. So
   ``loss.backward()`` returns with ``.grad`` already averaged, before
   anything (clipping, the optimiser) reads it.
4. If the loss did not reach every awaited parameter (it used only part of
   the outputs), no hook can know it is the last one: ``synchronize()``
   finishes the step instead. A training loop calls it after every
   backward (``distributed.synchronize_gradients(model)``); it does nothing
   when the hooks have already finished.
"""
import contextlib
import weakref
import zlib

import numpy

from ..autograd import is_grad_enabled
from ..nn.module import Module
from ..tensor import Tensor
from .world import ordered_sum, world

_MEGABYTE = 2 ** 20


class DistributedDataParallel(Module):
    """Data-parallel training: wrap the model, and every rank's gradients are
    averaged over all ranks during ``backward``.

    At construction rank 0's parameters and buffers are copied to every
    rank, so all ranks start from the same model. Each rank then runs the
    forward and backward on its own shard of the batch (see
    ``DistributedSampler``); after ``backward`` every ``.grad`` holds the
    mean over ranks, identical on all of them, so the optimiser takes the
    same step everywhere. With a per-rank loss that is a mean over the
    rank's batch, that is the gradient of the mean loss over the global
    batch (world_size × the per-rank batch).

    Parameters
    ----------
    module : nn.Module, the same architecture on every rank
    bucket_cap_mb : gradients are reduced in buckets of about this many
        megabytes (2**20 bytes): one all-reduce per bucket, started as soon as
        the bucket is full, so communication overlaps the rest of backward
    broadcast_buffers : after each step's gradients, copy rank 0's buffers
        (batch-norm running statistics) to every rank
    deterministic : reduce by gathering every rank's buckets and adding them
        in rank order, so the averages have the same bits on every rank and
        in every run whatever the MPI library does (world_size × the memory)

    Attributes
    ----------
    module : the wrapped model; its ``state_dict()`` has the keys without
        the ``module.`` prefix that this wrapper's keys carry.
    buckets : the parameter names in each bucket, in the order they are reduced.

    Example
    -------
    >>> distributed.init()
    >>> model = DistributedDataParallel(make_model())
    >>> optimizer = optim.SGD(model.parameters(), lr=0.1)
    >>> loss = F.cross_entropy(model(inputs), targets)
    >>> loss.backward()               # .grad is now the mean over all ranks
    >>> optimizer.step()
    """

    def __init__(self, module, bucket_cap_mb=25, broadcast_buffers=True, deterministic=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        self.module = module
        self.communicator = world().duplicate()
        _check_same_model_on_every_rank(self.communicator, module)
        named_params = list(module.named_parameters())
        state = [p for _, p in named_params] + list(module.buffers())
        _TensorBroadcast(self.communicator, state, "the initial parameters and buffers").run()
        trained = [(name, p) for name, p in named_params if p.requires_grad]
        self._reducer = _GradientReducer(
            trained, self.communicator, int(bucket_cap_mb * _MEGABYTE), deterministic,
            list(module.buffers()) if broadcast_buffers else [])
        reducer = weakref.ref(self._reducer)
        handles = [p.register_hook(_reduction_hook(reducer, p)) for _, p in trained]
        weakref.finalize(self, _remove_hooks, handles)
        self.require_gradient_sync = True

    @property
    def buckets(self):
        return [list(bucket.names) for bucket in self._reducer.buckets]

    def forward(self, *args, **kwargs):
        outputs = self.module(*args, **kwargs)
        if self.require_gradient_sync and is_grad_enabled():
            self._reducer.prepare(_parameters_reached(outputs, self._reducer.slot_of))
        elif not self.require_gradient_sync:
            self._reducer.accumulate_locally()
        return outputs

    def synchronize(self):
        """Finish averaging this step's gradients now, if the backward hooks have not.

        Every rank must call it after ``backward`` when the loss may not
        depend on every output the forward produced (so that some awaited
        gradient never arrives); gradients missing on a rank count as zeros.
        It does nothing when the step is already complete, so a training
        loop can call it after every backward.

        Example
        -------
        >>> features, aux = model(inputs)
        >>> F.mse_loss(features, targets).backward()   # aux's parameters get no gradient
        >>> model.synchronize()
        """
        self._reducer.finish()

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally, without communication, inside this block.

        Forwards (and their backwards) inside it add to ``.grad`` on this
        rank only; the first synchronised step after it averages the sum.
        Use it for gradient accumulation over several micro-batches.

        Example
        -------
        >>> with model.no_sync():
        ...     loss_fn(model(first_half), y1).backward()
        >>> loss_fn(model(second_half), y2).backward()   # averages both halves' gradients
        """
        self._reducer.accumulate_locally()
        previous, self.require_gradient_sync = self.require_gradient_sync, False
        try:
            yield
        finally:
            self.require_gradient_sync = previous


# --------------------------------------------------------------------------
# buckets

class _Bucket:
    """The gradients of a few parameters of one dtype, reduced as one flat array.

    The flat array holds each parameter's gradient and then one flag per
    parameter, 1 where this rank has a gradient for it. After the sum a
    flag of 0 means no rank had one, and that ``.grad`` is left as it was.
    """

    def __init__(self, named_params, deterministic, world_size):
        self.names = [name for name, _ in named_params]
        self.params = [p for _, p in named_params]
        ends = numpy.cumsum([p.data.size for p in self.params])
        starts = ends - [p.data.size for p in self.params]
        gradient_size = int(ends[-1])
        self.flat = numpy.zeros(gradient_size + len(self.params), dtype=self.params[0].dtype)
        self.gradients = self.flat[:gradient_size]
        self.flags = self.flat[gradient_size:]
        self.slots = [self.flat[start:end].reshape(p.shape) for p, start, end in zip(self.params, starts, ends)]
        self.gathered = numpy.empty((world_size, self.flat.size), self.flat.dtype) if deterministic else None
        self.reset()

    def reset(self):
        self.filled = [False] * len(self.params)
        self.awaiting = 0  # gradients the forward's outputs depend on that have not arrived
        self.requests = None  # the collective's requests, once started

    def fill(self, position, grad):
        """Put the gradient the parameter will hold after this backward into its slot."""
        param = self.params[position]
        if grad is None and param.grad is None:
            self.slots[position].fill(0)
        elif grad is None:
            self.slots[position][...] = param.grad.data
        elif param.grad is None:
            self.slots[position][...] = grad.data
        else:
            numpy.add(param.grad.data, grad.data, out=self.slots[position])
        self.flags[position] = 0 if grad is None and param.grad is None else 1
        self.filled[position] = True

    def start(self, communicator):
        for position, filled in enumerate(self.filled):
            if not filled:
                self.fill(position, None)
        if self.gathered is not None:
            self.requests = communicator.start_all_gather(self.flat, self.gathered)
        else:
            self.requests = communicator.start_all_reduce(self.flat)

    def write_averages(self, world_size, current):
        """Set each parameter's ``.grad`` to its average over ranks.

        Returns the average for ``current``, the parameter whose hook is
        running: the engine stores a hook's result in ``.grad`` after the
        hook returns, so that one is handed back instead of written.
        """
        if self.gathered is not None:
            self.flat[...] = ordered_sum(self.gathered)
        if world_size > 1:
            self.gradients /= world_size
        replacement = None
        for param, slot, ranks_with_gradient in zip(self.params, self.slots, self.flags):
            if ranks_with_gradient == 0:
                continue
            if param is current:
                param.grad = None
                replacement = Tensor(slot.copy())
            elif param.grad is None or not param.grad.data.flags.writeable:
                param.grad = Tensor(slot.copy())
            else:
                param.grad.data[...] = slot
                param.grad._version[0] += 1
        return replacement


def _assign_buckets(named_params, cap_bytes):
    """Group parameters, in reverse registration order, into buckets of at most
    ``cap_bytes`` (a larger parameter gets one of its own), one dtype per bucket."""
    closed = []
    open_buckets = {}  # dtype -> (parameters, their bytes)
    for name, param in reversed(named_params):
        bucket, size = open_buckets.get(param.dtype, ([], 0))
        if bucket and size + param.data.nbytes > cap_bytes:
            closed.append(bucket)
            bucket, size = [], 0
        bucket.append((name, param))
        open_buckets[param.dtype] = (bucket, size + param.data.nbytes)
    return closed + [bucket for bucket, _ in open_buckets.values()]


class _GradientReducer:
    """Steps the buckets through one reduction per synchronised forward."""

    def __init__(self, named_params, communicator, cap_bytes, deterministic, buffers):
        self.communicator = communicator
        self.buckets = [_Bucket(group, deterministic, communicator.size)
                        for group in _assign_buckets(named_params, cap_bytes)]
        self.slot_of = {id(param): (bucket, position)
                        for bucket in self.buckets for position, param in enumerate(bucket.params)}
        self.buffers = buffers
        self.active = False  # a synchronised forward awaits its gradients
        self.local_only = False  # the last forward was inside no_sync()
        self.awaited = set()
        self.arrived = 0
        self.next_to_start = 0

    def _refuse_unfinished(self):
        if self.active and self.arrived:
            missing = [bucket.names[position] for bucket in self.buckets
                       for position, filled in enumerate(bucket.filled) if not filled][:5]
            raise RuntimeError(
                "DistributedDataParallel: a new forward began before the last step's gradients were "
                f"averaged; no gradient arrived for {missing} (first five), which the last forward's "
                "outputs depend on. Call model.synchronize() on every rank after backward() when the "
                "loss uses only some of the outputs."
            )

    def prepare(self, reached):
        """Await the gradients of the parameters in ``reached`` (ids)."""
        self._refuse_unfinished()
        if not self.active:
            for bucket in self.buckets:
                bucket.reset()
            self.active, self.local_only = True, False
            self.awaited, self.arrived, self.next_to_start = set(), 0, 0
        # A second forward before any backward (two inputs, one loss) adds its parameters.
        for key in reached - self.awaited:
            bucket, _ = self.slot_of[key]
            bucket.awaiting += 1
        self.awaited |= reached

    def accumulate_locally(self):
        self._refuse_unfinished()
        self.active, self.local_only = False, True

    def on_gradient(self, param, grad):
        if not self.active:
            if self.local_only:
                return None
            raise RuntimeError(
                "DistributedDataParallel: a gradient reached a parameter after its step's gradients were "
                "already averaged, or without a forward through the wrapper: was backward() run twice "
                "through one forward, or the wrapped module called directly? Call the wrapper for each "
                "step, or use `with model.no_sync():` for gradients that stay on this rank."
            )
        bucket, position = self.slot_of[id(param)]
        if bucket.requests is not None:
            raise RuntimeError(
                f"DistributedDataParallel: the gradient of {bucket.names[position]!r} arrived after its "
                f"bucket's all-reduce had started: the parameter is used outside the wrapped model's "
                f"forward (in the loss, say), which the wrapper cannot foresee. Compute that term inside "
                f"the wrapped model's forward."
            )
        bucket.fill(position, grad)
        self.arrived += 1
        if id(param) in self.awaited:
            bucket.awaiting -= 1
            self.awaited.discard(id(param))
        self._start_ready_buckets()
        if not self.awaited:
            return self.finish(current=param)
        self.communicator.test([r for b in self.buckets[:self.next_to_start] for r in b.requests])
        return None

    def _start_ready_buckets(self):
        while self.next_to_start < len(self.buckets) and self.buckets[self.next_to_start].awaiting == 0:
            self.buckets[self.next_to_start].start(self.communicator)
            self.next_to_start += 1

    def finish(self, current=None):
        """Start what is left, wait for every bucket, and write the averages into ``.grad``."""
        if not self.active:
            return None
        for bucket in self.buckets[self.next_to_start:]:
            bucket.start(self.communicator)
        self.next_to_start = len(self.buckets)
        buffer_broadcast = _TensorBroadcast(self.communicator, self.buffers, "rank 0's buffers")
        buffer_broadcast.start()
        replacement = None
        for index, bucket in enumerate(self.buckets):
            self.communicator.wait(bucket.requests, f"the gradient all-reduce of bucket {index} "
                                                    f"({len(bucket.names)} parameters: {bucket.names[0]}, …)")
            averaged_current = bucket.write_averages(self.communicator.size, current)
            if averaged_current is not None:
                replacement = averaged_current
        buffer_broadcast.complete()
        self.active = False
        return replacement


def _reduction_hook(reducer, param):
    def reduce_gradient(grad):
        live_reducer = reducer()
        return None if live_reducer is None else live_reducer.on_gradient(param, grad)
    return reduce_gradient


def _remove_hooks(handles):
    for handle in handles:
        handle.remove()


# --------------------------------------------------------------------------
# the graph walk and the broadcasts

def _parameters_reached(outputs, parameter_ids):
    """The ids of the parameters in ``parameter_ids`` that ``outputs`` depend on, by
    walking the recorded graph back from them (each node once)."""
    reached = set()
    visited = set()
    stack = [t.grad_fn if t.grad_fn is not None else t for t in _tensors_in(outputs) if t.requires_grad]
    while stack:
        vertex = stack.pop()
        if isinstance(vertex, Tensor):
            if id(vertex) in parameter_ids:
                reached.add(id(vertex))
        elif id(vertex) not in visited:
            visited.add(id(vertex))
            stack.extend(edge for edge in vertex.next_functions if edge is not None)
    return reached


def _tensors_in(outputs):
    if isinstance(outputs, Tensor):
        yield outputs
    elif isinstance(outputs, (tuple, list)):
        for item in outputs:
            yield from _tensors_in(item)
    elif isinstance(outputs, dict):
        for item in outputs.values():
            yield from _tensors_in(item)


class _TensorBroadcast:
    """Rank 0's values of some tensors, sent to every rank: one flat array per dtype."""

    def __init__(self, communicator, tensors, what):
        self.communicator, self.what = communicator, what
        self.groups = {}
        for tensor in tensors:
            self.groups.setdefault(tensor.dtype, []).append(tensor)
        self.flats, self.requests = [], []

    def start(self):
        if self.communicator.size == 1:
            return
        for tensors in self.groups.values():
            flat = numpy.concatenate([t.data.ravel() for t in tensors])
            self.flats.append((flat, tensors))
            self.requests += self.communicator.start_broadcast(flat, root=0)

    def complete(self):
        self.communicator.wait(self.requests, f"the broadcast of {self.what}")
        for flat, tensors in self.flats:
            offset = 0
            for tensor in tensors:
                tensor.data[...] = flat[offset:offset + tensor.data.size].reshape(tensor.shape)
                tensor._version[0] += 1
                offset += tensor.data.size

    def run(self):
        self.start()
        self.complete()


def _check_same_model_on_every_rank(communicator, module):
    description = ";".join(f"{name}:{tuple(t.shape)}:{t.dtype}" for name, t in
                           list(module.named_parameters()) + list(module.named_buffers()))
    fingerprint = numpy.array([zlib.crc32(description.encode())], dtype=numpy.int64)
    fingerprints = numpy.empty((communicator.size, 1), dtype=numpy.int64)
    communicator.wait(communicator.start_all_gather(fingerprint, fingerprints), "the model check")
    differing = [r for r in range(communicator.size) if fingerprints[r, 0] != fingerprints[0, 0]]
    if differing:
        raise ValueError(
            f"DistributedDataParallel: ranks {differing} hold a model whose parameter and buffer names, "
            f"shapes or dtypes differ from rank 0's; every rank must build the same model"
        )

"""Checks worth running before a long training run.

``check_model_gradients`` compares every parameter's gradient from
backpropagation with central finite differences, on a float64 copy of the
model, and names the layer and the element that disagree most.
``preflight`` runs the cheap sanity checks of a new training setup: the
initial loss, that every parameter gets a gradient, that labels fit the
outputs, and that the model can memorise one small batch.

Both work on deep copies: the user's model, its gradients and chainrule's
random generator are left exactly as they were.
"""
import copy
import math

import numpy

from .. import random as chainrule_random
from ..autograd import no_grad
from ..optim import Adam
from ..tensor import Tensor


class _Report:
    """What a check found: ``ok`` (bool) and ``text`` (printable)."""

    def __init__(self, ok, text):
        self.ok, self.text = ok, text

    def __str__(self):
        return self.text


class GradientCheckReport(_Report):
    """The result of ``check_model_gradients``.

    Attributes
    ----------
    ok : whether every checked element agreed within the tolerances
    text : the per-layer table and the worst element, as printed
    layers : layer name -> {"relative_error", "checked", "size", "ok"}
    worst : {"parameter", "index", "analytic", "numeric", "layer"} for the
        element furthest outside its tolerance (or closest to it, when all pass)
    """

    def __init__(self, ok, text, layers, worst):
        super().__init__(ok, text)
        self.layers, self.worst = layers, worst


class PreflightReport(_Report):
    """The result of ``preflight``: ``ok``, ``text``, and ``checks``, a list of
    ``(name, passed, message)`` with a message that says what a failure means
    and where to look."""

    def __init__(self, checks):
        self.checks = checks
        lines = ["Preflight checks:"]
        for name, passed, message in checks:
            status = "ok  " if passed else "FAIL"
            lines.append(f"  [{status}] {name}: {message}")
        ok = all(passed for _, passed, _ in checks)
        lines.append("All checks passed." if ok else
                     f"{sum(not passed for _, passed, _ in checks)} check(s) failed; see above.")
        super().__init__(ok, "\n".join(lines))


# ---------------------------------------------------------------- gradient check

def check_model_gradients(model, loss_fn, inputs, targets, eps=1e-6, atol=1e-5, rtol=1e-3,
                          max_elements=100, seed=0, verbose=True):
    """Check backpropagation through a whole model against finite differences.

    The model is deep-copied and converted to float64 (``.double()``); the
    floating-point inputs and targets are converted too. For each parameter,
    ``loss_fn(copy(inputs), targets)`` is differentiated by the backward pass
    and by central differences ``(L(w + eps) - L(w - eps)) / 2 eps``, element
    by element. An element passes when ``|analytic - numeric| <= atol + rtol
    |numeric|`` (the rule of ``chainrule.gradcheck``).

    Parameters
    ----------
    model : nn.Module (left untouched)
    loss_fn : (outputs, targets) -> scalar Tensor
    inputs : Tensor, array, or a tuple of them (passed as ``model(*inputs)``)
    targets : Tensor or array
    eps, atol, rtol : finite-difference step and tolerances
    max_elements : check at most this many elements per parameter, chosen at
        random (with ``seed``); None checks them all. Each element costs two
        forward passes.
    verbose : print the report

    Returns
    -------
    GradientCheckReport with ``ok``, ``text``, the relative error per layer
    (‖analytic - numeric‖ / max(‖analytic‖, ‖numeric‖) over the checked
    elements) and the worst element.

    Notes
    -----
    Dropout draws the same mask in every forward pass of the check (the
    random generator is rewound before each), so models with dropout can be
    checked in training mode. A ReLU input that lies within ``eps`` of zero
    can fail spuriously; a smaller ``eps`` or another batch tells them apart.

    Example
    -------
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    >>> report = check_model_gradients(model, F.cross_entropy, chainrule.randn(5, 4),
    ...                                chainrule.tensor([0, 2, 1, 0, 2]), verbose=False)
    >>> report.ok
    True
    """
    inputs = tuple(_as_float64(x) for x in (inputs if isinstance(inputs, (tuple, list)) else (inputs,)))
    targets = _as_float64(targets)
    twin = copy.deepcopy(model).double()
    parameters = [(name, p) for name, p in twin.named_parameters() if p.requires_grad]
    if not parameters:
        raise ValueError(f"check_model_gradients: {type(model).__name__} has no parameters that require grad")
    saved_rng = chainrule_random.get_rng_state()
    try:
        def loss():
            chainrule_random.set_rng_state(saved_rng)
            return loss_fn(twin(*inputs), targets)

        twin.zero_grad()
        value = loss()
        if value.numel() != 1:
            raise ValueError(f"check_model_gradients: loss_fn must return a scalar, got shape {value.shape}")
        value.backward()
        rng = numpy.random.default_rng(seed)
        results = []
        with no_grad():
            for name, p in parameters:
                analytic = numpy.zeros(p.shape) if p.grad is None else p.grad.data.astype(numpy.float64)
                results.append(_check_parameter(name, p, analytic, loss, eps, max_elements, rng))
    finally:
        chainrule_random.set_rng_state(saved_rng)
    report = _gradient_report(results, atol, rtol, eps)
    if verbose:
        print(report.text)
    return report


def _check_parameter(name, parameter, analytic, loss, eps, max_elements, rng):
    flat = parameter.data.reshape(-1)  # a view: perturbing it perturbs the parameter
    indices = numpy.arange(flat.size)
    if max_elements is not None and flat.size > max_elements:
        indices = numpy.sort(rng.choice(flat.size, size=max_elements, replace=False))
    numeric = numpy.empty(indices.size)
    for position, k in enumerate(indices):
        original = flat[k]
        flat[k] = original + eps
        plus = loss().item()
        flat[k] = original - eps
        minus = loss().item()
        flat[k] = original
        numeric[position] = (plus - minus) / (2 * eps)
    return {"parameter": name, "shape": parameter.shape, "size": flat.size, "indices": indices,
            "analytic": analytic.reshape(-1)[indices], "numeric": numeric}


def _gradient_report(results, atol, rtol, eps):
    layers = {}
    worst = None
    for result in results:
        analytic, numeric = result["analytic"], result["numeric"]
        # how far outside (> 1) or inside (< 1) its tolerance each element is
        excess = numpy.abs(analytic - numeric) / (atol + rtol * numpy.abs(numeric))
        excess = numpy.where(numpy.isnan(excess), numpy.inf, excess)
        scale = max(numpy.linalg.norm(analytic), numpy.linalg.norm(numeric), 1e-300)
        relative = float(numpy.linalg.norm(analytic - numeric) / scale)
        layer = result["parameter"].rpartition(".")[0] or "(model)"
        entry = layers.setdefault(layer, {"relative_error": 0.0, "checked": 0, "size": 0, "ok": True})
        entry["relative_error"] = max(entry["relative_error"], relative)
        entry["checked"] += int(result["indices"].size)
        entry["size"] += int(result["size"])
        entry["ok"] = entry["ok"] and bool((excess <= 1).all())
        if excess.size:
            position = int(numpy.argmax(excess))
            if worst is None or excess[position] > worst["excess"]:
                index = numpy.unravel_index(result["indices"][position], result["shape"])
                worst = {"parameter": result["parameter"], "layer": layer,
                         "index": tuple(int(i) for i in index), "analytic": float(analytic[position]),
                         "numeric": float(numeric[position]), "excess": float(excess[position])}
    ok = all(entry["ok"] for entry in layers.values())
    width = max(len("layer"), *(len(name) for name in layers))
    lines = [f"Gradient check (float64 copy, central differences with eps={eps:g}, "
             f"pass: |analytic - numeric| <= {atol:g} + {rtol:g} |numeric|)",
             f"  {'layer':<{width}}  {'relative error':>14}  {'checked':>15}  result"]
    for name, entry in layers.items():
        lines.append(f"  {name:<{width}}  {entry['relative_error']:>14.2e}  "
                     f"{entry['checked']:>7} of {entry['size']:<5}  {'ok' if entry['ok'] else 'FAIL'}")
    index = ", ".join(str(i) for i in worst["index"])
    lines.append(f"  worst element: {worst['parameter']}[{index}]: analytic {worst['analytic']:.6g}, "
                 f"numeric {worst['numeric']:.6g}")
    if not ok:
        failed = [name for name, entry in layers.items() if not entry["ok"]]
        lines.append(f"  FAILED in {', '.join(failed)}: the backward pass of {worst['layer'] or 'the model'} (or of an "
                     f"op it uses) disagrees with finite differences. Check that op's backward, or any "
                     f"in-place change, .detach() or NumPy round trip inside its forward.")
    return GradientCheckReport(ok, "\n".join(lines), layers, worst)


def _as_float64(value):
    if isinstance(value, Tensor):
        return value.double() if value.dtype.kind == "f" else value
    array = numpy.asarray(value)
    return Tensor(array.astype(numpy.float64) if array.dtype.kind == "f" else array)


# ---------------------------------------------------------------- preflight

def preflight(model, loss_fn, loader, overfit_steps=60, overfit_examples=16, learning_rates=(1e-2, 3e-2, 3e-3),
              loss_tolerance=0.5, allow_frozen=False, verbose=True):
    """Sanity checks of a training setup on its first batch, before a long run.

    1. **labels and outputs agree**: the batch sizes match; integer labels
       lie in ``[0, C)`` for ``C`` output classes (dim 1); float targets
       have exactly the outputs' shape (a mismatch would be broadcast
       silently by an elementwise loss).
    2. **initial loss**: finite, and for integer labels within
       ``loss_tolerance`` (relative) of ln C, the cross-entropy of a model
       that has not yet learnt anything (its outputs near uniform).
    3. **every parameter gets a gradient**: non-zero and finite, for every
       parameter that requires grad; frozen parameters fail too unless
       ``allow_frozen``.
    4. **it can overfit one small batch**: ``overfit_steps`` of Adam on the
       first ``overfit_examples`` examples bring the loss below a tenth of
       its start (or, for labels, classify every one of them correctly), at
       one of ``learning_rates`` (tried in turn, each on a fresh copy: deep
       nets need a smaller one, frozen features a larger one).

    Everything runs on deep copies; the model and chainrule's random
    generator are left as they were.

    Parameters
    ----------
    model : nn.Module
    loss_fn : (outputs, targets) -> scalar Tensor
    loader : an iterable of ``(inputs, targets)`` batches (a DataLoader); only the first is used
    verbose : print the report

    Returns
    -------
    PreflightReport with ``ok``, ``text`` and ``checks``.

    Example
    -------
    >>> report = preflight(model, F.cross_entropy, train_loader)
    >>> report.ok
    True
    """
    saved_rng = chainrule_random.get_rng_state()
    try:
        checks = _preflight(model, loss_fn, loader, overfit_steps, overfit_examples, learning_rates,
                            loss_tolerance, allow_frozen)
    finally:
        chainrule_random.set_rng_state(saved_rng)
    report = PreflightReport(checks)
    if verbose:
        print(report.text)
    return report


def _preflight(model, loss_fn, loader, overfit_steps, overfit_examples, learning_rates, loss_tolerance, allow_frozen):
    batch = next(iter(loader), None)
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        return [("first batch", False, f"the loader must yield (inputs, targets) pairs; its first item is "
                                       f"{type(batch).__name__}")]
    inputs, targets = (value if isinstance(value, Tensor) else Tensor(numpy.asarray(value)) for value in batch)
    twin = copy.deepcopy(model)
    checks = []
    try:
        outputs = twin(inputs)
    except Exception as error:  # noqa: BLE001  any failure of the user's forward is the finding
        return [("forward pass", False, f"model(inputs) failed on the first batch (inputs {inputs.shape}): "
                                        f"{type(error).__name__}: {error}")]
    classes = _class_count(outputs, targets)
    shapes_ok, shapes_message = _check_shapes(outputs, targets, classes)
    checks.append(("labels and outputs", shapes_ok, shapes_message))
    try:
        loss = loss_fn(outputs, targets)
    except Exception as error:  # noqa: BLE001
        checks.append(("initial loss", False, f"loss_fn(outputs, targets) failed: {type(error).__name__}: {error}. "
                                              f"Look at the shapes and dtypes above."))
        return checks
    checks.append(_check_initial_loss(loss, classes, loss_tolerance))
    if not math.isfinite(loss.item()):
        return checks
    checks += _check_gradients(twin, loss, allow_frozen)
    if any(p.requires_grad for p in twin.parameters()):
        checks.append(_check_overfit(model, loss_fn, inputs, targets, classes, overfit_steps, overfit_examples,
                                     learning_rates))
    return checks


def _class_count(outputs, targets):
    """C for class-index targets (integer labels with outputs of one more dim), else None."""
    if targets.dtype.kind in "iu" and outputs.ndim == targets.ndim + 1 and outputs.ndim >= 2:
        return outputs.shape[1]
    return None


def _check_shapes(outputs, targets, classes):
    if outputs.ndim == 0 or targets.ndim == 0 or outputs.shape[0] != targets.shape[0]:
        return False, (f"the outputs {outputs.shape} and the targets {targets.shape} disagree on the batch size. "
                       f"Look at how the model flattens or reshapes its input, and at the loader's collate.")
    if targets.dtype.kind in "iu":
        if classes is None:
            return False, (f"integer labels of shape {targets.shape} need outputs with one more dim (the classes, "
                           f"dim 1), got {outputs.shape}. For one label per example the outputs should be "
                           f"(batch, classes); labels of shape (batch, 1) need .squeeze(1).")
        if outputs.shape[:1] + outputs.shape[2:] != targets.shape:
            return False, f"outputs {outputs.shape} do not fit labels {targets.shape} (expected (batch, classes, ...))"
        labels = targets.data[targets.data != -100]  # -100 is cross-entropy's default ignore_index
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            return False, (f"labels range over [{labels.min()}, {labels.max()}] but the model has {classes} outputs, "
                           f"so valid labels are 0..{classes - 1}. Either the last layer is too small for the "
                           f"number of classes, or the labels need remapping (1-based labels, say).")
        return True, f"{classes} classes, labels {labels.min()}..{labels.max()}, outputs {outputs.shape}"
    if outputs.shape != targets.shape:
        return False, (f"float targets {targets.shape} and outputs {outputs.shape} differ in shape, so an "
                       f"elementwise loss would broadcast them (a (B, 1) output against (B,) targets becomes "
                       f"(B, B)) and train on the wrong thing. Reshape one to the other's shape.")
    return True, f"outputs and targets both {outputs.shape}"


def _check_initial_loss(loss, classes, tolerance):
    value = loss.item() if loss.numel() == 1 else math.nan
    if loss.numel() != 1:
        return "initial loss", False, f"the loss has shape {loss.shape}; it must be a scalar (reduction='mean')"
    if not math.isfinite(value):
        return "initial loss", False, (f"the loss is {value} before any training: look for NaN/Inf in the inputs, "
                                       f"log() of zero, or an overflowing forward (chainrule.autograd.detect_anomaly "
                                       f"names the op)")
    if classes is None:
        return "initial loss", True, f"{value:.4g} (no expected value for non-class targets)"
    expected = math.log(classes)
    if abs(value - expected) > tolerance * expected:
        direction = ("far above: the untrained model is confidently wrong, so the first steps will be spent "
                     "shrinking its outputs. Look at the last layer's initialisation (too large; scale it down "
                     "or zero it) and at the input scale (normalise the inputs)"
                     if value > expected else
                     "far below: the untrained model already predicts the labels, which suggests the labels leak "
                     "into the inputs, or the loss is not a cross-entropy over these outputs (or the model is "
                     "pretrained, when this is expected)")
        return "initial loss", False, (f"{value:.4g}, expected about ln {classes} = {expected:.4g} for {classes} "
                                       f"classes; {direction}")
    return "initial loss", True, f"{value:.4g}, close to ln {classes} = {expected:.4g}"


def _check_gradients(twin, loss, allow_frozen):
    checks = []
    frozen = [name for name, p in twin.named_parameters() if not p.requires_grad]
    if frozen:
        checks.append(("frozen parameters", allow_frozen,
                       f"{', '.join(frozen)} have requires_grad=False and will not train"
                       + ("" if allow_frozen else "; if that is deliberate (fine-tuning), pass allow_frozen=True, "
                                                  "otherwise call requires_grad_(True) on them")))
    if not loss.requires_grad:
        checks.append(("gradients", False, "the loss does not depend on any parameter that requires grad: the "
                                           "graph is cut somewhere between the parameters and the loss (.detach(), "
                                           ".data, a NumPy round trip, or a no_grad() block in forward)"))
        return checks
    twin.zero_grad()
    loss.backward()
    missing, zero, broken = [], [], []
    for name, p in twin.named_parameters():
        if not p.requires_grad:
            continue
        if p.grad is None:
            missing.append(name)
        elif not numpy.isfinite(p.grad.data).all():
            broken.append(name)
        elif not p.grad.data.any():
            zero.append(name)
    problems = []
    if missing:
        problems.append(f"no gradient reaches {', '.join(missing)}: they are not used in forward, or their "
                        f"output is cut from the graph (.detach(), .data, a NumPy round trip)")
    if zero:
        problems.append(f"the gradient of {', '.join(zero)} is exactly zero: every unit after them may be dead "
                        f"(ReLU outputs all zero), or a mask or a multiplication by zero blocks them")
    if broken:
        problems.append(f"the gradient of {', '.join(broken)} has NaN/Inf: run the step under "
                        f"chainrule.autograd.detect_anomaly() to find the op")
    checks.append(("gradients", not problems, "; ".join(problems) or "every trainable parameter gets a non-zero, "
                                                                     "finite gradient"))
    return checks


def _check_overfit(model, loss_fn, inputs, targets, classes, steps, examples, learning_rates):
    small_inputs, small_targets = inputs[:examples], targets[:examples]
    attempts = []
    for learning_rate in learning_rates:
        start, final, accuracy = _overfit(model, loss_fn, small_inputs, small_targets, classes, steps, learning_rate)
        accuracy_text = f", accuracy {accuracy:.0%}" if accuracy is not None else ""
        if (math.isfinite(final) and final <= 0.1 * start) or accuracy == 1.0:
            return "overfit one batch", True, (f"{steps} Adam steps (lr={learning_rate:g}) on {len(small_targets)} "
                                               f"examples: loss {start:.3g} -> {final:.3g}{accuracy_text}")
        attempts.append(f"lr={learning_rate:g}: {start:.3g} -> {final:.3g}{accuracy_text}")
    return "overfit one batch", False, (
        f"{steps} Adam steps on {len(small_targets)} examples did not memorise them ({'; '.join(attempts)}), "
        f"though a working model memorises so few examples easily. Look for gradients that do not reach the "
        f"early layers (GradientHealth), a bug between the outputs and the loss (wrong dim, softmax applied "
        f"twice), or labels that do not belong to their inputs.")


def _overfit(model, loss_fn, inputs, targets, classes, steps, learning_rate):
    """Train a fresh copy on one small batch; returns the first loss, the final loss and the accuracy."""
    twin = copy.deepcopy(model)
    twin.train()
    optimizer = Adam([p for p in twin.parameters() if p.requires_grad], lr=learning_rate)
    start = math.nan
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(twin(inputs), targets)
        if step == 0:
            start = loss.item()
        if not math.isfinite(loss.item()):
            break
        loss.backward()
        optimizer.step()
    with no_grad():
        twin.eval()
        outputs = twin(inputs)
        final = loss_fn(outputs, targets).item()
        accuracy = float((outputs.data.argmax(1) == targets.data).mean()) if classes is not None else None
    return start, final, accuracy

"""Containers: Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict."""
import operator
from collections import OrderedDict
from collections.abc import Iterable, Mapping

from ..tensor import Tensor
from .module import Module, _format_repr
from .parameter import Parameter


class _NumberedModules(Module):
    """Sub-modules named "0", "1", … in order: what Sequential and ModuleList share."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self


class Sequential(_NumberedModules):
    """Modules applied one after another; sub-modules are named "0", "1", …
    (or by the keys of an OrderedDict).

    Example
    -------
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    >>> model[0].weight.shape
    (8, 4)
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return list(self._modules.values())[index]



class ModuleList(_NumberedModules):
    """A list whose modules are registered (named "0", "1", …)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return list(self._modules.values())[index]

    def __setitem__(self, index, module):
        self.add_module(str(range(len(self))[index]), module)


    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._modules.clear()
        self.extend(modules)

    def __repr__(self):
        # Runs of identical layers print as one line, "(0-11): 12 x Block(...)", as PyTorch prints them.
        runs = []  # [first index, last index, repr]
        for i, module in enumerate(self._modules.values()):
            text = repr(module)
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        return _format_repr(self, [(str(first) if first == last else f"{first}-{last}",
                                    text if first == last else f"{last - first + 1} x {text}")
                                   for first, last, text in runs])


class ModuleDict(Module):
    """A dict whose modules are registered under their keys."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for key, module in items:
            self.add_module(key, module)


def _as_parameter(value):
    """Plain tensors become Parameters (sharing their array), as in PyTorch;
    anything else (a Parameter, None, any object) is stored as it is."""
    return Parameter(value) if isinstance(value, Tensor) and not isinstance(value, Parameter) else value


def _entry(module, name):
    """What a parameter container holds under ``name``: a registered parameter
    (or None), else the plain attribute that ``setattr`` stored."""
    if name in module._parameters:
        return module._parameters[name]
    return module.__dict__[name]


def _describe(value):
    """One repr line of a parameter container: the dtype and size, not the values."""
    if isinstance(value, Parameter):
        return f"Parameter containing: [chainrule.{value.dtype} of size {'x'.join(map(str, value.shape))}]"
    return f"Object of type: {type(value).__name__}"


class ParameterList(Module):
    """A list whose parameters are registered, named "0", "1", … as in
    PyTorch; plain tensors are made Parameters. Other values may be stored
    too, and are not registered.

    Example
    -------
    >>> weights = nn.ParameterList([chainrule.randn(4, 4) for _ in range(3)])
    >>> [name for name, _ in weights.named_parameters()]
    ['0', '1', '2']
    """

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def _name(self, index):
        index = operator.index(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"ParameterList: index {index} is out of range for length {len(self)}")
        return str(index % len(self))

    def __len__(self):
        return self._size

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ParameterList(self[i] for i in range(len(self))[index])
        return _entry(self, self._name(index))

    def __setitem__(self, index, value):
        setattr(self, self._name(index), _as_parameter(value))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        self._size += 1
        self[-1] = value
        return self

    def extend(self, values):
        if isinstance(values, Tensor) or not isinstance(values, Iterable):
            raise TypeError(f"ParameterList.extend: expected an iterable of values, got {type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def insert(self, index, value):
        """Insert before ``index``; the entries after it are renamed, so their state-dict keys shift by one."""
        values = list(self)
        values.insert(index, value)
        for i in range(len(self)):
            delattr(self, str(i))
        self._size = 0
        self.extend(values)

    def extra_repr(self):
        return "\n".join(f"  ({i}): {_describe(value)}" for i, value in enumerate(self))


class ParameterDict(Module):
    """A dict whose parameters are registered under their (string) keys, in
    insertion order; plain tensors are made Parameters. Other values may be
    stored too, and are not registered.

    NOTE: as in PyTorch, a plain ``dict`` passed to the constructor or to
    ``update`` is entered in sorted key order (an ``OrderedDict``, a
    ParameterDict or a list of pairs keeps its order), so state-dict keys
    come out in the same order in both libraries.

    Example
    -------
    >>> heads = nn.ParameterDict({"scale": chainrule.ones(3), "shift": chainrule.zeros(3)})
    >>> list(heads.state_dict())
    ['scale', 'shift']
    """

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = {}  # every entry's key in order, registered or not
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        if key not in self._keys:
            raise KeyError(key)
        return _entry(self, key)

    def __setitem__(self, key, value):
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: keys must be strings (they become parameter names), "
                            f"got {type(key).__name__} {key!r}")
        # A key becomes an attribute and a state-dict name: refuse what would break either, as PyTorch does.
        if "." in key or not key:
            raise KeyError(f"ParameterDict: a key must be a non-empty name without '.', got {key!r}")
        if key not in self._keys and hasattr(self, key):
            raise KeyError(f"ParameterDict: the key {key!r} would hide the attribute or method of that name")
        setattr(self, key, _as_parameter(value))
        self._keys[key] = None

    def __delitem__(self, key):
        if key not in self._keys:
            raise KeyError(key)
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        return self._keys.keys()

    def values(self):
        return (self[key] for key in self._keys)

    def items(self):
        return ((key, self[key]) for key in self._keys)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def popitem(self):
        """Remove and return the last (key, value) pair."""
        if not self._keys:
            raise KeyError("ParameterDict.popitem: the dict is empty")
        key = next(reversed(self._keys))
        return key, self.pop(key)

    def clear(self):
        for key in list(self._keys):
            del self[key]

    def copy(self):
        """A new ParameterDict holding the same Parameter objects."""
        return ParameterDict(self.items())

    def fromkeys(self, keys, default=None):
        return ParameterDict((key, default) for key in keys)

    def update(self, parameters):
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs = list(parameters.items())
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        elif isinstance(parameters, Iterable) and not isinstance(parameters, (str, Tensor)):
            pairs = [tuple(pair) if isinstance(pair, Iterable) else (pair,) for pair in parameters]
        else:
            raise TypeError(f"ParameterDict.update: expected a mapping or an iterable of (key, value) pairs, "
                            f"got {type(parameters).__name__}")
        for i, pair in enumerate(pairs):
            if len(pair) != 2:
                raise ValueError(f"ParameterDict.update: element #{i} should be a (key, value) pair, got {pair!r}")
            self[pair[0]] = pair[1]

    def __or__(self, other):
        merged = self.copy()
        merged.update(other)
        return merged

    def __ior__(self, other):
        self.update(other)
        return self

    def extra_repr(self):
        return "\n".join(f"  ({key}): {_describe(value)}" for key, value in self.items())

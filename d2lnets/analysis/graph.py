"""A network's graph as it runs: its layers, the tensors between them, and where paths join.

``summary`` lists layers one per row and so cannot show a residual ``+`` or a dense block's
``torch.cat``. :func:`trace_graph` runs one forward pass and records every layer call (a module
without children, or a module of a type in ``collapse``) and every tensor function called between
layers (``+``, ``torch.cat``, ``F.relu``, ``torch.flatten``, ...), with edges from the call that
made each input tensor. Unlike ``torch.fx``, it runs the model for real, so forward methods
that check their input's shape (as every model of ``d2lnets.models`` does) are no obstacle, and
every node gets its output shape.

``fold=True`` then merges the element-wise layers (batch norm, activations, dropout, LRN) into
the layer next to them along a plain chain, so that a block reads "Conv 3x3, 64 · BN · ReLU"
and the picture holds the structure, not every ReLU.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from ..core.batches import model_device, weight_dtype
from ..core.validate import input_shape, instance_of, pair, short

__all__ = ["Edge", "Graph", "Node", "trace_graph"]

# node kinds
INPUT, ADD, CAT = "input", "add", "cat"
_ELEMENTWISE_MODULES = (nn.modules.batchnorm._NormBase, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU,
                        nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardtanh, nn.Identity,
                        nn.modules.dropout._DropoutNd, nn.LocalResponseNorm, nn.GroupNorm, nn.LayerNorm)
_ELEMENTWISE_FUNCS = {"relu", "relu_", "relu6", "leaky_relu", "gelu", "silu", "sigmoid", "tanh", "elu",
                      "dropout", "batch_norm", "hardtanh", "local_response_norm"}
_ADD_FUNCS = {"add", "add_", "__add__", "__radd__", "__iadd__"}
_CAT_FUNCS = {"cat", "concat", "concatenate"}
# calls that give back the same values: the output stands for the input's node
_TRANSPARENT = {"contiguous", "to", "float", "double", "half", "bfloat16", "type", "detach", "clone", "cpu",
                "cuda", "requires_grad_", "type_as"}
_FUNC_LABELS = {"relu": "ReLU", "relu_": "ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh", "gelu": "GELU",
                "silu": "SiLU", "flatten": "Flatten", "adaptive_avg_pool2d": "AdaptiveAvgPool",
                "avg_pool2d": "AvgPool", "max_pool2d": "MaxPool", "dropout": "Dropout", "view": "Reshape",
                "reshape": "Reshape", "mean": "Mean"}


@dataclass
class Node:
    """One box of the graph: a layer call, a function call, or the input.

    ``kind``: ``"input"``, ``"conv"``, ``"linear"``, ``"pool"``, ``"norm"``, ``"act"``,
    ``"dropout"``, ``"flatten"``, ``"add"``, ``"cat"``, ``"block"`` (a collapsed module) or ``"op"``.
    ``ops`` are the labels of what the node does, in order (several after folding); ``names`` the
    modules' paths in ``net`` (or the functions' names); ``shape`` the output shape without the batch
    dimension; ``columns`` the groups of a grouped convolution (2 for AlexNet's two towers), else 1.
    ``row``/``col`` are set by a layout (``draw_architecture``).
    """

    id: int
    kind: str
    ops: list[str]
    names: list[str]
    shape: tuple[int, ...]
    columns: int = 1
    elementwise: bool = False
    row: int = 0
    col: int = 0

    @property
    def label(self) -> str:
        return " · ".join(self.ops)

    @property
    def name(self) -> str:
        return self.names[0] if self.names else self.kind


@dataclass
class Edge:
    """A tensor going from node ``src`` to node ``dst``; ``kind`` is ``"main"``, ``"skip"`` (into a
    ``+``, the shortcut), ``"concat"`` (into a concatenation, the features carried over) or
    ``"branch"`` (another input of a function with several)."""

    src: int
    dst: int
    kind: str = "main"


@dataclass
class Graph:
    """Nodes in the order they ran, and the edges between them."""

    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def node(self, node_id: int) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def preds(self, node_id: int) -> list[int]:
        return [e.src for e in self.edges if e.dst == node_id]

    def succs(self, node_id: int) -> list[int]:
        return [e.dst for e in self.edges if e.src == node_id]


# ----------------------------------------------------------------------------------------------
# labels
# ----------------------------------------------------------------------------------------------
def _window(k, s) -> str:
    (kh, kw), (sh, sw) = pair(k), pair(s if s is not None else k)
    size = f"{kh}×{kw}" if kh != kw else f"{kh}×{kh}"
    return size + (f"/{sh}" if sh == sw and sh > 1 else f"/{sh}×{sw}" if sh != sw else "")


def _module_label(m: nn.Module) -> tuple[str, str]:
    """(kind, label) of a layer."""
    if isinstance(m, nn.modules.conv._ConvNd):
        groups = f", groups {m.groups}" if m.groups > 1 and _columns(m) == 1 else ""
        return "conv", f"Conv {_window(m.kernel_size, m.stride)}, {m.out_channels // _columns(m)}{groups}"
    if isinstance(m, nn.Linear):
        return "linear", f"Linear {m.out_features}"
    if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
        return "pool", f"MaxPool {_window(m.kernel_size, m.stride)}"
    if isinstance(m, (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)):
        return "pool", f"AvgPool {_window(m.kernel_size, m.stride)}"
    if isinstance(m, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        out = m.output_size
        size = "×".join(map(str, out)) if isinstance(out, tuple) else f"{out}×{out}"
        return "pool", f"{type(m).__name__.replace('2d', '')} → {size}"
    if isinstance(m, nn.modules.batchnorm._NormBase):
        return "norm", "BN"
    if isinstance(m, nn.modules.dropout._DropoutNd):
        return "dropout", f"Dropout {m.p:g}"
    if isinstance(m, nn.Flatten):
        return "flatten", "Flatten"
    if type(m).__name__ == "LocalResponseNorm":
        return "norm", "LRN"
    if isinstance(m, (nn.LayerNorm, nn.GroupNorm)):
        return "norm", type(m).__name__.replace("Norm", "N")
    if isinstance(m, _ELEMENTWISE_MODULES):
        return "act", type(m).__name__
    return "op", type(m).__name__


def _columns(m: nn.Module) -> int:
    """The towers a grouped convolution is drawn as: its groups, from 2 to 4 (else 1)."""
    g = getattr(m, "groups", 1) if isinstance(m, nn.modules.conv._ConvNd) else 1
    return g if 2 <= g <= 4 else 1


def _is_elementwise(m: nn.Module) -> bool:
    return isinstance(m, _ELEMENTWISE_MODULES) or type(m).__name__ == "LocalResponseNorm"


def _block_label(m: nn.Module) -> str:
    """A collapsed module: its class name and, for a plain Sequential, its layers in brief."""
    if type(m) is not nn.Sequential:
        strides = [pair(c.stride)[0] for c in m.modules() if isinstance(c, nn.modules.conv._ConvNd)]
        return type(m).__name__.lstrip("_") + (f", stride {max(strides)}" if strides and max(strides) > 1 else "")
    parts: list[str] = []
    for leaf in m.modules():
        if next(leaf.children(), None) is None and not _is_elementwise(leaf):
            parts.append(_module_label(leaf)[1])
    runs: list[list] = []
    for p in parts:
        if runs and runs[-1][0] == p:
            runs[-1][1] += 1
        else:
            runs.append([p, 1])
    return " · ".join(f"{n}× {p}" if n > 1 else p for p, n in runs) or "Sequential"


# ----------------------------------------------------------------------------------------------
# tracing
# ----------------------------------------------------------------------------------------------
def _tensors(obj) -> list[Tensor]:
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, (list, tuple)):
        return [t for o in obj for t in _tensors(o)]
    if isinstance(obj, dict):
        return [t for o in obj.values() for t in _tensors(o)]
    return []


class _Recorder(TorchFunctionMode):
    """Records tensor functions called between layers (not inside them)."""

    def __init__(self) -> None:
        super().__init__()
        self.graph = Graph()
        self.producer: dict[int, int] = {}   # id(tensor) -> node id
        self.keep: list[Tensor] = []          # holds every tensor seen, so that no id is reused
        self.depth = 0
        self.calls: dict[str, int] = {}
        self.scope: list[str] = [""]          # the module whose forward is running (for functions' names)

    def add(self, kind: str, op: str, name: str, inputs: Iterable[Tensor], outputs: list[Tensor],
            columns: int = 1, elementwise: bool = False) -> None:
        srcs = []
        for t in inputs:
            p = self.producer.get(id(t))
            if p is not None and p not in srcs:
                srcs.append(p)
        n = self.calls[name] = self.calls.get(name, 0) + 1
        shape = tuple(outputs[0].shape[1:]) if outputs else ()
        node = Node(len(self.graph.nodes), kind, [op], [name if n == 1 else f"{name} (call {n})"], shape,
                    columns, elementwise)
        self.graph.nodes.append(node)
        self.graph.edges += [Edge(s, node.id) for s in srcs]
        for t in outputs:
            self.producer[id(t)] = node.id
            self.keep.append(t)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.depth:
            return out
        outputs = _tensors(out) if isinstance(out, (Tensor, tuple, list)) else []
        inputs = [t for t in _tensors((args, kwargs)) if id(t) in self.producer]
        if not outputs or not inputs:
            return out
        name = getattr(func, "__name__", type(func).__name__)
        if name in _TRANSPARENT:
            for t in outputs:
                self.producer[id(t)] = self.producer[id(inputs[0])]
                self.keep.append(t)
            return out
        where = f"{self.scope[-1]}.{name}" if self.scope[-1] else name
        if name in _ADD_FUNCS and len({self.producer[id(t)] for t in inputs}) > 1:
            self.add(ADD, "+", where, inputs, outputs)
        elif name in _CAT_FUNCS:
            self.add(CAT, "Concat", where, inputs, outputs)
        else:
            label = _FUNC_LABELS.get(name, name)
            kind = ("pool" if "pool" in name else "dropout" if name == "dropout" else
                    "act" if name in _ELEMENTWISE_FUNCS else "flatten" if label in ("Flatten", "Reshape") else "op")
            self.add(kind, label, where, inputs, outputs, elementwise=name in _ELEMENTWISE_FUNCS)
        return out


def _collapse_types(collapse) -> tuple[type, ...]:
    collapse = () if collapse is None else (collapse,) if isinstance(collapse, type) else tuple(collapse)
    for c in collapse:
        if not (isinstance(c, type) and issubclass(c, nn.Module)):
            raise TypeError(f"collapse must be module classes drawn as one box each, e.g. "
                            f"(d2l.models.BasicBlock,), got {short(c)}")
    return collapse


def trace_graph(net: nn.Module, input_size: Sequence[int], *, fold: bool = True,
                collapse: type | Sequence[type] = ()) -> Graph:
    """The graph of ``net`` on an input of ``input_size`` (``(C, H, W)`` or ``(B, C, H, W)``).

    One forward pass on zeros in eval mode under ``torch.no_grad()`` (lazy layers get their
    weights, as with ``summary``); ``net``'s mode is restored afterwards, also on an error.
    ``collapse``: module classes drawn as one node each (e.g. ``d2l.models.BasicBlock`` for a whole
    ResNet); ``fold``: merge element-wise layers into their neighbours (see the module docstring).
    """
    instance_of(net, nn.Module, "net", "a network (an nn.Module)")
    shape = input_shape(input_size)
    collapse = _collapse_types(collapse)
    device, dtype = model_device(net), weight_dtype(net)

    boxes: dict[nn.Module, str] = {}   # the modules drawn as one node each, with their names
    inside: list[str] = []              # the names of collapsed modules: their layers are not drawn
    for name, m in net.named_modules():
        if any(name.startswith(c + ".") for c in inside):
            continue
        if name and isinstance(m, collapse) and next(m.children(), None) is not None:
            inside.append(name)
            boxes[m] = name
        elif next(m.children(), None) is None:
            boxes[m] = name or type(m).__name__

    rec = _Recorder()
    pending: list[list[Tensor]] = []

    def pre(m: nn.Module, args: tuple) -> None:
        if rec.depth == 0:
            pending.append(_tensors(args))
        rec.depth += 1

    def post(m: nn.Module, args: tuple, out) -> None:
        rec.depth -= 1
        if rec.depth:
            return
        inputs = pending.pop()
        if isinstance(m, collapse) and next(m.children(), None) is not None:
            kind, label, columns, elementwise = "block", _block_label(m), 1, False
        else:
            (kind, label), columns, elementwise = _module_label(m), _columns(m), _is_elementwise(m)
        rec.add(kind, label, boxes[m], inputs, _tensors(out), columns, elementwise)

    def enter(name: str):
        def hook(m: nn.Module, args: tuple) -> None:
            rec.scope.append(name)
        return hook

    def leave(m: nn.Module, args: tuple, out) -> None:
        rec.scope.pop()

    handles = [h for m in boxes for h in (m.register_forward_pre_hook(pre), m.register_forward_hook(post))]
    handles += [h for name, m in net.named_modules() if m not in boxes and not any(
        name.startswith(c + ".") for c in inside) for h in (m.register_forward_pre_hook(enter(name)),
                                                            m.register_forward_hook(leave))]
    was_training = net.training
    X = torch.zeros(shape, device=device, dtype=dtype)
    rec.add(INPUT, "Input", "input", [], [X])
    try:
        net.eval()
        with torch.no_grad(), rec:
            net(X)
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"net does not take an input of shape {list(shape)}: {e}; check input_size, e.g. "
                         "(1, 28, 28) for one-channel 28x28 images") from e
    finally:
        for h in handles:
            h.remove()
        net.train(was_training)
    graph = rec.graph
    if fold:
        _fold(graph)
    return graph


# ----------------------------------------------------------------------------------------------
# folding
# ----------------------------------------------------------------------------------------------
def _merge(graph: Graph, keep: Node, gone: Node, after: bool) -> None:
    """Fold ``gone`` into ``keep``: after it (``gone`` follows ``keep``) or before it."""
    keep.ops = keep.ops + gone.ops if after else gone.ops + keep.ops
    keep.names = keep.names + gone.names if after else gone.names + keep.names
    keep.columns = max(keep.columns, gone.columns)
    keep.elementwise = keep.elementwise and gone.elementwise
    if after:
        keep.shape = gone.shape
    edges = []
    for e in graph.edges:
        if {e.src, e.dst} == {keep.id, gone.id}:
            continue
        src = keep.id if e.src == gone.id else e.src
        dst = keep.id if e.dst == gone.id else e.dst
        edges.append(Edge(src, dst, e.kind))
    graph.edges = edges
    graph.nodes = [n for n in graph.nodes if n.id != gone.id]


def _shared(a: str, b: str) -> int:
    """How many leading parts two module paths share (``features.3.bn``, ``features.3.conv``: 2)."""
    pa, pb = a.split(" (call")[0].split("."), b.split(" (call")[0].split(".")
    n = 0
    while n < min(len(pa), len(pb)) and pa[n] == pb[n]:
        n += 1
    return n


def _fold(graph: Graph) -> None:
    """Fold each element-wise node into the node before it or the one after it, along a single
    path: into the one in the same module (a transition's BN and ReLU go with its convolution,
    not with the dense block before it), else into the one before. The input takes no folds, and
    ``+`` and ``Concat`` take them only after themselves."""
    changed = True
    while changed:
        changed = False
        for node in list(graph.nodes):
            if not node.elementwise:
                continue
            preds, succs = graph.preds(node.id), graph.succs(node.id)
            before = graph.node(preds[0]) if len(preds) == 1 else None
            if before is not None and (before.kind == INPUT or graph.succs(before.id) != [node.id]):
                before = None
            after = graph.node(succs[0]) if len(succs) == 1 else None
            if after is not None and (graph.preds(after.id) != [node.id] or after.kind in (ADD, CAT)):
                after = None
            if after is not None and (before is None or
                                      _shared(node.names[0], after.names[0]) > _shared(node.names[-1],
                                                                                     before.names[-1])):
                _merge(graph, after, node, after=False)
            elif before is not None:
                _merge(graph, before, node, after=True)
            else:
                continue
            changed = True
            break

"""What both compiled kernels need to run K nets as SIMD lanes: squashing functions, no-alias
scratch arrays, lane packing, error-slot bookkeeping and argument checks.

Every kernel keeps the lane index innermost and contiguous in its scratch arrays (``W (Hn, U,
lanes)``), so each innermost loop is a loop across nets that LLVM turns into SIMD code, provided
three things hold, all provided here:

* the loop body contains no call: :func:`logistic` and :func:`tanh` are inlined, branch-free
  polynomials (libm's ``exp`` does not vectorise);
* the arrays stored into are known to alias nothing: :func:`zeros` takes them straight from libc
  ``calloc``, whose result LLVM knows to be fresh memory (numba's own arrays carry no such
  guarantee, and every lane loop would need a run-time overlap check or stay scalar);
* no value of one lane steers control flow, so a diverged (NaN) lane cannot affect another.

numba's on-disk cache (``cache=True``) is keyed on the source of the kernel's own file only, but
the kernels inline code from this module and their stage modules: :class:`_PackageCacheLocator`
keys the cache of every kernel in this package on all of the package's sources, so an edit here
recompiles them instead of loading stale machine code.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from llvmlite import ir
from numba import carray, njit, types
from numba.core import caching, cgutils
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array

_PACKAGE = Path(__file__).resolve().parent
# numba renamed these (0.63: _CacheImpl, _InTreeCacheLocator; 0.68: CacheImpl, InTreeCacheLocator).
_names = vars(caching)
_InTree: Any = _names.get("InTreeCacheLocator") or _names["_InTreeCacheLocator"]
_Impl: Any = _names.get("CacheImpl") or _names["_CacheImpl"]


class _PackageCacheLocator(_InTree):  # type: ignore[misc]
    """numba's in-tree cache locator, its freshness stamp a hash of this package's sources."""

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> Any:
        if Path(py_file).resolve().parent != _PACKAGE:
            return None
        return super().from_function(py_func, py_file)

    def get_source_stamp(self) -> str:
        h = hashlib.sha256()
        for path in sorted(_PACKAGE.glob("*.py")):
            h.update(path.name.encode() + path.read_bytes())
        return h.hexdigest()


if _PackageCacheLocator not in _Impl._locator_classes:
    _Impl._locator_classes.insert(0, _PackageCacheLocator)

INPUT_MODES = {"auto": 0, "dense": 1, "sparse": 2}
"""How inputs enter the SIMD loops: scattered into dense columns (small I) or gathered per lane."""

# ----------------------------------------------------------------------------------------------
# logistic f(x) = 1 / (1 + exp(-x)) and tanh(x) = 2 f(2x) - 1. exp(z) = 2^n exp(r), |r| <= ln2/2,
# exp(r) by its Taylor polynomial (degree 13 in float64: < 1e-17 truncation; degree 7 in float32),
# 2^n built from the exponent bits. One NaN behaviour in both precisions: np.minimum/np.maximum
# keep NaN, so a NaN input gives a NaN output (and np.fmax keeps NaN out of the integer cast).


def _bits_as_f64_typing(typingctx: Any, x: Any) -> Any:
    sig = types.float64(types.int64)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return sig, codegen


bits_as_f64: Any = intrinsic(_bits_as_f64_typing)


def _bits_as_f32_typing(typingctx: Any, x: Any) -> Any:
    sig = types.float32(types.int32)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return sig, codegen


bits_as_f32: Any = intrinsic(_bits_as_f32_typing)

_inline: Any = njit(inline="always", error_model="numpy", fastmath={"contract"})


@_inline
def logistic64(x: Any) -> Any:
    z = np.minimum(np.maximum(-x, -708.0), 708.0)  # NaN passes through and stays NaN
    nf = np.floor(z * 1.4426950408889634 + 0.5)
    r = (z - nf * 0.693145751953125) - nf * 1.4286068203094173e-06
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    n = np.fmax(nf, -1100.0)  # never convert NaN to an integer (its p is NaN anyway)
    return 1.0 / (1.0 + p * bits_as_f64((np.int64(n) + 1023) << 52))


@_inline
def tanh64(x: Any) -> Any:
    return 2.0 * logistic64(2.0 * x) - 1.0


_F = np.float32
_Q7, _Q6, _Q5, _Q4 = _F(1 / 5040), _F(1 / 720), _F(1 / 120), _F(1 / 24)
_Q3, _Q2, _ONE32, _TWO32 = _F(1 / 6), _F(0.5), _F(1.0), _F(2.0)
_LOG2E32, _HALF32, _NAN_N32 = _F(1.4426950408889634), _F(0.5), _F(-200.0)
_LN2HI32, _LN2LO32 = _F(0.693359375), _F(-2.12194440e-4)
_HI32, _LO32 = _F(87.0), _F(-87.0)


@_inline
def logistic32(x: Any) -> Any:
    z = np.minimum(np.maximum(-x, _LO32), _HI32)
    nf = np.floor(z * _LOG2E32 + _HALF32)
    r = (z - nf * _LN2HI32) - nf * _LN2LO32
    p = _Q7
    p = p * r + _Q6
    p = p * r + _Q5
    p = p * r + _Q4
    p = p * r + _Q3
    p = p * r + _Q2
    p = p * r + _ONE32
    p = p * r + _ONE32
    n = np.fmax(nf, _NAN_N32)
    return _ONE32 / (_ONE32 + p * bits_as_f32((np.int32(n) + np.int32(127)) << np.int32(23)))


@_inline
def tanh32(x: Any) -> Any:
    return _TWO32 * logistic32(_TWO32 * x) - _ONE32


def logistic(x: float) -> float:
    """f(x) = 1 / (1 + exp(-x)) in the precision of x (numba only)."""
    raise NotImplementedError


def tanh(x: float) -> float:
    """tanh(x) = 2 f(2x) - 1 in the precision of x (numba only)."""
    raise NotImplementedError


@overload(logistic)
def _logistic_overload(x):  # numba compares this signature with the implementations
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: logistic32(x)
    return lambda x: logistic64(x)


@overload(tanh)
def _tanh_overload(x):  # numba compares this signature with the implementations
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: tanh32(x)
    return lambda x: tanh64(x)


def logistic_inlined(x: float) -> float:
    """`logistic`, inlined at numba IR level (numba only).

    For a kernel whose loop has fully unrolled constant-count lane loops
    (`workers.kernels.baselines`, SLP-vectorised): no call is left when LLVM unrolls them. A
    caller that inlines it also gets numba's dead-code elimination run over its IR; see
    `workers.kernels.baselines_stages` for the stores that pass drops and the rule that keeps
    them."""
    raise NotImplementedError


def tanh_inlined(x: float) -> float:
    """`tanh`, inlined at numba IR level (numba only); see `logistic_inlined`."""
    raise NotImplementedError


@overload(logistic_inlined, inline="always")
def _logistic_inlined_overload(x):  # numba compares this signature with the implementations
    return _logistic_overload(x)


@overload(tanh_inlined, inline="always")
def _tanh_inlined_overload(x):  # numba compares this signature with the implementations
    return _tanh_overload(x)


# ----------------------------------------------------------------------------------------------
# No-alias scratch arrays: `zeros(shape, like)` wraps a calloc'd buffer (an array without a numba
# owner), `release((a, b, ...))` frees a whole set of them at the end of the kernel.


def _calloc_typing(typingctx: Any, n: Any, like: Any) -> Any:
    dt = like.dtype

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ty = context.get_value_type(dt)
        fnty = ir.FunctionType(ir.IntType(8).as_pointer(), [ir.IntType(64), ir.IntType(64)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "calloc")
        fn.return_value.add_attribute("noalias")
        size = context.get_constant(types.intp, context.get_abi_sizeof(ty))
        n = builder.add(args[0], context.get_constant(types.intp, 1))  # never calloc(0)
        return builder.bitcast(builder.call(fn, [n, size]), ty.as_pointer())

    return types.CPointer(dt)(types.intp, like), codegen


_calloc: Any = intrinsic(_calloc_typing)


@njit(inline="always")  # type: ignore[misc]
def zeros(shape: Any, like: Any) -> Any:
    """A zeroed C-contiguous array of ``like``'s dtype in its own calloc'd buffer (numba only).

    LLVM knows that it aliases no other memory. Free it with :func:`release`, exactly once.
    """
    n = 1
    for d in shape:
        n *= d
    return carray(_calloc(n, like), shape)


def _release_typing(typingctx: Any, arrays: Any) -> Any:
    if not isinstance(arrays, types.BaseTuple):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "free")
        members: Any = arrays
        for i, ty in enumerate(members):
            ary = make_array(ty)(context, builder, value=builder.extract_value(args[0], i))
            builder.call(fn, [builder.bitcast(ary.data, ir.IntType(8).as_pointer())])
        return context.get_dummy_value()

    return types.void(arrays), codegen


release: Any = intrinsic(_release_typing)
"""``release((a, b, ...))`` frees arrays made by :func:`zeros` (numba only)."""


# ----------------------------------------------------------------------------------------------
# Lanes and error slots, the bookkeeping both kernels share.


@njit(inline="always")  # type: ignore[misc]
def active_lanes(n_seq: Any) -> Any:
    """(lanes, n): the nets that train at all (``n_seq > 0``), in order; chunks pack these."""
    lanes = np.empty(n_seq.shape[0], np.int64)
    n = 0
    for k in range(n_seq.shape[0]):
        if n_seq[k] > 0:
            lanes[n] = k
            n += 1
    return lanes, n


@njit(inline="always")  # type: ignore[misc]
def sort_slots(
    kk: int,
    kg: int,
    b: int,
    length: int,
    target_steps: Any,
    out_y: Any,
    slot_t: Any,
    slot_e: Any,
    any_err: Any,
) -> int:
    """Lane kk's used error slots of its sequence b, sorted by step into ``slot_t/slot_e[kk]``.

    Slots before step 0 or at/after the sequence's ``length`` are unused: their ``out_y`` is 0.
    Marks ``any_err[step]``; returns the number of used slots. Insertion sort, stable, O(E) for
    slots given in increasing order (the usual case).
    """
    n = 0
    for e in range(target_steps.shape[2]):
        st = target_steps[kg, b, e]
        if st < 0 or st >= length:
            for o in range(out_y.shape[3]):
                out_y[kg, b, e, o] = 0.0
            continue
        q = n
        while q > 0 and slot_t[kk, q - 1] > st:
            slot_t[kk, q] = slot_t[kk, q - 1]
            slot_e[kk, q] = slot_e[kk, q - 1]
            q -= 1
        slot_t[kk, q] = st
        slot_e[kk, q] = e
        n += 1
        any_err[st] = True
    return n


# ----------------------------------------------------------------------------------------------
# Argument checks of the Python entry points (one message style for both kernels).


def check_writable(arrays: dict[str, np.ndarray], written: set[str]) -> None:
    """Every array C-contiguous; those in ``written`` writeable as well."""
    for name, a in arrays.items():
        if not a.flags.c_contiguous or (name in written and not a.flags.writeable):
            raise ValueError(f"{name} must be C-contiguous (and writeable where written)")


def check_shapes(expect: dict[str, tuple[tuple[int, ...], tuple[int, ...]]]) -> None:
    """``{name: (got, want)}``: raise on the first mismatch."""
    for name, (got, want) in expect.items():
        if tuple(got) != want:
            raise ValueError(f"{name} has shape {tuple(got)}, expected {want}")


def check_sequences(idx: np.ndarray, lengths: np.ndarray, n_inputs: int) -> None:
    """Input indices within ``[0, I)`` and lengths within the padded length."""
    if idx.size and (idx.min() < 0 or idx.max() >= n_inputs):
        raise ValueError(f"input indices must lie in [0, {n_inputs})")
    if lengths.size and lengths.max() > idx.shape[2]:
        raise ValueError(f"lengths exceed the padded length T={idx.shape[2]}")


def dense_inputs(inputs: str, n_inputs: int, n_pairs: int, dense_max_per_pair: int) -> bool:
    """Resolve an input mode: "auto" goes dense when ``I <= dense_max_per_pair * A``."""
    if inputs not in INPUT_MODES:
        raise ValueError(f"inputs must be one of {sorted(INPUT_MODES)}, got {inputs!r}")
    if inputs != "auto":
        return inputs == "dense"
    return n_inputs <= dense_max_per_pair * max(n_pairs, 1)

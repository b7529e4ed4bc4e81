"""Double-precision exp, log and power as the C library computes them, on every CPU.

The engine promises the same results for the same scenario, seed and decisions on any machine. numpy keeps
that promise for float32 and for arithmetic, but not for float64 ``exp``, ``log`` and ``power``: on a CPU with
AVX-512 it runs vectorised versions of its own, which differ from the C library's in the last bit for some
inputs. One such bit in a relationship score once made a recorded price-war game replay differently on an
AVX2 machine (docs/rules.md section 1).

So every float64 ``exp``, ``log`` and ``power`` of a rule goes through here: numpy's loop where it calls the C
library (x86-64 without AVX-512, checked once at import), else the C library one number at a time
(:mod:`math`), which is what numpy gives on the machines without AVX-512. float32 arrays and other array
libraries (``xp``, such as CuPy) keep their own functions.
"""

from __future__ import annotations

import math
import platform
from typing import Any

import numpy as np

#: numpy's CPU features that switch its float64 exp, log or power to vectorised code of its own
_OWN_FLOAT64_LOOPS = ("AVX512F", "AVX512_SKX")


def _cpu_features() -> dict[str, bool]:
    try:
        from numpy._core._multiarray_umath import __cpu_features__  # numpy 2
    except ImportError:  # numpy 1.26
        from numpy.core._multiarray_umath import __cpu_features__
    return dict(__cpu_features__)


def numpy_calls_libm(machine: str | None = None, features: dict[str, bool] | None = None) -> bool:
    """Whether numpy's float64 exp, log and power loops call the C library here (x86-64 without AVX-512)."""
    machine = (machine or platform.machine()).lower()
    features = _cpu_features() if features is None else features
    return machine in ("x86_64", "amd64") and not any(features.get(f, False) for f in _OWN_FLOAT64_LOOPS)


NUMPY_IS_LIBM = numpy_calls_libm()


def _by_libm(fn: Any, x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    out = np.fromiter(map(fn, a.ravel().tolist()), np.float64, count=a.size).reshape(a.shape)
    return out[()] if out.ndim == 0 else out


def _is_float64(x: Any, xp: Any) -> bool:
    return xp is np and np.result_type(x) == np.float64


def _exp(v: float) -> float:
    try:
        return math.exp(v)
    except OverflowError:
        return math.inf


def exp(x: Any, xp: Any = np) -> Any:
    """e ** x, element by element; float64 numpy arrays as the C library computes it."""
    if NUMPY_IS_LIBM or not _is_float64(x, xp):
        return xp.exp(x)
    return _by_libm(_exp, x)


def _log(v: float) -> float:
    try:
        return math.log(v)
    except ValueError:  # zero, or a negative number
        return -math.inf if v == 0 else math.nan


def log(x: Any, xp: Any = np) -> Any:
    """The natural logarithm, element by element; float64 numpy arrays as the C library computes it."""
    if NUMPY_IS_LIBM or not _is_float64(x, xp):
        return xp.log(x)
    return _by_libm(_log, x)


def power(x: Any, y: float) -> np.ndarray:
    """x ** y for a float64 array `x` and a number `y`, as the C library's pow computes it."""
    if NUMPY_IS_LIBM:
        return np.power(x, y)

    def pow_(v: float) -> float:
        try:
            return math.pow(v, y)
        except OverflowError:
            return math.inf
        except ValueError:  # a negative number to a fractional power; zero to a negative one
            return math.inf if v == 0 else math.nan

    return _by_libm(pow_, x)

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

``exp`` has a faster way to the C library where numpy's own loop is not it: numpy's complex exp has no
vectorised code of its own and calls the C library's ``cexp``, whose real part for ``x + 0j`` is the C
library's ``exp(x)`` times 1.0 up to x = 709 (above, it scales). It is taken only where a check at import
finds it equal to :func:`math.exp` bit for bit, on numbers where numpy's real loop differs.
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


#: the largest x whose complex exp ``cexp(x + 0j)`` the C library computes as ``exp(x) * 1.0``
_CEXP_UNSCALED_UP_TO = 709.0


def _exp_by_cexp(x: Any) -> np.ndarray:
    """The C library's exp(x) as the real part of its cexp(x + 0j); the numbers above 709 (or NaN) one at a time."""
    a = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # those numbers are recomputed below, quietly as math does
        out = np.exp(a.astype(np.complex128)).real.copy()
    scaled = ~(a <= _CEXP_UNSCALED_UP_TO)
    if scaled.any():
        out[scaled] = _by_libm(_exp, a[scaled])
    return out[()] if out.ndim == 0 else out


def cexp_check_numbers() -> np.ndarray:
    """The 4,096 numbers the import-time check runs: half where the engine's numbers lie, half over exp's range."""
    x = np.random.default_rng(20261201).uniform(-745.0, 709.0, 4096)
    x[:2048] /= 20.0
    return x


def cexp_calls_libm() -> bool:
    """Whether numpy's complex exp gives the C library's exp bit for bit here, on :func:`cexp_check_numbers`."""
    x = cexp_check_numbers()
    return bool(np.array_equal(_exp_by_cexp(x), _by_libm(_exp, x)))


CEXP_IS_LIBM = not NUMPY_IS_LIBM and cexp_calls_libm()


def exp(x: Any, xp: Any = np) -> Any:
    """e ** x, element by element; float64 numpy arrays as the C library computes it."""
    if NUMPY_IS_LIBM or not _is_float64(x, xp):
        return xp.exp(x)
    if CEXP_IS_LIBM:
        return _exp_by_cexp(x)
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

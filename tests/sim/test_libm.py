"""sim/libm.py: float64 exp, log and power equal the C library's on every CPU, by either path."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

from crmsim.sim import libm

FIXTURES = Path(__file__).parents[1] / "fixtures"
EDGES = [0.0, -0.0, 1e-300, 5e-324, 1.0, -1.0, 709.0, 710.0, -745.0, -746.0, math.inf, -math.inf, math.nan]


def c_library(fn, values):
    out = []
    for v in values:
        try:
            out.append(fn(v))
        except OverflowError:
            out.append(math.inf)
        except ValueError:
            out.append(math.nan)
    return np.array(out)


PATHS = ["numpy where it calls libm", "numpy's complex exp", "one number at a time"]


def take_path(name, monkeypatch):
    """Make libm take the path `name` (numpy's own loop is the machine's: that path is tested where it is libm)."""
    if name == "numpy where it calls libm":
        return
    if name == "numpy's complex exp" and not libm.cexp_calls_libm():
        pytest.skip("numpy's complex exp is not the C library's exp on this machine (libm does not take it here)")
    monkeypatch.setattr(libm, "NUMPY_IS_LIBM", False)
    monkeypatch.setattr(libm, "CEXP_IS_LIBM", name == "numpy's complex exp")


@pytest.fixture(params=PATHS)
def path(request, monkeypatch):
    take_path(request.param, monkeypatch)
    return request.param


def test_exp_is_the_c_librarys_bit_for_bit(path):
    x = np.concatenate([np.random.default_rng(1).normal(0.0, 4.0, 20_000), EDGES])
    got = libm.exp(x)
    assert got.dtype == np.float64 and got.shape == x.shape
    np.testing.assert_array_equal(got, c_library(math.exp, x.tolist()))
    np.testing.assert_array_equal(libm.exp(x.reshape(-1, 3)[:5]), c_library(math.exp, x.reshape(-1, 3)[:5].ravel().tolist()).reshape(5, 3))
    near_the_top = np.linspace(705.0, 712.0, 701)  # where cexp scales (above 709) and where exp overflows
    np.testing.assert_array_equal(libm.exp(near_the_top), c_library(math.exp, near_the_top.tolist()))
    assert libm.exp(np.float64(2.0)).shape == () and float(libm.exp(2.0)) == math.exp(2.0)


def test_the_import_check_would_see_numpys_own_exp():
    """Where numpy's real exp is its own, it differs from the C library on some of the check's numbers; else the
    check could pass a complex exp that is numpy's own too."""
    x = libm.cexp_check_numbers()
    own = np.exp(x) != c_library(math.exp, x.tolist())
    if libm.NUMPY_IS_LIBM:
        assert not own.any()
    else:
        assert own.sum() >= 20
    assert libm.CEXP_IS_LIBM == (not libm.NUMPY_IS_LIBM and libm.cexp_calls_libm())


def test_log_is_the_c_librarys_bit_for_bit(path):
    x = np.concatenate([np.abs(np.random.default_rng(2).normal(0.0, 50.0, 20_000)), [0.0, -1.0, math.inf, math.nan, 5e-324]])
    with np.errstate(invalid="ignore", divide="ignore"):
        got = np.asarray(libm.log(x))
    expected = c_library(math.log, x.tolist())
    expected[x == 0] = -math.inf
    np.testing.assert_array_equal(got, expected)


def test_power_is_the_c_librarys_bit_for_bit(path):
    x = np.random.default_rng(3).uniform(0.0, 1.0, 5_000)
    np.testing.assert_array_equal(libm.power(x, 1.7), c_library(lambda v: math.pow(v, 1.7), x.tolist()))
    assert float(libm.power(0.81, 2.0)) == math.pow(0.81, 2.0)


def test_float32_keeps_numpys_own_loop(monkeypatch):
    monkeypatch.setattr(libm, "NUMPY_IS_LIBM", False)
    x = np.linspace(-3, 3, 101, dtype=np.float32)
    assert libm.exp(x).dtype == np.float32
    np.testing.assert_array_equal(libm.exp(x), np.exp(x))
    np.testing.assert_array_equal(libm.log(np.abs(x) + 1), np.log(np.abs(x) + 1))


@pytest.mark.parametrize(
    "machine, features, expected",
    [
        ("x86_64", {"AVX2": True, "AVX512F": False, "AVX512_SKX": False}, True),
        ("x86_64", {"AVX2": True, "AVX512F": True, "AVX512_SKX": True}, False),
        ("AMD64", {"AVX512F": False}, True),
        ("aarch64", {"ASIMD": True}, False),
    ],
)
def test_numpy_is_trusted_only_on_x86_64_without_avx512(machine, features, expected):
    assert libm.numpy_calls_libm(machine, features) is expected


@pytest.mark.parametrize("name", PATHS[1:])
def test_a_whole_game_gives_the_recorded_frames_by_the_c_library(name, monkeypatch):
    """The complex-exp and per-number paths give the numpy path of the machines without AVX-512: the recorded
    digests hold by each."""
    take_path(name, monkeypatch)
    spec = importlib.util.spec_from_file_location("record_frame_digests", FIXTURES / "record_frame_digests.py")
    recorder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recorder)
    recorded = json.loads((FIXTURES / "frame_digests.json").read_text(encoding="utf-8"))
    game = next(g for g in recorder.GAMES if g[0] == "classroom-v2")
    frames = recorder.game_frames(*game)
    for name, was in recorded[recorder.game_key(*game)].items():
        now = recorder.frame_digest(frames[name])
        for column, digest in was["columns"].items():
            if (name, column) not in recorder.REDEFINED:
                assert now["columns"][column]["values"] == digest["values"], f"{name}.{column}"

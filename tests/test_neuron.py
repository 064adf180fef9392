"""EIF neuron (spec §2.3) and the kernel's vectorised exponential."""

import numpy as np
import pytest

from balanced_stdp.neuron_update import exp_array
from balanced_stdp.simulation import simulate

BIAS = 1.3          # mV/ms, above the rheobase g_L(V_T − E_L − Δ_T) = 16/15 mV/ms
DURATION_S = 2.0


def isi_by_euler(dt_ms, bias=BIAS, v0=-75.0):
    """Time from reset to V ≥ V_th by forward Euler with step dt_ms (independent code)."""
    g_l, e_l, v_t, d_t, v_th = 1 / 15, -72.0, -55.0, 1.0, -50.0
    v, steps = v0, 0
    while v < v_th:
        v = v + dt_ms * (bias + g_l * (e_l - v) + g_l * d_t * np.exp((v - v_t) / d_t))
        steps += 1
    return steps * dt_ms


def isolated_neurons(**extra):
    """Ten neurons with every synaptic weight zero, driven by the constant bias only."""
    return simulate({
        "N": 10, "duration_s": DURATION_S, "seed": 4,
        "weights": {"ee": 0, "ei": 0, "ie": 0, "ii": 0, "ex": 0, "ix": 0},
        "neuron": {"bias_current_mv_per_ms": BIAS},
        "recording": {"sampled_synapses": 5, "sampled_pairs": 5},
        **extra}, progress=False)


def test_constant_current_rate_matches_independent_integration():
    ds = isolated_neurons()
    rates = ds.neuron_rate.squeeze().values
    # Same Euler step, independent code: the regular ISI is exactly reproduced, so the
    # count over the (T/2, T] window is floor or ceil of window/ISI.
    isi = isi_by_euler(0.1)
    window_ms = DURATION_S * 1000 / 2
    assert np.all(np.abs(rates * window_ms / 1000 - window_ms / isi) <= 1.0)
    # Fine-step reference (dt = 0.001 ms): the forward-Euler scheme at dt = 0.1 ms is
    # first order; its ISI error here is 0.3 %, so a 2 % bound on the rate.
    fine_rate_hz = 1000 / isi_by_euler(0.001)
    assert rates.mean() == pytest.approx(fine_rate_hz, rel=0.02)
    assert fine_rate_hz == pytest.approx(1000 / isi, rel=0.02)


def test_subthreshold_current_gives_no_spikes():
    ds = simulate({"N": 10, "duration_s": 1.0,
                   "weights": {"ee": 0, "ei": 0, "ie": 0, "ii": 0, "ex": 0, "ix": 0},
                   "neuron": {"bias_current_mv_per_ms": 1.0},   # below rheobase 16/15
                   "recording": {"sampled_synapses": 5, "sampled_pairs": 5}}, progress=False)
    assert float(ds.neuron_rate.sum()) == 0.0


def test_vectorised_exponential_accuracy():
    x = np.concatenate([np.linspace(-700, 700, 100_001), np.linspace(-30, 6, 100_001)])
    got = exp_array(x)
    np.testing.assert_allclose(got, np.exp(x), rtol=4.5e-16, atol=0)


def test_float32_exponential_accuracy():
    """The float32 exponential of ``precision: float32`` is within 2 float32 ulps
    (2.4e-7 relative) of the exact exp of its float32 argument, over the range a
    membrane potential can reach before the clamp (|a| ≤ 87)."""
    x = np.concatenate([np.linspace(-87, 87, 100_001),
                        np.linspace(-30, 6, 100_001)]).astype(np.float32)
    got = exp_array(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.astype(np.float64), np.exp(x.astype(np.float64)),
                               rtol=2.4e-7, atol=0)


def test_numba_cache_falls_back_when_package_dir_is_read_only(tmp_path, monkeypatch):
    import os

    from balanced_stdp.numba_cache import fallback_cache_dir

    package = tmp_path / "site-packages" / "balanced_stdp"
    package.mkdir(parents=True)
    environ = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert fallback_cache_dir(str(package), environ) is None           # writable: default
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if str(path).startswith(
        str(package)) else real_access(path, mode))
    assert fallback_cache_dir(str(package), environ) == str(tmp_path / "cache" / "balanced_stdp"
                                                            / "numba")
    # an explicit NUMBA_CACHE_DIR always wins
    assert fallback_cache_dir(str(package), {**environ, "NUMBA_CACHE_DIR": "/x"}) is None


def test_numba_cache_directory_changes_with_any_source_file(tmp_path):
    """The cache directory is keyed by a digest of the sources: editing any module (here
    one the kernel only calls into) selects a new directory, so no function compiled from
    the old sources is ever loaded; identical sources give the same directory."""
    from balanced_stdp.numba_cache import cache_dir

    package = tmp_path / "balanced_stdp"
    (package / "theory").mkdir(parents=True)
    (package / "kernel.py").write_text("def run(): return callee()\n")
    (package / "synapse_update.py").write_text("def callee(): return 1\n")
    (package / "theory" / "transfer.py").write_text("x = 1\n")
    environ = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    first = cache_dir(str(package), environ)
    assert first.startswith(str(tmp_path / "cache" / "source-"))
    assert cache_dir(str(package), environ) == first
    (package / "synapse_update.py").write_text("def callee(): return 2\n")
    second = cache_dir(str(package), environ)
    (package / "theory" / "transfer.py").write_text("x = 2\n")
    assert len({first, second, cache_dir(str(package), environ)}) == 3
    # without NUMBA_CACHE_DIR: below the package's own __pycache__
    assert cache_dir(str(package), {}).startswith(str(package / "__pycache__" / "numba"))

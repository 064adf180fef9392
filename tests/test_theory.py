"""Tests of the mean-field theory's rates, covariances and kernels (spec §6.1–6.3), its
datasets and the Δ correction (§6.6–6.7), against the reference numbers of spec §9 (the
weight dynamics: test_theory_weight_dynamics.py).

Reference numbers quoted in the spec with k significant digits are checked to half a
unit of their last quoted digit (:func:`assert_quoted`); closed forms are checked to
1e-9 relative. Everything here is fast (no simulation).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr
from scipy import integrate, special

from balanced_stdp import theory
from balanced_stdp.config import config_to_json, resolve_config
from balanced_stdp.contract import rule_label
from balanced_stdp.theory.covariance import (count_covariance, count_covariance_closed_form,
                                             kernel_integrals, network_cross_spectrum,
                                             network_kernel_integrals)
from balanced_stdp.theory.mean_field_network import Network, NoBalancedStateError

R_X = 0.01          # kHz
TAU = 200.0         # ms


def assert_quoted(value: float, quoted: str):
    """``value`` equals the spec's number ``quoted`` to half a unit of its last digit."""
    mantissa, _, exponent = quoted.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    tolerance = 0.5 * 10.0 ** (-decimals + (int(exponent) if exponent else 0))
    assert abs(value - float(quoted)) <= tolerance * (1 + 1e-9), (value, quoted)


def config(**kw):
    return resolve_config(kw)


def rates_hz(cfg, weights=None, delta=None):
    net = Network.from_config(cfg)
    return 1000.0 * net.balanced_rates(weights, delta)


# ------------------------------------------------------------------ §6.1 balanced rates
def test_default_matrices_and_rates():
    net = Network.from_config(config())
    w = net.recurrent_matrix(net.initial_weights)
    np.testing.assert_allclose(w, [[2, -3], [9, -5]], rtol=1e-12)
    np.testing.assert_allclose(net.external_matrix().ravel(), [3.6, 2.7], rtol=1e-12)
    assert w[0, 0] * w[1, 1] - w[0, 1] * w[1, 0] == pytest.approx(17.0, rel=1e-12)
    r = rates_hz(config())
    np.testing.assert_allclose(r, [99 / 17, 270 / 17], rtol=1e-12)
    assert_quoted(r[0], "5.824")
    assert_quoted(r[1], "15.882")


# j_ee = 0 is the lowest allowed weight: a negative E→E weight breaks Dale's law and is refused.
@pytest.mark.parametrize("j_ee", [0.0, 1.0, 3.0, 20.0, 44.0])
def test_rates_closed_form_jei_minus_100(j_ee):
    r = rates_hz(config(weights={"ee": j_ee, "ei": -100}))
    assert r[0] == pytest.approx(1000 * 0.315 / (45 - j_ee), rel=1e-10)
    assert r[1] == pytest.approx(1000 * (0.81 - 0.0054 * j_ee) / (45 - j_ee), rel=1e-10)


@pytest.mark.parametrize("j_ee", [1.0, 25.0, 30.0, 60.0])
def test_rates_closed_form_jei_minus_150(j_ee):
    r = rates_hz(config(weights={"ee": j_ee, "ei": -150}))
    assert r[0] == pytest.approx(1000 * 0.2475 / (67.5 - j_ee), rel=1e-10)
    assert r[1] == pytest.approx(1000 * (0.81 - 0.0054 * j_ee) / (67.5 - j_ee), rel=1e-10)


def test_rates_reference_points():
    r = rates_hz(config(weights={"ee": 1, "ei": -100}))
    assert_quoted(r[0], "7.16")
    assert_quoted(r[1], "18.3")
    r = rates_hz(config(weights={"ee": 30, "ei": -150}))
    assert_quoted(r[0], "6.6")
    assert_quoted(r[1], "17.28")


def test_no_balanced_state_d_not_positive():
    # j_ee = 50, j_ei = -100: D = 4·(-5) - (-2)·9 = -2
    with pytest.raises(NoBalancedStateError, match=r"D = .*-2 is not > 0"):
        rates_hz(config(weights={"ee": 50, "ei": -100}))


def test_no_balanced_state_ratio_condition():
    # j_ex = 50: w_ex/w_ix = 0.37 < w_ei/w_ii = 0.6 with D = 17 > 0, so r_e < 0
    with pytest.raises(NoBalancedStateError, match=r"w_ex/w_ix > w_ei/w_ii fails"):
        rates_hz(config(weights={"ex": 50}))


def test_no_balanced_state_raised_by_predict():
    with pytest.raises(NoBalancedStateError, match="D ="):
        theory.predict({"N": 1000, "duration_s": 1.0, "weights": {"ee": 50, "ei": -100}})


def test_no_balanced_state_three_populations():
    cfg = config(N=1000, duration_s=10.0, weights={"ex": 40},
                 optogenetics={"enabled": True, "start_s": 1, "stop_s": 2})
    with pytest.raises(NoBalancedStateError, match="r_E1 = .*three-population"):
        rates_hz(cfg)


def test_three_population_reduces_to_two_with_laser_off():
    cfg3 = config(N=1000, duration_s=10.0,
                  optogenetics={"enabled": True, "stimulated_fraction": 0.5, "start_s": 1,
                                "stop_s": 2})
    r3 = rates_hz(cfg3)
    r2 = rates_hz(config(N=1000))
    np.testing.assert_allclose(r3, [r2[0], r2[0], r2[1]], rtol=1e-12)


# ------------------------------------------------------------ §6.2 count covariances
def test_count_covariance_reference_c_positive():
    cfg = config(c=0.1)
    net = Network.from_config(cfg)
    cov = count_covariance(net, net.initial_weights, 250.0)
    closed = count_covariance_closed_form(net.balanced_rates(), 0.1, R_X, 250.0)
    np.testing.assert_allclose(cov, closed, rtol=1e-10)
    for value, quoted in zip([cov[0, 0], cov[0, 1], cov[1, 1]], ["0.08478", "0.23123", "0.63062"]):
        assert_quoted(value, quoted)


def test_count_covariance_reference_c_zero_scales_as_one_over_n():
    for n, factor in [(5000, 1.0), (10000, 0.5)]:
        net = Network.from_config(config(N=n))
        cov = count_covariance(net, net.initial_weights, 250.0)
        closed = count_covariance_closed_form(net.balanced_rates(), 0.0, R_X, 250.0, n, 0.2)
        np.testing.assert_allclose(cov, closed, rtol=1e-10)
        for value, quoted in zip([cov[0, 0], cov[0, 1], cov[1, 1]],
                                 ["8.478e-4", "2.312e-3", "6.306e-3"]):
            assert_quoted(value / factor, quoted)


def test_cross_spectrum_at_zero_matches_closed_form_and_is_hermitian():
    net = Network.from_config(config(c=0.3))
    omega = np.array([0.0, 0.01, 0.1, 0.5])
    spec = network_cross_spectrum(net, net.initial_weights, omega)
    r = net.balanced_rates()
    np.testing.assert_allclose(spec[0].real, 0.3 * np.outer(r, r) / R_X, rtol=1e-12)
    np.testing.assert_allclose(spec, np.conj(np.swapaxes(spec, 1, 2)), atol=1e-18)
    # C̃(-ω) = conj C̃(ω): the population cross-covariance functions are real
    np.testing.assert_allclose(network_cross_spectrum(net, net.initial_weights, -omega),
                               np.conj(spec), atol=1e-18)


# ------------------------------------------------------------ §6.3 kernel integrals
def _time_domain_k(c_of_u, tau, support):
    """K+, K- by adaptive quadrature of the covariance function in time."""
    lo, hi = support
    k_plus = integrate.quad(lambda u: math.exp(-u / tau) * c_of_u(u), 0, hi, limit=400,
                            epsabs=0, epsrel=1e-12)[0]
    k_minus = integrate.quad(lambda u: math.exp(u / tau) * c_of_u(u), lo, 0, limit=400,
                             epsabs=0, epsrel=1e-12)[0]
    return k_plus, k_minus


@pytest.mark.parametrize("tau,shift,width", [(200.0, 0.0, 7.07), (200.0, 6.0, 5.0),
                                             (50.0, -15.0, 12.0), (20.0, 3.0, 2.0)])
def test_kernel_integrals_shifted_gaussian(tau, shift, width):
    """C(u) = A·N(u; u0, s²): C̃(ω) = A e^{-ω²s²/2} e^{-iωu0}; K± in closed form (erfc)."""
    amplitude = 0.37

    def spectrum(w):
        return amplitude * np.exp(-(w * width) ** 2 / 2) * np.exp(-1j * w * shift)

    k, k_plus, k_minus = kernel_integrals(spectrum, tau)
    s2 = width ** 2
    plus_exact = amplitude * math.exp(-shift / tau + s2 / (2 * tau**2)) * 0.5 * special.erfc(
        (s2 / tau - shift) / (width * math.sqrt(2)))
    minus_exact = amplitude * math.exp(shift / tau + s2 / (2 * tau**2)) * 0.5 * special.erfc(
        (shift + s2 / tau) / (width * math.sqrt(2)))

    def gauss(u):
        return amplitude * math.exp(-(u - shift) ** 2 / (2 * s2)) / math.sqrt(2 * math.pi * s2)

    td_plus, td_minus = _time_domain_k(gauss, tau, (shift - 40 * width, shift + 40 * width))
    assert k_plus == pytest.approx(plus_exact, rel=1e-8)
    assert k_minus == pytest.approx(minus_exact, rel=1e-8)
    assert td_plus == pytest.approx(plus_exact, rel=1e-9)
    assert td_minus == pytest.approx(minus_exact, rel=1e-9)
    assert k == pytest.approx(plus_exact + minus_exact, rel=1e-8)


@pytest.mark.parametrize("theta", [1.0, 8.0, 40.0])
def test_kernel_integrals_one_sided_exponential(theta):
    """C(u) = A e^{-u/θ}/θ for u > 0 only: C̃ = A/(1 + iωθ) decays slowly (1/ω);
    K⁺ = Aτ/(τ + θ) and K⁻ = 0 exactly."""
    amplitude, tau = 2.5, 200.0
    k, k_plus, k_minus = kernel_integrals(lambda w: amplitude / (1 + 1j * w * theta), tau)
    assert k_plus == pytest.approx(amplitude * tau / (tau + theta), rel=1e-7)
    assert abs(k_minus) < 1e-7 * amplitude
    td_plus, _ = _time_domain_k(lambda u: amplitude * math.exp(-u / theta) / theta, tau,
                                (-1.0, 60 * theta))
    assert td_plus == pytest.approx(amplitude * tau / (tau + theta), rel=1e-9)


def test_network_kernels_against_adaptive_quadrature_and_time_domain():
    """Log-Gauss–Legendre K of the network spectrum vs scipy quad, and vs the time
    integral of C(u) obtained by an FFT of C̃ (an independent route)."""
    cfg = config(c=0.1, tau_stdp_ms=50.0)
    net = Network.from_config(cfg)
    w = net.initial_weights
    k, k_plus, k_minus = network_kernel_integrals(net, w)
    tau = 50.0

    def quad_k(a, b, kernel):
        f = lambda om: np.real(network_cross_spectrum(net, w, np.array([om]))[0, a, b]  # noqa: E731
                               * kernel(om)) / math.pi
        return integrate.quad(f, 0, np.inf, limit=500, epsabs=0, epsrel=1e-11)[0]

    for a in range(2):
        for b in range(2):
            kp = quad_k(a, b, lambda om: tau / (1 - 1j * om * tau))
            km = quad_k(a, b, lambda om: tau / (1 + 1j * om * tau))
            assert k_plus[a, b] == pytest.approx(kp, rel=1e-8)
            assert k_minus[a, b] == pytest.approx(km, rel=1e-8)
    # time domain: C(u) on a periodic grid by inverse FFT of C̃
    du, n = 0.125, 2 ** 16
    omega = 2 * np.pi * np.fft.fftfreq(n, du)
    spec = network_cross_spectrum(net, w, omega)
    c_u = np.fft.ifft(spec, axis=0).real / du          # C(u_k), u_k = k·du (wrapped)
    u = np.fft.fftfreq(n, 1.0 / (n * du))
    causal = np.exp(-np.abs(u) / tau) * ((u > 0) + 0.5 * (u == 0))     # trapezoid at u = 0
    acausal = np.exp(-np.abs(u) / tau) * ((u < 0) + 0.5 * (u == 0))
    td_plus = np.sum(causal[:, None, None] * c_u, axis=0) * du
    td_minus = np.sum(acausal[:, None, None] * c_u, axis=0) * du
    np.testing.assert_allclose(k_plus, td_plus, rtol=1e-5)
    np.testing.assert_allclose(k_minus, td_minus, rtol=1e-5)
    # symmetric pairs: K+ = K- = K/2; EI is asymmetric
    for a in range(2):
        assert k_plus[a, a] == pytest.approx(k_minus[a, a], rel=1e-12)
        assert k_plus[a, a] == pytest.approx(k[a, a] / 2, rel=1e-12)
    assert abs(k_plus[0, 1] - k_minus[0, 1]) > 1e-3 * abs(k[0, 1])
    # attenuation: 0 < K < C̃(0)
    c0 = network_cross_spectrum(net, w, np.array([0.0]))[0].real
    assert np.all((k > 0) & (k < c0))


def test_kernels_vanish_at_zero_correlation():
    net = Network.from_config(config())
    k, k_plus, k_minus = network_kernel_integrals(net, net.initial_weights)
    assert not np.any(k) and not np.any(k_plus) and not np.any(k_minus)


# ------------------------------------------------------------ output contract
def test_predict_dataset_contract(tmp_path):
    user = {"N": 1000, "duration_s": 2.0, "c": 0.1, "seed": 7,
            "recording": {"interval_s": 0.1}, "weights": {"ee": 1, "ei": -100},
            "plasticity": {"ee": {"rule": "kohonen"}}, "sweep_dims": ["weights.ei"]}
    ds = theory.predict(user)
    cfg = resolve_config(user)
    assert ds.attrs["config"] == config_to_json(cfg)
    expected_units = {
        "mean_weight": "mV", "fixed_point_weight": "mV", "fixed_point_rate": "Hz",
        "balanced_rate": "Hz", "spike_count_cov": "spikes2", "stable": "1",
        "jacobian_eigenvalue_real": "s-1", "jacobian_eigenvalue_imag": "s-1",
        "population_rate": "Hz"}
    for name, units in expected_units.items():
        assert ds[name].attrs["units"] == units
    for name, var in ds.data_vars.items():
        assert "long_name" in var.attrs, name
        if name != "stability":
            assert "units" in var.attrs, name
        for dim in ("rule", "c", "seed", "weights_ei"):
            assert dim in var.dims, (name, dim)
    assert ds["rule"].values.tolist() == [rule_label(cfg)]
    assert ds["c"].values.tolist() == [0.1] and ds["seed"].values.tolist() == [7]
    assert ds["weights_ei"].values.tolist() == [-100.0]
    assert ds["synapse"].values.tolist() == ["ee", "ei", "ie", "ii"]
    assert ds["pair_type"].values.tolist() == ["ee", "ei", "ii"]
    assert ds["population"].values.tolist() == ["E", "I"]
    # the simulator's record grid: integer steps × dt
    np.testing.assert_array_equal(ds["time"].values, np.arange(1, 21) * 1000 * 0.1 / 1000.0)
    assert ds["mean_weight"].dims[-2:] == ("synapse", "time")
    path = tmp_path / "theory.nc"
    ds.to_netcdf(path)
    back = xr.open_dataset(path)
    assert json.loads(back.attrs["config"]) == cfg
    np.testing.assert_allclose(back["fixed_point_weight"], ds["fixed_point_weight"])
    assert str(back["stability"].values.ravel()[0]) == "stable node"


# ------------------------------------------------------------ §6.6–6.7 Δ correction
def synthetic_run(user: dict, rate_e_hz, rate_i_hz, input_e, input_i, weight_rate_cov,
                  mean_weights):
    """A minimal run dataset (data contract) with prescribed per-neuron values."""
    cfg = resolve_config(user)
    n = cfg["N"]
    n_e = round(0.8 * n)
    rng = np.random.default_rng(0)
    rate = np.concatenate([rate_e_hz + rng.normal(0, 1, n_e),
                           rate_i_hz + rng.normal(0, 1, n - n_e)])
    rate[:n_e] += rate_e_hz - rate[:n_e].mean()
    rate[n_e:] += rate_i_hz - rate[n_e:].mean()
    total = np.concatenate([np.full(n_e, input_e), np.full(n - n_e, input_i)])
    neuron_input = np.stack([total * 0 + 50.0, total * 0 - 60.0, total + 10.0, total], axis=1)
    times = np.arange(1, 11) * cfg["duration_s"] / 10
    mean_weight = np.tile(np.array([mean_weights[s] for s in ("ee", "ei", "ie", "ii")])[:, None],
                          (1, times.size))
    ds = xr.Dataset(
        {"neuron_rate": (("neuron",), rate),
         "neuron_mean_input": (("neuron", "source"), neuron_input),
         "mean_weight": (("synapse", "time"), mean_weight),
         "final_weight_rate_cov": (("synapse",), np.array(
             [weight_rate_cov.get(s, 0.0) for s in ("ee", "ei", "ie", "ii")]))},
        coords={"neuron": np.arange(n),
                "neuron_population": ("neuron", ["E"] * n_e + ["I"] * (n - n_e)),
                "source": ["E", "I", "X", "total"], "synapse": ["ee", "ei", "ie", "ii"],
                "time": times})
    ds = ds.expand_dims({"rule": [rule_label(cfg)], "c": [cfg["c"]], "seed": [cfg["seed"]]})
    ds.attrs["config"] = config_to_json(cfg)
    return ds


def test_delta_measurement_and_corrected_istdp_fixed_point():
    user = {"N": 2000, "duration_s": 10.0, "weights": {"ei": -150},
            "plasticity": {"ei": {"rule": "istdp", "eta": 1e-3}}}
    run = synthetic_run(user, 9.0, 21.0, 0.8, -0.4, {"ei": 30.0},
                        {"ee": 25.0, "ei": -125.0, "ie": 112.5, "ii": -250.0})
    measured = theory.measure(run)
    sqrt_n = math.sqrt(2000)
    r = np.array([0.009, 0.021])
    w = np.array([[2.0, 0.02 * -125.0], [9.0, -5.0]])
    r_mean = sqrt_n * (w @ r + np.array([3.6, 2.7]) * R_X)
    np.testing.assert_allclose(measured.mean_field_input, r_mean, rtol=1e-10)
    np.testing.assert_allclose(measured.measured_input, [0.8, -0.4], rtol=1e-12)
    np.testing.assert_allclose(measured.delta, (np.array([0.8, -0.4]) - r_mean) / sqrt_n,
                               rtol=1e-10)
    corrected = theory.predict_from_simulation(run).squeeze(drop=True)
    delta = measured.delta
    rho = 0.01
    r_i = -(9.0 * rho + 2.7 * R_X + delta[1]) / -5.0
    j_ei = -(2.0 * rho + 3.6 * R_X + delta[0]) / (0.02 * r_i)
    assert float(corrected["fixed_point_weight"].sel(synapse="ei")) == pytest.approx(j_ei, rel=1e-9)
    assert float(corrected["fixed_point_rate"].sel(population="I")) == pytest.approx(1000 * r_i,
                                                                                      rel=1e-9)
    assert float(corrected["leading_order_fixed_point_weight"].sel(synapse="ei")) == \
        pytest.approx(-119.658, abs=5e-4)
    # rate–weight covariance term and the manifold relation (spec §6.7)
    assert float(corrected["rate_weight_cov_input"].sel(population="E")) == pytest.approx(
        sqrt_n * 0.1 * 0.2 * 30.0 / 1000, rel=1e-10)
    j0 = float(corrected["leading_order_fixed_point_weight"].sel(synapse="ei"))
    assert float(corrected["manifold_weight"].sel(synapse="ei")) == pytest.approx(
        j0 - 30.0 / 23.4, rel=1e-6)
    # the Δ used is stored with the prediction
    np.testing.assert_allclose(corrected["finite_size_delta"], delta, rtol=1e-12)


def test_net_input_delta_makes_measured_state_balanced():
    """Net-input variant: Δ = −R_mean/√N, so r(W̄) reproduces the measured rates, and the
    Kohonen fixed point becomes j* = β₀ τ r_e(j*) through the measured state."""
    user = {"N": 2000, "duration_s": 10.0, "weights": {"ee": 1, "ei": -100},
            "plasticity": {"ee": {"rule": "kohonen", "eta": 1e-2}}}
    weights = {"ee": 2.0, "ei": -100.0, "ie": 112.5, "ii": -250.0}
    run = synthetic_run(user, 5.5, 13.5, 0.5, 0.45, {"ee": 12.0}, weights)
    measured = theory.measure(run, net_input=True)
    np.testing.assert_allclose(measured.delta, -measured.mean_field_input / math.sqrt(2000),
                               rtol=1e-12)
    net = Network.from_config(resolve_config(user))
    w_bar = np.array([[2.0, -100.0], [112.5, -250.0]])
    np.testing.assert_allclose(net.balanced_rates(w_bar, measured.delta), [0.0055, 0.0135],
                               rtol=1e-10)
    corrected = theory.predict_from_simulation(run, net_input=True).squeeze(drop=True)
    j_star = float(corrected["fixed_point_weight"].sel(synapse="ee"))
    r_e = float(corrected["fixed_point_rate"].sel(population="E")) / 1000
    assert j_star == pytest.approx(2.0 * TAU * r_e, rel=1e-9)
    assert "net-input" in corrected.attrs["delta_source"]


def test_unbalanced_initial_state_still_has_istdp_fixed_point():
    """j_ei(0) = −55 (end of the spec Fig 7 sweep) admits no balanced state (D < 0), but the
    iSTDP fixed point −119.658 mV does; predict() reports NaN rates instead of failing."""
    from balanced_stdp.theory import predict
    ds = predict({"N": 1000, "duration_s": 2.0, "weights": {"ei": -55.0},
                  "plasticity": {"ei": {"rule": "istdp", "eta": 5e-3}}})
    assert np.isnan(ds.balanced_rate.values).all()
    assert float(ds.balance_lost_at_s.squeeze()) == 0.0
    assert float(ds.fixed_point_weight.sel(synapse="ei").squeeze()) == pytest.approx(-119.658,
                                                                                      abs=1e-3)

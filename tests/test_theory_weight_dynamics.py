"""Tests of the mean-field weight dynamics (spec §6.4–6.5, §6.8, §6.10): fixed points,
their stability and saddle-nodes, the shift with input correlations and the trajectories,
against the reference numbers of spec §9 (quoted numbers to half a unit of their last
digit, :func:`test_theory.assert_quoted`; closed forms to 1e-9 relative). Fast (no
simulation).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from balanced_stdp import theory
from balanced_stdp.config import resolve_config
from balanced_stdp.theory.bifurcation import fixed_point_branches, saddle_node
from balanced_stdp.theory.covariance import network_cross_spectrum, network_kernel_integrals
from balanced_stdp.theory.dynamics import MeanFieldModel
from balanced_stdp.theory.mean_field_network import Network
from test_theory import R_X, TAU, assert_quoted, config


# ------------------------------------------------------------ §6.4–6.5 fixed points
KOHONEN = {"weights": {"ee": 1, "ei": -100}, "plasticity": {"ee": {"rule": "kohonen",
                                                                  "eta": 1e-3, "beta0": 2.0}}}


def plastic(fp, model):
    return np.array([fp.block_weights[b.post, b.pre] for b in model.blocks])


@pytest.mark.parametrize("beta0", [1.0, 2.0, 3.4, 6.0])
def test_kohonen_fixed_point_closed_form(beta0):
    cfg = config(weights={"ee": 1, "ei": -100},
                 plasticity={"ee": {"rule": "kohonen", "eta": 1e-3, "beta0": beta0}})
    model = MeanFieldModel(cfg)
    fp = model.fixed_point()
    j_star = (45 - math.sqrt(2025 - 252 * beta0)) / 2
    assert plastic(fp, model)[0] == pytest.approx(j_star, rel=1e-9)
    assert fp.label == "stable node"
    # linearisation (spec §6.9): λ = η r_e* (2j* − 45)/(45 − j*)
    r_e = 0.315 / (45 - j_star)
    assert fp.eigenvalues_per_ms[0].real == pytest.approx(
        1e-3 * r_e * (2 * j_star - 45) / (45 - j_star), rel=1e-6)


def test_kohonen_reference_numbers():
    model = MeanFieldModel(config(**KOHONEN))
    fp = model.fixed_point()
    assert_quoted(plastic(fp, model)[0], "3.000")
    assert_quoted(1000 * fp.rates_khz[0], "7.500")
    assert_quoted(1000 * fp.rates_khz[1], "18.900")
    assert_quoted(fp.eigenvalues_per_ms[0].real / 1e-3, "-0.00696")


def test_kohonen_weak_inhibition_root():
    cfg = config(weights={"ee": 1, "ei": -150}, plasticity={"ee": {"rule": "kohonen"}})
    model = MeanFieldModel(cfg)
    fp = model.fixed_point()
    assert plastic(fp, model)[0] == pytest.approx(1.5, rel=1e-9)
    assert 1000 * fp.rates_khz[0] == pytest.approx(3.75, rel=1e-9)


def test_kohonen_saddle_node():
    fold = saddle_node(config(**KOHONEN), "plasticity.ee.beta0", 2.0, 12.0, (0.0, 44.9))
    assert fold["parameter"] == pytest.approx(2025 / 252, rel=1e-8)
    assert_quoted(fold["parameter"], "8.0357")
    assert fold["weight"] == pytest.approx(22.5, rel=1e-5)


def test_kohonen_branches_match_the_closed_form():
    """Both roots of j² − 45 j + 63 β₀ = 0 (spec §6.5), stable below 22.5, none past the fold."""
    betas = [1.0, 4.0, 8.0, 8.2]
    branches = fixed_point_branches(config(**KOHONEN), "plasticity.ee.beta0", betas, (0.0, 44.9))
    weights = branches["fixed_point_weight"].values
    stable = branches["stable"].values
    for row, beta in enumerate(betas[:3]):
        root = math.sqrt(2025 - 252 * beta)
        assert weights[row, :2] == pytest.approx([(45 - root) / 2, (45 + root) / 2], rel=1e-9)
        assert stable[row, :2].tolist() == [1, 0]
    assert np.isnan(weights[3]).all() and (stable[3] == -1).all()


def test_kohonen_unstable_root_is_labelled():
    model = MeanFieldModel(config(**KOHONEN))
    j_unstable = (45 + math.sqrt(2025 - 252 * 2)) / 2
    fp = model.fixed_point([np.array([j_unstable + 0.01])])
    assert plastic(fp, model)[0] == pytest.approx(j_unstable, rel=1e-9)
    assert fp.label == "unstable" and not fp.stable


def test_soft_hebbian_fixed_point_any_c():
    for c in (0.0, 0.1, 0.5):
        model = MeanFieldModel(config(c=c, plasticity={"ee": {"rule": "soft_hebbian"}}))
        fp = model.fixed_point()
        assert plastic(fp, model)[0] == pytest.approx(30.0, rel=1e-10)
    model = MeanFieldModel(config(plasticity={"ee": {"rule": "soft_hebbian", "eta": 1e-3}}))
    fp = model.fixed_point()
    assert_quoted(1000 * fp.rates_khz[0], "6.6")
    assert_quoted(1000 * fp.rates_khz[1], "17.28")
    assert_quoted(fp.eigenvalues_per_ms[0].real / 1e-3, "-0.00871")   # λ = −η τ r_e²
    assert fp.eigenvalues_per_ms[0].real == pytest.approx(-1e-3 * TAU * 0.0066 ** 2, rel=1e-9)


@pytest.mark.parametrize("tau,rate_quoted", [(200.0, "-0.001136"), (50.0, "-0.000284")])
def test_istdp_fixed_point_and_relaxation(tau, rate_quoted):
    n, eta = 5000, 1e-4
    model = MeanFieldModel(config(N=n, tau_stdp_ms=tau,
                                  plasticity={"ei": {"rule": "istdp", "eta": eta}}))
    fp = model.fixed_point()
    assert_quoted(plastic(fp, model)[0], "-119.658")
    assert_quoted(1000 * fp.rates_khz[1], "23.4")
    assert 1000 * fp.rates_khz[0] == pytest.approx(10.0, rel=1e-10)
    assert_quoted(fp.eigenvalues_per_ms[0].real / (eta * math.sqrt(n)), rate_quoted)


@pytest.mark.parametrize("j_ee,rho_e", [(25.0, 10.0), (15.0, 8.0), (30.0, 12.0)])
def test_istdp_closed_form(j_ee, rho_e):
    cfg = config(weights={"ee": j_ee},
                 plasticity={"ei": {"rule": "istdp", "target_rate_hz": rho_e}})
    model = MeanFieldModel(cfg)
    net = model.network
    w = net.recurrent_matrix(net.initial_weights)
    wx = net.external_matrix().ravel()
    rho = rho_e / 1000
    r_i = -(w[1, 0] * rho + wx[1] * R_X) / w[1, 1]
    j_ei = -(w[0, 0] * rho + wx[0] * R_X) / (0.1 * 0.2 * r_i)
    fp = model.fixed_point()
    assert plastic(fp, model)[0] == pytest.approx(j_ei, rel=1e-9)
    assert fp.rates_khz[1] == pytest.approx(r_i, rel=1e-9)
    assert fp.label == "stable node"


def test_ei_ii_fixed_point_reference():
    cfg = config(plasticity={"ei": {"rule": "istdp"},
                             "ii": {"rule": "istdp", "target_rate_hz": 20.0}})
    model = MeanFieldModel(cfg)
    fp = model.fixed_point()
    j_ei, j_ii = plastic(fp, model)
    assert_quoted(j_ei, "-140.0")
    assert_quoted(j_ii, "-292.5")
    # closed forms: r_e = ρ_e, r_i = ρ_i
    assert j_ei == pytest.approx(-(2 * 0.01 + 3.6 * R_X) / (0.02 * 0.02), rel=1e-9)
    assert j_ii == pytest.approx(-(9 * 0.01 + 2.7 * R_X) / (0.02 * 0.02), rel=1e-9)


@pytest.mark.parametrize("eta_ei,eta_ii,label", [
    (1e-4, 1e-4, "stable focus"),     # weakly damped oscillation
    (1e-3, 1e-4, "stable node"),      # slow II
    (1e-4, 1e-3, "unstable"),         # slow EI
])
def test_ei_ii_learning_rate_ratio_stability(eta_ei, eta_ii, label):
    cfg = config(plasticity={"ei": {"rule": "istdp", "eta": eta_ei, "j_norm": -200.0},
                             "ii": {"rule": "istdp", "eta": eta_ii, "j_norm": -200.0,
                                    "target_rate_hz": 23.0}})
    fp = MeanFieldModel(cfg).fixed_point()
    assert fp.label == label
    if label == "stable focus":   # weakly damped: |Re λ| well below |Im λ|
        ev = fp.eigenvalues_per_ms[0]
        assert abs(ev.real) < 0.2 * abs(ev.imag)


def test_classical_hebbian_has_no_selected_fixed_point():
    model = MeanFieldModel(config(c=0.1, plasticity={"ee": {"rule": "classical_hebbian"}}))
    assert model.drift(np.array([25.0]))[0] == pytest.approx(0.0, abs=1e-15)
    fp = model.fixed_point()
    assert fp.label == "neutral" and not fp.stable


# ------------------------------------------------------------ §6.8 input correlations
def test_correlation_shift_istdp_matches_attenuation_formula():
    c = 0.1
    model = MeanFieldModel(config(c=c, plasticity={"ei": {"rule": "istdp"}}))
    fp = model.fixed_point()
    net = model.network
    k, _, _ = network_kernel_integrals(net, fp.block_weights)
    c0 = network_cross_spectrum(net, fp.block_weights, np.array([0.0]))[0].real
    kappa = k[0, 1] / c0[0, 1]
    assert fp.rates_khz[0] == pytest.approx(0.01 / (1 + kappa * c / (2 * TAU * R_X)), rel=1e-7)
    assert 0 < kappa < 1


def test_correlation_shift_kohonen_matches_attenuation_formula():
    c = 0.1
    model = MeanFieldModel(config(c=c, **KOHONEN))
    fp = model.fixed_point()
    _, _, k_minus = network_kernel_integrals(model.network, fp.block_weights)
    c0 = network_cross_spectrum(model.network, fp.block_weights, np.array([0.0]))[0].real
    kappa_minus = k_minus[0, 0] / c0[0, 0]
    r_e = fp.rates_khz[0]
    assert plastic(fp, model)[0] == pytest.approx(2.0 * r_e * (TAU + kappa_minus * c / R_X),
                                                  rel=1e-7)
    assert plastic(fp, model)[0] > 3.0       # correlations raise the Kohonen weight


def test_parameter_sweep_in_c_is_monotone_and_starts_at_reference():
    ds = theory.parameter_sweep(KOHONEN, "c", [0.0, 0.25, 0.5])
    j = ds["fixed_point_weight"].sel(synapse="ee").values
    assert j[0] == pytest.approx(3.0, rel=1e-9)
    assert np.all(np.diff(j) > 0)
    assert ds["stable"].values.tolist() == [1, 1, 1]


# ------------------------------------------------------------ §6.4 trajectories
@pytest.mark.parametrize("user", [
    KOHONEN | {"N": 5000, "duration_s": 1500.0},
    {"N": 5000, "duration_s": 800.0, "plasticity": {"ee": {"rule": "soft_hebbian",
                                                           "eta": 5e-3}}},
    {"N": 5000, "duration_s": 1500.0, "plasticity": {"ei": {"rule": "istdp", "eta": 1e-4}}},
    {"N": 5000, "duration_s": 3000.0, "c": 0.1,
     "plasticity": {"ei": {"rule": "istdp", "eta": 1e-3},
                    "ii": {"rule": "istdp", "eta": 1e-3, "target_rate_hz": 20.0}}},
])
def test_trajectories_converge_to_fixed_points(user):
    user = dict(user, recording={"interval_s": 10.0})
    ds = theory.predict(user).squeeze(drop=True)
    final = ds["mean_weight"].isel(time=-1)
    np.testing.assert_allclose(final, ds["fixed_point_weight"], rtol=2e-4)
    np.testing.assert_allclose(ds["population_rate"].isel(time=-1), ds["fixed_point_rate"],
                               rtol=2e-3)
    assert int(ds["stable"]) == 1


def test_trajectory_time_scale_includes_sqrt_n():
    """Relaxation of iSTDP in real time: after t, j − j* ≈ (j0 − j*) e^{λt} with λ ∝ √N."""
    for n in (2000, 8000):
        ds = theory.predict({"N": n, "duration_s": 200.0, "recording": {"interval_s": 1.0},
                             "weights": {"ei": -119.6},
                             "plasticity": {"ei": {"rule": "istdp", "eta": 1e-4}}})
        ds = ds.squeeze(drop=True)
        j_star = float(ds["fixed_point_weight"].sel(synapse="ei"))
        lam = float(ds["jacobian_eigenvalue_real"].values.ravel()[0])      # s⁻¹
        assert lam == pytest.approx(-1.136e-3 * 1e-4 * math.sqrt(n) * 1000, rel=1e-3)
        gap = ds["mean_weight"].sel(synapse="ei") - j_star
        t = 100.0
        expected = (-119.6 - j_star) * math.exp(lam * t)
        assert float(gap.sel(time=t)) == pytest.approx(expected, rel=2e-3)


def test_kohonen_beyond_saddle_node_loses_balance():
    ds = theory.predict({"N": 5000, "duration_s": 300.0, "recording": {"interval_s": 1.0},
                         "weights": {"ee": 1, "ei": -100},
                         "plasticity": {"ee": {"rule": "kohonen", "eta": 1e-2, "beta0": 10}}})
    ds = ds.squeeze(drop=True)
    lost = float(ds["balance_lost_at_s"])
    assert 0 < lost < 300
    assert str(ds["stability"].values) == "none"
    assert np.isnan(float(ds["mean_weight"].sel(synapse="ee").isel(time=-1)))
    before = ds["mean_weight"].sel(synapse="ee").where(ds["time"] < lost, drop=True)
    # it accelerates towards the edge of balance (j = 45, r_e = 0.315/(45 − j) diverges)
    assert float(before.isel(time=-1)) > 30
    assert lost - float(before["time"][-1]) < 1.0
    assert np.all(np.diff(before.values) > 0)


def test_optogenetic_fixed_points_and_trajectory():
    user = {"N": 5000, "duration_s": 3000.0, "recording": {"interval_s": 5.0},
            "weights": {"ei": -250}, "plasticity": {"ei": {"rule": "istdp", "eta": 1e-4}},
            "optogenetics": {"enabled": True, "stimulated_fraction": 0.5, "start_s": 1000.0,
                             "stop_s": 2000.0}}
    ds = theory.predict(user).squeeze(drop=True)
    cfg = resolve_config(user)
    net = Network.from_config(cfg)
    w = net.recurrent_matrix(net.initial_weights)
    wx = net.external_matrix()
    rho = 0.01
    # spec §6.10: r_E1 = r_E2 = ρ_e; I row gives r_I; each E row gives its j_EkI
    r_i = -(w[2, 0] * rho + w[2, 1] * rho + wx[2, 0] * R_X) / w[2, 2]
    for laser, suffix in ((0.0, ""), (0.005, "_laser_on")):
        drive = wx @ np.array([R_X, laser])
        j = -(w[:2, 0] * rho + w[:2, 1] * rho + drive[:2]) / (0.1 * 0.2 * r_i)
        fp = ds["fixed_point_weight" + suffix]
        assert float(fp.sel(synapse="e1i")) == pytest.approx(j[0], rel=1e-8)
        assert float(fp.sel(synapse="e2i")) == pytest.approx(j[1], rel=1e-8)
        assert float(ds["fixed_point_rate" + suffix].sel(population="I")) == pytest.approx(
            1000 * r_i, rel=1e-8)
        assert int(ds["stable" + suffix]) == 1
    # before stimulation E1 and E2 stay identical and match the two-population model
    two_pop = theory.predict({k: v for k, v in user.items() if k != "optogenetics"})
    two_pop = two_pop.squeeze(drop=True)
    before = ds["mean_weight"].sel(time=995.0)
    assert float(before.sel(synapse="e1i")) == pytest.approx(float(before.sel(synapse="e2i")),
                                                             rel=1e-9)
    assert float(before.sel(synapse="e1i")) == pytest.approx(
        float(two_pop["mean_weight"].sel(synapse="ei", time=995.0)), rel=1e-6)
    # at laser onset E1 jumps above ρ_e, then returns to it as j_E1I deepens
    rate_e1 = ds["population_rate"].sel(population="E1")
    assert float(rate_e1.sel(time=1005.0)) > 12.0
    assert float(rate_e1.sel(time=1995.0)) == pytest.approx(10.0, abs=0.05)
    assert float(ds["mean_weight"].sel(synapse="e1i", time=1995.0)) == pytest.approx(
        float(ds["fixed_point_weight_laser_on"].sel(synapse="e1i")), rel=1e-3)
    # after the laser, E1 is under-driven and j_E1I relaxes back
    assert float(rate_e1.sel(time=2005.0)) < 8.0
    np.testing.assert_allclose(ds["mean_weight"].isel(time=-1), ds["fixed_point_weight"],
                               rtol=1e-3)


def test_optogenetic_trajectory_runs_through_the_window_with_rectified_rates():
    """A steep E gain makes the linear solution ask E2 (at onset) or E1 (at offset) for a
    negative rate; that group falls silent and the trajectory continues (no NaN)."""
    user = {"N": 2000, "duration_s": 90.0, "recording": {"interval_s": 0.5},
            "weights": {"ei": -250}, "plasticity": {"ei": {"rule": "istdp", "eta": 4e-3}},
            "optogenetics": {"enabled": True, "stimulated_fraction": 0.5, "start_s": 30.0,
                             "stop_s": 60.0}}
    ds = theory.predict(user, excitatory_gain_khz_per_mv_ms=0.05).squeeze(drop=True)
    weights = ds["mean_weight"].sel(synapse=["e1i", "e2i"])
    rates = ds["population_rate"]
    assert not np.isnan(weights).any() and np.isnan(float(ds["balance_lost_at_s"]))
    assert float(rates.sel(population="E1", time=60.5)) == 0.0       # silent after offset
    assert float(rates.sel(population="E2", time=60.5)) > 10.0
    assert (rates.sel(population="I") > 0).all()
    # the stimulated group's inhibition deepens under the laser to the laser-on fixed point
    # and relaxes back afterwards; the unstimulated group's ends where it started from
    assert float(weights.sel(synapse="e1i", time=59.5)) == pytest.approx(
        float(ds["fixed_point_weight_laser_on"].sel(synapse="e1i")), rel=1e-2)
    np.testing.assert_allclose(weights.isel(time=-1), ds["fixed_point_weight"].sel(
        synapse=["e1i", "e2i"]), rtol=1e-2)

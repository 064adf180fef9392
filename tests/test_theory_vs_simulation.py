"""Simulation against mean-field theory (slow; runs in CI, about 3–5 minutes on one core).

Small networks (N = 2000, plus one N = 4500 run) with learning rates raised so that the
mean weights converge within a minute or two of simulated time, while staying in the
timescale-separated regime of spec §6.9 (weight relaxation times ≥ 6 s ≫ τ_STDP = 0.2 s
and the synaptic/membrane time constants ≤ 15 ms). The comparisons, their tolerances
and the reasons for them are stated in each test's docstring. Run with ``pytest -s`` to
print the theory/simulation table.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from balanced_stdp import theory
from balanced_stdp.simulation import simulate

pytestmark = pytest.mark.slow
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

SEEDS = (1, 2)
RECORDING = {"interval_s": 0.5, "sampled_synapses": 200, "sampled_pairs": 10,
             "raster_duration_s": 0.0}
TABLE: list[tuple[str, float, list[float]]] = []


def late_mean(run, synapse: str, fraction: float = 0.25) -> float:
    """Mean weight averaged over the last ``fraction`` of the run (snapshots)."""
    weights = run["mean_weight"].sel(synapse=synapse).squeeze(drop=True)
    t_end = float(weights["time"].max())
    return float(weights.where(weights["time"] > (1 - fraction) * t_end, drop=True).mean())


def excitatory_rate_hz(run) -> float:
    run = run.squeeze(drop=True)
    labels = run["neuron_population"].values.astype(str)
    return float(np.mean(run["neuron_rate"].values[labels == "E"]))


def record(quantity: str, theory_value: float, simulated: list[float]):
    TABLE.append((quantity, theory_value, list(simulated)))


@pytest.fixture(scope="module", autouse=True)
def print_table():
    yield
    if TABLE:
        print("\n| quantity | theory | simulation (mean ± s.d.) | relative difference |")
        print("|---|---|---|---|")
        for quantity, value, sims in TABLE:
            mean = float(np.mean(sims))
            sd = float(np.std(sims, ddof=1)) if len(sims) > 1 else float("nan")
            print(f"| {quantity} | {value:.4g} | {mean:.4g} ± {sd:.2g} (n={len(sims)}) | "
                  f"{(mean - value) / abs(value):+.3f} |")


# ---------------------------------------------------------------------------- Kohonen
KOHONEN = {"N": 2000, "duration_s": 120.0, "weights": {"ee": 1.0, "ei": -100.0},
           "plasticity": {"ee": {"rule": "kohonen", "eta": 0.05, "beta0": 2.0}},
           "recording": RECORDING}


@pytest.fixture(scope="module")
def kohonen_runs():
    return [simulate(dict(KOHONEN, seed=seed), progress=False) for seed in SEEDS]


def test_kohonen_final_weight(kohonen_runs):
    """Kohonen (β₀ = 2, j_ei = −100, j_ee(0) = 1), N = 2000, η = 0.05, 120 s, 2 seeds.

    Timescale separation: each synapse relaxes at rate η r_post (spec §6.4 per synapse),
    i.e. in 1/(0.05 · 5 Hz) = 4 s for a typical E neuron ≫ τ_STDP = 0.2 s. 120 s is
    ≥ 5 such times for neurons above 0.8 Hz, so the mean weight is converged up to the
    few slow synapses onto near-silent neurons.

    Compared quantity: the mean weight averaged over the last 30 s against the Kohonen
    fixed point j* = β₀ (τ r_e(j*) + K⁻/r_e) of the theory whose rates pass through the
    simulated state (net-input Δ, :mod:`balanced_stdp.theory.measured_corrections`). This tests
    the plasticity part of the theory at finite N. The leading-order j* = 3 is not a
    fair target at N = 2000: the balanced rates themselves carry O(1/√N) corrections of
    ~25 % here (r_e ≈ 5.5 Hz simulated vs 7.5 Hz at leading order), and j* ∝ r_e.

    Tolerance 10 %: the fixed point assumes each synapse sees its post neuron's mean
    rate; with a per-synapse fixed point j_jk = β₀ τ r_k the mean is exact, so the
    remaining errors are (i) the lag of synapses onto neurons below ~1 Hz (≤ 5 % of
    the mean by the rate histogram), (ii) anti-causal pair correlations of connected
    pairs, K⁻_jk = O(1/√N) per pair (≈ 2 % at N = 2000), (iii) seed-to-seed spread of
    the mean (s.d. ≈ 0.02 mV, 1 %) averaged over 2 seeds. We also check the seeds agree
    within 5 % (quenched disorder is O(1/√N) in the mean).
    """
    finals = [late_mean(run, "ee") for run in kohonen_runs]
    corrected = [float(theory.predict_from_simulation(run, net_input=True)
                       ["fixed_point_weight"].sel(synapse="ee").squeeze())
                 for run in kohonen_runs]
    leading = float(theory.predict(KOHONEN)["fixed_point_weight"].sel(synapse="ee").squeeze())
    spec_delta = [float(theory.predict_from_simulation(run)["fixed_point_weight"]
                        .sel(synapse="ee").squeeze()) for run in kohonen_runs]
    record("Kohonen j_ee*, leading order (mV)", leading, finals)
    record("Kohonen j_ee*, spec Δ-corrected (mV)", float(np.mean(spec_delta)), finals)
    record("Kohonen j_ee*, net-input corrected (mV)", float(np.mean(corrected)), finals)
    record("Kohonen r_e at fixed point, leading order (Hz)",
           float(theory.predict(KOHONEN)["fixed_point_rate"].sel(population="E").squeeze()),
           [excitatory_rate_hz(run) for run in kohonen_runs])
    assert leading == pytest.approx(3.0, rel=1e-9)
    assert abs(finals[0] - finals[1]) < 0.05 * np.mean(finals)
    for final, target in zip(finals, corrected):
        assert final == pytest.approx(target, rel=0.10)


# ---------------------------------------------------------------------------- iSTDP
ISTDP = {"weights": {"ee": 25.0, "ei": -130.0},
         "plasticity": {"ei": {"rule": "istdp", "eta": 2e-3}}, "recording": RECORDING}


@pytest.fixture(scope="module")
def istdp_runs():
    small = [simulate(dict(ISTDP, N=2000, duration_s=80.0, seed=seed), progress=False)
             for seed in SEEDS]
    large = simulate(dict(ISTDP, N=4500, duration_s=60.0, seed=SEEDS[0]), progress=False)
    return small, large


def test_istdp_rate_and_final_weight(istdp_runs):
    """EI iSTDP (ρ_e = 10 Hz, τ = 200 ms, j_ei(0) = −130), η₀ = 2e-3.

    Timescale separation: 1/|λ| = 1/(0.001136 η₀ √N) per ms = 9.8 s (N = 2000) and
    6.6 s (N = 4500) ≫ 0.2 s; runs of 80 s / 60 s leave < 0.3 mV of the initial
    12-mV gap at the start of the analysis window (T/2, T].

    1. The defining property of the fixed point, r_e = ρ_e: the population rate over
       (T/2, T] must be within 3 % of 10 Hz (its sampling error over 40 s and 1600 E
       neurons is < 0.5 %; the residual drift of the weight adds < 1 %).
    2. The spec's Δ-corrected fixed point (§6.6, measured per run): the residual
       j_sim − j*_Δ comes from the O(1) net input μ ≈ 0.7 mV/ms that the neurons need
       and that the correction omits; its effect is O(μ/√N). We require the residual
       to shrink between N = 2000 and 4500 by √(2000/4500) = 0.67 within ±20 %
       (next-order O(1/N) terms; the 2000 → 5000 pair measured during development
       gave 0.58 against 0.63), and |residual| · √N/√2000 < 35 mV (a 40 % margin on
       the ~25 mV seen at N = 2000 for both seeds, whose residuals differ by < 1 mV).
    3. Seed-to-seed: the final weights differ by the manifold effect (spec §6.7),
       which the Δ-corrected theory tracks through each run's Δ, so the residuals of
       the two seeds agree within 2 mV although the weights differ more.
    """
    small, large = istdp_runs
    finals = [late_mean(run, "ei") for run in small]
    final_large = late_mean(large, "ei")
    corrected = [float(theory.predict_from_simulation(run)["fixed_point_weight"]
                       .sel(synapse="ei").squeeze()) for run in small]
    corrected_large = float(theory.predict_from_simulation(large)["fixed_point_weight"]
                            .sel(synapse="ei").squeeze())
    leading = float(theory.predict(dict(ISTDP, N=2000, duration_s=80.0))
                    ["fixed_point_weight"].sel(synapse="ei").squeeze())
    rates = [excitatory_rate_hz(run) for run in small]
    record("iSTDP r_e (Hz), N=2000", 10.0, rates)
    record("iSTDP r_e (Hz), N=4500", 10.0, [excitatory_rate_hz(large)])
    record("iSTDP j_ei*, leading order (mV), N=2000", leading, finals)
    record("iSTDP j_ei*, leading order (mV), N=4500", leading, [final_large])
    record("iSTDP j_ei*, spec Δ-corrected (mV), N=2000", float(np.mean(corrected)), finals)
    record("iSTDP j_ei*, spec Δ-corrected (mV), N=4500", corrected_large, [final_large])
    for rate in rates + [excitatory_rate_hz(large)]:
        assert rate == pytest.approx(10.0, rel=0.03)
    residual_small = np.array(finals) - np.array(corrected)
    residual_large = final_large - corrected_large
    assert abs(residual_small[0] - residual_small[1]) < 2.0
    ratio = residual_large / residual_small.mean()
    assert ratio == pytest.approx(math.sqrt(2000 / 4500), rel=0.20)
    assert np.all(np.abs(residual_small) < 35.0)
    assert abs(residual_large) * math.sqrt(4500 / 2000) < 35.0


# ---------------------------------------------------------------------------- optogenetics
OPTOGENETICS = {"N": 2000, "duration_s": 90.0, "seed": 1, "recording": RECORDING,
                "weights": {"ee": 25.0, "ei": -250.0},
                "plasticity": {"ei": {"rule": "istdp", "eta": 4e-3}},
                "optogenetics": {"enabled": True, "stimulated_fraction": 0.5,
                                 "start_s": 30.0, "stop_s": 60.0}}


def window_mean(da, start_s: float, stop_s: float) -> float:
    return float(da.where((da["time"] > start_s) & (da["time"] <= stop_s), drop=True).mean())


def test_optogenetic_weights_follow_the_three_population_theory():
    """Spec §6.10 / Fig 6 at reduced scale: N = 2000 (E1 = E2 = 0.4 N), laser X2 → E1 on
    [30, 60) s of 90 s, EI iSTDP with 1/|λ| ≈ 5 s, so each epoch spans ≥ 6 relaxation times.

    Compared: the change of the mean inhibitory weight onto E1 and onto E2 between the
    last 5 s before the laser and the last 5 s under it, simulation against the
    mean-field trajectory that runs through the window (Δ-corrected from the run, as
    Fig 6 draws it). The E1 weight moves (the laser adds O(√N) drive that only stronger
    inhibition can balance), the E2 weight barely does. Tolerances: the simulated E1
    change within 40 % of the theory's (the theory's level is offset by the O(1/√N)
    finite-size terms, ~10 mV here, but both ends of the change carry the same offset),
    and |ΔE2| < 0.35 |ΔE1| in both. Afterwards the E1 weight relaxes back: its last-5-s
    mean lies within 15 mV of its pre-laser mean in the simulation.
    """
    run = simulate(OPTOGENETICS, progress=False)
    prediction = theory.predict_from_simulation(run)
    changes = {}
    for name, ds in (("simulation", run), ("theory", prediction)):
        weights = ds["mean_weight"].squeeze(drop=True)
        changes[name] = {syn: window_mean(weights.sel(synapse=syn), 55.0, 60.0)
                         - window_mean(weights.sel(synapse=syn), 25.0, 30.0)
                         for syn in ("e1i", "e2i")}
    sim, th = changes["simulation"], changes["theory"]
    record("optogenetics Δj_E1I under the laser (mV)", th["e1i"], [sim["e1i"]])
    record("optogenetics Δj_E2I under the laser (mV)", th["e2i"], [sim["e2i"]])
    assert th["e1i"] < -10.0 and sim["e1i"] < -10.0
    assert sim["e1i"] == pytest.approx(th["e1i"], rel=0.40)
    assert abs(sim["e2i"]) < 0.35 * abs(sim["e1i"])
    assert abs(th["e2i"]) < 0.35 * abs(th["e1i"])
    weights = run["mean_weight"].squeeze(drop=True).sel(synapse="e1i")
    assert abs(window_mean(weights, 85.0, 90.0) - window_mean(weights, 25.0, 30.0)) < 15.0


# ---------------------------------------------------------------------------- manifold
def test_istdp_rate_weight_covariance_from_time_averages_matches_the_manifold():
    """Spec §5.6, §6.7 (Fig 7 E): from strong initial inhibition the final EI weights
    and presynaptic I rates covary positively, from weak inhibition negatively, and the
    population mean obeys j̄_final ≈ j*_0 − Cov(j_ei, r_i)/r_i*.

    Two runs of the same network (N = 2000, seed 1) from j_ei(0) = −250 and −55, 80 s,
    η₀ = 4e-3 (1/|λ| ≈ 5 s). Compared, per run:

    1. R_sims − R_mean of population E, built from the runs' per-neuron time averages
       over (T/2, T] (spec §5.6, ``input_difference``), against √N Σ_b p q_b Cov(j_Eb, r_b)
       from the final weights and rates (``rate_weight_cov_input``): same sign, and
       the two differ by less than 0.8 mV/ms (the O(1) finite-size part of R_sims − R_mean
       is ~0.5 mV/ms at this size).
    2. The sign of the covariance: positive from −250, negative from −55.
    3. The manifold relation's direction: the final mean weight lies on the side of the
       leading-order j*_0 = −119.66 that −Cov/r_i points to (more inhibition where
       strong synapses come from fast I neurons). Its size is off by O(1/√N) terms at
       N = 2000 (spec §6.6: the net input neurons need), recorded in the table.
    """
    base = {"N": 2000, "duration_s": 80.0, "seed": 1, "recording": RECORDING,
            "weights": {"ee": 25.0}, "plasticity": {"ei": {"rule": "istdp", "eta": 4e-3}}}
    covariance = {}
    for initial in (-250.0, -55.0):
        run = simulate(dict(base, weights={"ee": 25.0, "ei": initial}), progress=False)
        prediction = theory.predict_from_simulation(run).squeeze(drop=True)
        difference = float(prediction["input_difference"].sel(population="E"))
        cov_input = float(prediction["rate_weight_cov_input"].sel(population="E"))
        record(f"R_sims − R_mean, E, j_ei(0) = {initial:g} (mV/ms)", cov_input, [difference])
        assert np.sign(difference) == np.sign(cov_input)
        assert abs(difference - cov_input) < 0.8
        squeezed = run.squeeze(drop=True)
        cov = float(squeezed["final_weight_rate_cov"].sel(synapse="ei"))      # mV Hz
        labels = squeezed["neuron_population"].values.astype(str)
        rate_i = float(np.mean(squeezed["neuron_rate"].values[labels == "I"]))
        final = late_mean(run, "ei", fraction=0.1)
        manifold = -119.658 - cov / rate_i
        record(f"iSTDP manifold j_ei final, j_ei(0) = {initial:g} (mV)", manifold, [final])
        assert np.sign(final + 119.658) == -np.sign(cov)
        covariance[initial] = cov
    assert covariance[-250.0] > 0 > covariance[-55.0]

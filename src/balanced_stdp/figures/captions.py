"""Captions: every figure's own text, and the parameters of the runs it was drawn from.

The figure registry (:mod:`.registry`) gives each figure its text from here and appends
:func:`parameter_sentence`: rules and their parameters, N, T, τ_STDP, the swept values,
seeds and diverged runs, read from the run configs stored in the aggregate (or, without
them, from its coordinates). Plain text and xarray, no plotting library: the workflow
builds its report captions while it is parsed.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import xarray as xr

from ..contract import BASE_SWEPT_DIMS, dimension_name, swept_dims
from ..plasticity import SPEC_LEARNING_WINDOWS, LearningWindow
from ..estimators import running_mean
from ..selection import at_point, by_seed, ensure_swept, run_configs, rule_synapses
from .convergence import CONVERGED_BELOW, CRITERION, late_drift
from .facets import coord_values, facets
from .labels import PARAMETER_FORMATS, SWEPT_DIM_LABELS, format_value, rule_name, rule_sort_key

_UNBOUNDED_MV = 1e19   # the classical rule's ±1e20 "bounds" mean unbounded


def join_values(values) -> str:
    """Distinct values, sorted (numbers first), as ``"0, 0.5"``."""
    values = sorted(set(values), key=lambda v: (isinstance(v, str), v))
    return ", ".join(format_value(v) for v in values)


def rule_parameters(parameters: dict) -> list[str]:
    """The parameters of :data:`~.style.PARAMETER_FORMATS` in ``parameters``, as text
    (a set of values is listed; an unbounded j_max is left out)."""
    text = []
    for name, fmt in PARAMETER_FORMATS:
        value = parameters.get(name)
        values = value if isinstance(value, (set, frozenset)) else {value}
        values = {v for v in values if v is not None
                  and not (name == "j_max" and v >= _UNBOUNDED_MV)}
        if values:
            text.append(fmt.format(join_values(values)))
    return text


def _run_parameters(configs: list[dict], swept: list[str]) -> list[str]:
    parts = []
    for key, name, unit in (("N", "N", ""), ("duration_s", "T", " s"),
                            ("tau_stdp_ms", "τ_STDP", " ms")):
        if key not in swept:
            parts.append(f"{name} = {join_values(cfg[key] for cfg in configs if key in cfg)}{unit}")
    rules: dict[tuple[str, str], dict[str, set]] = {}
    for cfg in configs:
        for synapse, settings in cfg.get("plasticity", {}).items():
            entry = rules.setdefault((synapse, settings["rule"]), {})
            for name, _ in PARAMETER_FORMATS:
                if settings.get(name) is not None:
                    entry.setdefault(name, set()).add(settings[name])
            if dimension_name(f"weights.{synapse}") not in swept:
                entry.setdefault("initial", set()).add(cfg["weights"][synapse])
    by_rule = sorted(rules.items(), key=lambda item: rule_sort_key(item[0][1]))
    for (synapse, rule), params in by_rule:
        text = rule_parameters(params)
        if "initial" in params:
            text.append(f"initial j_{synapse} = {join_values(params['initial'])} mV")
        parts.append(f"{rule_name(rule)} on {synapse.upper()} ({', '.join(text)})")
    return parts


def parameter_sentence(runs: xr.Dataset) -> str:
    """"Rules: …. Parameters: …." for an aggregate of runs."""
    runs = ensure_swept(runs)
    configs = run_configs(runs)
    swept = [d for d in swept_dims(runs) if d not in BASE_SWEPT_DIMS]
    if configs:
        parts = _run_parameters(configs, swept)
    else:
        parts = []
        if "neuron" in runs.dims:
            parts.append(f"N = {runs.sizes['neuron']}")
        if "time" in runs.dims and runs.sizes["time"]:
            parts.append(f"T = {float(runs['time'].max()):g} s")
        parts.append("(run configs not stored in the aggregate: η and β₀ unknown)")
    parts.append("c ∈ {" + join_values(float(c) for c in runs["c"].values) + "}")
    for dim in swept:
        name, unit = SWEPT_DIM_LABELS.get(dim, (dim, ""))
        name = name.replace("$", "").replace("{", "").replace("}", "")
        parts.append(f"{name} ∈ {{{join_values(runs[dim].values.tolist())}}}"
                     + (f" {unit}" if unit else ""))
    seeds = [int(s) for s in runs["seed"].values]
    if "mean_weight" in runs:
        finite = np.isfinite(runs["mean_weight"]).any(
            [d for d in runs["mean_weight"].dims if d != "seed"])
        seeds = [int(s) for s in runs["seed"].values[finite.values]]
    parts.append(f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} "
                 f"({join_values(seeds)}) per grid point")
    if "diverged" in runs:
        n_diverged = int(np.nansum(runs["diverged"].values > 0.5))
        if n_diverged:
            parts.append(f"{n_diverged} run{'s' if n_diverged != 1 else ''} stopped by the "
                         "divergence guard")
    rules = [rule_name(r) for r in coord_values(runs, "rule")]
    return "Rules: " + ", ".join(rules) + ". Parameters: " + "; ".join(parts) + "."


def convergence_sentence(runs: xr.Dataset) -> str:
    """"Measured late drift at T = 120 s: …" — the simulated part of the convergence
    verdict (:mod:`.convergence`) for every grid point and plastic synapse of ``runs``;
    empty without plastic weights."""
    runs = ensure_swept(runs)
    if "mean_weight" not in runs or "time" not in runs.dims:
        return ""
    drifts, still = [], []
    for key in facets(runs, skip=("seed",)):
        for synapse in rule_synapses(runs, key["rule"]):
            da = at_point(runs, "mean_weight", key, synapse=synapse)
            if da is None:
                continue
            values = by_seed(da, "time")
            if not np.isfinite(values).any():
                continue
            drift = late_drift(runs["time"].values, running_mean(values)[0])
            if np.isfinite(drift):
                drifts.append(drift)
                if drift >= CONVERGED_BELOW:
                    still.append(", ".join(f"{d} = {format_value(v)}" for d, v in key.items()
                                           if d != "rule" and len(runs[d]) > 1) or synapse)
    if not drifts:
        return ""
    end = float(runs["time"].max())
    if not still:
        return (f"Measured late drift at T = {end:g} s below {100 * CONVERGED_BELOW:g} % "
                f"at all {len(drifts)} grid points (converged by this measure).")
    listed = "; ".join(still[:6]) + ("; …" if len(still) > 6 else "")
    return (f"Measured late drift at T = {end:g} s: {len(still)} of {len(drifts)} grid "
            f"points still moving by {100 * CONVERGED_BELOW:g} % or more (not converged: "
            f"{listed}).")


def with_parameters(text: str, runs: xr.Dataset | None) -> str:
    """``text`` followed by :func:`parameter_sentence` of ``runs`` (if given) and, for
    plastic runs, :func:`convergence_sentence`."""
    if runs is None:
        return text
    verdict = convergence_sentence(runs)
    return f"{text} {parameter_sentence(runs)}" + (f" {verdict}" if verdict else "")


# ----------------------------------------------------------------------------- texts
FINITE_SIZE_FIRST = (
    "Theory drawn: the finite-size theory (spec §11; magenta, dash-dot for trajectories and "
    "values at T, dotted for fixed points) where it is computed, named first because it "
    "includes what the leading order leaves out at these sizes (the net input neurons need "
    "to fire, unequal rates) and follows the simulation; the leading-order or Δ-corrected "
    "theory (dashed) for reference. A figure says so where the finite-size theory is not "
    "computed (experiments.<name>.finite_size_theory: false) or does not cover a point "
    "(three populations).")

DELTA_CORRECTED = (
    "The Δ-corrected theory (spec §6.6) holds Δ at its value measured in each run; Δ "
    "contains the net input the neurons need to fire, which changes with the inhibitory "
    "weight, so for iSTDP this theory can miss the simulated weights by tens of mV and "
    "even get the sign of their c-dependence wrong.")

CONVERGENCE = (
    "Convergence: values 'at T' (also called final) are the last record of each run; each "
    "panel that sets them against a fixed point says 'converged at T = … s' or 'at T = … "
    f"s, not converged' — {CRITERION}. Where not converged, compare with the finite-size "
    "theory at T (dash-dot), not with its fixed point.")

NO_CONVERGENCE = ("Convergence: time courses only; no value is compared with a fixed point.")

WEIGHT_DYNAMICS = (
    "Mean plastic weight over time for each plasticity rule (rows) and input correlation "
    "c (columns): black, mean over seeds of the mean unscaled weight j over all existing "
    "synapses, with a grey ±1 s.d. band over seeds; thin coloured lines, a few sampled "
    "synapses of one seed; dashed, the mean-field ODE trajectory (spec §6.4; leading order "
    "or Δ-corrected, as labelled); dotted grey, its fixed point; magenta dash-dot, the "
    "finite-size theory's trajectory (dash-dot) and fixed point (dotted) where it is "
    "computed. Last column: mean weight at T (last snapshot) against c, mean ± s.d. over "
    "seeds (points; n = 1 seed says so), the theoretical fixed points (dashed; finite-size: "
    "dotted) and the finite-size theory's value at T (dash-dot), which shows that c changes "
    "the speed of approach where the fixed point does not move. Runs stopped by "
    "the divergence guard are marked with a red dotted line and listed, and left out of "
    "the final values. " + FINITE_SIZE_FIRST + " " + DELTA_CORRECTED + " " + CONVERGENCE)


BALANCE = (
    "Balance of excitation and inhibition. For each rule and c: top, mean input current to "
    "E neurons from recurrent excitation (E, blue), external input (X, light blue), "
    "inhibition (I, red) and their total (black), mean over seeds; bottom, E (blue) and I "
    "(red) population rates with the theoretical rates dashed (fixed point of the weight "
    "dynamics, or balanced rates where no fixed point exists). Right: magnitudes of the "
    "time-averaged inputs |E+X|, |I| and |total| per c, with the ratio |total|/max part; "
    "a small ratio means the large excitatory and inhibitory inputs cancel. Diverged runs "
    "(red dotted line, hatched bars) have lost balance. Theory drawn: the rates of the "
    "experiment's theory aggregate (leading order or Δ-corrected, as labelled). "
    + NO_CONVERGENCE)


RATE_WEIGHT_CORRELATION = (
    "Rate–weight correlations: final weight (last snapshot) of sampled plastic synapses "
    "against the firing rate of their presynaptic neuron (over the second half of the "
    "run), pooled over seeds, with the mean weight in six quantile bins of the rate (black "
    "line and dots: a trend that stays within the weights, where a straight fit through "
    "inhibitory weights would cross 0 mV) and the Pearson correlation coefficient r of the "
    "plotted points. Kohonen's rule makes EE weights grow with the presynaptic rate: "
    "dashed, the Kohonen theory j = β₀ τ r_pre (spec §6.4, each weight tracks its "
    "presynaptic rate); iSTDP's per-synapse drift also depends on it (spec §6.7). Theory "
    "drawn: that Kohonen line only. Convergence: the weights are those at T; see the "
    "experiment's weight-dynamics figure for whether they have converged.")


WEIGHT_MANIFOLD = (
    "EI iSTDP initial-condition sweep (spec Fig 7 A, D). A: mean I→E weight j_ei over time "
    "for every initial value (colour). D: final against initial j_ei, mean ± s.d. over "
    "seeds (points), and the Δ-corrected fixed point of each initial condition (dashed, "
    "spec §6.6–6.7); thin grey, final = initial. Final weights that depend on the initial "
    "weight show the manifold of fixed points. Theory drawn: Δ-corrected. "
    + DELTA_CORRECTED + " Convergence: the final weights are those at T; the trajectories "
    "(A) show whether they still move.")


NETWORK_SCALING = (
    "The model and its scaling with network size N (Kohonen EE plasticity, c = 0). (A) "
    "Schematic: excitatory (E) and inhibitory (I) populations, recurrently connected, "
    "driven by an external layer X of Poisson neurons with correlation c. (B) Mean EE "
    "weight over time for each N (mean over seeds) with the leading-order fixed point j* "
    "(dashed). (C) E and I rates (mean over the analysis window, mean ± s.d. over seeds) "
    "against the balanced rates at the weight fixed point (spec §6.1, theory aggregate "
    "fixed_point_rate; dashed). (D) Mean off-diagonal spike-count covariances C_ee, C_ei, "
    "C_ii and (E) correlations against the leading-order c = 0 theory of spec §6.2 "
    "(∝ 1/N; dashed; correlations assume count variance r T_win); non-positive means cannot "
    "be shown on log axes and are counted in the panel. (F) Mean spike-count variances "
    "against r T_win (Fano factor 1; dashed). (G) Raster of the last recorded second "
    "(E blue, I red) and (H) mean input currents to the E population by source, for one N. "
    "Runs stopped by the divergence guard are listed and left out of the N-panels. "
    "Theory drawn: leading order (dashed) and, where computed, the finite-size fixed point "
    "and rates (dash-dot). " + CONVERGENCE)


KOHONEN_STABILITY = (
    "Kohonen EE plasticity loses its stable fixed point as β₀ grows. (A–D) Up to 100 "
    "sampled EE weights (thin) and the mean weight (black) over time for the β₀ of the "
    "sweep nearest to the paper's 1.2, 2.4, 3.4 and 3.6, or each β₀ of a sweep of at most "
    "four (first seed; a run that ran away is scaled to its weights before the stop). "
    "(E) Mean j_ee(t) for the same β₀ with the leading-order fixed point j* dashed. (F) Simulated final mean "
    "weight of every run (all seeds, replicates included) against β₀ with the "
    "leading-order j*(β₀) (dashed), and β₀ τ r_e at each run's simulated E rate over the "
    "second half (open squares: the Kohonen fixed point at the finite-size rate). (G) Fraction of runs per β₀ that ran away. (H) Drift "
    "per learning rate dj/dt / η = β₀ τ r_e² − j r_e, r_e = r_e(j) balanced (spec §6.1), for "
    "β₀ = 3, 5, 8, 10: two roots (stable filled, unstable open) merge at the saddle-node. "
    "(I) Leading-order bifurcation diagram: stable branch solid, unstable dashed, meeting at "
    "the saddle-node; simulated final weights as points. (J) Theoretical j* against the "
    "simulated final weight (identity dotted). (K, given an initial-weight sweep) Mean "
    "j_ee(t) from every initial weight (one network) converging to one value. Runs "
    "stopped by the divergence guard are drawn up to their stop, marked × at the stopping time and as 'ran away' (never dropped). "
    "Theory drawn: leading order (dashed) and, in F, the finite-size theory where computed: "
    "its fixed point j*(β₀) (dotted) and its value at T (dash-dot). " + CONVERGENCE
    + " (A–D: each run; F: all runs.)")


NETWORK_STATISTICS = (
    "Statistics of the plastic network at c = 0 (spec §8 Figs 3–5). Raster: the last 1 s "
    "of one run, all neurons (E blue, I red); when the experiment has c = 0.1, its raster "
    "beside it. Weights: up to 100 sampled synapses of one seed (thin), the simulated mean "
    "over seeds (black) and the mean-field ODE (orange dashed; Δ-corrected theory, spec "
    "§6.6, where the legend says so), with the stable fixed point j* dotted grey. Final "
    "weight histogram of the sampled synapses (seeds pooled) with its mean (black) and j* "
    "(dashed). Rate histograms of all neurons over (T/2, T] with their means (black) and "
    "the theory rates at j* (dashed). Sampled off-diagonal spike-count covariances and "
    "correlations (T_win = 250 ms) per pair type with the leading-order theory means of "
    "spec §6.2 (dashed) and the simulated means (solid). Mean input to E neurons: E+X "
    "(blue), I (red), total (black). KS: empirical CDFs of the sampled weights at 40 % of "
    "T (the reduced-scale stand-in for the paper's record 40000) and at the end, with the "
    "two-sample KS statistic and p-value (scipy.stats.ks_2samp); p < 0.05 is stated as "
    "'not stationary at T'. Finite-size theory (magenta): its trajectory and value at T "
    "(dash-dot), its fixed point and rates at it (dotted). " + FINITE_SIZE_FIRST + " "
    + CONVERGENCE + " (Weight panel.)")


OPTOGENETICS = (
    "Fig 6 — optogenetic stimulation (spec §6.10), c = 0. A: the network; the laser layer "
    "X2 projects to E1 only. B: mean I→E1 (dark green) and I→E2 (light green) weight "
    "against time from the laser onset, laser window shaded; dashed, the Δ-corrected "
    "mean-field trajectory (same colours), which follows the window and returns. C: mean "
    "off-diagonal spike-count correlation per pair type before, during and after the "
    "stimulation, each epoch's counts from its second half (spec §10); the published "
    "E1E2 and E2I points pooled the E1E1 and II blocks with their diagonals, so they "
    "differ from these clean blocks. D: histograms of the sampled off-diagonal "
    "correlations per epoch (all pair types pooled). E: population rates of E1, E2 and "
    "I (moving average over 2 s) with the balanced rates along the mean-field trajectory "
    "(dashed); dotted, the target ρ_e. F: mean input currents to E1 "
    "from E, X (X1 and the laser X2), I and their total (moving average over 1 s). "
    "Theory drawn: Δ-corrected (dashed) and the finite-size theory (dash-dot) where it "
    "covers the three-population network; where it does not, panel B says so (its grid "
    "points then hold the leading order only). " + NO_CONVERGENCE)


ISTDP_MANIFOLD = (
    "Fig 7 — EI iSTDP converges to a manifold of fixed points (spec §6.7), c = 0. "
    "A: mean I→E weight j_ei(t) for every initial value (colour), with the Δ-corrected "
    "mean-field ODE of each run (thin dashed). B: time to convergence, the first time the "
    "derivative of the 5-s moving average of the mean weight falls below 100 mV/s × η_eff "
    "(η_eff = η₀√N/|j_norm|, the effective learning rate; this equals the paper's 1e−6 per "
    "10-ms record of the scaled weight at its η₀ = 2e−4, N = 15000), in units of 1/η_eff "
    "(right axis: seconds). C: phase portrait, smoothed dj_ei/dt against j_ei per "
    "trajectory; the first records are dropped as in the paper (its 5 s rescaled by the "
    "ratio of learning rates, at most a tenth of the run), red dots mark where each drawn "
    "trajectory starts. "
    "D: final against initial j_ei (points; last record), the Δ-corrected fixed point of "
    "each run (dashed; Δ measured per initial condition, spec §6.6), the manifold relation "
    "j*_0 − Cov(j_ei, r_i)/r_i* from the measured covariance (dotted crosses) and the "
    "leading-order j*_0 (thin line). E: mean input to E over [T/2, T]: measured R_total, "
    "the mean-field R_mean from the mean weights and rates, their difference and the "
    "rate–weight covariance input √N p q_i Cov(j_ei, r_i), against the covariance the "
    "manifold relation implies from the simulated final weights (dashed): positive when "
    "starting from strong, negative from weak inhibition. Theory drawn: the finite-size "
    "theory (trajectories dash-dot in A, fixed points in D) where computed, else the title "
    "says it is not; the Δ-corrected theory (dashed). " + DELTA_CORRECTED
    + " Convergence: B gives each trajectory's convergence time ('not converged' where it "
    "never meets the criterion); D's final weights are those at T.")


MANIFOLD_CORRELATED = (
    "Fig 8 candidate — the iSTDP manifold with correlated input (c = 0.1) beside c = 0. "
    "A: final against initial j_ei per c (points) and the Δ-corrected fixed point of each "
    "run, which includes the correlation terms K of spec §6.8 (dashed, same colour). "
    "B: the shift final(c = 0.1) − final(c = 0) per initial j_ei, simulated (points), "
    "with the Δ-corrected theory (dashed) and the leading-order shift (dotted); spec §6.8 "
    "expects a mild shift of order c/(2τ r_x). "
    "C: mean j_ei(t) at c = 0.1 for every initial value, with the Δ-corrected ODE (thin "
    "dashed); an initial value whose ODE is missing (the theory has no balanced state "
    "there) is named on the panel. Points are mean ± s.d. over seeds, or say n = 1 seed. "
    "Theory drawn: the finite-size theory (dash-dot) where computed — the title says when "
    "it is not — and the Δ-corrected theory (dashed). " + DELTA_CORRECTED
    + " Convergence: final weights are those at T; C shows whether they still move.")


TIMESCALE_SEPARATION = (
    "Fig 8 candidate — timescale separation (spec §6.9). Top: mean plastic weight over "
    "time for each learning rate η (colour; η₀ for iSTDP), simulation (solid) against "
    "the mean-field ODE at the same η (dashed, leading order) and the finite-size theory "
    "at the same η (dash-dot) where computed. Middle: the largest η on its own axis. "
    "Bottom: relative deviation (sim − theory)/|theory| of the mean over the last quarter "
    "of the run, per η, printed, against the finite-size theory where it is computed "
    "(else the leading order; the axis label says which): the leading order's finite-size "
    "offset (spec §6.6) is the same at every η and is not a timescale effect, so measured "
    "against it a breakdown would be misread. The grey band marks ±5 %, beyond "
    "which the theory is said to stop holding; a run stopped by the divergence guard is "
    "marked there (red cross, no late mean) and on its time axis. A breakdown of timescale "
    "separation shows as a deviation that changes with η. Theory drawn: as above. "
    "Convergence: not asked here — simulation and theory are compared at equal times. "
    "The authors' Kohonen mean weight at η = 1 "
    "falls to 0 within seconds because their code treats an exactly-zero weight as no "
    "synapse (the post-spike update J ← J(1 − η) sets it to 0); this simulator keeps an "
    "explicit synapse mask, so the η = 1 mean fluctuates near the fixed point instead "
    "(spec §2.5, §10).")


HEBBIAN_VARIANTS = (
    "Hebbian variants (spec §8 Fig 10), c = 0; columns: classical (unbounded), hard-bound, "
    "soft-bound Hebbian EE plasticity. Row 1: distribution of the sampled EE weights, each "
    "averaged over the second half of the run (seeds pooled); for the classical rule a "
    "single snapshot at T/2, or at the last record before the divergence guard stopped the "
    "run if earlier (spec §10). Black line: mean; orange dashed: the stable mean-field "
    "fixed point, drawn only where the theory has one (the classical rule has none). Row "
    "2: up to 100 sampled weights of one seed, the simulated mean (black), the mean-field "
    "ODE (orange dashed, leading order) and the fixed point (dotted grey); the classical "
    "column uses a symmetric-log axis so weights stay visible before the runaway. Row 3: "
    "mean input to E neurons (E+X blue, I red, total black). Row 4: E (blue) and I (red) "
    "population rates with the fixed-point rates (dashed). Runs stopped by the divergence "
    "guard are marked (red dotted line and text); insets show the time before the stop. "
    + FINITE_SIZE_FIRST + " " + CONVERGENCE + " (Row 2, where no run stopped.)")


MEAN_FIELD_TRANSIENTS = (
    "Mean-field ODE against simulation (spec §8 Fig 11), c = 0: black, the mean plastic "
    "weight averaged over seeds with a grey ±1 s.d. band; orange dashed, the mean-field "
    "ODE of spec §6.4 (leading order for soft Hebbian and Kohonen; for iSTDP with the "
    "finite-size correction Δ of spec §6.6 measured in each run); dotted grey, the theory's "
    "fixed point; thin grey (iSTDP), the leading-order fixed point; magenta dash-dot, the "
    "finite-size theory's trajectory (dash-dot) and fixed point (magenta dotted) where it "
    "is computed. Each panel prints the final simulated mean (mean ± s.d. over seeds of "
    "the last snapshot), the fixed points and whether the weight has converged at T. "
    + FINITE_SIZE_FIRST + " " + DELTA_CORRECTED + " " + CONVERGENCE)


INHIBITORY_PAIR = (
    "EI and II iSTDP together (spec §7 #13, the paper's Fig 12). Columns: learning-rate "
    "pairs (η_ei, η_ii) of the sweep — equal η (slow), slow EI (η_ei < η_ii), slow II "
    "(η_ii < η_ei) and, as a fourth column, equal η (fast); the column title gives the theory's stability of "
    "the common fixed point (Jacobian of the two mean-field ODEs, spec §6.5). Rows 1–2: "
    "50 sampled I→E (EI, green) and I→I (II, purple) weights of one seed, their mean over "
    "all synapses (black, mean over seeds), the mean-field ODE (black dashed, leading "
    "order; it stops where the theory loses the balanced state) and the fixed point "
    "(j_ei*, j_ii*) (grey dotted). Row 3: mean input to E neurons, E+X (blue), I (red) and "
    "total (black). Row 4: E (blue) and I (red) population rates with the target rates "
    "ρ_e and ρ_i (dotted). Each column has its own y-range: the slow-EI case, unstable in "
    "theory, makes large excursions. Colours: EI green / II purple as in every figure of "
    "this study; the paper's Fig 12 material swaps them (magenta EI, green II). Axes are "
    "bounded (weights to 2 max(|j*|, |j(0)|), inputs ±10 mV/ms, rates ≤ 50 Hz) and the "
    "extreme of any clipped line is stated. A mean weight beyond 10 max(|j*|, |j(0)|) has "
    "run away — inhibition then silences the network, which the spike-count divergence "
    "guard does not catch — and is marked like a diverged run (red dotted line and text), "
    "as are runs stopped by the guard. " + FINITE_SIZE_FIRST
    + " Convergence: each column shows the whole time course against its fixed point; "
    "whether the fixed point is reached is the figure's point (the column title gives the "
    "theory's stability).")


CORRELATION_DEPENDENCE = (
    "Final mean EE weight against the input correlation c for Kohonen's rule (left) and "
    "the soft-bound Hebbian rule (right), for each network size N (markers, one colour "
    "per N; mean ± s.d. over seeds of the last snapshot). Dashed: leading-order mean-field "
    "fixed point, dense in c, with the correlation terms K⁺, K⁻ of spec §6.3–6.8 (the "
    "leading-order theory does not depend on N, so one line is drawn when the sizes "
    "agree). Kohonen's fixed point rises mildly with c; the soft-Hebbian one stays at "
    "j_max because K⁺_ee = K⁻_ee. Finite-size theory, one colour per N like the "
    "simulation: its fixed point (dotted) and its value at T (dash-dot, squares) — a "
    "simulated weight that rises with c while the fixed point does not has not converged "
    "and approaches j* faster at larger c. Markers of the sizes are offset slightly in c. "
    "Runs stopped by the divergence guard are marked × at the top of the panel (never "
    "dropped). " + FINITE_SIZE_FIRST + " " + CONVERGENCE)


INHIBITORY_SCALING = (
    "Inhibitory plasticity vs network size N (log axis). Top row: EI iSTDP with correlated "
    "input (c = 0.1, τ_STDP = 50 ms; spec §7 #14); bottom row: EI and II iSTDP together "
    "with independent input (c = 0; spec §7 #15). Left: final mean plastic weights (EI "
    "green, II purple; last snapshot, mean ± s.d. over seeds). Middle: E (blue) and I (red) "
    "rates over the second half of each run. Right: mean off-diagonal spike-count "
    "covariances C_ee, C_ei, C_ii (T_win = 250 ms). Dashed lines: leading-order mean-field "
    "fixed point (independent of N) and the covariances of spec §6.2 at its rates — O(1) "
    "for c = 0.1 (C_ab = T_win c r_a r_b / r_x), ∝ 1/N for c = 0 (C_ab = (T_win/N) r_a r_b / "
    "(q_x r_x)). Open diamonds (dashed): Δ-corrected theory of each run (spec §6.6), where "
    "the experiment was predicted with it. Dash-dot with squares: the finite-size theory "
    "at T (weights and rates) and its covariances, where computed. Points are mean ± s.d. "
    "over seeds, or say n = 1 seed. Runs stopped by the divergence guard are listed "
    "and left out. " + FINITE_SIZE_FIRST + " " + DELTA_CORRECTED + " " + CONVERGENCE)


RUNAWAY_THRESHOLD = (
    "Kohonen runaway threshold against network size (beyond the paper; the paper's "
    "N = 5000 network runs away at β₀ ≈ 3.6 while its leading-order fixed point is stable "
    "up to the saddle-node at β₀ = 8.04). (A) Fraction of runs (seeds) the divergence "
    "guard stopped within the run's duration, against β₀, one colour per N; dash-dot "
    "vertical lines: the finite-size theory's threshold β₀_c at that N (the smallest β₀ "
    "at which its class-resolved mean field loses balance within the same duration, "
    "bisected to ±0.01); dotted grey: the leading-order saddle-node. (B) Threshold against "
    "N: simulation (β₀ where half of the runs ran away, linear between grid values; bars "
    "from the last β₀ where none ran away to the first where all did), finite-size theory "
    "(dash-dot, at the simulated N and the geometric midpoints) and leading order (dashed, "
    "independent of N). The finite-size threshold falls with N: the rate–weight "
    "covariance of Kohonen weights (each tracks its presynaptic rate, and the rates' "
    "spread does not shrink with N) adds excitation at the balance level, and while the "
    "weights rise towards their targets, neurons that fire more strengthen their inputs "
    "faster — an amplification that grows with √N. Theory drawn: the finite-size theory "
    "(dash-dot, named first) and the leading-order saddle-node (dashed/dotted). "
    "Convergence: not asked here — a run counts as runaway when the divergence guard "
    "stopped it within its duration, the theory's threshold uses the same duration.")


COVARIANCE_VS_WEIGHT = (
    "Spike-count covariances vs weight in non-plastic networks with correlated external "
    "input (spec §7 #18). Top row: j_ee swept at j_ei = −100 mV; bottom row: j_ei swept at "
    "j_ee = 25 mV. Left: mean off-diagonal count covariances C_ee, C_ei, C_ii (T_win = "
    "250 ms, over the second half of each run; points, mean ± s.d. over seeds) and the "
    "leading-order closed form C_ab = T_win c r_a r_b / r_x of spec §6.2 with the balanced "
    "rates of each weight (dashed, drawn densely in the weight). Middle: the corresponding "
    "mean correlations, the theory ρ_ab = c √(r_a r_b)/r_x (dashed; Poisson count variance "
    "r T_win assumed) and the theory covariance divided by the measured mean count "
    "variances, √(Var_a Var_b) (open circles), which removes the Fano-factor assumption; "
    "the simulated value is the mean of per-pair correlations, which with heterogeneous "
    "rates lies below mean covariance over mean variances. "
    "Right: simulation/theory ratio of the covariances per point (the three pair types "
    "offset slightly along the weight axis so none hides another; open squares: ratio to "
    "the finite-size theory where computed); the panel text gives the mean ratio per pair "
    "type. EE dark slate grey, EI green, II purple. Theory drawn: the §6.2 closed form "
    "(dashed) and the finite-size theory's covariances at its rates (dash-dot) where "
    "computed. Convergence: no plastic weights; statistics over the second half.")


LEARNING_WINDOWS = (
    "Learning windows: weight change Δj of one isolated pre/post spike pair divided by the "
    "effective learning rate, against Δt = t_pre − t_post (pre before post on the left), "
    "computed from the rule descriptions of balanced_stdp.plasticity. The single-spike "
    "terms of both spikes are included, so Kohonen's −j and iSTDP's −α appear on both "
    "sides (the figure says so: the shapes differ from the textbook windows for that "
    "reason). The iSTDP window is also divided by |j| (a positive value strengthens "
    "inhibition). Theory drawn: none — the windows are the rule descriptions themselves. "
    "Convergence: does not apply.")


# ----------------------------------------------------------------------------- learning windows (no data)
PAPER_TAU_STDP_MS = 20.0
"""τ with which the paper draws the windows (ms)."""

SIMULATION_TAU_STDP_MS = 200.0
"""τ the study's simulations use (ms; the iSTDP statistics run uses 50 ms)."""

DEFAULT_TAUS_MS = (SIMULATION_TAU_STDP_MS, PAPER_TAU_STDP_MS)
"""Rows of the figure: the simulations' τ, then the paper's illustration."""

LAG_RANGE_IN_TAU = 5.0
"""Each row spans Δt ∈ ± this many τ (± 100 ms at the paper's 20 ms)."""


def window_parameters(window: LearningWindow) -> str:
    """The parameters a window is drawn with, e.g. ``"β₀ = 2, j = 1 mV"``."""
    return ", ".join(rule_parameters(window.overrides) + [f"j = {window.weight_mv:g} mV"])


def learning_windows_caption(runs: xr.Dataset | None = None,
                             taus_ms: Sequence[float] = DEFAULT_TAUS_MS) -> str:
    """Caption of :func:`.learning_windows.plot_learning_windows` (``runs`` is unused:
    no data)."""
    windows = "; ".join(f"{rule_name(w.rule)}: {window_parameters(w)}"
                        for w in SPEC_LEARNING_WINDOWS)
    rows = ", ".join(f"τ = {tau:g} ms (Δt within ±{LAG_RANGE_IN_TAU * tau:g} ms"
                     + (", the simulations'" if tau == SIMULATION_TAU_STDP_MS else
                        ", the paper's illustration" if tau == PAPER_TAU_STDP_MS else "")
                     + ")" for tau in taus_ms)
    return f"{LEARNING_WINDOWS} Rows: {rows}; {windows}."


def tau_label(tau_ms: float) -> str:
    """Row label of a τ: "τ = 200 ms (simulations)", "τ = 20 ms (paper's Fig 9)"."""
    role = {SIMULATION_TAU_STDP_MS: " (simulations)",
            PAPER_TAU_STDP_MS: " (paper's Fig 9)"}.get(tau_ms, "")
    return f"τ = {tau_ms:g} ms{role}"

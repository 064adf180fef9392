"""Every registered figure drawn from the fabricated aggregates of the figure tests.

:func:`draw_all` returns figure name → drawn figure, with a finite-size theory aggregate
(the leading order shifted, :func:`test_figures_finite_size.finite_size_of`) wherever the
figure can draw one, so the figure check (:mod:`balanced_stdp.figures.check`) sees the
figures as the default study draws them, finite-size overlays included.
"""

from __future__ import annotations

from typing import Callable

from balanced_stdp.figures import registry
from balanced_stdp.selection import ExperimentData

import test_figures as base
import test_figures_covariance as figcov
import test_figures_inhibitory as figinh
import test_figures_istdp as figist
import test_figures_kohonen as figa
import test_figures_per_rule as figb
import test_figures_runaway as figrun
import test_figures_timescale as figc
from fabricate import combine
from test_figures_finite_size import finite_size_of


def with_finite_size(data: ExperimentData) -> ExperimentData:
    """``data`` with a fabricated finite-size theory (its theory, shifted)."""
    return ExperimentData(data.runs, data.theory,
                          None if data.theory is None else finite_size_of(data.theory))


def _draw(name: str, **datasets):
    return registry.FIGURES[name].draw_function()(**datasets)


def _study():
    _, aggregate, theory = base.study.__wrapped__()
    return aggregate, theory


def _weight_dynamics():
    aggregate, theory = _study()
    return _draw("weight_dynamics", runs=aggregate, theory=theory, synapse="ee",
                 finite_size=finite_size_of(theory))


def _balance():
    aggregate, theory = _study()
    return _draw("balance", runs=aggregate, theory=theory)


def _rate_weight():
    aggregate, _ = _study()
    return _draw("rate_weight_correlation", runs=aggregate)


def _weight_manifold():
    _, sweep = figist.manifold_sweep.__wrapped__()
    return _draw("weight_manifold", runs=sweep.runs, theory=sweep.theory)


def _fig01():
    runs = combine([figa.scaling_run(n, s) for n in figa.N_VALUES for s in (1, 2)])
    theory = combine([figa.scaling_theory(n) for n in figa.N_VALUES])
    return _draw("fig01_network_scaling",
                 scaling=ExperimentData(runs, theory, finite_size_of(theory)))


def _fig02():
    sweep = figa.stability_data(figa.SWEEP_BETAS, (1,), figa.SWEEP_DIVERGED)
    replicates = figa.stability_data((3.4, 3.6), (2, 3), figa.REPLICATE_DIVERGED,
                                     curves=False)
    runs, theories = [], []
    for initial in (0.5, 6.0):
        cfg = figa.kohonen_config(initial_ee=initial, sweep=["weights.ee"])
        runs.append(figa.relaxing_run(cfg, 3.1))
        theories.append(figa.point_theory(cfg, {"fixed_point_weight": 3.0}))
    return _draw("fig02_kohonen_stability", sweep=with_finite_size(sweep),
                 replicates=replicates,
                 initial_conditions=ExperimentData(combine(runs), combine(theories)))


def _statistics(name: str, rule: str, **options) -> Callable:
    def draw():
        data = figb.experiment(rule, **options)
        return _draw(name, main=with_finite_size(data))
    return draw


def _fig06():
    runs = combine([figist.opto_run(0.0, True)])
    return _draw("fig06_optogenetics",
                 stimulation=ExperimentData(runs, combine([figist.opto_theory(0.0)])))


def _fig07():
    _, sweep = figist.manifold_sweep.__wrapped__()
    return _draw("fig07_istdp_manifold", sweep=with_finite_size(sweep))


def _fig08a():
    _, sweep = figist.manifold_sweep.__wrapped__()
    return _draw("fig08a_manifold_correlated", sweep=with_finite_size(sweep))


def _fig08b():
    data = {role: figc.timescale_data(rule, 1.0 if role == "soft" else None)
            for role, rule in (("kohonen", "kohonen"), ("soft", "soft_hebbian"),
                               ("istdp", "istdp"))}
    data["kohonen"] = with_finite_size(data["kohonen"])
    return _draw("fig08b_timescale_separation", **data)


def _fig10():
    return _draw("fig10_hebbian_variants",
                 classical=figb.experiment("classical_hebbian", diverged={1: 4.0},
                                           stability="neutral"),
                 bounded=with_finite_size(figb.experiment("bounded_hebbian")),
                 soft=with_finite_size(figb.experiment("soft_hebbian")))


def _fig11():
    return _draw("fig11_mean_field_transients",
                 soft=with_finite_size(figb.experiment("soft_hebbian")),
                 kohonen=with_finite_size(figb.experiment("kohonen")),
                 istdp=with_finite_size(figb.experiment("istdp", delta_corrected=True)))


def _fig12():
    runs, theory = figinh.ei_ii_study.__wrapped__()
    return _draw("fig12_inhibitory_pair", variants=ExperimentData(runs, theory))


def _figS1():
    kohonen = figa.correlation_runs({"rule": "kohonen", "eta": 0.05, "beta0": 2.0}, 5.0,
                                    (3.0, 3.4, 3.8), diverged={(200, 1.0)})
    soft = figa.correlation_runs({"rule": "soft_hebbian", "eta": 5e-3, "j_max": 25.0}, 20.0,
                                 (25.0, 25.0, 25.0))
    return _draw("figS1_correlation_dependence", kohonen=kohonen, soft=soft)


def _figS2():
    istdp_runs, istdp_theory, pair_runs, pair_theory = figinh.scaling_study.__wrapped__()
    return _draw("figS2_inhibitory_scaling", istdp=ExperimentData(istdp_runs, istdp_theory),
                 ei_ii=ExperimentData(pair_runs, pair_theory))


def _figS3():
    jee, jei, _, _ = figcov.covariance_sweeps.__wrapped__()
    return _draw("figS3_covariance_vs_weight", jee=jee, jei=jei)


def _figS4():
    return _draw("figS4_runaway_threshold", sweep=figrun.sweep.__wrapped__())


DRAW = {
    "fig01_network_scaling": _fig01,
    "fig02_kohonen_stability": _fig02,
    "fig03_kohonen_statistics": _statistics("fig03_kohonen_statistics", "kohonen",
                                            c_values=(0.0, 0.1)),
    "fig04_istdp_statistics": _statistics("fig04_istdp_statistics", "istdp", seeds=(1,),
                                          delta_corrected=True),
    "fig05_soft_hebbian_statistics": _statistics("fig05_soft_hebbian_statistics",
                                                 "soft_hebbian"),
    "fig06_optogenetics": _fig06,
    "fig07_istdp_manifold": _fig07,
    "fig08a_manifold_correlated": _fig08a,
    "fig08b_timescale_separation": _fig08b,
    "fig09_learning_windows": lambda: _draw("fig09_learning_windows"),
    "fig10_hebbian_variants": _fig10,
    "fig11_mean_field_transients": _fig11,
    "fig12_inhibitory_pair": _fig12,
    "figS1_correlation_dependence": _figS1,
    "figS2_inhibitory_scaling": _figS2,
    "figS3_covariance_vs_weight": _figS3,
    "figS4_runaway_threshold": _figS4,
    "weight_dynamics": _weight_dynamics,
    "balance": _balance,
    "rate_weight_correlation": _rate_weight,
    "weight_manifold": _weight_manifold,
}
"""Figure name → a function drawing it from fabricated aggregates."""

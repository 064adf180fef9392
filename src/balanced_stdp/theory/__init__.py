"""Mean-field theory of plastic balanced networks (spec §6), with predictions as datasets.

Submodules:

* :mod:`.mean_field_network` — populations, weight matrices, balanced rates (§6.1, §6.10);
* :mod:`.covariance` — cross-spectra, count covariances, kernel integrals K, K⁺, K⁻ (§6.2–6.3);
* :mod:`.dynamics` — mean-field weight ODEs for every rule via
  ``RuleDescription.mean_drift``, fixed points, Jacobians, saddle-nodes (§6.4–6.5, §6.9);
* :mod:`.measured_corrections` — Δ correction and rate–weight covariances measured from a
  run (§6.6–6.7);
* :mod:`.prediction` — :func:`predict`, :func:`predict_from_simulation` and
  :func:`parameter_sweep`, returning datasets aligned with the simulator's;
* :mod:`.transfer` — the EIF transfer function under synaptic shot noise, measured on
  Poisson-driven model neurons; :mod:`.transfer_table` — the same, tabulated once per
  neuron model for Gaussian input (cached on disk) and corrected for the shot noise;
* :mod:`.bifurcation`, :mod:`.count_sweep` — fixed-point branches and saddle-nodes of
  one-weight models; count statistics along a config key;
* :mod:`.curves` — those, and fixed points, dense in a config key: the theory curves an
  experiment's figures draw;
* :mod:`.finite_size_network` and :mod:`.finite_size_model` — the finite-size theory
  (beyond the paper): O(1) net input, rate heterogeneity, class-resolved rates and
  weight dynamics, fixed points and where balance is lost; :mod:`.finite_size_prediction`
  its datasets (:func:`predict_finite_size`).

They build on each other in layers (each imports only from those before it; checked by
``lint-imports``): mean_field_network, transfer ← covariance, transfer_table ← dynamics ←
finite_size_network, bifurcation, count_sweep, measured_corrections ← prediction,
finite_size_model ← curves, finite_size_prediction.

Usage::

    from balanced_stdp import theory
    prediction = theory.predict(config)                 # leading order
    corrected = theory.predict_from_simulation(run)     # Δ-corrected (spec §6.6)
    finite = theory.predict_finite_size(config)         # finite-size theory
"""

from .bifurcation import fixed_point_branches, saddle_node
from .covariance import (count_covariance, count_covariance_closed_form, kernel_integrals,
                         network_cross_spectrum, network_kernel_integrals)
from .dynamics import FixedPoint, MeanFieldModel, Trajectory
from .finite_size_prediction import predict_finite_size, predict_finite_size_point
from .mean_field_network import Network, NoBalancedStateError
from .measured_corrections import excitatory_gain, measure
from .prediction import (DivergedRunError, check_converged, check_ever_balanced,
                         parameter_sweep, predict, predict_from_simulation, predict_point)

__all__ = [
    "predict", "check_ever_balanced", "predict_from_simulation", "predict_point",
    "parameter_sweep", "check_converged",
    "predict_finite_size", "predict_finite_size_point",
    "DivergedRunError", "NoBalancedStateError", "Network", "MeanFieldModel", "FixedPoint",
    "Trajectory", "saddle_node", "fixed_point_branches",
    "count_covariance", "count_covariance_closed_form", "kernel_integrals",
    "network_cross_spectrum", "network_kernel_integrals", "measure", "excitatory_gain",
]

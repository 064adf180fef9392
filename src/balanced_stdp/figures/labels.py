"""Figure text: display names of rules and swept parameters, axis labels, value formats.

Plain text, no plotting library: the captions (:mod:`.captions`) and the figure registry
use it while the workflow is parsed, the figures while they draw.
"""

from __future__ import annotations

import numpy as np

from ..contract import SYNAPSE_TYPES, dimension_name

SYNAPSE_AXIS_LABELS = {s: f"{'Exc' if s[1] == 'e' else 'Inh'} weight $j_{{{s}}}$ (mV)"
                       for s in SYNAPSE_TYPES}
TIME_LABEL = "Time (s)"
FINITE_SIZE_LABEL = "finite-size theory"

RULE_NAMES = {
    "kohonen": "Kohonen", "istdp": "iSTDP", "soft_hebbian": "soft Hebbian",
    "classical_hebbian": "classical Hebbian", "bounded_hebbian": "hard-bound Hebbian",
    "anti_hebbian": "anti-Hebbian", "oja": "Oja", "homeostatic": "homeostatic IE",
    "triplet": "triplet", "custom": "custom rule", "none": "no plasticity",
}
"""Display names of rule labels (the ``rule`` coordinate)."""

RULE_ORDER = ("kohonen", "istdp", "soft_hebbian", "bounded_hebbian", "classical_hebbian")
"""Facet order of the rules of the study; other labels follow alphabetically."""

SWEPT_DIM_LABELS = {
    **{dimension_name(f"weights.{s}"): (f"initial $j_{{{s}}}$", "mV") for s in SYNAPSE_TYPES},
    "N": ("N", ""), "tau_stdp_ms": ("τ_STDP", "ms"),
}
"""Readable names and units of extra swept dimensions (titles and captions)."""

PARAMETER_FORMATS = (("eta", "η = {}"), ("beta0", "β₀ = {}"), ("target_rate_hz", "ρ = {} Hz"),
                     ("j_max", "j_max = {} mV"))
"""How rule parameters are named in captions and titles."""


def rule_name(label: str) -> str:
    """Display name of a rule label (the label itself if it has none)."""
    return RULE_NAMES.get(label, label)


def rule_sort_key(label: str):
    """Sort key putting the study's rules in :data:`RULE_ORDER`, then the rest by name."""
    return (RULE_ORDER.index(label) if label in RULE_ORDER else len(RULE_ORDER), label)


def format_value(value) -> str:
    """A coordinate value as text: floats in ``%g``, everything else as ``str``."""
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    return str(value)


def final_label(synapse: str) -> str:
    """Axis label of a synapse type's final weight ("Final exc weight …")."""
    label = SYNAPSE_AXIS_LABELS[synapse]
    return "Final " + label[0].lower() + label[1:]

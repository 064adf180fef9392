"""balanced-stdp: plastic balanced networks of EIF neurons under STDP.

Simulator, mean-field theory and figures for Akil, Rosenbaum & Josić,
"Balanced networks under spike-time dependent plasticity" (PLoS Comput Biol 2021).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("balanced-stdp")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

MODEL_VERSION = "1"
"""Bumped whenever a change alters simulation results; the workflow reruns on change."""

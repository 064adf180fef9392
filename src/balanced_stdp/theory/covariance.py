"""Spike-train covariances of the balanced state and the STDP kernel integrals (spec §6.2–§6.3).

At leading order, balance holds at every frequency, so S̃ ≈ −M̃(ω)⁻¹ W̃_x(ω) S̃_x with
W̃_ab(ω) = w_ab η̃_b(ω), η̃_b(ω) = 1/(1 + iωτ_b) and M̃ = W̃ − E (E is the
three-population regularisation of :mod:`.network`, zero for two populations). The
population-averaged cross-spectrum is

    C̃(ω) = M̃⁻¹ W̃_x C̃_x(ω) W̃_x* M̃⁻*,

where C̃_x is diagonal over the external layers (layers are independent of each
other). Per layer, two terms contribute [derived here]:

* the correlated term c r_x e^{−ω²τ_jitter²} (spec §3), O(1);
* the shared-input term r_x / (N q_layer) (each pair of recurrent neurons shares
  p² N_layer Poisson inputs; white spectrum), O(1/N).

Following the authors (spec §6.2–§6.3), the count covariance keeps the correlated
term when c > 0 and the shared-input term when c = 0, and the kernel integrals K use
the correlated term only (at c = 0 they are O(1/N) and dropped); both choices are
switchable.

Conventions: f̃(ω) = ∫ f(t) e^{−iωt} dt; C_ab(u) = Cov(S_a(t+u), S_b(t)) (u > 0: the
presynaptic b fires first); ω in rad/ms, spectra and K in kHz, counts in spikes².
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .mean_field_network import Network

# Log-spaced Gauss–Legendre quadrature of the kernel integrals over ω ∈ [Ω_LO, Ω_HI].
# Below Ω_LO the integrand is constant to O(Ω_LO τ) and is added as a rectangle. Above
# Ω_HI the integrand either vanishes (jitter Gaussian) or decays like 1/ω² (covariance
# functions with a jump or a δ at u = 0, e.g. the white shared-input term), and the
# remainder f(Ω_HI)·Ω_HI is added. Accuracy (relative error < 1e-8 for smooth spectra,
# < 1e-7 for 1/ω spectra) is checked in the tests against closed forms, adaptive
# quadrature and time-domain integration.
OMEGA_LO = 1e-9
OMEGA_HI = 1e4
NODES_PER_DECADE = 20


def _log_gauss_legendre(lo: float = OMEGA_LO, hi: float = OMEGA_HI,
                        per_decade: int = NODES_PER_DECADE) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights for ∫_lo^hi f(ω) dω, Gauss–Legendre panels of one decade in ln ω."""
    x, w = np.polynomial.legendre.leggauss(per_decade)
    edges = np.log(np.logspace(math.log10(lo), math.log10(hi),
                               round(math.log10(hi / lo)) + 1))
    nodes, weights = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        s = 0.5 * (b - a) * x + 0.5 * (b + a)
        omega = np.exp(s)
        nodes.append(omega)
        weights.append(0.5 * (b - a) * w * omega)   # dω = ω ds
    return np.concatenate(nodes), np.concatenate(weights)


_NODES, _WEIGHTS = _log_gauss_legendre()


# ------------------------------------------------------------------ spectra
def synaptic_filter(omega, tau_ms):
    """η̃(ω) = 1/(1 + iωτ) of an exponential synapse with time constant ``tau_ms``."""
    return 1.0 / (1.0 + 1j * np.asarray(omega)[..., None] * np.atleast_1d(tau_ms))


def external_cross_spectrum(omega, correlation: float, rate_khz, jitter_ms: float,
                            n_neurons: int | None = None, layer_fraction=None,
                            include_correlated: bool = True):
    """Diagonal of C̃_x(ω) per external layer (kHz): correlated plus shared-input term.

    Parameters
    ----------
    omega : array_like
        Angular frequencies (rad/ms).
    correlation : float
        c of the external trains.
    rate_khz : array_like
        Rate of each layer (kHz).
    jitter_ms : float
        Jitter s.d.; the pairwise covariance density is a Gaussian of variance 2τ_jitter².
    n_neurons, layer_fraction : optional
        If given, add the shared-input term r_x/(N q_layer) (white).
    include_correlated : bool
        Include the c r_x e^{−ω²τ_jitter²} term.

    Returns
    -------
    ndarray (..., n_layers)
    """
    omega = np.asarray(omega, dtype=float)[..., None]
    rate = np.atleast_1d(np.asarray(rate_khz, dtype=float))
    out = np.zeros(omega.shape[:-1] + rate.shape)
    if include_correlated and correlation > 0:
        out = out + correlation * rate * np.exp(-(omega * jitter_ms) ** 2)
    if n_neurons is not None:
        out = out + rate / (n_neurons * np.atleast_1d(layer_fraction))
    return out


def network_cross_spectrum(network: Network, weights: np.ndarray, omega,
                           laser_on: bool = False, correlated: bool = True,
                           shared_input: bool = False) -> np.ndarray:
    """Leading-order population cross-spectrum C̃_ab(ω) (kHz), spec §6.2.

    Parameters
    ----------
    network : Network
    weights : ndarray (n_pop, n_pop)
        Unscaled block weights (mV).
    omega : array_like
        Angular frequencies (rad/ms).
    laser_on : bool
        Whether X2 is active (three-population network).
    correlated, shared_input : bool
        Which terms of C̃_x to include (see module docstring).

    Returns
    -------
    ndarray (n_omega, n_pop, n_pop), complex
        C̃[ω, a, b] = ⟨S̃_a S̃_b*⟩: Hermitian in (a, b), C̃(−ω) = conj C̃(ω).
    """
    omega = np.atleast_1d(np.asarray(omega, dtype=float))
    w = network.recurrent_matrix(weights)
    m = w[None, :, :] * synaptic_filter(omega, network.synaptic_tau_ms)[:, None, :]
    m = m - network.regularisation[None]
    wx = (network.external_matrix()[None]
          * synaptic_filter(omega, network.external_tau_ms)[:, None, :])
    transfer = np.linalg.solve(m, wx)                     # M̃⁻¹ W̃_x, (n_omega, n_pop, n_layers)
    cx = external_cross_spectrum(
        omega, network.correlation, network.external_rates(laser_on), network.jitter_ms,
        network.n_neurons if shared_input else None, network.layer_fractions,
        include_correlated=correlated)
    return np.einsum("wal,wl,wbl->wab", transfer, cx, transfer.conj())


# ------------------------------------------------------------ kernel integrals
def kernel_integrals(spectrum: Callable[[np.ndarray], np.ndarray], tau_stdp_ms: float,
                     nodes: np.ndarray | None = None, weights: np.ndarray | None = None):
    """K, K⁺ and K⁻ of a cross-spectrum by quadrature in frequency (spec §6.3).

    K⁺ = ∫_0^∞ e^{−u/τ} C(u) du = (1/π) ∫_0^∞ Re[C̃(ω) τ/(1 − iωτ)] dω,
    K⁻ = ∫_{−∞}^0 e^{u/τ} C(u) du = (1/π) ∫_0^∞ Re[C̃(ω) τ/(1 + iωτ)] dω,
    K = K⁺ + K⁻, using C̃(−ω) = conj C̃(ω) (C real).

    Parameters
    ----------
    spectrum : callable
        ω (rad/ms, 1-D array) → C̃(ω), any trailing shape (e.g. (n_omega, n, n)).
    tau_stdp_ms : float
        STDP trace time constant τ.
    nodes, weights : ndarray, optional
        Quadrature rule on (0, ∞); the module's log-spaced Gauss–Legendre by default.

    Returns
    -------
    k_total, k_plus, k_minus : ndarray
        ∫ kernel × C(u) du: kHz for population spectra (C(u) in kHz², u in ms).
    """
    if nodes is None:
        nodes, weights = _NODES, _WEIGHTS
    nodes = np.asarray(nodes, dtype=float)
    c = np.asarray(spectrum(nodes))
    extra = (None,) * (c.ndim - 1)
    tau = tau_stdp_ms
    plus = tau / (1.0 - 1j * nodes * tau)
    minus = tau / (1.0 + 1j * nodes * tau)
    wq = weights[(slice(None),) + extra] / math.pi
    k_plus = np.sum(wq * np.real(c * plus[(slice(None),) + extra]), axis=0)
    k_minus = np.sum(wq * np.real(c * minus[(slice(None),) + extra]), axis=0)
    if nodes is _NODES:
        ends = np.asarray(spectrum(np.array([0.0, OMEGA_HI])))
        # rectangle for [0, Ω_LO]: the integrand is Re C̃(0)·τ/π to O(Ω_LO τ) there
        c0 = np.real(ends[0])
        k_plus = k_plus + c0 * tau * OMEGA_LO / math.pi
        k_minus = k_minus + c0 * tau * OMEGA_LO / math.pi
        # 1/ω² tail beyond Ω_HI: ∫_Ω^∞ f = f(Ω)·Ω
        c_hi = ends[1]
        k_plus = k_plus + np.real(c_hi * tau / (1.0 - 1j * OMEGA_HI * tau)) * OMEGA_HI / math.pi
        k_minus = k_minus + np.real(c_hi * tau / (1.0 + 1j * OMEGA_HI * tau)) * OMEGA_HI / math.pi
    return k_plus + k_minus, k_plus, k_minus


def network_kernel_integrals(network: Network, weights: np.ndarray, laser_on: bool = False,
                             shared_input: bool = False):
    """K, K⁺, K⁻ (kHz) for every population pair (post a, pre b) of the network.

    Uses the correlated term of C̃_x (zero at c = 0, as in the authors' theory) plus,
    if ``shared_input``, the O(1/N) shared-input term.

    Returns
    -------
    k_total, k_plus, k_minus : ndarray (n_pop, n_pop)
    """
    if network.correlation <= 0 and not shared_input:
        zero = np.zeros((network.n_populations,) * 2)
        return zero, zero.copy(), zero.copy()
    return kernel_integrals(
        lambda om: network_cross_spectrum(network, weights, om, laser_on, correlated=True,
                                          shared_input=shared_input),
        network.tau_stdp_ms)


# ------------------------------------------------------------- count covariances
def count_covariance_closed_form(rates_khz, correlation: float, external_rate_khz: float,
                                 window_ms: float, n_neurons: int | None = None,
                                 external_fraction: float | None = None) -> np.ndarray:
    """Closed-form population count covariances (spikes²), spec §6.2.

    c > 0: C_ab = T_win c r_a r_b / r_x. c = 0: C_ab = (T_win/N) r_a r_b / (q_x r_x).
    """
    r = np.asarray(rates_khz, dtype=float)
    outer = np.outer(r, r)
    if correlation > 0:
        return window_ms * correlation * outer / external_rate_khz
    if n_neurons is None or external_fraction is None:
        raise ValueError("c = 0 needs n_neurons and external_fraction (the O(1/N) term)")
    return window_ms / n_neurons * outer / (external_fraction * external_rate_khz)


def count_covariance(network: Network, weights: np.ndarray, window_ms: float,
                     laser_on: bool = False) -> np.ndarray:
    """Population count covariances T_win · C̃(0) (spikes²) in matrix form.

    Keeps the correlated term for c > 0 and the shared-input term at c = 0 (the
    authors' convention). With Δ = 0 and two populations this equals
    :func:`count_covariance_closed_form`; the matrix form stays valid with Δ (the
    linear response does not depend on Δ) and for three populations.
    """
    correlated = network.correlation > 0
    spectrum = network_cross_spectrum(network, weights, np.array([0.0]), laser_on,
                                      correlated=correlated, shared_input=not correlated)
    return window_ms * np.real(spectrum[0])

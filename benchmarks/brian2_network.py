"""The simulated network in Brian2 (C++ standalone), for a side-by-side speed column.

The same model as balanced-stdp with its defaults (spec §2–§4): EIF neurons (τ_m = 15 ms,
E_L = −72, V_T = −55, Δ_T = 1, spike at −50, reset −75 mV, no refractory period),
forward Euler at dt = 0.1 ms, exponential currents (τ_e = 8, τ_i = 4, τ_x = 10 ms) with
jumps J/τ, J = j/√N, Bernoulli(0.1) connectivity with autapses, an external layer of
0.2 N Poisson neurons at 10 Hz, one eligibility trace per neuron (+1 per spike,
τ_STDP = 200 ms) and the benchmark's plasticity cases:

* ``none``;
* ``ei-istdp``: homeostatic iSTDP on I→E (η₀ = 1e-4, j_norm = 200 mV, ρ = 10 Hz);
* ``ee-soft+ei-istdp``: that plus soft-bound Hebbian E→E (η = 1e-3, j_max = 30 mV).

Usage (one JSON line on stdout: wall and CPU seconds per simulated second of the
measured run, which follows a warm-up run inside the same binary, and the mean rates)::

    python benchmarks/brian2_network.py --n 5000 --case ee-soft+ei-istdp --duration-s 20
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--case", default="ee-soft+ei-istdp",
                        choices=["none", "ei-istdp", "ee-soft+ei-istdp"])
    parser.add_argument("--duration-s", type=float, default=20.0)
    parser.add_argument("--warmup-s", type=float, default=1.0)
    parser.add_argument("--build-dir", default=None)
    args = parser.parse_args()

    import brian2 as b2
    from brian2 import Hz, ms, mV, second

    build_dir = args.build_dir or tempfile.mkdtemp(prefix="brian2_balanced_")
    b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
    b2.seed(1)
    b2.defaultclock.dt = 0.1 * ms
    n = args.n
    n_e, n_x = int(0.8 * n), int(0.2 * n)
    sqrt_n = math.sqrt(n)
    ee_plastic = args.case == "ee-soft+ei-istdp"
    ei_plastic = args.case != "none"
    namespace = {
        "tau_m": 15 * ms, "E_L": -72 * mV, "V_T": -55 * mV, "Delta_T": 1 * mV,
        "tau_e": 8 * ms, "tau_i": 4 * ms, "tau_x": 10 * ms, "tau_stdp": 200 * ms,
        "eta_ee": 1e-3, "jmax_ee": 30.0 / sqrt_n,
        "eta_ei": 1e-4 * sqrt_n / 200.0, "alpha_e": 2.0 * 10.0 * 0.2,   # 2 ρ τ_STDP
    }
    equations = """
    dV/dt = (-(V - E_L) + Delta_T*exp((V - V_T)/Delta_T))/tau_m + Ie + Ii + Ix : volt
    dIe/dt = -Ie/tau_e : volt/second
    dIi/dt = -Ii/tau_i : volt/second
    dIx/dt = -Ix/tau_x : volt/second
    dx/dt = -x/tau_stdp : 1
    """
    neurons = b2.NeuronGroup(n, equations, threshold="V >= -50*mV", reset="V = -75*mV; x += 1",
                             method="euler", namespace=namespace)
    neurons.V = "-75*mV + rand()*20*mV"
    exc, inh = neurons[:n_e], neurons[n_e:]

    def synapses(source, target, j_mv, current, tau, on_pre="", on_post=None):
        s = b2.Synapses(source, target, "w : 1",
                        on_pre=f"{current}_post += w*mV/{tau}\n" + on_pre,
                        on_post=on_post, namespace=namespace)
        s.connect(p=0.1)
        s.w = j_mv / sqrt_n
        return s

    # weights are signed as in balanced-stdp (j_ei, j_ii < 0)
    objects = [
        synapses(exc, exc, 25.0, "Ie", "tau_e",
                 "w = w - eta_ee*x_post*w" if ee_plastic else "",
                 "w = w + eta_ee*x_pre*jmax_ee" if ee_plastic else None),
        synapses(inh, exc, -150.0, "Ii", "tau_i",
                 "w = w + eta_ei*(x_post - alpha_e)*w" if ei_plastic else "",
                 "w = w + eta_ei*x_pre*w" if ei_plastic else None),
        synapses(exc, inh, 112.5, "Ie", "tau_e"),
        synapses(inh, inh, -250.0, "Ii", "tau_i"),
    ]
    external = b2.PoissonGroup(n_x, rates=10 * Hz)
    objects += [synapses(external, exc, 180.0, "Ix", "tau_x"),
                synapses(external, inh, 135.0, "Ix", "tau_x")]
    counts = b2.SpikeMonitor(neurons, record=False)
    network = b2.Network(neurons, external, counts, *objects)
    network.run(args.warmup_s * second)
    network.run(args.duration_s * second)
    b2.device.build(directory=build_dir, compile=True, run=False)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    b2.device.run(directory=build_dir, with_output=False)
    binary_wall_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    run_s = float(b2.device._last_run_time)          # wall time of the measured run only
    # CPU time of the measured run: the binary's CPU time in the proportion of its wall
    # time that the measured run took (on a shared machine CPU time is the fairer measure)
    binary_cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    total_s = args.warmup_s + args.duration_s
    spikes = counts.count[:]
    print(json.dumps({"wall_s_per_sim_s": run_s / args.duration_s,
                      "cpu_s_per_sim_s": binary_cpu_s * run_s / binary_wall_s / args.duration_s,
                      "rate_e_hz": float(spikes[:n_e].sum() / (n_e * total_s)),
                      "rate_i_hz": float(spikes[n_e:].sum() / ((n - n_e) * total_s))}))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Independent scikit-fem P1 solver of operando's particle model, for issue 17's side-by-side figures.

The model is docs/model.md's (seed Supplementary Eq. 10-15): dθ/dt = ∇·(D_chem(θ)∇θ) on the
particle's ab-plane cross-section, a uniform outward θ-flux q = n·(Q_prac/Q_theo)·(A/Γ)/3600 on the
boundary (A, Γ of the discretised domain), θ0 = 0.95, C/3 charge (n = 1/3) for 60 minutes, the
"nmc87" default parameter set. D_chem(θ) = D_Li(1−θ)/S · θ · F/RT · max(−dV_oc/dθ, 1e-4), with
D_Li and V_oc monotone cubic (PCHIP) interpolants of the tables in docs/model.md.

Written the way a scikit-fem user would write it, and independent of operando's discretisation:
standard Galerkin form ∫D(θ)∇θ·∇v (D evaluated at quadrature points, not operando's Kirchhoff
transform), row-sum lumped mass, the full Newton Jacobian (including the ∫D'(θ)δθ∇θ·∇v term)
assembled by scikit-fem at every iteration and solved by SciPy's sparse LU. Time: backward Euler,
with the same adaptive rule and tolerance as operando (predictor-difference local error,
tolerance 1e-4 in θ, steps ≤ 60 s, clipped to the 10 s output times), so both codes answer the
same question at the same time accuracy.

Mesh: scikit-fem's MeshTri.init_circle(nrefs) mapped affinely onto the 3.04 × 2.04 µm ellipse
(nrefs 4: 545 nodes, about operando's default 573; nrefs 5: 2,113 nodes, about operando's h/2 mesh).

Error: max over the 10 s outputs of |θ_centre − θ_centre,ref(t)|, against a converged reference
trace given with --reference (CSV "time_s,theta_centre"; `make bench-reference` passes operando's
own solution on a much finer mesh with a much tighter time tolerance). Without one, the error is
printed as nan.

Last line of stdout (parsed by Sources/Benchmarks): "wall_s cpu_s nodes centre_error steps newton"
(CPU time too: on a shared 2-core machine the wall time of either side moves with the load).
"""
import argparse
import sys
import time

import numpy as np
from scipy.interpolate import PchipInterpolator
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import skfem
from skfem import Basis, BilinearForm, ElementTriP1, FacetBasis, LinearForm, MeshTri
from skfem.helpers import dot, grad

# docs/model.md: constants and the "nmc87" default set (units: µm, s, V inside).
FARADAY, GAS, TEMPERATURE = 96485.33212, 8.314462618, 298.15
F_OVER_RT = FARADAY / (GAS * TEMPERATURE)
Q_THEO, Q_PRAC, SCALE = 275.0, 210.0, 3.5
THETA0 = 0.95
WIDTH, HEIGHT = 3.04, 2.04  # full axes, µm
D_X = [0.00, 0.07, 0.085, 0.17, 0.27, 0.42, 0.51, 0.60, 0.68, 0.80, 0.90, 1.00]
D_LI = [1.6e-13, 1.6e-13, 2.4e-13, 1.2e-12, 4.5e-12, 1.3e-11, 1.8e-11, 1.9e-11, 1.5e-11, 5.0e-12, 5.9e-13, 5.9e-13]
OCV_THETA = [0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.50, 0.60, 0.70, 0.80, 0.90, 0.95, 0.97, 0.98, 0.99, 0.995, 1.00]
OCV_V = [4.5945, 4.5442, 4.4690, 4.3366, 4.2054, 4.1750, 4.1047, 3.9720, 3.8245, 3.7304, 3.6491, 3.5682, 3.5278,
         3.5116, 3.480, 3.420, 3.330, 2.900]

LOG_D = PchipInterpolator(D_X, np.log10(D_LI), extrapolate=False)
LOG_D1 = LOG_D.derivative()
OCV = PchipInterpolator(OCV_THETA, OCV_V)
OCV1 = OCV.derivative()
OCV2 = OCV.derivative(2)
SLOPE_FLOOR = 1e-4  # V per unit θ: keeps D_chem > 0 where V_oc is flat


def chemical_diffusivity(theta):
    """D_chem(θ) in µm²/s and dD_chem/dθ."""
    t = np.clip(theta, OCV_THETA[0], 1.0)
    x = np.clip(1.0 - t, D_X[0], D_X[-1])
    d_eff = 10.0 ** LOG_D(x) * 1e8 / SCALE                     # cm²/s → µm²/s
    d_eff_dt = -np.log(10.0) * LOG_D1(x) * d_eff                # d/dθ through x = 1 − θ
    slope = -OCV1(t)
    floored = slope < SLOPE_FLOOR
    slope_c = np.where(floored, SLOPE_FLOOR, slope)
    slope_dt = np.where(floored, 0.0, -OCV2(t))
    d = d_eff * t * F_OVER_RT * slope_c
    dd = F_OVER_RT * (d_eff_dt * t * slope_c + d_eff * slope_c + d_eff * t * slope_dt)
    return d, dd


@BilinearForm
def stiffness(u, v, w):
    return w["d"] * dot(grad(u), grad(v))


@BilinearForm
def stiffness_derivative(u, v, w):
    # Newton's extra term: ∫ D'(θ) δθ ∇θ·∇v.
    return w["dd"] * u * dot(grad(w["th"]), grad(v))


@BilinearForm
def mass(u, v, _):
    return u * v


@LinearForm
def boundary_load(v, _):
    return v


def run(nrefs, tolerance=1e-4, output_interval=10.0, duration=3600.0, c_rate=1.0 / 3, max_step=60.0):
    mesh = MeshTri.init_circle(nrefs).scaled((WIDTH / 2, HEIGHT / 2))
    basis = Basis(mesh, ElementTriP1())
    facets = FacetBasis(mesh, ElementTriP1())
    n = mesh.p.shape[1]
    lumped = np.asarray(mass.assemble(basis).sum(axis=1)).ravel()
    ring = boundary_load.assemble(facets)          # ∮ v ds
    area, perimeter = lumped.sum(), ring.sum()
    q = c_rate * (Q_PRAC / Q_THEO) * (area / perimeter) / 3600.0   # seed Eq. 15, µm/s outward
    load = q * ring
    centre = int(np.argmin(np.hypot(mesh.p[0], mesh.p[1])))

    def residual_and_jacobian(theta, old, dt):
        th = basis.interpolate(theta)
        d, dd = chemical_diffusivity(th.value)
        a = stiffness.assemble(basis, d=d)
        b = stiffness_derivative.assemble(basis, dd=dd, th=th)
        res = lumped * (theta - old) / dt + a @ theta + load
        jac = a + b + sp.diags(lumped / dt)
        return res, jac.tocsc()

    def backward_euler(old, start, dt):
        theta = start.copy()
        for iteration in range(1, 26):
            res, jac = residual_and_jacobian(theta, old, dt)
            delta = spla.spsolve(jac, -res)
            theta += delta
            if np.max(np.abs(delta)) < 1e-9:
                return theta, iteration
        return None, 25

    theta = np.full(n, THETA0)
    previous, previous_dt = None, None
    t, dt = 0.0, 0.01
    next_output = output_interval
    times, centres, means = [0.0], [THETA0], [THETA0]
    steps = newton = 0
    while t < duration - 1e-9:
        h = min(dt, max_step)
        clipped = False
        if t + h >= next_output - 1e-9:
            h, clipped = next_output - t, True
        predictor = theta if previous is None else theta + (theta - previous) * h / previous_dt
        new, iterations = backward_euler(theta, predictor, h)
        newton += iterations
        if new is None:
            dt = h / 4
            continue
        if previous is not None:
            err = np.max(np.abs(new - predictor)) * h / (h + previous_dt)
            if err > 2 * tolerance and h > 1e-4:
                dt = h * max(0.2, 0.9 * np.sqrt(tolerance / err))
                continue
            grow = 0.9 * np.sqrt(tolerance / err) if err > 0 else 2.5
            nxt = h * min(2.5, max(0.3, grow))
        else:
            nxt = 2 * h
        # As operando: a step clipped to an output does not shrink the next one below the last step taken.
        dt = max(nxt, previous_dt) if (clipped and previous_dt is not None) else nxt
        previous, previous_dt = theta, h
        theta = new
        t += h
        steps += 1
        if t >= next_output - 1e-9:
            times.append(t)
            centres.append(theta[centre])
            means.append(lumped @ theta / area)
            next_output += output_interval
    return dict(nodes=n, steps=steps, newton=newton, times=np.array(times), centre=np.array(centres),
                mean=np.array(means), area=area, q=q)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nrefs", type=int, default=4, help="init_circle refinements (4: 545 nodes, 5: 2,113)")
    ap.add_argument("--reference", help="CSV time_s,theta_centre of a converged solution")
    ap.add_argument("--write-trace", help="write this run's CSV time_s,theta_centre,theta_mean here")
    args = ap.parse_args()
    start, cpu_start = time.perf_counter(), time.process_time()
    r = run(args.nrefs)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    expected = THETA0 - (1.0 / 3) * (Q_PRAC / Q_THEO) * r["times"] / 3600
    balance = np.max(np.abs(r["mean"] - expected))
    error = float("nan")
    if args.reference:
        ref = np.loadtxt(args.reference, delimiter=",", skiprows=1)
        error = float(np.max(np.abs(r["centre"] - np.interp(r["times"], ref[:, 0], ref[:, 1]))))
    if args.write_trace:
        np.savetxt(args.write_trace, np.column_stack([r["times"], r["centre"], r["mean"]]), delimiter=",",
                   header="time_s,theta_centre,theta_mean", comments="")
    print(f"scikit-fem {skfem.__version__} P1, nrefs {args.nrefs}: {r['nodes']} nodes, {r['steps']} steps, "
          f"{r['newton']} Newton iterations, {seconds:.2f} s ({cpu:.2f} s CPU), centre θ(60 min) {r['centre'][-1]:.6f}, "
          f"mean-θ balance {balance:.1e}, centre error {error:.2e}", file=sys.stderr)
    print(f"{seconds:.4f} {cpu:.4f} {r['nodes']} {error:.4e} {r['steps']} {r['newton']}")


if __name__ == "__main__":
    main()

"""Deterministic methods give the tensors the reference implementations give.

Two references: mergekit itself (a `dev` dependency; its method objects are called on the very
tensors we stream from disk), and small re-implementations of mergekit's published algorithms
written here, so the comparison runs even where mergekit is not installed.
"""

from __future__ import annotations

import math

import pytest
import torch
from _merge_util import load_folder, save_single

from regionadapt.merge import merge_checkpoints

SHAPES = {"w1": (64, 48), "w2": (300,), "w3": (8, 8, 3), "s": ()}


def states(n: int, dtype=torch.float32, quantize: float | None = None, seed: int = 0):
    """n related models: a base plus n-1 fine-tuned copies (base + small delta)."""
    g = torch.Generator().manual_seed(seed)
    base = {k: torch.randn(s, generator=g) for k, s in SHAPES.items()}
    out = [base]
    for _ in range(n - 1):
        m = {}
        for k, v in base.items():
            d = 0.1 * torch.randn(v.shape, generator=g)
            if quantize:  # many equal magnitudes: exercises tie-breaking at the cut-off
                d = torch.round(d / quantize) * quantize
            m[k] = v + d
        out.append(m)
    return [{k: v.to(dtype) for k, v in s.items()} for s in out]


def run(tmp_path, method, sds, *, base_sd=None, **kw):
    paths = [save_single(sd, tmp_path / f"in{i}") for i, sd in enumerate(sds)]
    base = save_single(base_sd, tmp_path / "base") if base_sd is not None else None
    out = tmp_path / "out"
    merge_checkpoints(method, paths, out, base=base, **kw)
    return load_folder(out)


# ---- re-implementations of mergekit's algorithms (mergekit/merge_methods, mergekit/sparsify) --


def ref_magnitude(t, density):
    if density >= 1:
        return t
    k = max(1, int(density * t.numel()))
    mask = torch.zeros(t.numel(), dtype=t.dtype)
    mask[torch.argsort(t.abs().reshape(-1).float(), descending=True)[:k]] = 1
    return t * mask.reshape_as(t)


def ref_task_arith(tensors, base, weights, lam=1.0, normalize=False, ties_density=None):
    deltas = torch.stack(
        [ref_magnitude(t - base, ties_density) if ties_density else t - base for t in tensors]
    )
    w = torch.tensor(weights, dtype=deltas.dtype).reshape(-1, *([1] * base.dim()))
    deltas = deltas * w
    if ties_density is not None:
        majority = torch.where(deltas.sum(0) >= 0, 1.0, -1.0).to(deltas.dtype)
        mask = deltas.sign() == majority
        mixed = (deltas * mask).sum(0)
        div = (w * mask).sum(0)
        div[div == 0] = 1
    else:
        mixed = deltas.sum(0)
        div = w.sum(0)
        div[div.abs() < 1e-8] = 1
    if normalize:
        mixed = mixed / div
    return base + lam * mixed


def ref_slerp(t, v0, v1, thr=0.9995, eps=1e-8):
    a, b = v0.reshape(-1).double(), v1.reshape(-1).double()
    na, nb = a.norm(), b.norm()
    na = na if na > eps else 1.0
    nb = nb if nb > eps else 1.0
    dot = float(((a / na) * (b / nb)).sum().clamp(-1, 1))
    if abs(dot) > thr:
        r = (1 - t) * a + t * b
    else:
        th = math.acos(dot)
        r = (math.sin((1 - t) * th) * a + math.sin(t * th) * b) / math.sin(th)
    return r.reshape(v0.shape).to(v0.dtype)


# ---- our output vs the re-implementations (always runs) --------------------------------------


def test_linear_matches_reference(tmp_path):
    sds = states(3)
    merged = run(tmp_path, "linear", sds, weights=[0.2, 0.5, 0.8])
    for k in SHAPES:
        ref = (0.2 * sds[0][k] + 0.5 * sds[1][k] + 0.8 * sds[2][k]) / 1.5
        torch.testing.assert_close(merged[k], ref, rtol=1e-6, atol=1e-6)


def test_task_arithmetic_matches_reference(tmp_path):
    base, *tuned = states(3)
    w = [0.7, -0.3]
    merged = run(
        tmp_path, "task-arithmetic", tuned, base_sd=base, weights=w, params={"lambda": 1.5}
    )
    for k in SHAPES:
        ref = ref_task_arith([t[k] for t in tuned], base[k], w, lam=1.5)
        torch.testing.assert_close(merged[k], ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("quantize", [None, 0.05])
@pytest.mark.parametrize("density", [0.3, 0.5, 1.0])
def test_ties_matches_reference_exactly(tmp_path, density, quantize):
    base, *tuned = states(4, quantize=quantize)
    w = [1.0, 0.5, 0.8]
    merged = run(tmp_path, "ties", tuned, base_sd=base, weights=w, params={"density": density})
    for k in SHAPES:
        ref = ref_task_arith(
            [t[k] for t in tuned], base[k], w, normalize=True, ties_density=density
        )
        assert torch.equal(merged[k], ref), k


@pytest.mark.parametrize("t", [0.0, 0.3, 1.0])
def test_slerp_matches_reference(tmp_path, t):
    a, b = states(2, seed=3)
    b = dict(b)
    b["w2"] = 2.0 * a["w2"] + 1e-6  # near-parallel: the lerp fallback
    merged = run(tmp_path, "slerp", [a, b], params={"t": t})
    for k in SHAPES:
        torch.testing.assert_close(merged[k], ref_slerp(t, a[k], b[k]), rtol=1e-5, atol=1e-6)
    if t == 0.0:
        for k in SHAPES:
            torch.testing.assert_close(merged[k], a[k], rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(merged["w2"], torch.lerp(a["w2"], b["w2"], t))


def test_ties_index_tie_break_keeps_k(tmp_path):
    """The sort-free tie-break keeps exactly k entries and differs from mergekit's only among
    equal magnitudes."""
    from regionadapt_plugins.merge_methods.task_vectors import magnitude_trim

    d = torch.round(torch.randn(10_000, generator=torch.Generator().manual_seed(0)) * 4) / 4
    for density in (0.1, 0.37, 0.5):
        k = max(1, int(density * d.numel()))
        fast = magnitude_trim(d, density, "index")
        exact = magnitude_trim(d, density, "mergekit")
        assert int((fast != 0).sum()) == k == int((exact != 0).sum())
        thr = exact[exact != 0].abs().min()
        assert torch.equal(fast.abs() > thr, exact.abs() > thr)  # above the cut-off: same


@pytest.mark.parametrize("kind", ["bf16-deltas", "distinct"])
def test_large_trim_equals_mergekit(kind):
    """Large tensors take the introsort replay (no full sort): still mergekit's top-k, both
    where deltas of bfloat16 checkpoints repeat values and where all values differ."""
    sparsify = pytest.importorskip("mergekit.sparsify")
    from regionadapt_plugins.merge_methods.task_vectors import magnitude_trim

    g = torch.Generator().manual_seed(3)
    base = torch.randn(600, 500, generator=g)
    noise = 0.01 * torch.randn(600, 500, generator=g)
    if kind == "bf16-deltas":
        delta = (base + noise).bfloat16().float() - base.bfloat16().float()
        assert torch.unique(delta.abs()).numel() < 0.2 * delta.numel()  # ties everywhere
    else:
        delta = noise
    for density in (0.2, 0.5, 0.9):
        assert torch.equal(magnitude_trim(delta, density), sparsify.magnitude(delta, density))


# ---- our output vs mergekit itself --------------------------------------------------------


def mergekit_merge(name, tensors, parameters, base_index=None, dtype=None):
    """mergekit's method on one tensor group. ``dtype`` is its compute dtype (config ``dtype``);
    we compute half-precision inputs in float32, i.e. mergekit's ``dtype: float32`` with
    ``out_dtype`` = the input dtype."""
    mk = pytest.importorskip("mergekit.merge_methods")
    from mergekit.merge_methods.base import TensorGroup

    group = TensorGroup.from_tensors(tensors, base_index=base_index)
    out_dtype = tensors[0].dtype
    return mk.get(name)([group], parameters=parameters, dtype=dtype, out_dtype=out_dtype)[0]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_against_mergekit_linear_and_task_arithmetic(tmp_path, dtype):
    base, *tuned = states(3, dtype=dtype)
    tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-2, "atol": 1e-2}
    lin = run(tmp_path / "lin", "linear", [tuned[0], base], weights=[0.25, 0.75])
    ta = run(
        tmp_path / "ta", "task-arithmetic", tuned, base_sd=base, weights=[0.6, 0.4],
        params={"lambda": 0.8},
    )  # fmt: skip
    for k in SHAPES:
        ref = mergekit_merge("linear", [tuned[0][k], base[k]], {"weight": {0: 0.25, 1: 0.75}})
        torch.testing.assert_close(lin[k], ref, **tol)
        ref = mergekit_merge(
            "task_arithmetic", [tuned[0][k], tuned[1][k], base[k]],
            {"weight": {0: 0.6, 1: 0.4}, "lambda": 0.8}, base_index=2,
        )  # fmt: skip
        torch.testing.assert_close(ta[k], ref, **tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("quantize", [None, 0.05])
@pytest.mark.parametrize("density", [0.2, 0.5])
def test_against_mergekit_ties(tmp_path, density, quantize, dtype):
    base, *tuned = states(4, quantize=quantize, seed=1, dtype=dtype)
    w = [1.0, 0.3, 0.6]
    merged = run(tmp_path, "ties", tuned, base_sd=base, weights=w, params={"density": density})
    for k in SHAPES:
        ref = mergekit_merge(
            "ties", [t[k] for t in tuned] + [base[k]],
            {"weight": dict(enumerate(w)), "density": dict.fromkeys(range(3), density)},
            base_index=3, dtype=torch.float32,
        )  # fmt: skip
        assert torch.equal(merged[k], ref), k


def test_against_mergekit_slerp(tmp_path):
    a, b = states(2, seed=5)
    b = dict(b)
    b["w3"] = -a["w3"]  # antiparallel: the lerp fallback
    merged = run(tmp_path, "slerp", [a, b], params={"t": 0.35})
    for k in SHAPES:
        ref = mergekit_merge("slerp", [a[k], b[k]], {"t": 0.35}, base_index=0)
        torch.testing.assert_close(merged[k], ref, rtol=1e-5, atol=1e-6)


def test_against_mergekit_dare_without_drop(tmp_path):
    """With nothing dropped, DARE-TIES is mergekit's dare_ties at density 1 (no randomness)."""
    base, *tuned = states(3, seed=2)
    merged = run(
        tmp_path, "dare-ties", tuned, base_sd=base, weights=[0.5, 1.0], params={"drop_rate": 0.0}
    )
    for k in SHAPES:
        ref = mergekit_merge(
            "dare_ties", [tuned[0][k], tuned[1][k], base[k]],
            {"weight": {0: 0.5, 1: 1.0}, "density": {0: 1.0, 1: 1.0}}, base_index=2,
        )  # fmt: skip
        torch.testing.assert_close(merged[k], ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize(
    "method,mk_name,params,weight",
    [("ties", "ties", {"density": 0.5}, 1.0), ("ties", "ties", {"density": 0.3}, 0.3),
     ("ties", "ties", {"density": 0.7, "lambda": 0.6}, 0.0),
     ("ties", "ties", {"density": 0.5, "normalize": False}, 2.5),
     ("task-arithmetic", "task_arithmetic", {"lambda": 0.4}, -0.7),
     ("task-arithmetic", "task_arithmetic", {"normalize": True}, 0.3),
     ("dare-ties", "dare_ties", {"drop_rate": 0.0}, 0.8)],
)  # fmt: skip
def test_single_model_path_equals_mergekit(tmp_path, method, mk_name, params, weight, dtype):
    """One tuned model on a base (GG-EZ's case) takes a shortcut without the stack and mask
    passes: still mergekit's bits, zeros, negative zeros and unchanged entries included."""
    base, tuned = states(2, dtype=dtype, quantize=0.05, seed=4)
    base = dict(base)
    base["w2"] = base["w2"].clone()
    base["w2"][:5] = -0.0
    tuned = dict(tuned)
    tuned["w2"] = tuned["w2"].clone()
    tuned["w2"][:10] = base["w2"][:10]  # zero deltas on -0.0 and ordinary entries
    merged = run(tmp_path, method, [tuned], base_sd=base, weights=[weight], params=params)
    mk_params = {"weight": {0: weight}, "lambda": params.get("lambda", 1.0)}
    if "normalize" in params:
        mk_params["normalize"] = params["normalize"]
    if method != "task-arithmetic":
        mk_params["density"] = {0: params.get("density", 1.0)}
    for k in SHAPES:
        ref = mergekit_merge(mk_name, [tuned[k], base[k]], mk_params, base_index=1,
                             dtype=torch.float32)  # fmt: skip
        assert torch.equal(merged[k], ref), k
        assert torch.equal(
            merged[k].view(torch.int16 if dtype == torch.bfloat16 else torch.int32),
            ref.view(torch.int16 if dtype == torch.bfloat16 else torch.int32),
        ), k


def ulps(x: torch.Tensor, y: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> float:
    """The largest |x - y| in units in the last place (of x's dtype) at the inputs' magnitude
    max(|a|, |b|): the size of one rounding of the inputs, which cancellation cannot shrink."""
    m = torch.maximum(a.abs(), b.abs()).to(x.dtype)
    step = (torch.nextafter(m, torch.full_like(m, float("inf"))) - m).double()
    return ((x.double() - y.double()).abs() / step).max().item()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_linear_three_models_and_task_arithmetic_bit_identical(tmp_path, dtype):
    base, *tuned = states(4, dtype=dtype, seed=6)
    w = [0.2, 0.5, 0.8]
    lin = run(tmp_path / "lin", "linear", [base, *tuned[:2]], weights=w)
    ta = run(tmp_path / "ta", "task-arithmetic", tuned, base_sd=base, weights=w,
             params={"lambda": 0.7})  # fmt: skip
    for k in SHAPES:
        ref = mergekit_merge("linear", [base[k], tuned[0][k], tuned[1][k]],
                             {"weight": dict(enumerate(w))})  # fmt: skip
        assert torch.equal(lin[k], ref), k
        ref = mergekit_merge("task_arithmetic", [t[k] for t in tuned] + [base[k]],
                             {"weight": dict(enumerate(w)), "lambda": 0.7}, base_index=3,
                             dtype=torch.float32)  # fmt: skip
        assert torch.equal(ta[k], ref), k


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_two_model_linear_and_slerp_within_ulps(tmp_path, dtype):
    """Two-model linear is torch.lerp (b = 0 and 1 exact), mergekit a weighted sum and a
    division: within 1 ulp (at the inputs' magnitude) of mergekit's and at least as close to
    a float64 reference. SLERP computes its coefficients another way: within 2 ulps, and
    within 10% of mergekit's error against float64. Neither is bit-identical in float32."""
    a, b = states(2, dtype=dtype, seed=8)
    lin = run(tmp_path / "lin", "linear", [a, b], weights=[0.3, 0.7])
    sl = run(tmp_path / "sl", "slerp", [a, b], params={"t": 0.35})
    differ = 0
    for k in ("w1", "w2", "w3"):
        ref = mergekit_merge("linear", [a[k], b[k]], {"weight": {0: 0.3, 1: 0.7}})
        exact = 0.3 * a[k].double() + 0.7 * b[k].double()
        assert ulps(lin[k], ref, a[k], b[k]) <= 1, k
        assert (lin[k].double() - exact).abs().max() <= (ref.double() - exact).abs().max(), k
        differ += int((lin[k] != ref).sum())
        ref = mergekit_merge("slerp", [a[k], b[k]], {"t": 0.35}, base_index=0,
                             dtype=torch.float32).to(dtype)  # fmt: skip
        exact = ref_slerp(0.35, a[k].double(), b[k].double())
        assert ulps(sl[k], ref, a[k], b[k]) <= 2, k
        err, mk_err = ((x.double() - exact).abs().max() for x in (sl[k], ref))
        assert err <= 1.1 * mk_err, k
        differ += int((sl[k] != ref).sum())
    if dtype == torch.float32:
        assert differ > 0  # not bit-identical: docs/merging.md must not claim it

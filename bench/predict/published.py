"""Published GPU measurements (``bench/reference/published_gpu.csv``) against the estimate.

Each published row names its repository, file, commit, table, protocol and what the figure
includes, the device-table GPU and the zoo model that has the same architecture (a TSN-ResNet
at one frame is the image ResNet: frames fold into the batch). This module turns the rows into
comparable targets (milliseconds per batch; training peak MiB), predicts each from a meta-device
trace, reports the error per source, GPU, dtype, mode and batch regime, fits the estimate's
constants (:func:`fit`) and runs the leave-one-GPU-out check (:func:`leave_one_gpu_out`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from importlib import resources
from statistics import median
from typing import Any

from stbench.bench.predict.devices import get_device
from stbench.bench.predict.estimate import (
    CONSTANTS,
    PROTOCOL_MS,
    Features,
    estimate_features,
    features,
    regime,
    values,
)

# The constants :func:`fit` adjusts (the others are cited or assumed).
FITTED = (
    *("eff_fp32", "eff_tf32", "eff_half", "eff_bw", "host_autocast_us"),
    *("overlap_sharpness", "nchw_transpose_passes", "sm_issue_flop"),
)
RESTARTS = 8  # at most this many fresh simplexes after the first Nelder-Mead run of a fit
RESTART_TOL = 1e-3  # ... stopping when one gains less than this fraction of the loss
SMALL_BATCH = 8  # batch <= this: the "small batch" regime of the report
# Device-table rows that are one chip (same peaks and bandwidth): held out together.
SAME_CHIP = {"v100_sxm2_16gb": "v100_sxm2"}


# The value a fit starts from, and keeps where its data has no kernel of that class (a
# precision no training row runs in): no information, half of peak.
PRIOR = {"eff_fp32": 0.5, "eff_tf32": 0.5, "eff_half": 0.5}
# Where every fit starts (not the shipped values, so that a refit and each leave-one-GPU-out
# fit are reproducible): the efficiencies at PRIOR, one extra pass for NCHW<->NHWC, the host
# constants at host_op_us's order.
START = {
    **PRIOR,
    **{"eff_bw": 0.5, "host_autocast_us": 5.0, "overlap_sharpness": 2.0},
    **{"nchw_transpose_passes": 1.0, "sm_issue_flop": 2048.0, "protocol_ms_dle": 5.0},
}
CLASS_OF = {"eff_fp32": 2, "eff_tf32": 3, "eff_half": 4}


def classes_used(feats: Iterable[Features]) -> set[int]:
    """Kernel class codes that the features' kernels fall in."""
    return {int(c) for f in feats for c in set(f.cls.tolist())}


def chip(gpu: str) -> str:
    """The chip a device-table row is (memory variants of one chip are one)."""
    return SAME_CHIP.get(gpu, gpu)


def load_published(path: str | None = None) -> list[dict[str, Any]]:
    """The rows of the shipped published-measurements file (or of ``path``)."""
    if path is None:
        ref = resources.files("stbench.bench").joinpath("reference/published_gpu.csv")
        text = ref.read_text()
    else:
        with open(path, newline="") as f:
            text = f.read()
    rows = list(csv.DictReader(text.splitlines()))
    for r in rows:
        for k in ("batch", "frames", "size", "num_classes"):
            r[k] = int(r[k])
        r["value"] = float(r["value"])
    return rows


def _config(r: Mapping[str, Any]) -> tuple[Any, ...]:
    keys = ("repository", "file", "gpu", "zoo_model", "dtype", "memory_format", "mode", "batch")
    return tuple(r[k] for k in (*keys, "frames", "size", "num_classes"))


def latency_targets(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One target per configuration: the mean latency per batch, else batch / throughput."""
    rows = list(rows)
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in rows:
        if r["metric"] == "latency_ms_per_batch" and r["statistic"] == "mean":
            out[_config(r)] = {**r, "measured_ms": r["value"], "from": "latency"}
    for r in rows:
        if r["metric"] == "throughput_per_s" and _config(r) not in out:
            ms = r["batch"] / r["value"] * 1e3
            out[_config(r)] = {**r, "measured_ms": ms, "from": "throughput"}
    return list(out.values())


def memory_targets(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The training peak-memory rows (MiB as published)."""
    return [dict(r) for r in rows if r["metric"] == "train_peak_memory_mib"]


@cache
def _trace(model: str, batch: int, frames: int, size: int, classes: int, dtype: str, train: bool):
    from stbench.bench.count.static import build_zoo_model
    from stbench.bench.predict.trace import trace_forward, trace_training_step

    m = build_zoo_model(model, frames=frames, num_classes=classes)
    shape = (batch, 3, frames, size, size)
    if train:
        return trace_training_step(m, shape, dtype=dtype, optimizer="sgd")
    return trace_forward(m, shape, dtype=dtype)


def target_features(t: Mapping[str, Any]) -> Features:
    """The estimate's features of one published configuration."""
    train = t["mode"] == "train"
    tr = _trace(
        t["zoo_model"], t["batch"], t["frames"], t["size"], t["num_classes"], t["dtype"], train
    )
    return features(tr.ops, get_device(t["gpu"]), t["dtype"], memory_format=t["memory_format"])


def protocol_ms(t: Mapping[str, Any], v: Mapping[str, float] | None = None) -> float:
    """The fixed per-iteration time the source's protocol adds (0 when it adds none)."""
    c = PROTOCOL_MS.get(t["repository"])
    if c is None:
        return 0.0
    return (v or {}).get(c.name, c.value)


def batch_regime(t: Mapping[str, Any]) -> str:
    """train | small batch (<= SMALL_BATCH) | large batch."""
    if t["mode"] == "train":
        return "train"
    return f"batch<={SMALL_BATCH}" if t["batch"] <= SMALL_BATCH else f"batch>{SMALL_BATCH}"


def regime_of(r: Mapping[str, Any]) -> str:
    """The estimate's regime of a predicted row (host-bound, gpu-bound, train): the interval's."""
    return regime(r["bound_by"], r["mode"] == "train")


def predict_targets(
    targets: Iterable[Mapping[str, Any]], v: Mapping[str, float] | None = None
) -> list[dict[str, Any]]:
    """Each target with the estimate, the bound and the relative error of the estimate."""
    from stbench.bench.predict.roofline import summarize_ops

    v = values() if v is None else v
    out = []
    for t in targets:
        f = target_features(t)
        est = estimate_features(f, v, extra_host_ms=protocol_ms(t, v))
        predicted = est["latency_ms"]
        train = t["mode"] == "train"
        tr = _trace(
            t["zoo_model"], t["batch"], t["frames"], t["size"], t["num_classes"], t["dtype"], train
        )
        bound = summarize_ops(tr.ops, get_device(t["gpu"]), t["dtype"])["latency_bound_ms"]
        out.append(
            {
                **t,
                **est,
                "predicted_ms": predicted,
                "bound_ms": bound,
                "error": predicted / t["measured_ms"] - 1,
                "regime": regime(est["bound_by"], train),
            }
        )
    return out


def predict_memory(targets: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each training-memory target with the replayed peak (MiB) and its relative error."""
    from stbench.bench.predict.memsim import memory_report

    out = []
    for t in targets:
        tr = _trace(
            t["zoo_model"], t["batch"], t["frames"], t["size"], t["num_classes"], t["dtype"], True
        )
        mib = memory_report(tr)["peak_bytes"] / 2**20
        out.append({**t, "predicted_mib": mib, "error": mib / t["value"] - 1})
    return out


def summary(errors: Iterable[float]) -> dict[str, float]:
    """n, median and worst |relative error|."""
    e = [abs(x) for x in errors]
    return {"n": len(e), "median": median(e) if e else math.nan, "worst": max(e, default=math.nan)}


def group_errors(
    rows: Iterable[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], str]
) -> dict[str, dict[str, float]]:
    """:func:`summary` of the rows' errors per group."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r["error"])
    return {k: summary(v) for k, v in groups.items()}


def _loss(preds: list[tuple[Features, float, float]], v: Mapping[str, float]) -> float:
    errs = []
    for f, proto, measured in preds:
        p = estimate_features(f, v, extra_host_ms=proto)["latency_ms"]
        errs.append(abs(math.log(p / measured)))
    # mean |log error| plus a weight on the worst one: the target is median and worst
    return sum(errs) / len(errs) + 0.5 * max(errs)


def fit(
    targets: Iterable[Mapping[str, Any]],
    *,
    names: tuple[str, ...] = FITTED,
    fit_protocols: bool = True,
    iterations: int = 600,
) -> dict[str, float]:
    """Constants minimising |log error| over ``targets`` (Nelder-Mead in log space)."""
    targets = list(targets)
    v0 = values()
    proto_names = []
    if fit_protocols:
        seen = {t["repository"] for t in targets}
        for repo, c in PROTOCOL_MS.items():
            if repo in seen:
                v0[c.name] = c.value
                proto_names.append(c.name)
    v0.update({n: x for n, x in START.items() if n in (*names, *proto_names)})
    feats = [(target_features(t), t) for t in targets]
    used = classes_used(f for f, _ in feats)
    for n, code in CLASS_OF.items():
        if code not in used:
            v0[n] = PRIOR[n]
    free = [n for n in (*names, *proto_names) if n in v0 and CLASS_OF.get(n, 2) in used]

    def unpack(x: list[float]) -> dict[str, float]:
        v = dict(v0)
        v.update({n: math.exp(xi) for n, xi in zip(free, x, strict=True)})
        for n in ("eff_tf32", "eff_half", "eff_bw"):
            v[n] = min(v[n], 1.0)
        v["overlap_sharpness"] = max(v["overlap_sharpness"], 1.0)
        return v

    def loss(x: list[float]) -> float:
        v = unpack(x)
        return _loss([(f, protocol_ms(t, v), t["measured_ms"]) for f, t in feats], v)

    x = minimize(loss, [math.log(max(v0[n], 1e-6)) for n in free], iterations)
    return unpack(x)


def minimize(
    fn: Callable[[list[float]], float], x0: list[float], iters: int, restarts: int = RESTARTS
) -> list[float]:
    """Nelder-Mead from ``x0``, restarted from its best point with a fresh simplex until a
    restart gains less than :data:`RESTART_TOL` of the loss (at most ``restarts`` times).

    One Nelder-Mead run stops where its simplex collapsed, often short of the minimum (a
    shrunken simplex cannot leave a narrow valley); a fresh simplex around that point goes on.
    """
    x = _nelder_mead(fn, list(x0), iters)
    best = fn(x)
    for _ in range(restarts):
        x_new = _nelder_mead(fn, x, iters)
        new = fn(x_new)
        gain = best - new
        if new < best:
            x, best = x_new, new
        if gain < RESTART_TOL * abs(best):
            break
    return x


def _nelder_mead(fn: Callable[[list[float]], float], x0: list[float], iters: int) -> list[float]:
    n = len(x0)
    simplex = [list(x0)] + [
        [x + (0.3 if i == j else 0.0) for j, x in enumerate(x0)] for i in range(n)
    ]
    scores = [fn(p) for p in simplex]
    for _ in range(iters):
        order = sorted(range(n + 1), key=scores.__getitem__)
        simplex, scores = [simplex[i] for i in order], [scores[i] for i in order]
        centroid = [sum(p[j] for p in simplex[:-1]) / n for j in range(n)]
        worst = simplex[-1]
        refl = [c + (c - w) for c, w in zip(centroid, worst, strict=True)]
        fr = fn(refl)
        if fr < scores[0]:
            exp = [c + 2 * (c - w) for c, w in zip(centroid, worst, strict=True)]
            fe = fn(exp)
            simplex[-1], scores[-1] = (exp, fe) if fe < fr else (refl, fr)
        elif fr < scores[-2]:
            simplex[-1], scores[-1] = refl, fr
        else:
            con = [c + 0.5 * (w - c) for c, w in zip(centroid, worst, strict=True)]
            fc = fn(con)
            if fc < scores[-1]:
                simplex[-1], scores[-1] = con, fc
            else:
                best = simplex[0]
                simplex = [best] + [
                    [b + 0.5 * (p - b) for b, p in zip(best, q, strict=True)] for q in simplex[1:]
                ]
                scores = [scores[0]] + [fn(p) for p in simplex[1:]]
    return simplex[min(range(n + 1), key=scores.__getitem__)]


def leave_one_gpu_out(
    targets: Iterable[Mapping[str, Any]], *, iterations: int = 600
) -> list[dict[str, Any]]:
    """Refit without each GPU's rows, predict that GPU's rows: every target, held out once.

    A held-out row whose kernels run in a precision no training row runs in (e.g. the only
    TF32 rows are on the held-out GPU) gets that efficiency's :data:`PRIOR` and
    ``identifiable = False``.
    """
    targets = list(targets)
    out: list[dict[str, Any]] = []
    for gpu in sorted({chip(t["gpu"]) for t in targets}):
        train = [t for t in targets if chip(t["gpu"]) != gpu]
        held = [t for t in targets if chip(t["gpu"]) == gpu]
        v = fit(train, iterations=iterations)
        seen = classes_used(target_features(t) for t in train)
        for r in predict_targets(held, v):
            need = classes_used([target_features(r)]) & set(CLASS_OF.values())
            out.append({**r, "held_out": gpu, "identifiable": need <= seen})
    return out


def constants_table() -> list[dict[str, Any]]:
    """Every constant of the estimate with its unit, how it was set and its source."""
    rows = [vars(c) for c in CONSTANTS.values()]
    rows += [vars(c) for c in PROTOCOL_MS.values()]
    return rows

"""The report's verdict rules: fixed rules that turn measured rows into per-claim verdicts.

Every number a verdict compares against comes from ``reference`` (the claims'
stated factors, the methods' published SNRs, the checklist thresholds); the
measured side comes from master-table rows (``protocol.table_rows``) and the
notebooks' results.  A rerun with other numbers regenerates other verdicts.
"""
from __future__ import annotations

import math

import numpy as np

from rvlib import rules, stats
from rvlib.nb.tables import fmt, percent
from rvlib.paper.reference import CHECKLIST, CLAIMS, METHODS, NOISE_LEVELS

__all__ = ["verdicts", "checklist", "number"]


def number(v) -> float:
    """JSON stores non-finite floats as strings ('inf'); turn them back into floats."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _snr(key: str) -> str:
    return f"{METHODS[key].paper_snr:.2f}"


def _shares(rows: list[dict]) -> str:
    return " / ".join(percent(r["frac_control_negative"]) for r in rows)


def _lams(rows: list[dict]) -> str:
    return " / ".join(f"{r['lam']:g}" for r in rows)


def _mlp_findings(rows: list[dict], by: dict) -> tuple[list[str], list[str]]:
    """What the MLP rows (one update, by λ) reproduce of the paper and what not, by fixed rules.

    ``by``: master-table rows (their accuracy at σ = 0.5, when trained by the same update).
    """
    paper = {m.lam: m for m in METHODS.values() if m.rule == "gradient" and m.in_paper}
    rows = [r for r in rows if r["lam"] in paper]
    yes, no = [], []
    acc = [number(r["accuracy"]) for r in rows]
    (yes if all(a == 1.0 for a in acc) else no).append(
        f"accuracy 100% at every λ ({', '.join(percent(a) for a in acc)})")
    for m in paper.values():
        row = by.get(m.key, {})
        if m.paper_accuracy_at_half is None or "accuracy_at_0.5" not in row \
                or row.get("update", "published") != rows[0].get("update", "published"):
            continue
        got = number(row["accuracy_at_0.5"])
        (yes if abs(got - m.paper_accuracy_at_half) < 0.05 else no).append(
            f"accuracy at σ=0.5 for λ={m.lam:g}: {percent(got)} vs the paper's "
            f"{percent(m.paper_accuracy_at_half)}")
    grow = all(number(b["margin_median"]) > number(a["margin_median"])
               and number(b["out0_mean"]) > number(a["out0_mean"]) for a, b in zip(rows, rows[1:]))
    (yes if grow else no).append(
        "the margin out0−out1 and out0 grow with λ (median margin "
        + " → ".join(fmt(r["margin_median"], ".3g") for r in rows) + ")")
    for r in rows:
        ratio = number(r["snr_mean"]) / paper[r["lam"]].paper_snr
        (yes if 0.5 <= ratio <= 2.0 else no).append(
            f"mean SNR at λ={r['lam']:g}: {fmt(r['snr_mean'])} vs the paper's "
            f"{paper[r['lam']].paper_snr:.2f} ({fmt(ratio, '.2g')}×)")
    means = [number(r["snr_mean"]) for r in rows]
    (yes if all(b > a > 0 for a, b in zip(means, means[1:])) else no).append(
        "mean SNR rising with λ")
    return yes, no


def _loss(by: dict, images, updates: dict | None = None) -> dict:
    claim = CLAIMS["loss"]
    m10, std = by[claim.after], by[claim.before]
    f_mean = number(m10["snr_mean"]) / number(std["snr_mean"])
    f_med = number(m10["snr_median"]) / number(std["snr_median"])
    f_margin = number(m10["clean_margin_median"]) / number(std["clean_margin_median"])
    reproduced = f_mean >= 0.3 * claim.stated and f_med >= 10
    upd = m10.get("update", "published") + (" with biases" if m10.get("bias") else "")
    lam0, lam10 = METHODS[claim.before].lam, METHODS[claim.after].lam
    out = {
        "claim": f"loss: margin λ={lam10:g} raises mean SNR {claim.stated:g}× over λ={lam0:g}",
        "paper": f"{_snr(claim.before)} → {_snr(claim.after)} ({claim.stated:g}×)",
        "measured": f"{fmt(std['snr_mean'])} → {fmt(m10['snr_mean'])} ({fmt(f_mean, '.3g')}×; "
                    f"medians {fmt(f_med, '.3g')}×), MLP trained by the {upd} update",
        "verdict": "reproduced" if reproduced else (
            "not reproduced as an SNR ratio; the margin effect is" if f_margin > 1.5
            else "not reproduced"),
        "evidence": (f"the clean margin out0−out1 (what the loss optimises) grows "
                     f"{fmt(f_margin, '.3g')}× (median {fmt(std['clean_margin_median'], '.3g')} → "
                     f"{fmt(m10['clean_margin_median'], '.3g')}); the control output is negative "
                     f"in {percent(m10['frac_control_negative'])} of rows at λ={lam10:g} vs "
                     f"{percent(std['frac_control_negative'])} at λ={lam0:g}, so "
                     "out0/(out1+1e-9) changes sign and scale with the control output, not with "
                     f"the margin; at λ={lam0:g} the top 5 of "
                     f"{len(images) * len(NOISE_LEVELS)} rows carry "
                     f"{percent(std['snr_top5_share'])} of Σ|SNR|."),
    }
    if not updates:
        return out
    signs = "; ".join(f"{name}: {_shares(rs)}" for name, rs in updates.items())
    out["evidence"] += (f" Control output negative (share of rows) for λ = "
                        f"{_lams(next(iter(updates.values())))}, by update — {signs}.")
    if "published" in updates:
        pub = updates["published"]
        yes, no = _mlp_findings(pub, by)
        top = max(pub, key=lambda r: number(r["snr_top5_share"]))
        out["reproduces"] = ("; ".join(yes) or "nothing") + "."
        out["does not reproduce"] = ("; ".join(no) or "nothing") + "."
        out["why"] = (
            "the published error vector e = out − t with e0 −= λ/max(m, 0.1) pushes only out0 "
            "up; out1 is merely pulled toward 0 and ends near 0 (mean out1 "
            + " / ".join(fmt(r["out1_mean"], ".2g") for r in pub) + ") with a random sign (negative in "
            f"{_shares(pub)} of rows for λ = {_lams(pub)}), so each mean SNR is set by the few "
            f"rows whose out1 is closest to 0 (the top 5 carry up to "
            f"{percent(top['snr_top5_share'])} of Σ|SNR|, at λ={top['lam']:g}). Which rows those "
            "are depends on the images and the initial weights, not on λ: on the synthetic "
            "stand-in images they are other rows than on the paper's KITTI images, so the "
            "paper's mean SNRs (and their 375× ratio) cannot be expected to reappear, while "
            "everything that does not divide by out1 (accuracy, margin, out0) does.")
    return out


def _rule(by: dict, images) -> dict:
    claim = CLAIMS["rule"]
    heb, sgd, stab = by[claim.after], by[claim.before], by.get("sgd_stable")
    eta = METHODS[claim.before].eta
    s = rules.delta_stability(eta, images)
    f_rule = number(heb["snr_mean"]) / number(sgd["snr_mean"])
    hebbian = [k for k, m in METHODS.items() if m.rule == "hebbian"]
    same_control = len({round(number(by[k]["out1_mean"]), 6) for k in hebbian}) == 1
    artefact = s["fraction_stable"] < 0.5 and same_control
    return {
        "claim": f"rule: Hebbian beats SGD by {claim.stated:g}× in mean SNR",
        "paper": f"{_snr(claim.before)} → {_snr(claim.after)} ({claim.stated:g}×), SGD accuracy "
                 f"{METHODS[claim.before].paper_accuracy:.0%}",
        "measured": f"{fmt(sgd['snr_mean'])} → {fmt(heb['snr_mean'])} ({fmt(f_rule, '.3g')}×), "
                    f"SGD accuracy {percent(sgd['accuracy'])}",
        "verdict": "artefact of the protocol" if artefact else (
            "reproduced" if f_rule > 0.3 * claim.stated else "not reproduced"),
        "evidence": (f"η={eta:g} is above the delta rule's limit 2/‖x‖² for "
                     f"{percent(1 - s['fraction_stable'])} of images (error grows up to "
                     f"{s['max_growth_per_step']:.1f}× per step), so 'SGD' diverges; "
                     + ("the Hebbian control output is identical for every clip range "
                        f"(mean {fmt(heb['out1_mean'])}): the control column never learns, so "
                        "Hebbian SNR measures η·iterations over the init scale. "
                        if same_control else "")
                     + (f"At a stable η ({fmt(stab.get('eta', float('nan')))}) the delta rule "
                        f"reaches {percent(stab['accuracy'])} accuracy (clean margin median "
                        f"{fmt(stab['clean_margin_median'], '.3g')}); its clean mean SNR "
                        f"{fmt(stab['clean_snr_mean'], '.3g')} vs median "
                        f"{fmt(stab['clean_snr_median'], '.3g')} shows the ratio blowing up as "
                        "the control output converges to 0." if stab else "")),
    }


def _constraint(by: dict) -> dict:
    c1, c05 = CLAIMS["constraint"], CLAIMS["constraint_tight"]
    heb = by[c1.before]
    pen = {k: 1 - number(by[k]["snr_mean"]) / number(heb["snr_mean"])
           for k, m in METHODS.items() if m.rule == "hebbian" and m.clip is not None}
    ratio_1_05 = number(by["hebbian_0_1"]["snr_mean"]) / number(by["hebbian_0_0.5"]["snr_mean"])
    ratio_2_1 = number(by["hebbian_0_2"]["snr_mean"]) / number(by["hebbian_0_1"]["snr_mean"])
    close = abs(pen[c1.after] + c1.stated) < 0.15 and abs(pen[c05.after] + c05.stated) < 0.15
    ceiling = abs(ratio_1_05 - 2) < 0.4
    lo1, hi1 = METHODS[c1.after].clip
    lo05, hi05 = METHODS[c05.after].clip
    return {
        "claim": f"constraint: clipping to [{lo1:g}, {hi1:g}] costs {-c1.stated:.0%} of SNR "
                 f"({-c05.stated:.0%} at [{lo05:g}, {hi05:g}])",
        "paper": f"{_snr(c1.before)} → {_snr(c1.after)} (−{-c1.stated:.0%}), {_snr(c05.after)} "
                 f"at [{lo05:g}, {hi05:g}] (−{-c05.stated:.0%})",
        "measured": f"{fmt(heb['snr_mean'])} → {fmt(by[c1.after]['snr_mean'])} "
                    f"(−{pen[c1.after]:.0%}), {fmt(by[c05.after]['snr_mean'])} at "
                    f"[{lo05:g}, {hi05:g}] (−{pen[c05.after]:.0%})",
        "verdict": ("reproduced in the clipped values, but the penalty is an artefact"
                    if ceiling and not close else
                    "reproduced, set by the clip ceiling" if ceiling else
                    "reproduced" if close else "not reproduced"),
        "evidence": (f"clipped SNRs scale with the ceiling: [0,1]/[0,0.5] = {ratio_1_05:.2f} "
                     f"and [0,2]/[0,1] = {ratio_2_1:.2f} (clip ratio 2); clipped rows sit near "
                     "clip/0.005 × an image statistic, so their values match the paper almost "
                     "whatever the images, while the unconstrained SNR (the penalty's "
                     "denominator) depends on the images' brightness."),
    }


def verdicts(by: dict, images, updates: dict | None = None) -> list[dict]:
    """The three headline claims: ``{claim, paper, measured, verdict, evidence}`` each.

    ``by``: master-table rows by method key; ``images: f32[n, d]`` the protocol's inputs;
    ``updates``: ``{update name: lambda_study.paper_lambda_rows}`` (the MLP rows under each
    update of ``protocol.MLP_UPDATES``): the loss verdict then states the control-sign share
    under every update and, for the published one, what it reproduces, what not and why
    (keys ``reproduces``, ``does not reproduce``, ``why``).
    """
    return [_loss(by, images, updates), _rule(by, images), _constraint(by)]


def _r2(points) -> float:
    xs, ys = zip(*points)
    if not np.all(np.isfinite(ys)):
        return float("nan")
    return stats.linear_fit(xs, ys)["r2"]


def _item_row(item, v, on: str) -> dict:
    ok = item.passes(v) and math.isfinite(v)
    return {"item": item.text, "measured": fmt(v, ".4g"), "threshold": f"{item.op} {item.threshold:g}",
            "ok": "✅" if ok else "❌", "on": on}


def checklist(by: dict, controlled: list[dict]) -> list[dict]:
    """The guide's checklist on the paper protocol's rows, then on the controlled notebooks.

    ``controlled``: dicts ``{"_on": where, <checklist key>: value, ...}``.
    """
    mlp = sorted((m for m in METHODS.values() if m.rule == "gradient"), key=lambda m: m.lam)
    margin, baseline = METHODS[CLAIMS["loss"].after], METHODS[CLAIMS["loss"].before]
    vals = {"margin_clean_snr": number(by[margin.key]["clean_snr_mean"]),
            "baseline_clean_snr": number(by[baseline.key]["clean_snr_mean"]),
            "margin_acc_half": number(by[margin.key].get("accuracy_at_0.5")),
            "baseline_acc_half": number(by[baseline.key].get("accuracy_at_0.5")),
            "lambda_linearity_r2": _r2([(m.lam, number(by[m.key]["snr_mean"])) for m in mlp])}
    rows = [_item_row(item, vals[key], "paper protocol (MLP per image, depth scenes)")
            for key, item in CHECKLIST.items()]
    for c in controlled:
        rows += [_item_row(item, number(c[key]), c["_on"]) for key, item in CHECKLIST.items()
                 if key in c]
    return rows

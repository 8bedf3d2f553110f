"""Generate REPRODUCTION.md: the paper's claims next to what rvlib measured.

Everything in the report comes from results files written by the notebooks
(``results/<notebook>/default/results.json``) or, for the paper protocol when
notebook 01 has not run, from running the protocol here.  Verdicts are
decided by fixed rules on the measured numbers (see ``_verdicts``), so a rerun
regenerates the whole file.

``python -m rvlib.report [--root .] [--out REPRODUCTION.md]``
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

import rvlib
from rvlib import nb, paper, results, rules, tables


def _load(root: Path, notebook: str, run: str = "default") -> dict | None:
    p = root / "results" / notebook / run / "results.json"
    return results.read_json(p)["metrics"] if p.exists() else None


def protocol_rows(root: Path) -> tuple[list[dict], str]:
    m = _load(root, "01_train_baselines")
    if m and "paper_table" in m:
        return m["paper_table"], "results/01_train_baselines/default/results.json"
    from rvlib import paper_table
    from rvlib.paper import protocol
    x = paper_table.default_images()
    return protocol.paper_table(protocol.run_paper_protocol(x)), "computed by rvlib.report"


def _f(v, spec=".4g"):
    if isinstance(v, str):
        return v
    return tables.fmt(v, spec)


def _pct(v):
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.0%}"


def _r2(xs, ys) -> float:
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    if len(xs) < 3 or not np.all(np.isfinite(ys)) or np.ptp(ys) == 0:
        return float("nan")
    slope, icpt = np.polyfit(xs, ys, 1)
    resid = ys - (slope * xs + icpt)
    return float(1 - resid.var() / ys.var())


def _num(v) -> float:
    """JSON stores non-finite floats as strings ('inf'); turn them back into floats."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _verdicts(by: dict, images) -> list[dict]:
    """Fixed rules that turn measured rows into per-claim verdicts with their evidence."""
    out = []
    m10, std = by["mlp_margin10"], by["mlp_standard"]
    f_mean = _num(m10["snr_mean"]) / _num(std["snr_mean"])
    f_med = _num(m10["snr_median"]) / _num(std["snr_median"])
    f_margin = _num(m10["clean_margin_median"]) / _num(std["clean_margin_median"])
    reproduced = f_mean >= 0.3 * 375 and f_med >= 10
    out.append({
        "claim": "loss: margin λ=10 raises mean SNR 375× over λ=0",
        "paper": "6.37 → 2399.01 (375×)",
        "measured": f"{_f(std['snr_mean'])} → {_f(m10['snr_mean'])} ({_f(f_mean, '.3g')}×; "
                    f"medians {_f(f_med, '.3g')}×)",
        "verdict": "reproduced" if reproduced else (
            "not reproduced as an SNR ratio; the margin effect is" if f_margin > 1.5
            else "not reproduced"),
        "evidence": (f"the clean margin out0−out1 (what the loss optimises) grows "
                     f"{_f(f_margin, '.3g')}× (median {_f(std['clean_margin_median'], '.3g')} → "
                     f"{_f(m10['clean_margin_median'], '.3g')}); the control output is negative "
                     f"in {_pct(m10['frac_control_negative'])} of rows at λ=10 vs "
                     f"{_pct(std['frac_control_negative'])} at λ=0, so out0/(out1+1e-9) changes "
                     f"sign and scale with the control output, not with the margin; at λ=0 the "
                     f"top 5 of {len(images) * len(paper.NOISE_LEVELS)} rows carry "
                     f"{_pct(std['snr_top5_share'])} of Σ|SNR|."),
    })

    heb, sgd, stab = by["hebbian"], by["sgd"], by.get("sgd_stable")
    s = rules.delta_stability(0.01, images)
    f_rule = _num(heb["snr_mean"]) / _num(sgd["snr_mean"])
    same_control = len({round(_num(by[k]["out1_mean"]), 6) for k in
                        ("hebbian", "hebbian_0_2", "hebbian_0_1", "hebbian_0_0.5")}) == 1
    artefact = s["fraction_stable"] < 0.5 and same_control
    out.append({
        "claim": "rule: Hebbian beats SGD by 133× in mean SNR",
        "paper": "2.05 → 274.17 (133×), SGD accuracy 38%",
        "measured": f"{_f(sgd['snr_mean'])} → {_f(heb['snr_mean'])} ({_f(f_rule, '.3g')}×), "
                    f"SGD accuracy {_pct(sgd['accuracy'])}",
        "verdict": "artefact of the protocol" if artefact else (
            "reproduced" if f_rule > 40 else "not reproduced"),
        "evidence": (f"η=0.01 is above the delta rule's limit 2/‖x‖² for "
                     f"{_pct(1 - s['fraction_stable'])} of images (error grows up to "
                     f"{s['max_growth_per_step']:.1f}× per step), so 'SGD' diverges; "
                     + ("the Hebbian control output is identical for every clip range "
                        f"(mean {_f(heb['out1_mean'])}): the control column never learns, so "
                        "Hebbian SNR measures η·iterations over the init scale. "
                        if same_control else "")
                     + (f"At a stable η ({_f(stab.get('eta', float('nan')))}) the delta rule "
                        f"reaches {_pct(stab['accuracy'])} accuracy (clean margin median "
                        f"{_f(stab['clean_margin_median'], '.3g')}); its clean mean SNR "
                        f"{_f(stab['clean_snr_mean'], '.3g')} vs median "
                        f"{_f(stab['clean_snr_median'], '.3g')} shows the ratio blowing up as "
                        "the control output converges to 0." if stab else "")),
    })

    pen = {k: 1 - _num(by[k]["snr_mean"]) / _num(heb["snr_mean"])
           for k in ("hebbian_0_2", "hebbian_0_1", "hebbian_0_0.5")}
    ratio_1_05 = _num(by["hebbian_0_1"]["snr_mean"]) / _num(by["hebbian_0_0.5"]["snr_mean"])
    ratio_2_1 = _num(by["hebbian_0_2"]["snr_mean"]) / _num(by["hebbian_0_1"]["snr_mean"])
    close = abs(pen["hebbian_0_1"] - 0.38) < 0.15 and abs(pen["hebbian_0_0.5"] - 0.66) < 0.15
    ceiling = abs(ratio_1_05 - 2) < 0.4
    out.append({
        "claim": "constraint: clipping to [0, 1] costs 38% of SNR (66% at [0, 0.5])",
        "paper": "274.17 → 169.30 (−38%), 93.23 at [0, 0.5] (−66%)",
        "measured": f"{_f(heb['snr_mean'])} → {_f(by['hebbian_0_1']['snr_mean'])} "
                    f"(−{pen['hebbian_0_1']:.0%}), {_f(by['hebbian_0_0.5']['snr_mean'])} at "
                    f"[0, 0.5] (−{pen['hebbian_0_0.5']:.0%})",
        "verdict": ("reproduced in the clipped values, but the penalty is an artefact"
                    if ceiling and not close else
                    "reproduced, set by the clip ceiling" if ceiling else
                    "reproduced" if close else "not reproduced"),
        "evidence": (f"clipped SNRs scale with the ceiling: [0,1]/[0,0.5] = {ratio_1_05:.2f} "
                     f"and [0,2]/[0,1] = {ratio_2_1:.2f} (clip ratio 2); clipped rows sit near "
                     "clip/0.005 × an image statistic, so their values match the paper almost "
                     "whatever the images, while the unconstrained SNR (the penalty's "
                     "denominator) depends on the images' brightness."),
    })
    return out


def _checklist(by: dict, controlled: list[dict]) -> list[dict]:
    vals = {"margin_clean_snr": _num(by["mlp_margin10"]["clean_snr_mean"]),
            "baseline_clean_snr": _num(by["mlp_standard"]["clean_snr_mean"]),
            "margin_acc_half": _num(by["mlp_margin10"].get("accuracy_at_0.5")),
            "baseline_acc_half": _num(by["mlp_standard"].get("accuracy_at_0.5"))}
    lam_snr = [(by[k].get("lam", lam), _num(by[k]["snr_mean"])) for k, lam in
               (("mlp_standard", 0.0), ("mlp_margin1", 1.0), ("mlp_margin10", 10.0))]
    vals["lambda_linearity_r2"] = _r2(*zip(*lam_snr))
    rows = []
    for text, key, op, thr in paper.CHECKLIST:
        v = vals[key]
        ok = (v > thr) if op == ">" else (v < thr)
        rows.append({"item": text, "measured": _f(v, ".4g"), "threshold": f"{op} {thr:g}",
                     "ok": "✅" if ok and math.isfinite(v) else "❌",
                     "on": "paper protocol (MLP per image, depth scenes)"})
    for c in controlled:
        for text, key, op, thr in paper.CHECKLIST:
            if key in c:
                v = _num(c[key])
                ok = (v > thr) if op == ">" else (v < thr)
                rows.append({"item": text, "measured": _f(v, ".4g"), "threshold": f"{op} {thr:g}",
                             "ok": "✅" if ok and math.isfinite(v) else "❌", "on": c["_on"]})
    return rows


def _md_table(rows: list[dict], cols: list[str], heads: list[str] | None = None) -> str:
    heads = heads or cols
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(str(r.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def _rows_section(title: str, rows, intro: str = "", cols=None) -> str:
    """A markdown table of ``rows`` with the columns in ``cols`` that the rows have."""
    if not rows:
        return ""
    have = list(dict.fromkeys(k for r in rows for k in r if not isinstance(r[k], (dict, list))))
    cols = [c for c in cols if c in have] if cols else have
    body = _md_table([{c: _f(r.get(c, "")) for c in cols} for r in rows], cols)
    return f"\n### {title}\n\n{intro}\n\n{body}\n"


def _controlled_checks(root: Path) -> list[dict]:
    """Checklist values measured by the controlled notebooks (held-out digits), where present."""
    out = []
    m5 = _load(root, "05_noise_robustness")
    if m5 and "at_half_gaussian" in m5:
        half = m5["at_half_gaussian"]
        out.append({"_on": "notebook 05 (digits, held-out test set)"} | {
            dst: half[src] for src, dst in (("margin_accuracy", "margin_acc_half"),
                                            ("baseline_accuracy", "baseline_acc_half"))
            if src in half})
    m2 = _load(root, "02_margin_ablation")
    if m2 and "lambda_linearity_r2" in m2:
        share = _num(m2.get("lambda_linearity_top_point_share"))
        out.append({"_on": f"notebook 02 (digits; median SNR vs λ ≤ 10; one point carries "
                           f"{share:.0%} of the variance)",
                    "lambda_linearity_r2": m2["lambda_linearity_r2"]})
    return out


def build(root=".") -> str:
    root = nb.project_root(root)
    rows, source = protocol_rows(root)
    by = {r["method"]: r for r in rows}
    from rvlib.paper_table import default_images
    images = np.asarray(default_images())
    parts = [
        "# Reproduction report",
        "",
        f"Generated by `python -m rvlib.report` (rvlib {rvlib.__version__}) from the results of "
        "`make run`. Do not edit by hand: rerunning regenerates it.",
        "",
        "Data: the embedded synthetic stand-in for the paper's 50 KITTI LiDAR depth images "
        "(`rvlib.data.depth_scenes(50, seed=42)`, 64×64, flattened to 4096), so absolute values "
        "depend on image statistics; the real images can be used through "
        "`rvlib.data.load_image_folder`. Protocol as published (PAPER.md §2): one model per "
        "image, target [1, 0], 7 Gaussian levels 0.1–0.7, SNR = out0/(out1+1e-9).",
        "",
        f"Source of the protocol numbers: `{source}`.",
        "",
        "## Master table",
        "",
    ]
    mt = []
    for r in rows:
        mt.append({"method": r["label"], "paper SNR": _f(r.get("paper_snr", "—")),
                   "SNR mean": _f(r["snr_mean"]), "SNR median": _f(r["snr_median"]),
                   "mean/paper": _f(r.get("ratio_mean", "—"), ".3g"),
                   "paper acc": _pct(r.get("paper_accuracy")), "acc": _pct(r["accuracy"]),
                   "acc σ=0.5": _pct(r.get("accuracy_at_0.5")),
                   "top-5 share of Σ|SNR|": _pct(r["snr_top5_share"]),
                   "control<0": _pct(r["frac_control_negative"])})
    parts.append(_md_table(mt, list(mt[0])))
    parts += ["", "## Weight statistics", ""]
    ws = []
    for k, ref in paper.WEIGHT_STATS.items():
        r = by.get(k, {})
        ws.append({"method": r.get("label", k),
                   "paper mean / std": f"{_f(ref['mean'])} / {_f(ref['std'])}",
                   "measured mean / std": f"{_f(r.get('w_mean'))} / {_f(r.get('w_std'))}",
                   "measured range": f"[{_f(r.get('w_min'))}, {_f(r.get('w_max'))}]",
                   "at upper clip bound": _pct(r.get("w_frac_at_max"))})
    parts.append(_md_table(ws, list(ws[0])))
    parts += ["", "## Claims", ""]
    for v in _verdicts(by, images):
        parts += [f"### {v['claim']}", "",
                  f"- paper: {v['paper']}", f"- measured: {v['measured']}",
                  f"- **verdict: {v['verdict']}**", f"- evidence: {v['evidence']}", ""]
    parts += ["## Validation checklist (robust-vision guide)", ""]
    cl = _checklist(by, _controlled_checks(root))
    parts.append(_md_table(cl, ["ok", "item", "measured", "threshold", "on"]))
    m2 = _load(root, "02_margin_ablation")
    m3 = _load(root, "03_hebbian_vs_sgd")
    m4 = _load(root, "04_hardware_constraints")
    m5 = _load(root, "05_noise_robustness")
    extra = []
    if m2:
        extra.append(_rows_section(
            "λ sweep, controlled multi-class (notebook 02)", m2.get("controlled_lambda"),
            "Held-out digits, cross-entropy + λ·log-margin, mean (± std) over seeds.",
            ["lam", "n", "accuracy", "accuracy_std", "margin_median", "snr_median", "ece", "nll"]))
    if m3:
        extra.append(_rows_section(
            "Hebbian vs delta rule (notebook 03)", m3.get("hebbian_vs_sgd"), "",
            ["method", "eta", "eta_norm2_max", "snr_mean", "snr_median", "accuracy",
             "clean_snr_mean", "clean_margin_median", "w_mean", "w_std", "w_max"]))
    if m4:
        extra.append(_rows_section(
            "Clip ranges (notebook 04)", m4.get("clip"),
            "ceiling = g_max / 0.005 (target column at g_max over the control column's mean init).",
            ["clip", "snr_mean", "snr_median", "ceiling", "snr_over_ceiling", "penalty_mean_pct",
             "paper_penalty_pct", "w_frac_at_max", "accuracy"]))
        extra.append(_rows_section(
            "Clip during gradient training (notebook 04)", m4.get("gradient_clip"),
            "The same conductance range imposed on every kernel after each optimiser step.",
            ["clip", "accuracy", "accuracy_change_pts", "margin_median", "w_frac_negative",
             "w_frac_at_min", "w_frac_at_max"]))
    if m5 and m5.get("at_half_gaussian"):
        half = m5["at_half_gaussian"]
        extra.append("\n### At 50% Gaussian noise (notebook 05)\n\n" + _md_table(
            [{"key": k, "value": _f(v)} for k, v in half.items()
             if not isinstance(v, (dict, list))], ["key", "value"]) + "\n")
    if any(extra):
        parts += ["", "## Controlled experiments", *[e for e in extra if e]]
    parts += ["", "## Known weak points of the protocol (shown, not hidden)", "",
              "- SNR is a ratio: adding a constant to the outputs changes it, and it explodes or "
              "flips sign when the control output nears 0 or goes negative (see the top-5 share "
              "and control<0 columns).",
              "- The Hebbian rule never updates the control column, so its SNR is set by the "
              "initialisation scale (notebook 03).",
              "- η = 0.01 exceeds the delta rule's stability limit 2/‖x‖² for 4096-pixel images, "
              "which alone explains the exploding SGD weights (notebook 03).",
              "- Each model sees one image, so 'accuracy' is not generalisation; the controlled "
              "experiments (held-out multi-class data) are in notebooks 01, 02, 04 and 05.", ""]
    return "\n".join(parts)


def main(argv=None) -> Path:
    ap = argparse.ArgumentParser(description="write REPRODUCTION.md from the results of make run")
    ap.add_argument("--root", default=".")
    ap.add_argument("--out", default=None)
    a = ap.parse_args(argv)
    root = nb.project_root(a.root)
    out = Path(a.out) if a.out else root / "REPRODUCTION.md"
    results.atomic_write_text(out, build(root))
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()

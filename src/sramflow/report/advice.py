"""The "What it would take" section: this run's design1 beside the cheapest designs (silicon area) that meet the
write-up's claims, or the closest designs and the lower bounds that rule the claims out. Rows and paragraphs shared
by report.html (``report.build``) and INTEGRATION_SUMMARY.md (``report.markdown``), so the two say the same thing."""

from __future__ import annotations

from collections.abc import Mapping

from sramflow.report.inputs import TARGET_UNITS, DesignFigures, ReportInputs, WhatItWouldTake

SECTION_TITLE = "What it would take"
DESIGN_HEADERS = ("design", "hardware", "area (mm2)", "latency (ms)", "energy (mJ)", "avg power (mW)",
                  "off-chip (MB)", "meets", "binds")
BOUND_HEADERS = ("target", "claim", "lower bound over the space", "rules it out", "why")
RERUN_HEADERS = ("design", "re-simulate with")
DESIGN1 = "sky130-design1"  # the write-up's hardware, the default of `sramflow run`
_NAMES = {"latency_ms": "latency", "energy_mj": "energy", "avg_power_mw": "average power"}


def _values(d: DesignFigures) -> dict[str, float]:
    return {"latency_ms": d.latency_ms, "energy_mj": d.energy_mj, "avg_power_mw": d.avg_power_mw}


def _claim(targets: Mapping[str, float], key: str) -> str:
    return f"{targets[key]:g} {TARGET_UNITS[key]}"


def binding_text(values: Mapping[str, float], targets: Mapping[str, float], energy_uj_by_component: Mapping[str, float],
                 energy_uj: float) -> str:
    """What binds a design, worded as the design search words it: the target it misses most (the largest
    figure/target ratio) and the component that dominates its energy."""
    tight = max(targets, key=lambda k: values[k] / targets[k])
    top = max(energy_uj_by_component, key=lambda k: energy_uj_by_component[k]) if energy_uj_by_component else "?"
    share = energy_uj_by_component.get(top, 0.0) / max(energy_uj, 1e-30)
    return f"{tight} at {values[tight] / targets[tight]:.0%} of its target; energy dominated by {top} ({share:.0%})"


def design1_figures(a: ReportInputs, w: WhatItWouldTake) -> DesignFigures:
    """This run's hardware as a row of the table: the run's own figures (the headline, unchanged) and its area."""
    t = a.simulation["total"]
    values = {"latency_ms": float(t["time_ms"]), "energy_mj": t["energy_uj"] / 1e3,
              "avg_power_mw": float(t["avg_power_mw"])}
    hw = a.hw
    srams = " + ".join(f"{m.size_bytes:,} B" for m in hw.sram)
    what = (f"{hw.name}: SRAM {srams}, {hw.mac_array.macs_per_cycle:,} MACs/cycle, {hw.clock_mhz:g} MHz, "
            f"{hw.offchip.name}" + (f", fusion {a.simulation['fusion']}" if a.simulation.get("fusion") else ""))
    return DesignFigures(
        what, w.design1_area_mm2, values["latency_ms"], values["energy_mj"],
        values["avg_power_mw"], sum(t["offchip_bytes"].values()) / 1e6,
        binding_text(values, w.targets, t["energy_uj_by_component"], float(t["energy_uj"])), "this run")


def _meets(d: DesignFigures, targets: Mapping[str, float]) -> str:
    v = _values(d)
    met = [_NAMES[k] for k in targets if v[k] <= targets[k]]
    return ", ".join(met) if met else "none"


def _labels(w: WhatItWouldTake) -> list[str]:
    kind = "cheapest meeting every claim" if w.feasible else "closest"
    return [f"{kind} #{i} (estimate)" for i in range(1, len(w.designs) + 1)]


def design_rows(a: ReportInputs, w: WhatItWouldTake) -> list[list[object]]:
    """design1 first, then the designs the search reports; every figure with its unit in the header."""
    rows = []
    this = "design1" if a.hw.name == DESIGN1 else a.hw.name
    for label, d in ((f"{this} (this run, modelled)", design1_figures(a, w)), *zip(_labels(w), w.designs,
                                                                                  strict=True)):
        rows.append([label, d.hardware, f"{d.area_mm2:.3g}", f"{d.latency_ms:,.2f}", f"{d.energy_mj:,.3f}",
                     f"{d.avg_power_mw:,.2f}", "-" if d.offchip_mb is None else f"{d.offchip_mb:,.2f}",
                     _meets(d, w.targets), d.binding])
    return rows


def bound_rows(w: WhatItWouldTake) -> list[list[object]]:
    return [[_NAMES[b.target], _claim(w.targets, b.target), f"{b.bound:.4g} {TARGET_UNITS[b.target]}",
             "yes" if b.provable else "no: none of the simulated designs meets it, but the bound does not rule it out",
             b.why]
            for b in w.bounds]


def rerun_rows(w: WhatItWouldTake) -> list[list[str]]:
    return [[label, d.rerun] for label, d in zip(_labels(w), w.designs, strict=True)]


def advice_paragraphs(a: ReportInputs, w: WhatItWouldTake) -> list[str]:
    claims = ", ".join(_claim(w.targets, k) for k in w.targets)
    d1 = design1_figures(a, w)
    if w.feasible and w.designs:
        best = w.designs[0]
        head = (f"The cheapest design of the searched space that meets all of the write-up's claims ({claims}) takes "
                f"{best.area_mm2:.3g} mm2 of silicon ({best.area_mm2 / d1.area_mm2:,.3g}x design1's "
                f"{d1.area_mm2:.3g} mm2): {best.hardware}; {best.latency_ms:,.2f} ms, {best.energy_mj:.3f} mJ, "
                f"{best.avg_power_mw:.2f} mW.")
    else:
        missed = [b for b in w.bounds if b.provable]
        head = f"No design of the searched space meets all of the write-up's claims ({claims})."
        if missed:
            head += " " + " ".join(
                f"{_NAMES[b.target].capitalize()} {_claim(w.targets, b.target)} is below the lower bound of every "
                f"design, {b.bound:.4g} {TARGET_UNITS[b.target]}: {b.why}." for b in missed)
        if w.designs:
            c = w.designs[0]
            head += (f" The closest design is {c.area_mm2:.3g} mm2 ({c.hardware}): {c.latency_ms:,.2f} ms, "
                     f"{c.energy_mj:.3f} mJ, {c.avg_power_mw:.2f} mW.")
    # the search prices each design's logic leakage from the area model (as its MAC array's leakage); this run keeps
    # its preset's figure, so say how far apart the two are for design1
    extra_mj = (w.design1_logic_leakage_uw - a.hw.mac_array.leakage_uw) * d1.latency_ms * 1e-6
    estimates = ("Estimates: every figure in this section is modelled by the cost model, and every area (design1's "
                 "included) and static power comes from the area model (hw.area: vendor macro figures, published "
                 "figures scaled to 130 nm and stated assumptions, each listed with its source under area_model in "
                 "advise.json). The search's designs price their logic leakage from the area model "
                 f"({w.design1_logic_leakage_uw:.3g} uW for design1's logic, against the {a.hw.mac_array.leakage_uw:.3g}"
                 f" uW of its preset): priced that way this run's {d1.energy_mj:.3f} mJ would move by "
                 f"{extra_mj:+.3g} mJ.")
    return [head, estimates, f"Searched: {w.searched}. Every output of the search is in {w.folder}/ (advise.json, "
            "ADVICE.md, hw/designN.yaml); re-simulate a design with the command below (its YAML carries every "
            "figure, the logic leakage included, so it prints the figures above)."]


def plot_points(a: ReportInputs, w: WhatItWouldTake) -> list[tuple[str, float, float]]:
    """(label, area mm2, energy mJ) for design1 and each design the search reports."""
    d1 = design1_figures(a, w)
    return [("design1", d1.area_mm2, d1.energy_mj)] + [(f"#{i}", d.area_mm2, d.energy_mj)
                                                      for i, d in enumerate(w.designs, 1)]


def plot_lines(w: WhatItWouldTake) -> list[tuple[str, float]]:
    """The energy claim and, when no design meets it, the space's lower bound on energy."""
    lines = [(f"claim {_claim(w.targets, 'energy_mj')}", w.targets["energy_mj"])]
    lines += [(f"lower bound over the space {b.bound:.4g} mJ", b.bound) for b in w.bounds if b.target == "energy_mj"]
    return lines

"""Sweep spaces: grid and random expansion, and clear errors for bad spaces."""

from __future__ import annotations

import pytest

from sramflow.hw.load import resolve_hw
from sramflow.sweep.errors import SweepSpaceError
from sramflow.sweep.precision import canonical_weight_bits, group_bits
from sramflow.sweep.run import check_space
from sramflow.sweep.space import PARAMETERS, expand, load_space, space_from_dict


def test_grid_is_every_combination_in_parameter_order() -> None:
    s = space_from_dict({"sram_ports": ["1rw", "1rw1r"], "sram_words": [64, 128, 256]})
    pts = expand(s)
    assert s.base == "sky130-design1" and s.size == 6 == len(pts)
    assert pts[0] == (("sram_words", 64), ("sram_ports", "1rw"))
    assert pts[1] == (("sram_words", 64), ("sram_ports", "1rw1r"))
    assert len(set(pts)) == 6


def test_random_samples_distinct_points_reproducibly() -> None:
    d = {"sram_words": [32, 64, 128, 256], "macs_per_cycle": [4, 8, 16, 32], "clock_mhz": [50, 100],
         "random": 10, "seed": 3}
    a, b = expand(space_from_dict(d)), expand(space_from_dict(d))
    assert a == b and len(set(a)) == 10
    grid = set(expand(space_from_dict({k: v for k, v in d.items() if k not in ("random", "seed")})))
    assert set(a) <= grid
    assert expand(space_from_dict({**d, "seed": 4})) != a


def test_all_issue_parameters_are_known() -> None:
    for name in ("sram_words", "sram_word_bits", "sram_banks", "sram_ports", "macs_per_cycle", "clock_mhz",
                 "offchip", "weight_bits"):
        assert name in PARAMETERS


@pytest.mark.parametrize(("space", "message"), [
    ({"sram_wordz": [1]}, "sram_wordz: unknown parameter; known parameters: sram_words, sram_word_bits"),
    ({"sram_words": []}, "sram_words: empty list"),
    ({"sram_words": [64, "big"]}, "sram_words[1]: must be a positive integer, got 'big'"),
    ({"sram_words": [64, 64]}, "listed twice"),
    ({"sram_word_bits": [12]}, "multiple of 8"),
    ({"sram_ports": ["2rw"]}, "must be one of 1rw, 1rw1r"),
    ({"offchip": ["floppy"]}, "must be one of qspi-psram"),
    ({"clock_mhz": [0]}, "positive number"),
    ({"weight_bits": [8, 2]}, "must be one of (8, 4) bits, got 2"),
    ({"weight_bits": [{"depthwize": 4, "default": 8}]}, "unknown layer group 'depthwize'"),
    ({"sram_words": [64], "random": 5, "seed": 0}, "5 distinct points asked, but the grid has only 1"),
    ({"sram_words": [64, 128], "random": 1}, "random: N and seed: S go together"),
    ({"base": 3, "sram_words": [64]}, "base: must name"),
    ({"random": 1, "seed": 1}, "no parameters to sweep"),
])
def test_bad_spaces_are_refused_with_the_key(space: dict, message: str) -> None:
    with pytest.raises(SweepSpaceError, match=None) as exc:
        space_from_dict(space, "s.yaml")
    assert message in str(exc.value) and str(exc.value).startswith("s.yaml")


def test_value_the_base_macro_cannot_take_is_refused() -> None:
    with pytest.raises(SweepSpaceError, match=r"sram_words: value 100 does not fit base .*power of two"):
        check_space(space_from_dict({"sram_words": [64, 100]}), resolve_hw("sky130-design1"))


def test_int4_and_per_group_weight_bits_pass_the_space_check() -> None:
    # the check raises SweepSpaceError on a value it refuses; passing without one is the claim
    check_space(space_from_dict({"weight_bits": [8, 4, {"pointwise": 4, "default": 8}]}), resolve_hw("sky130-design1"))


def test_weight_bits_per_group_canonical_form() -> None:
    assert canonical_weight_bits({"default": 4}) == 4
    mixed = canonical_weight_bits({"pointwise": 4, "default": 8})
    assert mixed == "stem=8,depthwise=8,pointwise=4,se=8,conv=8,classifier=8"
    assert group_bits(mixed)["pointwise"] == 4


def test_space_file_rejects_duplicate_keys(tmp_path) -> None:  # noqa: ANN001
    p = tmp_path / "sweep.yaml"
    p.write_text("sram_words: [64]\nsram_words: [128]\n")
    with pytest.raises(SweepSpaceError, match="duplicate key 'sram_words'"):
        load_space(p)
    with pytest.raises(SweepSpaceError, match="no such sweep space file"):
        load_space(tmp_path / "missing.yaml")

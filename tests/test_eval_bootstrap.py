"""Bootstrap intervals of the accuracy figures: hand-checkable cases."""

from __future__ import annotations

import numpy as np
import pytest

from sramflow.eval.bootstrap import bootstrap_intervals


def test_perfect_predictions_give_a_point_interval() -> None:
    y = np.array([0, 1, 2, 2, 1, 0])
    ci = bootstrap_intervals(y, {"float": y, "int8": y}, None, 3, positive=1, positive_name="b", resamples=200)
    for m in ("float", "int8"):
        assert {k: (v.lo, v.hi) for k, v in ci.intervals[m].items()} == {
            "accuracy": (1.0, 1.0), "balanced_accuracy": (1.0, 1.0), "b_sensitivity": (1.0, 1.0)}
    assert ci.intervals["int8_minus_float"]["accuracy"].to_json() == [0.0, 0.0]  # paired: same draws
    assert ci.unit == "image" and ci.n_units == 6


def test_duplicated_lesions_resample_as_one_unit() -> None:
    """Each lesion holds two identical images: the lesion bootstrap equals the image bootstrap of one copy each."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 300)
    p = np.where(rng.random(300) < 0.7, y, rng.integers(0, 4, 300))
    one = bootstrap_intervals(y, {"float": p}, None, 4, resamples=300, seed=5)
    lesions = [f"L{i:03d}" for i in range(300)]  # sorted as the images are
    two = bootstrap_intervals(np.repeat(y, 2), {"float": np.repeat(p, 2)}, np.repeat(lesions, 2), 4, resamples=300, seed=5)
    assert two.unit == "lesion" and two.n_units == 300
    for k in ("accuracy", "balanced_accuracy"):
        assert two.intervals["float"][k].lo == pytest.approx(one.intervals["float"][k].lo, abs=1e-12)
        assert two.intervals["float"][k].hi == pytest.approx(one.intervals["float"][k].hi, abs=1e-12)


def test_accuracy_interval_has_the_binomial_width() -> None:
    """1,000 independent images at 80 % accuracy: the 95 % interval is about +-1.96 sqrt(0.16 / 1000) = +-0.025."""
    y = np.zeros(1000, dtype=np.int64)
    p = np.where(np.arange(1000) < 800, 0, 1)
    iv = bootstrap_intervals(y, {"float": p}, None, 2, resamples=2000).intervals["float"]["accuracy"]
    assert iv.lo < 0.8 < iv.hi
    assert iv.hi - iv.lo == pytest.approx(2 * 1.96 * np.sqrt(0.16 / 1000), rel=0.15)


def test_a_class_absent_from_a_resample_is_left_out_of_balanced_accuracy() -> None:
    """One image of class 1 (always right), 9 of class 0 (all right): every resample scores 1.0, none is NaN."""
    y = np.array([0] * 9 + [1])
    ci = bootstrap_intervals(y, {"float": y}, None, 2, positive=1, resamples=500)
    assert ci.intervals["float"]["balanced_accuracy"].to_json() == [1.0, 1.0]
    assert ci.intervals["float"]["positive_sensitivity"].to_json() == [1.0, 1.0]  # resamples without it are skipped


def test_groups_must_match_the_images() -> None:
    with pytest.raises(ValueError, match="3 group ids for 2 images"):
        bootstrap_intervals(np.array([0, 1]), {"float": np.array([0, 1])}, ["a", "b", "c"], 2)
    with pytest.raises(ValueError, match="no images to bootstrap"):
        bootstrap_intervals(np.array([], dtype=np.int64), {"float": np.array([], dtype=np.int64)}, None, 2)


def test_no_positive_image_means_no_sensitivity_interval() -> None:
    y = np.array([0, 0, 2, 2])
    ci = bootstrap_intervals(y, {"float": y}, None, 3, positive=1, positive_name="mel", resamples=50)
    assert set(ci.intervals["float"]) == {"accuracy", "balanced_accuracy"}


def _compare_script():  # noqa: ANN202 - the module scripts/compare_predictions.py
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("cmp", Path(__file__).parents[1] / "scripts" / "compare_predictions.py")
    cmp = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cmp)
    return cmp


def test_compare_predictions_script(tmp_path, capsys) -> None:  # noqa: ANN001 - pytest fixtures
    """Model b fixes every error of model a: the paired difference is all positive."""
    import json

    from helpers.ham import write_ham
    from sramflow.data.ham10000 import LABELS

    cmp = _compare_script()
    write_ham(tmp_path / "ham", 40, per_lesion=2)
    rows_a, rows_b = ["image,true,float,int8"], ["image,true,float,int8"]
    for k in range(40):
        t = LABELS[(k // 2) % 7]
        wrong = LABELS[((k // 2) + 1) % 7]
        a = wrong if k % 4 == 0 else t
        rows_a.append(f"ISIC_{k:07d},{t},{a},{a}")
        rows_b.append(f"ISIC_{k:07d},{t},{t},{t}")
    (tmp_path / "a.csv").write_text("\n".join(rows_a) + "\n")
    (tmp_path / "b.csv").write_text("\n".join(rows_b) + "\n")
    assert cmp.main([str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--data", str(tmp_path / "ham"),
                     "--names", "old,new", "--out", str(tmp_path / "c.json")]) == 0
    res = json.loads((tmp_path / "c.json").read_text())
    assert res["point"]["old"]["accuracy"] == 0.75 and res["point"]["new"] == {"accuracy": 1.0, "balanced_accuracy": 1.0}
    assert res["intervals"]["unit"] == "lesion" and res["intervals"]["n_units"] == 20
    lo, hi = res["intervals"]["new_minus_old"]["accuracy"]
    assert 0.0 < lo <= 0.25 <= hi
    assert "new_minus_old" in capsys.readouterr().out


def test_compare_predictions_bad_input(tmp_path) -> None:  # noqa: ANN001 - pytest fixture
    from helpers.ham import write_ham

    cmp = _compare_script()
    write_ham(tmp_path / "ham", 4, per_lesion=2)
    good = "image,true,float,int8\nISIC_0000000,akiec,akiec,akiec\nISIC_0000001,akiec,bcc,akiec\n"
    (tmp_path / "a.csv").write_text(good)
    (tmp_path / "nocol.csv").write_text("image,true,float\nISIC_0000000,akiec,akiec\n")
    (tmp_path / "other.csv").write_text(good.replace("ISIC_0000001", "ISIC_0000002"))
    (tmp_path / "unknown.csv").write_text(good.replace("ISIC_0000001", "ISIC_9999999"))
    data = ["--data", str(tmp_path / "ham")]
    with pytest.raises(SystemExit, match=r"nocol.csv: no column 'int8'"):
        cmp.main([str(tmp_path / "a.csv"), str(tmp_path / "nocol.csv"), *data])
    with pytest.raises(SystemExit, match=r"list different images \(2 differ\)"):
        cmp.main([str(tmp_path / "a.csv"), str(tmp_path / "other.csv"), *data])
    with pytest.raises(SystemExit, match=r"1 images have no metadata row, e.g. ISIC_9999999"):
        cmp.main([str(tmp_path / "unknown.csv"), str(tmp_path / "unknown.csv"), *data])


def test_compare_predictions_pools_folds_and_compares_int8_with_float(tmp_path, capsys) -> None:  # noqa: ANN001
    """Two fold files pool into one side; with one side the INT8 column is compared with the float column."""
    import json

    from helpers.ham import write_ham
    from sramflow.data.ham10000 import LABELS

    cmp = _compare_script()
    write_ham(tmp_path / "ham", 40, per_lesion=2)
    folds = [["image,true,float,int8"], ["image,true,float,int8"]]
    for k in range(40):
        t = LABELS[(k // 2) % 7]
        q = LABELS[((k // 2) + 1) % 7] if k % 8 == 0 else t  # INT8 wrong on 5 of 40 images, float always right
        folds[(k // 2) % 2].append(f"ISIC_{k:07d},{t},{t},{q}")  # whole lesions per fold
    paths = []
    for i, rows in enumerate(folds):
        paths.append(tmp_path / f"fold{i}.csv")
        paths[-1].write_text("\n".join(rows) + "\n")
    assert cmp.main([",".join(map(str, paths)), "--data", str(tmp_path / "ham"), "--out", str(tmp_path / "c.json")]) == 0
    res = json.loads((tmp_path / "c.json").read_text())
    assert res["point"]["float"]["accuracy"] == 1.0 and res["point"]["int8"]["accuracy"] == 35 / 40
    assert res["intervals"]["n_units"] == 20 and res["intervals"]["int8_minus_float"]["accuracy"][1] <= 0.0
    assert "int8 vs float" in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"fold0.csv: image ISIC_0000000 is also in .*fold0.csv; pooled files must hold disjoint"):
        cmp.main([f"{paths[0]},{paths[0]}", "--data", str(tmp_path / "ham")])

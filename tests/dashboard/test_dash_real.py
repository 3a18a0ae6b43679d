"""A real-data study on the dashboard: its robustness map, and Trial detail's test accuracy,
macro-F1 and confusion matrix, checked against the database (plain sqlite3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dash_helpers import ROOT, StudyDb, db_rows, launch
from test_dash_pages import frame_with, open_page

pytestmark = [pytest.mark.usefixtures("app_env"), pytest.mark.slow]  # a study-launch: ~30-50 s


@pytest.fixture(scope="module")
def csv_db(tmp_path_factory: pytest.TempPathFactory) -> StudyDb:
    """studies/real/example_csv.toml run by study-launch: 4 trials of 4 seeds on example.csv."""
    path = tmp_path_factory.mktemp("dash-real") / "carousel.db"
    url = f"sqlite:///{path}"
    out = launch(ROOT / "studies" / "real" / "example_csv.toml", url)
    assert out.returncode == 0, f"study-launch failed:\n{out.stdout}\n{out.stderr}"
    return StudyDb(Path(path), url)


def test_the_map_of_a_real_data_study(csv_db: StudyDb, monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(csv_db.url, None, monkeypatch, study="real-example-csv")
    assert at.title[0].value == "Robustness map"
    cells = frame_with(at, "model", "lr", "n_solved", "n_seeds")
    rows = db_rows(csv_db.path, "real-example-csv")
    assert sorted(cells["model"]) == sorted(r["model"] for r in rows)
    assert int(cells["n_seeds"].sum()) == sum(r["n_seeds"] for r in rows) == 16
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert len([t for t in spec["data"] if t["type"] == "heatmap"]) == 2  # lstm1997, gru


def test_trial_detail_shows_accuracy_f1_and_the_confusion_matrix(
    csv_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = db_rows(csv_db.path, "real-example-csv")
    target = rows[0]
    at = open_page(
        csv_db.url, "trial_detail", monkeypatch, study="real-example-csv",
        trial=str(target["number"]),
    )  # fmt: skip
    assert "Classification on the test split" in [h.value for h in at.subheader]
    want = [json.loads(s["metrics"]) for s in target["seeds"]]
    seeds = frame_with(at, "replicate", "test_accuracy", "macro_f1")
    assert list(seeds["test_accuracy"]) == pytest.approx([m["test_accuracy"] for m in want])
    assert list(seeds["macro_f1"]) == pytest.approx([m["macro_f1"] for m in want])
    shown = {m.label: m.value for m in at.metric}
    mean_acc = sum(m["test_accuracy"] for m in want) / len(want)
    assert shown["test accuracy (mean over seeds)"] == f"{mean_acc:.3f}"
    conf = frame_with(at, "true class", "run", "walk").set_index("true class")
    summed = [[sum(m["confusion"][i][j] for m in want) for j in range(2)] for i in range(2)]
    assert conf.loc[["run", "walk"], ["run", "walk"]].to_numpy().tolist() == summed
    fig = json.loads(at.get("plotly_chart")[1].proto.spec)
    assert fig["data"][0]["type"] == "heatmap"
    # one seed's matrix
    at.selectbox(key="confusion_of").set_value(f"seed {target['seeds'][0]['replicate']}").run()
    conf = frame_with(at, "true class", "run", "walk").set_index("true class")
    assert conf.loc[["run", "walk"], ["run", "walk"]].to_numpy().tolist() == want[0]["confusion"]


def test_a_paper_study_has_no_classification_section(
    study_db: StudyDb, monkeypatch: pytest.MonkeyPatch
) -> None:
    (row, *_) = db_rows(study_db.path, "dash-map")
    at = open_page(
        study_db.url, "trial_detail", monkeypatch, study="dash-map", trial=str(row["number"])
    )
    assert "Classification on the test split" not in [h.value for h in at.subheader]
    assert "test_accuracy" not in frame_with(at, "replicate", "seed").columns

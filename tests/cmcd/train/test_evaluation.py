"""Step 3's outputs: predictions.csv, target_error and every target certificate, one model."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bounds.target.generalization import bound_from_run
from bounds.target.heads import LinearHead
from bounds.target.run_files import run_model_inputs, target_terms_from_run
from bounds.target.target_terms import HALF_NAMES
from cmcd.runs.pipeline import run

BASE = {
    "data": {"name": "synthetic", "n_samples": 300},
    "model": {"latent_dim": 16, "hidden": [32]},
    "pretrain": {"epochs": 3, "batch_size": 64},
    "distill": {"loss": "cmc", "epochs": 3, "batch_size": 64},
    "finetune": {"labels_per_class": 3},
    "seed": 0,
    "device": "cpu",
}
LPFT = {**BASE, "finetune": {"labels_per_class": 3, "epochs": 20, "lr": 1e-2}}


@pytest.fixture(scope="module", params=["lp", "lpft"])
def finished(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param)
    return out, run(BASE if request.param == "lp" else LPFT, out, progress=False)


def _features(out):
    with np.load(out / "features.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.slow
def test_predictions_csv_is_the_model_whose_error_is_reported(finished):
    out, result = finished
    table = pd.read_csv(out / "predictions.csv")
    feats = _features(out)
    assert list(table.columns) == ["row", "y_true", "y_pred", "source_pred", "split"]
    assert len(table) == result["n_eval"] == feats["y_test"].shape[0]
    np.testing.assert_array_equal(table["y_true"], feats["y_test"])
    assert result["target_error"] == np.mean(table["y_pred"] != table["y_true"])
    assert result["source_error"] == np.mean(table["source_pred"] != table["y_true"])
    # The saved head on the saved (fine-tuned) latents is the model: it reproduces y_pred.
    head = LinearHead(feats["target_head_weight"], feats["target_head_bias"], np.arange(4))
    np.testing.assert_array_equal(head.predict(feats["z_target_test"]), table["y_pred"])
    assert set(table["split"]) == set(HALF_NAMES)
    counts = result["certificate_rows"]["target_certificates"]["counts"]
    assert counts == table["split"].value_counts().to_dict()


@pytest.mark.slow
def test_the_certificates_of_a_run_describe_its_own_model(finished):
    out, result = finished
    report = bound_from_run(out, random_state=3, tv_kwargs={"candidates": ["logistic"]})
    assert report.target_error == result["target_error"]
    assert report.certified_target_bound >= report.target_error
    rows = report.details["target_terms"]["rows"]
    split = pd.read_csv(out / "predictions.csv")["split"].to_numpy()
    assert rows["labelled_source"] == np.flatnonzero(split == "labelled_source").tolist()
    # The rows are the run's, not the seed's: another seed certifies the same number.
    again = target_terms_from_run(out, random_state=99)
    assert again["certified_target_bound"] == report.certified_target_bound
    assert again["target_error"] == result["target_error"]


@pytest.mark.slow
def test_lpft_changes_the_model_and_the_certificate_follows_it(tmp_path):
    lp = run(BASE, tmp_path / "lp", progress=False)
    ft = run(LPFT, tmp_path / "ft", progress=False)
    pred_lp = pd.read_csv(tmp_path / "lp" / "predictions.csv")["y_pred"]
    pred_ft = pd.read_csv(tmp_path / "ft" / "predictions.csv")["y_pred"]
    assert np.mean(pred_lp != pred_ft) > 0.0  # fine-tuning changed the model
    for name, result in (("lp", lp), ("ft", ft)):
        terms = target_terms_from_run(tmp_path / name, random_state=0)
        assert terms["target_error"] == result["target_error"]


@pytest.mark.slow
def test_a_mismatched_predictions_file_is_refused(tmp_path):
    run(BASE, tmp_path, progress=False)
    table = pd.read_csv(tmp_path / "predictions.csv")
    table.loc[0, "y_pred"] = (table.loc[0, "y_pred"] + 1) % 4
    table.to_csv(tmp_path / "predictions.csv", index=False)
    with pytest.raises(ValueError, match="does not reproduce y_pred"):
        run_model_inputs(tmp_path, _features(tmp_path))


@pytest.mark.slow
def test_a_run_without_predictions_gets_no_target_terms_rather_than_a_refit(tmp_path):
    run(BASE, tmp_path, progress=False)
    (tmp_path / "predictions.csv").unlink()
    report = bound_from_run(tmp_path, random_state=0, tv_kwargs={"candidates": ["logistic"]})
    assert report.certified_target_bound is None and report.certified_bound is not None
    with pytest.raises(ValueError, match="no predictions.csv"):
        target_terms_from_run(tmp_path)


def test_result_records_the_assumptions_of_the_certificates(tmp_path):
    result = run(BASE, tmp_path, progress=False)
    on_disk = json.loads((tmp_path / "result.json").read_text())
    assert on_disk["rows_independent"] is True and result["predictions_file"] == "predictions.csv"
    assert any("i.i.d." in a for a in on_disk["certificate_assumptions"])

"""One study, every screen: ``autoopt studies`` (table and JSON), ``recommend``, ``trials``, the report and the
dashboard state the same counts and the same recommended optimizer.

The counts are checked against an oracle written here from the stored trials, not against
``autoopt.engine.tally``: a search trial with a value is "complete", a confirmation with a value a
"confirmation", and a queued retry is "queued" and shows its configuration.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from dashboard_http import call
from optuna.trial import TrialState

from autoopt.dashboard import create_app
from autoopt.storage import record

pytestmark = pytest.mark.e2e

MODEL = Path(__file__).parents[1] / "core" / "models" / "blobs.py"


def autoopt_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AUTOOPT_STORAGE": "", "NO_COLOR": "1", "COLUMNS": "250"}
    done = subprocess.run([sys.executable, "-m", "autoopt.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, (args, done.stderr)
    return done


def oracle_counts(trials: list[optuna.trial.FrozenTrial]) -> dict[str, int]:
    def role(t: optuna.trial.FrozenTrial) -> str:
        return t.user_attrs.get(record.ROLE, record.ROLE_SEARCH)

    return {
        "complete": sum(t.state == TrialState.COMPLETE and role(t) == record.ROLE_SEARCH for t in trials),
        "confirmations": sum(t.state == TrialState.COMPLETE and role(t) == record.ROLE_CONFIRM for t in trials),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
        "running": sum(t.state == TrialState.RUNNING for t in trials),
        "queued": sum(t.state == TrialState.WAITING for t in trials),
    }


def badges(html: str) -> dict[str, int]:
    """The counts a page's badges state, e.g. {"complete": 3, "confirmations": 3}."""
    return {name: int(n) for name, n in re.findall(r'data-count="(\w+)">\w+ (\d+)<', html)}


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, optuna.Study]:
    """A real search with confirmations, then a retry left in the queue, as a search stopped by --trials leaves it."""
    folder = tmp_path_factory.mktemp("one-truth")
    url = f"sqlite:///{folder / 'trials.db'}"
    autoopt_cli("search", str(MODEL), "--study", "blobs", "--storage", url, "--trials", "4", "--optimizers", "adam,sgd",
                "--seed", "0", "--confirm-top", "1", "--confirm-seeds", "2", cwd=folder)  # fmt: skip
    study = optuna.load_study(study_name="blobs", storage=url)
    failed = study.get_trials(deepcopy=False)[0]
    study.enqueue_trial(failed.params, user_attrs={record.ROLE: record.ROLE_SEARCH, record.RETRY_OF: failed.number,
                                                   record.ATTEMPT: 1})  # fmt: skip
    return folder, url, study


def test_every_screen_counts_the_same_and_names_the_same_optimizer(searched):
    folder, url, study = searched
    expected = oracle_counts(study.get_trials(deepcopy=False))
    assert expected["confirmations"] > 0 and expected["queued"] == 1
    shown = {name: n for name, n in expected.items() if n}

    listed = json.loads(autoopt_cli("studies", "--storage", url, "--format", "json", cwd=folder).stdout)
    assert len(listed) == 1 and {key: listed[0][key] for key in expected} == expected
    rec = json.loads(autoopt_cli("recommend", "blobs", "--storage", url, "--format", "json", cwd=folder).stdout)
    assert listed[0]["leader"] == rec["optimizer"] and listed[0]["leader_value"] == pytest.approx(rec["value"])
    assert rec["n_trials"] == sum(expected[k] for k in ("complete", "confirmations", "pruned", "failed"))

    table = autoopt_cli("studies", "--storage", url, cwd=folder).stdout
    row = next(line for line in table.splitlines() if "blobs" in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[2:8] == [str(n) for n in expected.values()] and cells[8] == rec["optimizer"]

    report = folder / "report.html"
    autoopt_cli("report", "blobs", "--storage", url, "--out", str(report), cwd=folder)
    app = create_app(url)
    index = call(app, "/").text
    page = call(app, f"/studies/{study._study_id}").text
    for html in (report.read_text(), index, page):
        assert badges(html) == shown
    index_row = index.split(f'data-study="{study._study_id}"', 1)[1].split("</tr>", 1)[0]
    assert f"</span>{rec['optimizer']}" in index_row


def test_a_queued_trial_shows_as_queued_with_its_configuration(searched):
    folder, url, study = searched
    rows = json.loads(autoopt_cli("trials", "blobs", "--storage", url, "--format", "json", cwd=folder).stdout)
    queued = [row for row in rows if row["state"] == "queued"]
    first = study.get_trials(deepcopy=False)[0]
    assert len(queued) == 1 and queued[0]["optimizer"] == first.user_attrs[record.OPTIMIZER]
    assert queued[0]["batch_size"] == first.user_attrs[record.BATCH_SIZE]
    assert queued[0]["lr"] == pytest.approx(first.user_attrs[record.OPTIMIZER_KWARGS]["lr"])
    table = autoopt_cli("trials", "blobs", "--storage", url, cwd=folder).stdout
    assert "None" not in table and re.search(rf"│ {queued[0]['number']} +│ queued +│", table)

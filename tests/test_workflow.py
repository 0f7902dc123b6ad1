"""The GitHub Actions workflow: valid, free of known security problems, and
running the same steps as .ci/run, both through scripts/ci.sh."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
SITE_YML = WORKFLOWS / "site.yml"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} missing from {BIN}: run `make install` (it is pinned in requirements.lock)")
    return str(path)


def workflow() -> dict:
    return yaml.safe_load(SITE_YML.read_text(encoding="utf-8"))


def lint_schema(*files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           *map(str, files)], capture_output=True, text=True, timeout=120)


def lint_security(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("zizmor"), "--offline", "--persona=pedantic", "--no-progress",
                           *map(str, paths)], capture_output=True, text=True, timeout=120)


def test_workflows_match_the_github_schema():
    files = sorted(WORKFLOWS.glob("*.y*ml"))
    assert SITE_YML in files
    result = lint_schema(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflows_pass_zizmor():
    result = lint_security(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_catches_template_injection_in_our_workflow(tmp_path):
    """The security lint is not vacuous: the PR base passed inline into a shell is flagged."""
    text = SITE_YML.read_text(encoding="utf-8")
    assert 'summary "$BASE_SHA"' in text
    bad = tmp_path / "site.yml"
    bad.write_text(text.replace('summary "$BASE_SHA"', 'summary "${{ github.event.pull_request.head.ref }}"'),
                   encoding="utf-8")
    result = lint_security(bad)
    assert result.returncode != 0 and "template-injection" in result.stdout


def test_least_privilege_and_one_deployment_at_a_time():
    wf = workflow()
    assert wf["permissions"] == {"contents": "read"}
    jobs = wf["jobs"]
    deploy = jobs["deploy"]
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["concurrency"] == {"group": "pages", "cancel-in-progress": False}
    assert "refs/heads/main" in deploy["if"] and "pull_request" in deploy["if"]
    for name, job in jobs.items():
        if name != "deploy":
            assert "permissions" not in job, name  # everything else runs with contents: read
    uses = [s["uses"] for j in jobs.values() for s in j["steps"] if "uses" in s]
    assert {u.split("@")[0] for u in uses} >= {"actions/checkout", "actions/setup-python",
                                               "actions/upload-pages-artifact", "actions/deploy-pages"}
    for u in uses:
        assert len(u.split("@")[1]) == 40, f"{u}: pin actions by full commit SHA"


def test_triggers_cover_data_code_and_dependencies():
    on = workflow()[True]  # YAML 1.1 reads the key `on` as True
    assert "workflow_dispatch" in on
    for event in ("push", "pull_request"):
        paths = on[event]["paths"]
        for p in ("data/**", "schemas/**", "generator/**", "site_src/**", "mkdocs.yml",
                  "requirements.lock", "pyproject.toml", "scripts/**"):
            assert p in paths, (event, p)
    assert on["push"]["branches"] == ["main"]
    checkout = next(s for s in workflow()["jobs"]["build"]["steps"]
                    if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["fetch-depth"] == 0  # data releases and the PR diff need history


# --- the workflow and .ci/run run the same steps -------------------------------

FAKE = """#!/usr/bin/env bash
echo "{name} $*" >> "$CI_LOG"
[ "{name} $1" != "git merge-base" ] || echo 0123abc
"""


@pytest.fixture
def shim(tmp_path):
    """A copy of the CI scripts where make, the venv's python and git only log their arguments."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    (repo / ".ci").mkdir()
    shutil.copy(ROOT / "scripts" / "ci.sh", repo / "scripts" / "ci.sh")
    shutil.copy(ROOT / ".ci" / "run", repo / ".ci" / "run")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (repo / ".venv" / "bin").mkdir(parents=True)
    for path, name in ((bin_dir / "make", "make"), (repo / ".venv" / "bin" / "python", "python"),
                       (bin_dir / "git", "git")):
        path.write_text(FAKE.format(name=name), encoding="utf-8")
        path.chmod(0o755)
    log = tmp_path / "ci.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CI_LOG": str(log)}
    env.pop("GITHUB_STEP_SUMMARY", None)

    def run(command: str, extra_env: dict | None = None) -> list[str]:
        log.write_text("", encoding="utf-8")
        subprocess.run(["bash", "-c", command], cwd=repo, env={**env, **(extra_env or {})},
                       check=True, timeout=60, stdin=subprocess.DEVNULL, capture_output=True)
        return log.read_text(encoding="utf-8").splitlines()

    return run


def test_workflow_runs_the_steps_of_ci_run_in_the_same_order(shim):
    ci_run = shim("bash .ci/run")
    assert ci_run == [
        "make system install",
        "python -m generator validate",
        "make test",  # the README's test command
        "python -m generator build --out site",
    ]
    steps = workflow()["jobs"]["build"]["steps"]
    runs = [s for s in steps if "run" in s]
    for s in runs:
        assert s["run"].startswith("bash scripts/ci.sh "), s["run"]
    in_workflow = []
    for s in runs:
        if "pull_request" in str(s.get("if", "")):
            continue  # the pull-request summary; checked below
        in_workflow += shim(s["run"], s.get("env"))
    assert in_workflow == ci_run


def test_pull_request_summary_diffs_from_the_merge_base(shim):
    step = next(s for s in workflow()["jobs"]["build"]["steps"] if "summary" in s.get("run", ""))
    assert "pull_request" in step["if"] and "!cancelled()" in step["if"]
    assert step["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"
    calls = shim(step["run"], {"BASE_SHA": "abc123"})
    assert calls[0] == "git merge-base abc123 HEAD"
    assert calls[1] == "python -m generator diff 0123abc data/"

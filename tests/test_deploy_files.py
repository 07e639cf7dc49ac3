"""Tests of the deployment files: Procfile, requirements, .python-version and the CI workflow."""

import ast
import os
import re
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)$")


def pins(name: str) -> dict[str, str]:
    """``package → version`` of the ``name==version`` lines of a requirements file."""
    out = {}
    for line in (ROOT / name).read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            out[match.group(1).lower()] = match.group(2)
    return out


def setup_requirements() -> tuple[list[str], list[str]]:
    """Package names in setup.py's install_requires and its ``test`` extra."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call)
                and getattr(n.func, "id", "") == "setup")
    kw = {k.arg: ast.literal_eval(k.value) for k in call.keywords
          if k.arg in ("install_requires", "extras_require")}

    def names(reqs):
        return [re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in reqs]

    return names(kw["install_requires"]), names(kw["extras_require"]["test"])


def test_procfile_runs_one_gunicorn_worker_with_threads_on_port():
    """The web process is gunicorn with our config, one worker, several threads, on $PORT."""
    line = (ROOT / "Procfile").read_text().strip()
    assert line.startswith("web: gunicorn ")
    assert "--config gunicorn.conf.py" in line and "--workers 1 " in line
    assert re.search(r"--threads ([2-9]|\d\d)", line) and ":$PORT" in line
    assert "max-requests" not in line and "--preload" not in line


def test_requirements_pin_everything_and_install_the_project():
    """Every line is an exact pin (or a comment) and the project itself is installed last."""
    for name in ("requirements.txt", "requirements-test.txt"):
        lines = [ln.strip() for ln in (ROOT / name).read_text().splitlines()
                 if ln.strip() and not ln.strip().startswith("#")]
        assert lines[-1] == "--editable ."
        assert all(PIN.match(ln) for ln in lines[:-1]), name


def test_pins_cover_setup_py_and_agree_between_files():
    """All of setup.py's requirements are pinned, and the test set keeps the runtime pins."""
    runtime, test = pins("requirements.txt"), pins("requirements-test.txt")
    install, extra = setup_requirements()
    assert set(install) <= set(runtime)
    assert set(install) | set(extra) <= set(test)
    assert {k: test[k] for k in runtime} == runtime
    assert "pytest" not in runtime  # the deployed set carries no test tools
    # A split deploy keeps its history in Heroku Postgres: the postgres extra is deployed.
    assert {"psycopg", "psycopg-binary", "psycopg-pool"} <= set(runtime)


def test_python_version_is_major_minor():
    """.python-version names the major version Heroku and CI use (3.11)."""
    assert (ROOT / ".python-version").read_text().strip() == "3.11"
    assert not (ROOT / "runtime.txt").exists()  # deprecated by Heroku


def workflow() -> dict:
    """The CI workflow, parsed."""
    return yaml.safe_load((ROOT / ".github/workflows/ci.yml").read_text())


def test_workflow_jobs_gate_and_artifacts():
    """Lint, tests, browser tests and a coverage gate run on pinned deps, with time limits."""
    wf = workflow()
    jobs = wf["jobs"]
    assert {"lint", "tests", "browser", "coverage", "deploy"} <= set(jobs)
    assert wf["concurrency"]["cancel-in-progress"] is True
    assert all(job["timeout-minutes"] <= 5 for job in jobs.values())
    text = (ROOT / ".github/workflows/ci.yml").read_text()
    assert text.count("pip install -r requirements-test.txt") == 2
    assert "--fail-under=90" in text and "ruff check streamdash tests" in text
    assert "--junitxml" in text and "coverage.xml" in text
    uploads = [s for job in jobs.values() for s in job["steps"]
               if s.get("uses", "").startswith("actions/upload-artifact")]
    assert len(uploads) >= 3


def test_deploy_only_on_main_after_every_job():
    """Deploy needs every other job and runs only for pushes to main."""
    jobs = workflow()["jobs"]
    deploy = jobs["deploy"]
    assert set(deploy["needs"]) == set(jobs) - {"deploy"}
    assert "refs/heads/main" in deploy["if"] and "push" in deploy["if"]


def test_deploy_without_secret_is_skipped_with_a_notice(tmp_path):
    """The deploy check step, run for real, prints a notice and skips when no secret is set."""
    step = next(s for s in workflow()["jobs"]["deploy"]["steps"] if s.get("id") == "check")
    output, summary = tmp_path / "out", tmp_path / "summary"
    env = {"PATH": os.environ["PATH"], "HEROKU_API_KEY": "", "HEROKU_APP_NAME": "app",
           "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    done = subprocess.run(["bash", "-e", "-c", step["run"]], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0 and "::notice title=Deploy skipped::" in done.stdout
    assert output.read_text().strip() == "deploy=false" and "skipped" in summary.read_text()
    env["HEROKU_API_KEY"] = "configured"
    subprocess.run(["bash", "-e", "-c", step["run"]], env=env, check=True, timeout=30)
    assert output.read_text().splitlines()[-1] == "deploy=true"

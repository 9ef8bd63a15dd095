"""deploy/ec2: the user data parses, its setup script is valid bash that refuses to run with
the placeholders left in, and the IAM policy writes only under the prefix."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

EC2 = Path(__file__).resolve().parent.parent / "deploy" / "ec2"


def user_data() -> dict:
    text = (EC2 / "user-data.yaml").read_text()
    assert text.startswith("#cloud-config\n")
    return yaml.safe_load(text)


def written(path: str) -> str:
    return next(f["content"] for f in user_data()["write_files"] if f["path"] == path)


def test_setup_script_is_bash_that_installs_checks_and_schedules(tmp_path):
    script = written("/usr/local/sbin/autochart-setup")
    steps = ["make run", "run_notebook.py doctor", "run_notebook.py schedule install"]
    positions = [script.index(step) for step in steps]
    assert positions == sorted(positions)
    path = tmp_path / "setup.sh"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0


def test_setup_script_stops_while_placeholders_are_left(tmp_path):
    path = tmp_path / "setup.sh"
    path.write_text(written("/usr/local/sbin/autochart-setup"))
    done = subprocess.run(["bash", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert "replace @REPO_URL@" in done.stderr


def test_instance_params_are_valid(tmp_path):
    from autochart import config

    params_file = tmp_path / "params.yaml"
    text = written("/etc/autochart/params.yaml").replace("@BUCKET@", "charts")
    params_file.write_text(text.replace("@PREFIX@", "dashboards"))
    params = config.load(params_file)
    assert params.publish == "s3://charts/dashboards"
    assert params.schedule == "30 22 * * 1-5" and params.output_dir.startswith("/var/lib/")


def test_iam_policy_allows_what_a_run_does_and_only_under_the_prefix():
    """A publish PUTs, verifies each upload with a HEAD (s3:GetObject), deletes a run log found
    public (s3:DeleteObject), and checks the bucket first with HeadBucket (s3:ListBucket)."""
    policy = json.loads((EC2 / "iam-policy.json").read_text())
    granted = {(a, s["Resource"]) for s in policy["Statement"] for a in s["Action"]}
    objects = "arn:aws:s3:::@BUCKET@/@PREFIX@/*"
    assert granted == {
        ("s3:PutObject", objects),
        ("s3:GetObject", objects),
        ("s3:DeleteObject", objects),
        ("s3:ListBucket", "arn:aws:s3:::@BUCKET@"),
    }
    assert all(s["Effect"] == "Allow" and "Condition" not in s for s in policy["Statement"])

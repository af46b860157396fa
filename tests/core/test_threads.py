"""The CPU thread policy: parsed from --threads / GANSTUDIO_THREADS, applied before PyTorch
loads (OpenMP reads its wait policy once)."""

import json
import os
import subprocess
import sys

import pytest

from ganstudio.core import threads
from ganstudio.core.threads import DEFAULT, ThreadPolicy, choose, parse


def test_parse_accepts_counts_and_auto_and_names_the_forms_otherwise():
    assert parse("1") == ThreadPolicy(1, wait="passive")
    assert parse(" 4 ") == ThreadPolicy(4, wait="passive")
    assert parse("auto") == parse("0") == ThreadPolicy(0)
    for bad in ("two", "-1", "1e9", "", "2000"):
        with pytest.raises(ValueError, match="--threads"):
            parse(bad)


def test_the_command_line_wins_over_the_environment_over_the_default(monkeypatch):
    monkeypatch.delenv(threads.ENV, raising=False)
    assert choose() == (DEFAULT, False)
    monkeypatch.setenv(threads.ENV, "3")
    assert choose() == (ThreadPolicy(3, "passive"), True)
    assert choose("auto") == (ThreadPolicy(0), True)


def _probe(env_extra: dict, argv_policy: str | None) -> dict:
    code = (
        "import json, os, sys\n"
        "from ganstudio.core import threads\n"
        "policy, explicit = threads.choose(sys.argv[1] if len(sys.argv) > 1 else None)\n"
        "threads.configure(policy, explicit)\n"
        "import torch\n"
        "print(json.dumps({'wait': os.environ.get('OMP_WAIT_POLICY'),"
        " 'threads': torch.get_num_threads()}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GANSTUDIO_TH"))}
    env.update(env_extra)
    argv = [sys.executable, "-c", code] + ([argv_policy] if argv_policy else [])
    out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_configure_before_torch_loads_sets_the_team_pytorch_gets():
    got = _probe({}, None)
    assert got["wait"] == threads.environment(DEFAULT).get("OMP_WAIT_POLICY")
    assert got["threads"] == (DEFAULT.threads or os.cpu_count())
    assert _probe({}, "1") == {"wait": "PASSIVE", "threads": 1}


def test_a_users_omp_settings_win_over_the_default_but_not_over_threads():
    assert _probe({"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "ACTIVE"}, None) == {
        "wait": "ACTIVE",
        "threads": 2,
    }
    assert _probe({"OMP_NUM_THREADS": "2", "OMP_WAIT_POLICY": "ACTIVE"}, "1") == {
        "wait": "PASSIVE",
        "threads": 1,
    }

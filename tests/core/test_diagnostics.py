"""Warnings from the report stream: a run made to collapse triggers one, a healthy run not."""

import pytest

from ganstudio.core.config import TrainConfig
from ganstudio.core.diagnostics import Diagnostics
from ganstudio.core.runfolder import RunWriter
from ganstudio.core.runs import read_metrics
from ganstudio.core.trainer import Trainer


def run_with_diagnostics(tmp_path, **settings):
    cfg = TrainConfig(
        dataset="builtin:ring8?n=2000", steps=500, width=32, batch_size=64, **settings
    )
    trainer = Trainer(cfg.with_updates(report_interval=0.0))
    writer = RunWriter(tmp_path, trainer, checkpoint_every=0)
    warnings = []
    outcome = trainer.run(on_report=lambda r: warnings.extend(writer.on_report(r)))
    writer.finish(outcome)
    return warnings, read_metrics(tmp_path / "metrics.jsonl")


def test_a_discriminator_that_wins_outright_is_reported_once(tmp_path):
    # A generator that can barely learn against a fast discriminator: D wins.
    warnings, records = run_with_diagnostics(tmp_path, lr_g=1e-6, lr_d=1e-3)
    assert [w.kind for w in warnings] == ["d_wins"]
    w = warnings[0]
    assert "winning outright" in w.message and "learning rate" in w.advice
    logged = [r for r in records if r["type"] == "warning"]
    assert len(logged) == 1 and logged[0]["kind"] == "d_wins" and logged[0]["step"] == w.step


def test_a_healthy_run_raises_no_warning(tmp_path):
    warnings, records = run_with_diagnostics(tmp_path)
    assert warnings == [] and not [r for r in records if r["type"] == "warning"]


class FakeReport:
    def __init__(self, step, real, fake, n=50):
        self.step, self.d_real, self.d_fake = step, [real] * n, [fake] * n


@pytest.mark.parametrize("probabilistic", [True, False])
def test_the_warning_clears_and_can_come_back(probabilistic):
    d = Diagnostics(probabilistic, window=100)
    fired = []
    for step, (real, fake) in enumerate([(0.99, 0.01)] * 4 + [(0.6, 0.4)] * 4 + [(0.99, 0.01)] * 4):
        fired += [w.step for w in d.update(FakeReport(step, real, fake))]
    # Critic scores (WGAN, hinge ...) are not probabilities: no verdict on them.
    assert fired == ([1, 9] if probabilistic else [])

"""Warnings from the report stream: a run made to collapse triggers one, a healthy run not."""

import pytest

from ganstudio.core.config import TrainConfig
from ganstudio.core.quality.warnings import Diagnostics
from ganstudio.core.runs.reader import read_metrics
from ganstudio.core.runs.writer import RunWriter
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.trainer import Trainer


def run_with_diagnostics(tmp_path, **settings):
    cfg = TrainConfig(
        dataset="builtin:ring8?n=2000", steps=500, width=32, batch_size=64, **settings
    )
    trainer = Trainer(cfg.with_updates(report_interval=0.0))
    writer = RunWriter(tmp_path, trainer, checkpoint_every=0)
    warnings = []
    outcome = run_training(trainer, on_report=lambda r: warnings.extend(writer.on_report(r)))
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


class GradReport:
    def __init__(self, step, g, d, n=50):
        self.step, self.d_real, self.d_fake = step, [0.5] * n, [0.5] * n
        self.g_grad, self.d_grad = [g] * n, [d] * n


def test_exploding_gradients_are_reported_once_and_clear():
    d = Diagnostics(True)
    fired = []
    norms = [(1.0, 2.0)] * 12 + [(1.0, 80.0)] * 2 + [(1.0, 2.0)] * 12 + [(float("nan"), 2.0)]
    for step, (g, dg) in enumerate(norms):
        fired += [(step, w) for w in d.update(GradReport(step, g, dg))]
    assert [(s, w.kind) for s, w in fired] == [(12, "exploding"), (26, "exploding")]
    first, second = fired[0][1], fired[1][1]
    assert "discriminator's gradient norm jumped to 80" in first.message
    assert "40 times" in first.message and "learning rate" in first.advice
    assert "generator's gradient norm is no longer a finite number" in second.message


def test_steady_growth_of_gradient_norms_is_not_an_explosion():
    d = Diagnostics(True)
    warnings = []
    for step in range(60):  # 3,000 steps, the norm doubling every 1,000
        warnings += d.update(GradReport(step, 1.0, 2.0 ** (step / 20)))
    assert warnings == []


class Q:
    def __init__(self, step, diversity):
        self.step, self.diversity = step, diversity


class Cov:
    def __init__(self, captured, n=8):
        self.modes_captured, self.n_modes = captured, n


def test_falling_diversity_and_lost_modes_are_reported():
    d = Diagnostics(True)
    got = [
        w.step
        for s, v in enumerate([1.0, 0.8, 0.4, 0.3, 0.9, 0.45])
        for w in d.update_quality(Q(s, v))
    ]
    assert got == [2, 5]  # cleared at 0.9, back at 0.45
    # An untrained generator is not varied yet: no warning until diversity was healthy once.
    d = Diagnostics(True)
    got = [w.step for s, v in enumerate([0.1, 0.3, 0.8, 0.3]) for w in d.update_quality(Q(s, v))]
    assert got == [3]
    d = Diagnostics(True)
    # Swings early in training are no collapse: a loss must hold for MODES_PERSIST previews.
    coverage = [3, 8, 5, 8, 6, 6, 7, 6, 6, 6, 6, 6, 5]
    warnings = [w for s, c in enumerate(coverage) for w in d.update_coverage(s, Cov(c))]
    assert [w.step for w in warnings] == [11]
    assert "covered 8 of the 8 modes earlier and now covers 6" in warnings[0].message

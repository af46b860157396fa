"""The training loop: reports, control from another thread, NaN handling, live edits."""

import queue
import threading

import numpy as np
import pytest
import torch

from ganstudio.core.config import TrainConfig
from ganstudio.core.spacing import Spacing
from ganstudio.core.training.control import TrainControl
from ganstudio.core.training.loop import (
    PREVIEW_BUDGET,
    PREVIEW_CADENCE,
    PREVIEW_MOST,
    PROBE_BUDGET,
    run_training,
)
from ganstudio.core.training.losses import LOSSES
from ganstudio.core.training.trainer import Trainer


def small(**kw):
    base = dict(
        steps=30,
        batch_size=32,
        width=16,
        latent_dim=4,
        report_interval=0.0,
        preview_interval=1e9,
        device="cpu",
        lr_schedule="constant",
    )
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_trains_with_finite_losses(loss, gaussian_points):
    t = Trainer(small(loss=loss, d_steps=2), gaussian_points)
    reports = []
    outcome = run_training(t, on_report=reports.append)
    assert outcome.status == "completed" and t.step == 30
    steps = np.concatenate([r.steps for r in reports])
    assert steps.tolist() == list(range(1, 31))  # every step reported exactly once
    losses = np.concatenate([np.stack([r.g_loss, r.d_loss]) for r in reports], axis=1)
    assert np.isfinite(losses).all()


def test_dcgan_with_r1_and_ema(tiny_images):
    t = Trainer(small(steps=3, batch_size=8, width=8, latent_dim=8, r1_gamma=1.0), tiny_images)
    previews = []
    assert run_training(t, on_preview=previews.append).ok
    assert t.config.arch == "dcgan" and t.config.d_norm == "spectral"  # GP-safe, the default
    assert previews[-1].samples.shape == (64, 1, 28, 28)
    assert previews[-1].samples.dtype == np.uint8
    assert previews[-1].grid.ndim == 3 and previews[-1].grid.shape[2] == 3
    # the EMA generator moved towards G but is not G
    p_ema = next(t.G_ema.parameters())
    p = next(t.G.parameters())
    assert not torch.equal(p_ema, p)


def test_wgan_clips_critic_weights(gaussian_points):
    t = Trainer(small(loss="wgan", steps=5, clip=0.01), gaussian_points)
    run_training(t)
    assert max(p.abs().max().item() for p in t.D.parameters()) <= 0.01 + 1e-7


def test_same_seed_same_weights(gaussian_points):
    a = Trainer(small(seed=3), gaussian_points)
    b = Trainer(small(seed=3), gaussian_points)
    run_training(a), run_training(b)
    for pa, pb in zip(a.G.parameters(), b.G.parameters()):
        assert torch.equal(pa, pb)


def test_pause_step_resume_stop_from_another_thread(gaussian_points):
    control = TrainControl()
    control.pause()  # starts paused: nothing runs until told
    t = Trainer(small(steps=100000), gaussian_points, control)
    reports: queue.Queue = queue.Queue()
    result = {}
    thread = threading.Thread(
        target=lambda: result.setdefault("o", run_training(t, on_report=reports.put))
    )
    thread.start()
    seen = []

    def next_report(timeout=10.0):
        r = reports.get(timeout=timeout)
        seen.append(r)
        return r

    try:
        with pytest.raises(queue.Empty):  # paused: no step taken
            next_report(0.3)
        assert t.step == 0
        control.step()  # exactly one step, reported at once
        assert next_report().steps.tolist() == [1]
        control.step(3)
        assert [next_report().step for _ in range(3)] == [2, 3, 4]
        with pytest.raises(queue.Empty):  # and then it waits again
            next_report(0.3)
        assert t.step == 4
        control.resume()
        next_report()
        next_report()
        assert t.step > 4
        control.stop()
        thread.join(10)
        assert not thread.is_alive()
        assert result["o"].status == "stopped"
        while not reports.empty():
            seen.append(reports.get())
        # every step that ran was reported once, in order
        steps = np.concatenate([r.steps for r in seen])
        assert steps.tolist() == list(range(1, t.step + 1))
    finally:
        control.stop()
        thread.join(10)


def test_stop_while_paused(gaussian_points):
    control = TrainControl()
    control.pause()
    t = Trainer(small(steps=1000), gaussian_points, control)
    thread = threading.Thread(target=lambda: run_training(t))
    thread.start()
    control.stop()
    thread.join(10)
    assert not thread.is_alive() and t.step == 0


def test_live_edits_apply_between_steps(gaussian_points):
    control = TrainControl()
    t = Trainer(small(steps=40), gaussian_points, control)
    seen = []

    def on_report(r):
        seen.append((r.step, r.lr_g, r.lr_d, r.d_steps))
        if r.step >= 10 and r.lr_g != 1e-3:
            control.set(lr_g=1e-3, lr_d=5e-4, d_steps=3)

    run_training(t, on_report=on_report)
    assert seen[-1][1:] == (1e-3, 5e-4, 3)
    assert t.opt_g.param_groups[0]["lr"] == 1e-3
    assert t.opt_d.param_groups[0]["lr"] == 5e-4
    with pytest.raises(ValueError, match="cannot be changed"):
        control.set(batch_size=3)
    with pytest.raises(ValueError, match="invalid value"):
        control.set(lr_g=-1.0)


def test_nan_stops_with_a_clear_reason(gaussian_points):
    t = Trainer(small(steps=50), gaussian_points)
    with torch.no_grad():  # poison the discriminator: its outputs become NaN
        next(t.D.parameters()).fill_(float("nan"))
    reports = []
    outcome = run_training(t, on_report=reports.append)
    assert outcome.status == "failed"
    assert "loss became NaN at step 1" in outcome.message
    assert "learning rate" in outcome.message
    assert t.step < 50  # it stopped early instead of training on NaN
    assert reports and np.isnan(reports[0].d_loss[0])  # the blow-up itself was reported


def test_exploding_learning_rate_is_caught(gaussian_points):
    """A real divergence, not a planted one: huge learning rates blow the weights up."""
    t = Trainer(
        small(steps=3000, lr_g=1.0, lr_d=1.0, loss="lsgan", beta1_g=0.9, beta1_d=0.9, ema=0.0),
        gaussian_points,
    )
    with torch.no_grad():
        for p in t.D.parameters():
            p.mul_(1e18)
    outcome = run_training(t)
    assert outcome.status == "failed", outcome


def test_snapshot_is_plain_numpy(gaussian_points):
    t = Trainer(small(steps=2), gaussian_points)
    snaps = []
    run_training(t, on_snapshot=snaps.append)
    assert snaps and all(isinstance(v, np.ndarray) for v in snaps[-1].state.values())
    assert snaps[-1].version > snaps[0].version


def test_lr_schedule_decays_and_live_edit_sets_the_base(gaussian_points):
    control = TrainControl()
    t = Trainer(
        small(steps=100, lr_schedule="linear", lr_g=1e-3, lr_d=1e-3), gaussian_points, control
    )
    lrs = []

    def on_report(r):
        lrs.append(t.opt_g.param_groups[0]["lr"])
        if r.step == 50:
            control.set(lr_g=2e-3)

    run_training(t, on_report=on_report)
    assert lrs[0] == pytest.approx(1e-3)  # step 1 runs at the full rate
    assert lrs[49] == pytest.approx(1e-3 * 0.51)
    assert lrs[51] == pytest.approx(2e-3 * 0.49)  # new base, same schedule
    assert lrs[-1] < 1e-4


def test_slow_previews_are_spaced_out(gaussian_points):
    """A preview that costs 50 ms may run at most every 1.5 s (the cadence a user needs,
    3.3% of the time, not every 2.5 s for the 2% budget)."""
    import time

    t = Trainer(small(steps=200, preview_interval=0.0), gaussian_points)
    previews = []

    def slow_preview(p):
        previews.append(p.step)
        time.sleep(0.05)

    start = time.perf_counter()
    run_training(t, on_preview=slow_preview)
    elapsed = time.perf_counter() - start
    assert previews[0] == 0 and previews[-1] == 200  # first and last always
    # ... and the second, which measures the cost again (the first's may be one-time set-up)
    assert len(previews) <= 3 + elapsed / 1.5


def test_preview_spacing_keeps_its_cadence_up_to_a_tenth_of_the_time():
    previews = Spacing(PREVIEW_BUDGET, PREVIEW_CADENCE, PREVIEW_MOST)
    assert PREVIEW_CADENCE < 2.0  # the window's target, with time to deliver and draw
    assert previews.wait(0.01) == pytest.approx(0.5)  # cheap: the 2% budget
    assert previews.wait(0.05) == pytest.approx(1.5)  # 2.5 s by the budget: the cadence
    assert previews.wait(0.15) == pytest.approx(1.5)  # 7.5 s by the budget (a busy machine)
    assert previews.wait(0.5) == pytest.approx(5.0)  # beyond: a tenth of the time
    probes = Spacing(PROBE_BUDGET)  # no cadence: the budget alone
    assert probes.wait(0.2) == pytest.approx(10.0)
    spacing = Spacing(0.02, cadence=2.0, most=0.1)
    spacing.ran(0.2, now=0.0, interval=1.0)  # the first call's cost may be one-time set-up
    assert spacing.due(1.0)
    spacing.ran(0.3, now=1.0, interval=1.0)  # the smaller of the last two: 0.2 s
    assert not spacing.due(2.9) and spacing.due(3.0)


def test_probes_nobody_looks_at_come_less_often_and_a_look_brings_one_at_once(gaussian_points):
    """A probe that costs 20 ms: every 4 s while unseen (a quarter of the budget), every
    second once the Diagnose tab is shown, the first of them at once."""
    import time

    t = Trainer(small(steps=10**6, preview_interval=0.0), gaussian_points)
    t.control.probes_watched = False
    probes: list[float] = []
    start = time.perf_counter()
    switched: list[float] = []

    def on_probe(p):
        probes.append(time.perf_counter() - start)
        time.sleep(0.02)

    def on_report(r):
        now = time.perf_counter() - start
        if now > 2.5 and not switched:
            switched.append(now)
            t.control.probes_watched = True
        if now > 5.5:
            t.control.stop()

    run_training(t, on_report=on_report, on_probe=on_probe)
    before = [p for p in probes if p < switched[0]]
    after = [p for p in probes if switched[0] <= p < 5.5]
    assert len(before) <= 3  # the first two (the second measures the cost again), then 4 s
    assert after and after[0] - switched[0] < 0.3  # a fresh probe when looked at
    assert len(after) >= 3  # then every second


def test_a_slow_first_preview_does_not_hold_back_the_next_ones(gaussian_points):
    """One-time costs of the first preview (first forward pass, first file written) do not
    set the spacing: once previews are cheap they come every preview_interval."""
    import time

    t = Trainer(small(steps=10**6, preview_interval=0.05), gaussian_points)
    times = []

    def preview(p):
        times.append(time.perf_counter())
        if len(times) == 1:
            time.sleep(0.5)  # 25 s of spacing if it set the 2% budget
        if len(times) == 6:
            t.control.stop()

    run_training(t, on_preview=preview)
    gaps = np.diff(times[1:6])
    assert len(times) >= 6 and gaps.max() < 1.0, gaps


def test_a_slow_probe_does_not_hold_back_the_previews(gaussian_points):
    import time

    t = Trainer(small(steps=10**6, preview_interval=0.05), gaussian_points)
    previews, probes = [], []

    def preview(p):
        previews.append(time.perf_counter())
        if len(previews) == 8:
            t.control.stop()

    def probe(p):
        probes.append(p.step)
        time.sleep(0.1)  # spaced 5 s apart by the 2% budget, from the second on

    run_training(t, on_preview=preview, on_probe=probe)
    assert len(previews) >= 8 and np.diff(previews[2:8]).max() < 1.0
    assert len(probes) <= 3 + (previews[-1] - previews[0]) / 5.0


class _SlowTask:
    """A background task whose pieces take ``cost`` seconds, ``rest`` seconds apart."""

    def __init__(self, cost: float, rest: float) -> None:
        import time

        self.cost, self.rest, self.clock = cost, rest, time.perf_counter
        self.next = 0.0
        self.ran: list[float] = []

    def upcoming(self) -> float:
        return self.cost if self.clock() >= self.next else 0.0

    def __call__(self, trainer) -> None:
        import time

        if self.clock() < self.next:
            return
        self.ran.append(self.clock())
        time.sleep(self.cost)
        self.next = self.clock() + self.rest


def test_a_slow_task_does_not_hold_back_the_previews(gaussian_points, monkeypatch):
    """A task's pieces run in the training thread: a preview that would come due during
    one is sent before it, so the previews keep their cadence (0.5 s here, scaled down;
    without the lead a gap reaches the cadence plus the task's 0.3 s)."""
    import time

    import ganstudio.core.training.loop as loop

    monkeypatch.setattr(loop, "PREVIEW_CADENCE", 0.5)
    t = Trainer(small(steps=10**6, preview_interval=0.0), gaussian_points)
    task = _SlowTask(cost=0.3, rest=0.4)
    previews: list[float] = []

    def preview(p):
        previews.append(time.perf_counter())
        time.sleep(0.05)  # spaced by the cadence (2.5 s by the budget)
        if previews[-1] - previews[0] > 4.0:
            t.control.stop()

    run_training(t, on_preview=preview, tasks=(task,))
    gaps = np.diff(previews[2:-1])  # the first two measure the cost; the last is forced
    assert len(task.ran) >= 5 and len(gaps) >= 4
    assert gaps.max() < 0.5 + 0.05 + 0.12, gaps


@pytest.mark.parametrize("loss", ["nonsaturating", "wgan-gp", "hinge"])
def test_bf16_autocast_path(loss, gaussian_points, tiny_images):
    """The mixed-precision code path (CUDA's default) runs and stays finite, on the CPU."""
    t = Trainer(
        small(loss=loss, amp=True, r1_gamma=0.1 if loss == "hinge" else 0.0), gaussian_points
    )
    assert t.amp
    reports = []
    assert run_training(t, on_report=reports.append).status == "completed"
    assert all(np.isfinite(r.g_loss).all() and np.isfinite(r.d_loss).all() for r in reports)
    t = Trainer(small(steps=2, batch_size=8, width=8, latent_dim=8, amp=True), tiny_images)
    previews = []
    assert run_training(t, on_preview=previews.append).ok
    assert previews[-1].samples.dtype == np.uint8


def test_data_kept_on_the_host_trains_the_same_way(tiny_images):
    """The path for datasets too big for the GPU: batches drawn on the host, then copied."""
    t = Trainer(
        small(steps=3, batch_size=8, width=8, latent_dim=8, data_on_device=False), tiny_images
    )
    assert not t.data_on_device and t.data.device.type == "cpu"
    reports = []
    assert run_training(t, on_report=reports.append).status == "completed"
    assert all(np.isfinite(r.d_loss).all() for r in reports)
    assert Trainer(small(steps=1), tiny_images).data_on_device  # the default on the CPU


def test_relativistic_loss_on_images_uses_r1_r2_and_paired_real_scores(tiny_images, monkeypatch):
    """rpgan (R3GAN) on a tiny DCGAN: its default gamma, no batch norm in D, R2 on the
    generated batch in every D update, and G's loss judged against D's scores on the real
    batch of the same step (as many as the fakes, without a graph)."""
    import dataclasses

    from ganstudio.core.training import trainer as trainer_module

    t = Trainer(small(steps=4, batch_size=8, width=8, latent_dim=8, loss="rpgan"), tiny_images)
    assert t.config.arch == "dcgan" and t.config.d_norm == "none"
    assert t.config.r1_gamma == 1.0
    r2_calls, g_calls = [], []
    real_r2 = trainer_module.r2_penalty

    def r2_spy(fake_out, fake):
        r2_calls.append(fake.shape)
        assert fake.requires_grad and fake.grad_fn is None  # a detached copy of G's output
        return real_r2(fake_out, fake)

    def g_spy(fake, real=None):
        g_calls.append((fake.shape, None if real is None else (real.shape, real.requires_grad)))
        return real_g(fake, real)

    real_g = t.loss.g_loss
    monkeypatch.setattr(trainer_module, "r2_penalty", r2_spy)
    t.loss = dataclasses.replace(t.loss, g_loss=g_spy)
    reports = []
    assert run_training(t, on_report=reports.append).status == "completed"
    assert len(r2_calls) == 4 and all(s == (8, 1, 28, 28) for s in r2_calls)
    assert g_calls == [((8,), ((8,), False))] * 4
    losses = np.concatenate([np.stack([r.g_loss, r.d_loss]) for r in reports], axis=1)
    assert np.isfinite(losses).all()
    assert all(r.augment_p is None for r in reports)  # no adaptive augmentation asked for


def test_relativistic_loss_without_penalties_skips_r2(gaussian_points, monkeypatch):
    from ganstudio.core.training import trainer as trainer_module

    calls = []
    monkeypatch.setattr(trainer_module, "r2_penalty", lambda *a: calls.append(1))
    t = Trainer(small(steps=3, loss="rpgan", r1_gamma=0.0), gaussian_points)
    assert run_training(t).status == "completed" and not calls


def test_a_time_budget_ends_the_run_and_drives_the_schedule():
    from ganstudio.core.config import MAX_STEPS

    cfg = TrainConfig(
        dataset="builtin:ring8?n=512",
        minutes=0.02,
        width=16,
        batch_size=32,
        lr_schedule="linear",
        report_interval=0.0,
        device="cpu",
    )
    trainer = Trainer(cfg)
    assert trainer.resolved.steps == MAX_STEPS  # time alone limits the run
    outcome = run_training(trainer)
    assert outcome.status == "completed" and "minute" in outcome.message
    assert 0 < trainer.step < MAX_STEPS
    assert 1.2 <= trainer.training_seconds() < 5
    assert trainer.progress() == 1.0
    # The learning rate followed the time: at the end it has decayed nearly to 0.
    assert trainer.opt_g.param_groups[0]["lr"] < 0.1 * trainer.resolved.lr_g


def test_with_steps_and_minutes_whichever_ends_first():
    cfg = TrainConfig(
        dataset="builtin:ring8?n=512", steps=7, minutes=60, width=16, batch_size=32, device="cpu"
    )
    trainer = Trainer(cfg)
    assert run_training(trainer).message == "completed 7 steps"
    assert trainer.progress() == 1.0 and not trainer.out_of_time()

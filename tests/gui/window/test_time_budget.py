"""Training for a time from the window, and the final quality measurement it ends with."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolButton

from ganstudio.gui.train.setup_panel import SetupPanel
from ganstudio.gui.widgets.status_bar import RunStatusBar


def _click(qtbot, window, action):
    (button,) = [b for b in window.findChildren(QToolButton) if b.defaultAction() is action]
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_the_minutes_field_round_trips_and_refuses_nonsense(qtbot):
    panel = SetupPanel()
    qtbot.addWidget(panel)
    assert "minutes" not in panel.config_fields()
    panel.minutes.setText("2.5")
    assert panel.config_fields()["minutes"] == 2.5
    other = SetupPanel()
    qtbot.addWidget(other)
    other.set_config_fields(panel.config_fields())
    assert other.minutes.text() == "2.5"
    panel.minutes.setText("-1")
    try:
        panel.config_fields()
    except ValueError as exc:
        assert "Minutes" in str(exc)
    else:
        raise AssertionError("a negative time budget was accepted")


def test_the_status_bar_shows_the_time_of_a_time_budget(qtbot):
    bar = RunStatusBar()
    qtbot.addWidget(bar)
    bar.show_step(1234, 5000)
    assert bar.step_label.text() == "step 1,234 / 5,000"
    bar.show_step(1234, 9_999_999, 65.0, 300.0)
    assert bar.step_label.text() == "step 1,234 · 1:05 / 5:00"
    bar.show_step(1234, 5000, 65.0, 300.0)  # both budgets: whichever ends first
    assert bar.step_label.text() == "step 1,234 / 5,000 · 1:05 / 5:00"


def test_a_status_tip_covers_the_phase_for_a_while_and_does_not_erase_it(qtbot, window):
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QStatusTipEvent

    bar = window.status
    bar.show_phase("Measuring the final samples ...")
    assert bar.phase_label.isVisibleTo(window)
    # What the pointer over a toolbar button sends, then the empty tip when it leaves.
    QCoreApplication.sendEvent(window, QStatusTipEvent("Start training (Ctrl+Return)"))
    assert bar.currentMessage().startswith("Start training")
    assert not bar.phase_label.isVisibleTo(window)
    QCoreApplication.sendEvent(window, QStatusTipEvent(""))
    assert bar.currentMessage() == ""
    assert bar.phase_label.isVisibleTo(window)
    assert bar.phase() == "Measuring the final samples ..."
    # A long result (a deep model path) does not widen the window.
    width = window.minimumSizeHint().width()
    bar.show_phase("Finished after 40,000 steps. Model saved to " + "/very-long-folder" * 40)
    assert window.minimumSizeHint().width() == width
    assert bar.phase_label.toolTip() == bar.phase()


def test_a_run_of_a_few_seconds_ends_by_time_with_a_final_measurement(qtbot, window, fill):
    fill(window, {"steps": 0, "minutes": 0.03})  # steps "auto": the time alone limits the run
    labels = []
    window.session.report.connect(lambda r: labels.append(window.status.step_label.text()))
    with qtbot.waitSignal(window.session.finished, timeout=60_000) as finished:
        _click(qtbot, window, window.commands.start)
    result = finished.args[0]
    assert result.status == "completed" and "minute" in result.message
    assert any(" · " in text and text.endswith("/ 0:01") for text in labels)
    quality = window.diagnose_tab.panel.quality
    assert quality.last is not None and quality.last.final
    window.tabs.setCurrentWidget(window.diagnose)  # the tab draws when it is seen
    qtbot.waitUntil(lambda: quality.status.text().startswith("Final, at step"), timeout=10_000)


def test_the_eta_counts_down_the_final_measurement(qtbot, window, fill, monkeypatch, tmp_path):
    from ganstudio.core.quality import features

    # Nothing cached and a short extractor training: the run ends before the extractor is
    # trained, so the final measurement trains the rest first (a user's first run on a
    # dataset of pictures).
    monkeypatch.setenv("GANSTUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(features, "CLASSIFIER_STEPS", 60)
    spec = "builtin:digits"
    window.setup.dataset.select_dataset(spec)
    qtbot.waitUntil(lambda: window.data is not None and window.data.spec == spec, timeout=60_000)
    fill(window, {"steps": 5, "width": 8, "batch_size": 16})
    last_report, seen = [], []
    window.session.report.connect(lambda r: last_report.append(r.step))

    def at_quality(q):
        if last_report and last_report[-1] == 5 and q.status == "preparing":
            seen.append((window.status.eta_label.text(), window.status.phase()))

    window.session.quality.connect(at_quality)  # connected after the window's own slot
    with qtbot.waitSignal(window.session.finished, timeout=120_000) as finished:
        _click(qtbot, window, window.commands.start)
    # The loop's own call of the monitor after the last step's report comes before the run
    # ends (a piece of work while still "Training"); the final measurement's events follow.
    during = 1 if seen and seen[0][1] == "Training" else 0
    seen = seen[during:]
    assert seen, "no measurement after the last step"
    etas = [text.removeprefix("ETA ") for text, _ in seen]
    seconds = [int(m) * 60 + int(s) for m, s in (e.split(":") for e in etas if ":" in e)]
    # The wait for the measurement is shown ("--" only until its speed is measured).
    assert all(e == "--" for e in etas[: len(etas) - len(seconds)]), seen
    assert len(seconds) >= 3 and max(seconds) >= 2 and seconds[-1] < max(seconds), seen
    assert all(phase == "Measuring the final samples ..." for _, phase in seen), seen
    # The run's result stays in its place afterwards (a status tip may cover it a while).
    message = finished.args[0].message  # as a sentence: "Completed 60 steps. Model saved ..."
    said = message[:1].upper() + message[1:]
    assert window.status.phase().startswith(said) and said[0].isupper(), window.status.phase()

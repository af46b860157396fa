"""The set-up panel: dataset (gui.dataset_box), model, objective, optimiser, augmentation,
run and device.

Every field may be left on "auto": the engine then picks the value and the field shows what
it picked. The panel knows no torch; the window validates the settings with core and shows
the verdict inline.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ganstudio.core.choices import (
    ARCHITECTURES,
    AUGMENT_OPS,
    LOSS_NAMES,
    LR_SCHEDULES,
)
from ganstudio.core.config import LIMITS, MAX_MINUTES, MAX_STEPS
from ganstudio.gui.train.dataset_box import DatasetBox
from ganstudio.gui.widgets.fields import NumberEdit, PairEdit, auto_spin
from ganstudio.gui.widgets.scroll import VerticalScrollArea

ARCH_LABELS = {
    "mlp": "MLP",
    "dcgan": "DCGAN (convolutional)",
    "fastgan": "FastGAN (data-efficient, 28\u2013512 px)",
}

# Fields that may change while training runs (core.training.control.LIVE_SETTINGS).
LIVE_FIELDS = ("lr_g", "lr_d", "d_steps")


def _most(name: str) -> int:
    """The largest value of a whole-number setting (core.config.LIMITS) a QSpinBox holds."""
    return min(int(LIMITS[name].high), 2**31 - 1)


class SetupPanel(VerticalScrollArea):
    """Emits ``changed`` on any edit and ``live_edit(dict)`` when a live setting is edited
    during training; its ``dataset`` box (gui.dataset_box) says which data is chosen."""

    changed = Signal()
    live_edit = Signal(dict)

    # Each field is named as its TrainConfig setting (looked up by name here and in the
    # tests), so the "width" field hides QWidget.width(): the panel's width is never asked
    # for through it.
    width: QSpinBox  # type: ignore[assignment]  # the TrainConfig field, not QWidget.width

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)  # scrolls up and down only
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(6, 6, 6, 6)
        self.dataset = DatasetBox()  # choosing, preparing and showing the data
        layout.addWidget(self.dataset)
        layout.addWidget(self._model_box())
        layout.addWidget(self._training_box())
        layout.addWidget(self._augment_box())
        layout.addWidget(self._run_box())
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        self.verdict.setObjectName("verdict")
        layout.addWidget(self.verdict)
        layout.addStretch(1)
        # As wide as its widest row needs, also when a row grows later (a dataset's
        # details, a longer verdict): VerticalScrollArea passes that on to the splitter.
        self.setWidget(body)
        self._running = False
        self._wire()

    # ---------------------------------------------------------------------------------
    # Building

    def _model_box(self) -> QGroupBox:
        box = QGroupBox("Model")
        f = QFormLayout(box)
        self.arch = QComboBox()
        self.arch.addItem("auto", None)
        for a in ARCHITECTURES:
            self.arch.addItem(ARCH_LABELS[a], a)
        f.addRow("Architecture", self.arch)
        self.width = auto_spin(_most("width"), step=16)
        self.width.setToolTip("MLP hidden size, or DCGAN / FastGAN base channels (64 typical)")
        f.addRow("Width", self.width)
        self.latent_dim = auto_spin(_most("latent_dim"))
        f.addRow("Latent size", self.latent_dim)
        self.conditional = QCheckBox("Conditional (by class)")
        self.conditional.setToolTip(
            "Class-conditional DCGAN / FastGAN trained on the dataset's labels (class "
            "subfolders, label files): the explorer then draws the class you pick"
        )
        f.addRow("", self.conditional)
        self.init_from = QLineEdit()
        self.init_from.setPlaceholderText("new weights")
        self.init_from.setToolTip(
            "Fine-tune: start from the weights of a model file, a checkpoint or a run folder "
            "(its newest checkpoint). The architecture and sizes follow the file; the "
            "optimisers, steps and schedule start anew."
        )
        self.init_from_button = QPushButton("Choose...")
        self.init_from_button.setToolTip("Start from a model file or checkpoint")
        self.init_from_clear = QPushButton("New")
        self.init_from_clear.setToolTip("Start from new (random) weights")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.init_from, 1)
        row.addWidget(self.init_from_button)
        row.addWidget(self.init_from_clear)
        f.addRow("Start from", row)
        self.init_from_button.clicked.connect(self._choose_init_from)
        self.init_from_clear.clicked.connect(self.init_from.clear)
        return box

    def _choose_init_from(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Start from a model file or checkpoint",
            self.init_from.text(),
            "Model files and checkpoints (*.safetensors);;All files (*)",
        )
        if path:
            self.init_from.setText(path)

    def _training_box(self) -> QGroupBox:
        box = QGroupBox("Objective and optimiser")
        f = QFormLayout(box)
        self.loss = QComboBox()
        for name, label in LOSS_NAMES.items():
            self.loss.addItem(label, name)
        self.loss.insertItem(0, "auto", None)  # hinge for pictures, non-saturating for points
        self.loss.setCurrentIndex(0)
        f.addRow("Loss", self.loss)
        self.lr_g = NumberEdit(1e-8, 1.0)
        self.lr_g.setToolTip("Generator learning rate (Adam); can change while training")
        self.lr_d = NumberEdit(1e-8, 1.0)
        self.lr_d.setToolTip("Discriminator learning rate (Adam); can change while training")
        f.addRow("Learning rate G", self.lr_g)
        f.addRow("Learning rate D", self.lr_d)
        self.betas_g = PairEdit()
        self.betas_d = PairEdit()
        f.addRow("Adam betas G", self.betas_g)
        f.addRow("Adam betas D", self.betas_d)
        self.batch_size = auto_spin(_most("batch_size"))
        f.addRow("Batch size", self.batch_size)
        self.d_steps = auto_spin(_most("d_steps"))
        self.d_steps.setToolTip("Discriminator updates per generator update; live")
        f.addRow("D steps per G step", self.d_steps)
        self.ema = NumberEdit(0.0, 0.99999)
        self.ema.setToolTip("Decay of the generator's weight average used for samples (0 = off)")
        f.addRow("EMA", self.ema)
        self.r1_gamma = NumberEdit(0.0, 1000.0)
        self.r1_gamma.setToolTip(
            "R1 gradient penalty on real data (0 = off); with the R3GAN loss also the R2 "
            "penalty on generated data"
        )
        f.addRow("R1 penalty", self.r1_gamma)
        self.lr_schedule = QComboBox()
        self.lr_schedule.addItem("auto", None)
        for s in LR_SCHEDULES:
            self.lr_schedule.addItem(s, s)
        f.addRow("LR schedule", self.lr_schedule)
        return box

    def _augment_box(self) -> QGroupBox:
        box = QGroupBox("Augmentation (images)")
        v = QVBoxLayout(box)
        self.hflip = QCheckBox("Mirror real images left-right")
        v.addWidget(self.hflip)
        row = QHBoxLayout()
        row.addWidget(QLabel("DiffAugment:"))
        self.diffaugment = {}
        for op in AUGMENT_OPS:
            cb = QCheckBox(op)
            self.diffaugment[op] = cb
            row.addWidget(cb)
        row.addStretch(1)
        v.addLayout(row)
        self.augment_auto = QCheckBox("Adaptive: apply only as much as D needs")
        self.augment_auto.setToolTip(
            "Apply the DiffAugment operations (all three when none is ticked) to each image "
            "with a probability that rises while the discriminator overfits the real images "
            "and falls when it does not (StyleGAN2-ADA); shown in the status bar"
        )
        v.addWidget(self.augment_auto)
        self.augment_box = box
        return box

    def _run_box(self) -> QGroupBox:
        box = QGroupBox("Run")
        f = QFormLayout(box)
        self.steps = auto_spin(_most("steps"), step=1000)
        self.steps.setToolTip("Generator updates to train for (the step budget)")
        f.addRow("Steps", self.steps)
        self.minutes = NumberEdit(0.01, MAX_MINUTES)
        self.minutes.setPlaceholderText("no time limit")
        self.minutes.setToolTip(
            "Or train for this many minutes (pauses not counted); with a step budget too, "
            "whichever ends first. The learning-rate schedule and the ETA follow it."
        )
        f.addRow("Minutes", self.minutes)
        self.seed = QSpinBox()
        self.seed.setRange(0, _most("seed"))
        f.addRow("Seed", self.seed)
        self.device = QComboBox()
        self.device.addItem("auto (loading ...)", "auto")
        f.addRow("Device", self.device)
        return box

    def _wire(self) -> None:
        for w in self._all_fields():
            if isinstance(w, QComboBox):
                w.currentIndexChanged.connect(self.changed)
            elif isinstance(w, QCheckBox):
                w.toggled.connect(self.changed)
            elif isinstance(w, QSpinBox):
                w.valueChanged.connect(self.changed)
            elif isinstance(w, QLineEdit):
                w.textChanged.connect(self.changed)
        self.lr_g.editingFinished.connect(lambda: self._live("lr_g"))
        self.lr_d.editingFinished.connect(lambda: self._live("lr_d"))
        self.d_steps.valueChanged.connect(lambda _v: self._live("d_steps"))

    def _all_fields(self) -> list[QWidget]:
        return [
            self.arch,
            self.width,
            self.latent_dim,
            self.conditional,
            self.init_from,
            self.init_from_button,
            self.init_from_clear,
            self.loss,
            self.lr_g,
            self.lr_d,
            self.betas_g,
            self.betas_d,
            self.batch_size,
            self.d_steps,
            self.ema,
            self.r1_gamma,
            self.lr_schedule,
            self.hflip,
            *self.diffaugment.values(),
            self.augment_auto,
            self.steps,
            self.minutes,
            self.seed,
            self.device,
        ]

    # ---------------------------------------------------------------------------------
    # Devices

    def set_devices(self, devices: list[tuple[str, str]]) -> None:
        """(name, description) pairs, preferred first; keeps the current choice if present."""
        current = self.device.currentData()
        self.device.blockSignals(True)
        self.device.clear()
        best = devices[0][1] if devices else "CPU"
        self.device.addItem(f"auto: {best}", "auto")
        for name, text in devices:
            self.device.addItem(text, name)
        index = self.device.findData(current)
        self.device.setCurrentIndex(max(index, 0))
        self.device.blockSignals(False)

    # ---------------------------------------------------------------------------------
    # Settings in and out

    def config_fields(self) -> dict:
        """TrainConfig fields chosen here (auto fields left out). ValueError with a sentence
        naming the field when one is not valid."""
        out: dict = {"dataset": self.dataset.dataset_spec(), "seed": self.seed.value()}
        for name in ("width", "latent_dim", "batch_size", "d_steps", "steps"):
            v = getattr(self, name).value()
            if v > getattr(self, name).minimum():
                out[name] = v
        for name, label in (
            ("lr_g", "Learning rate G"),
            ("lr_d", "Learning rate D"),
            ("ema", "EMA"),
            ("r1_gamma", "R1 penalty"),
            ("minutes", "Minutes"),
        ):
            try:
                v = getattr(self, name).value()
            except ValueError as exc:
                raise ValueError(f"{label}: {exc}") from None
            if v is not None:
                out[name] = v
        for name, label in (("betas_g", "Adam betas G"), ("betas_d", "Adam betas D")):
            try:
                pair = getattr(self, name).value()
            except ValueError as exc:
                raise ValueError(f"{label}: {exc}") from None
            if pair is not None:
                out[f"beta1_{name[-1]}"], out[f"beta2_{name[-1]}"] = pair
        if self.init_from.text().strip():
            out["init_from"] = self.init_from.text().strip()
        if self.arch.currentData():
            out["arch"] = self.arch.currentData()
        if self.loss.currentData():
            out["loss"] = self.loss.currentData()
        if self.lr_schedule.currentData():
            out["lr_schedule"] = self.lr_schedule.currentData()
        if self.hflip.isChecked():
            out["hflip"] = True
        if self.conditional.isChecked():
            out["conditional"] = True
        ops = [op for op, cb in self.diffaugment.items() if cb.isChecked()]
        if ops:
            out["diffaugment"] = ",".join(ops)
        if self.augment_auto.isChecked():
            out["augment"] = "auto"
        out["device"] = self.device.currentData() or "auto"
        return out

    def set_config_fields(self, d: dict) -> None:
        """Show saved settings (unknown or bad values are ignored, never raised)."""
        self.blockSignals(True)
        try:
            for name in ("width", "latent_dim", "batch_size", "d_steps", "steps", "seed"):
                w = getattr(self, name)
                v = d.get(name)
                w.setValue(int(v) if isinstance(v, (int, float)) else w.minimum())
            for name in ("lr_g", "lr_d", "ema", "r1_gamma", "minutes"):
                v = d.get(name)
                getattr(self, name).set_value(float(v) if isinstance(v, (int, float)) else None)
            for side in ("g", "d"):
                b1, b2 = d.get(f"beta1_{side}"), d.get(f"beta2_{side}")
                ok = isinstance(b1, (int, float)) and isinstance(b2, (int, float))
                getattr(self, f"betas_{side}").set_value((b1, b2) if ok else None)
            for combo, key in (
                (self.arch, "arch"),
                (self.loss, "loss"),
                (self.lr_schedule, "lr_schedule"),
                (self.device, "device"),
            ):
                i = combo.findData(d.get(key))
                if i >= 0:
                    combo.setCurrentIndex(i)
            start = d.get("init_from")
            # A file moved or deleted since is dropped, not shown as an error at start-up.
            self.init_from.setText(start if isinstance(start, str) and Path(start).exists() else "")
            self.hflip.setChecked(bool(d.get("hflip")))
            self.conditional.setChecked(d.get("conditional") is True)
            ops = str(d.get("diffaugment") or "").split(",")
            for op, cb in self.diffaugment.items():
                cb.setChecked(op in ops)
            self.augment_auto.setChecked(d.get("augment") == "auto")
        finally:
            self.blockSignals(False)
        self.changed.emit()

    def show_resolved(self, resolved: dict | None) -> None:
        """Show the engine's automatic choices as the placeholders of "auto" fields."""
        r = resolved or {}
        for name in ("lr_g", "lr_d", "ema", "r1_gamma"):
            v = r.get(name)
            getattr(self, name).setPlaceholderText("auto" if v is None else f"auto: {v:g}")
        for side in ("g", "d"):
            b1, b2 = r.get(f"beta1_{side}"), r.get(f"beta2_{side}")
            getattr(self, f"betas_{side}").setPlaceholderText(
                "auto" if b1 is None else f"auto: {b1:g}, {b2:g}"
            )
        for name in ("width", "latent_dim", "batch_size", "d_steps", "steps"):
            v = r.get(name)
            shown = "no limit" if name == "steps" and v == MAX_STEPS else v
            getattr(self, name).setSpecialValueText("auto" if v is None else f"auto: {shown}")
        for combo, key in (
            (self.arch, "arch"),
            (self.lr_schedule, "lr_schedule"),
            (self.loss, "loss"),
        ):
            v = r.get(key)
            combo.setItemText(0, "auto" if v is None else f"auto: {v}")
        is_image = r.get("_is_image")
        self.augment_box.setEnabled(bool(is_image) or is_image is None)

    def show_verdict(self, text: str, error: bool) -> None:
        self.verdict.setText(text)
        self.verdict.setStyleSheet("color: #b00020;" if error else "color: #555;")

    # ---------------------------------------------------------------------------------
    # While training

    def set_running(self, running: bool) -> None:
        """While a run is going only the live settings can be edited."""
        self._running = running
        for w in self._all_fields():
            w.setEnabled(not running)
        for name in LIVE_FIELDS:
            getattr(self, name).setEnabled(True)
        self.dataset.set_running(running)

    def _live(self, name: str) -> None:
        if not self._running:
            return
        try:
            if name == "d_steps":
                value = self.d_steps.value()
                if value < 1:
                    return
            else:
                value = getattr(self, name).value()
                if value is None:
                    return
        except ValueError as exc:
            self.show_verdict(f"{name}: {exc}", error=True)
            return
        self.live_edit.emit({name: value})

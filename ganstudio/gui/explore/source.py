"""What the explorer is exploring: the generator, its description and the latent state.

One of these is shared by the panel (which changes it) and the objects it is composed of
(which read it), so all of them see the same source. Torch-free: the core types it names
are imported for the type checker only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ganstudio.core.explore.latent_state import LatentState

if TYPE_CHECKING:
    from typing import TypeAlias

    from ganstudio.core.modelfile import GeneratorFile
    from ganstudio.core.training.events import Snapshot

    ExploredGenerator: TypeAlias = GeneratorFile | Snapshot


@dataclass
class ExploredSource:
    """``kind`` is "model" (an opened model file), "run" (a training run's snapshot) or ""
    (nothing yet); ``state`` is None until a generator is known."""

    generator: ExploredGenerator | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    kind: str = ""
    is_image: bool = True
    state: LatentState | None = None
    # A class-conditional model: the classes the grid and the interpolation last drew, by
    # render purpose (the class picker sets them; exports record them).
    drawn_classes: dict[str, list[int]] = field(default_factory=dict)

    def require_state(self) -> LatentState:
        """The latent state; a RuntimeError before a generator is known."""
        if self.state is None:
            raise RuntimeError("the explorer has no generator yet")
        return self.state

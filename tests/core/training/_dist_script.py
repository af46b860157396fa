"""Run by torchrun in tests/core/test_distributed.py: train a tiny model on this process's
share and save what the test compares (this process's weights and the data it saw).

Usage: python -m torch.distributed.run --nproc-per-node N _dist_script.py OUT CONFIG_JSON
"""

import json
import sys
from pathlib import Path

import torch

from ganstudio.core.config import TrainConfig
from ganstudio.core.training.distributed import join
from ganstudio.core.training.loop import run_training
from ganstudio.core.training.trainer import Trainer


def main() -> None:
    out, settings = Path(sys.argv[1]), json.loads(sys.argv[2])
    cluster = join("cpu")
    trainer = Trainer(TrainConfig(**settings), cluster=cluster)
    outcome = run_training(trainer)
    state = {f"G.{k}": v for k, v in trainer.G.state_dict().items()}
    state |= {f"D.{k}": v for k, v in trainer.D.state_dict().items()}
    state["data"] = trainer.data.data.clone()
    state["local_batch"] = torch.tensor(trainer.local_batch)
    state["step"] = torch.tensor(outcome.step)
    state["has_ema"] = torch.tensor(trainer.G_ema is not None)
    if trainer.ada is not None:  # --augment auto: every process keeps the same probability
        state["augment_p"] = trainer.ada.p.clone()
    state["min_of_ranks"] = torch.tensor(cluster.min_int(10 + cluster.rank))
    torch.save(state, out / f"rank{cluster.rank}.pt")
    cluster.close()


if __name__ == "__main__":
    main()

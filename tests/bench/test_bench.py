"""The benchmark commands run end to end (tiny settings; their numbers are not checked)."""

from ganstudio.bench import training as bench


def test_speed_table_runs_and_prints_a_ratio():
    lines = []
    result = bench.speed_table(device="cpu", batch=2, steps=1, repeats=1, print_fn=lines.append)
    assert result["engine"] > 0 and result["example"] > 0
    assert any(line.startswith("ratio engine / example") for line in lines)


def test_example_loop_matches_our_dcgan_architecture():
    """The baseline must be the same network as ours, or the ratio means nothing."""
    import torch

    from ganstudio.core.models import build, count_parameters, model_specs

    netG, netD = bench._example_networks(3)
    g, d = model_specs("dcgan", (3, 64, 64), latent_dim=100, width=64, depth=3, d_norm="batch")
    assert count_parameters(build(g)) == count_parameters(netG)
    assert count_parameters(build(d)) == count_parameters(netD)
    assert netG(torch.randn(2, 100, 1, 1)).shape == (2, 3, 64, 64)


def test_quality_table_runs(monkeypatch):
    lines = []
    summary = bench.quality_table(
        seeds=1, steps=20, datasets=("ring8",), print_fn=lines.append, workers=1
    )
    assert summary["ring8"]["runs"] == 1
    assert 0 <= summary["ring8"]["modes"] <= 8
    assert any("ring8" in line for line in lines)

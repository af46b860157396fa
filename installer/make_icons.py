"""Draw GAN Studio's application icon and write it in every format the installers need.

The mark: two interlocking rings, the generator (warm) and the discriminator (cool), on a
rounded square. Drawn at 4x and scaled down, which antialiases the edges.

    python installer/make_icons.py        # writes resources/icons/

Output (commit it; it is small): ganstudio.png (256 px, the window and the Linux desktop
entry), ganstudio-1024.png, ganstudio.ico (16-256 px) and ganstudio.icns (16-1024 px).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw

SIZE = 1024
SUPER = 4  # supersampling factor
ICO_SIZES = [16, 24, 32, 48, 64, 128, 256]

BACKGROUND_TOP = (38, 44, 74)
BACKGROUND_BOTTOM = (18, 20, 38)
GENERATOR = (255, 152, 64)  # warm: makes things
DISCRIMINATOR = (64, 200, 230)  # cool: judges them


def _vertical_gradient(size: int, top: tuple, bottom: tuple) -> Image.Image:
    column = Image.new("RGB", (1, size))
    for y in range(size):
        t = y / (size - 1)
        column.putpixel((0, y), tuple(round(a + (b - a) * t) for a, b in zip(top, bottom)))
    return column.resize((size, size), Image.Resampling.NEAREST)


def _ring_mask(size: int, centre: tuple[float, float], radius: float, width: float) -> Image.Image:
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    cx, cy = centre
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=255)
    inner = radius - width
    draw.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), fill=0)
    return mask


def draw_icon(size: int = SIZE) -> Image.Image:
    """The icon as an RGBA picture of ``size`` x ``size`` pixels."""
    s = size * SUPER
    # The rounded square, with a margin as platform icon grids expect (about 10%).
    margin = round(s * 0.06)
    tile = Image.new("L", (s, s), 0)
    ImageDraw.Draw(tile).rounded_rectangle(
        (margin, margin, s - margin, s - margin), radius=round(s * 0.2), fill=255
    )
    background = _vertical_gradient(s, BACKGROUND_TOP, BACKGROUND_BOTTOM).convert("RGBA")
    icon = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    icon.paste(background, (0, 0), tile)

    radius, width = s * 0.245, s * 0.085
    left_centre, right_centre = (s * 0.385, s * 0.5), (s * 0.615, s * 0.5)
    left = _ring_mask(s, left_centre, radius, width)
    right = _ring_mask(s, right_centre, radius, width)
    # A ring passing over the other cuts a thin gap into it, which reads as "over/under".
    gap = width * 0.28
    left_gap = _ring_mask(s, left_centre, radius + gap, width + 2 * gap)
    right_gap = _ring_mask(s, right_centre, radius + gap, width + 2 * gap)

    top_half = Image.new("L", (s, s), 0)
    ImageDraw.Draw(top_half).rectangle((0, 0, s, s // 2), fill=255)
    bottom_half = ImageChops.invert(top_half)

    def paint(mask: Image.Image, source: Image.Image | tuple) -> None:
        if isinstance(source, tuple):
            source = Image.new("RGBA", (s, s), (*source, 255))
        icon.paste(source, (0, 0), mask)

    def both(*masks: Image.Image) -> Image.Image:
        out = masks[0]
        for m in masks[1:]:
            out = ImageChops.multiply(out, m)
        return out

    # The generator's ring passes over the discriminator's at the top crossing and under
    # it at the bottom one: the two interlock.
    paint(right, DISCRIMINATOR)
    paint(both(left_gap, right, top_half), background)
    paint(left, GENERATOR)
    paint(both(right_gap, left, bottom_half), background)
    paint(both(right, bottom_half), DISCRIMINATOR)

    # Keep everything inside the rounded square.
    alpha = ImageChops.multiply(icon.getchannel("A"), tile)
    icon.putalpha(alpha)
    return icon.resize((size, size), Image.Resampling.LANCZOS)


def main(argv: list[str] | None = None) -> int:
    root = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=root / "resources" / "icons")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    big = draw_icon(SIZE)
    big.save(args.out / "ganstudio-1024.png", optimize=True)
    big.resize((256, 256), Image.Resampling.LANCZOS).save(args.out / "ganstudio.png", optimize=True)
    big.save(args.out / "ganstudio.ico", sizes=[(n, n) for n in ICO_SIZES])
    big.save(args.out / "ganstudio.icns")
    for f in sorted(args.out.iterdir()):
        print(f"{f.name:<22} {f.stat().st_size:>8,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

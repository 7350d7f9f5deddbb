"""Your own digit (own_digit.load_image) as users draw it: a thin pen on a big canvas, white ink on
a transparent background, an animation, a picture too large to open — each converted or refused
with a note that says what happened (issue 34 §2). No model needed."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from vae_report.explore import models, own_digit, views


def _three(path, size=400, pen=4):
    im = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(im)
    d.arc((size // 4, size // 10, 3 * size // 4, size // 2), 200, 90, fill=0, width=pen)
    d.arc((size // 4, size // 2, 3 * size // 4, 9 * size // 10), 270, 160, fill=0, width=pen)
    im.save(path)
    return path


def test_a_thin_pen_on_a_large_canvas_keeps_strokes_as_wide_as_mnists(tmp_path):
    x, notes = own_digit.load_image(_three(tmp_path / "three.png"))
    pixels = x.reshape(28, 28).numpy()
    assert any("widened to ≈ 2.2 px" in n for n in notes), notes
    # MNIST's strokes are 2–3 px: a '3' that tall inks well over 60 of its 784 pixels
    assert (pixels > 0.5).sum() > 60 and pixels.max() > 0.9
    assert 1.5 <= own_digit.stroke_width(pixels) <= 4.0


def test_a_picture_with_strokes_as_wide_as_mnists_is_not_widened(tmp_path):
    _, notes = own_digit.load_image(_three(tmp_path / "bold.png", size=100, pen=10))
    assert not any("widened" in n for n in notes), notes


def test_white_ink_on_a_transparent_background_is_a_digit_not_blank(tmp_path):
    pic = Image.new("RGBA", (200, 200), (255, 255, 255, 0))
    ImageDraw.Draw(pic).line((100, 20, 100, 180), fill=(255, 255, 255, 255), width=12)
    pic.save(tmp_path / "white.png")
    x, notes = own_digit.load_image(tmp_path / "white.png")
    assert (x > 0.5).sum() > 10
    assert any("its transparency does" in n for n in notes), notes


def test_an_animation_says_which_frame_it_used(tmp_path):
    frames = []
    for k in range(3):
        f = Image.new("L", (64, 64), 0)
        ImageDraw.Draw(f).line((20 + 10 * k, 5, 32, 60), fill=255, width=4)
        frames.append(f)
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    _, notes = own_digit.load_image(tmp_path / "a.gif")
    assert any("an animation of 3 frames; its first is used" in n for n in notes), notes


def test_a_picture_too_large_to_open_is_refused_with_the_fix(tmp_path):
    Image.new("1", (14000, 14000), 1).save(tmp_path / "huge.png")
    with pytest.raises(models.ExploreError, match="too large to open safely.*scale it down"):
        own_digit.load_image(tmp_path / "huge.png")


def test_a_views_figure_says_how_to_show_or_save_it():
    fig = views.Figure(figsize=(2, 1))
    assert "savefig" in repr(fig) and "display(view)" in repr(fig)
    assert fig._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
    view = views.View({}, fig)
    assert view._repr_png_()[:4] == b"\x89PNG"
    assert np.asarray(Image.open(__import__("io").BytesIO(view._repr_png_()))).size > 0

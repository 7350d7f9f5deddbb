"""The exploration widgets: setting a control redraws the picture and the label (no browser:
the callbacks run in the kernel, as they do behind JupyterLab)."""
from __future__ import annotations

import pytest

from vae_report.explore import models, views

# skipped only where ipywidgets itself is missing (it is pinned in requirements.txt): a broken
# import of the project's own module must fail, not skip
pytest.importorskip("ipywidgets", reason="ipywidgets is pinned in requirements.txt")
from vae_report.explore import widgets  # noqa: E402


def _shown(panel):
    return bytes(panel.image.value), panel.label.value


def test_the_interpolation_slider_moves_along_the_path(here):
    m = models.load("t/original/seed-0/deep-128", device="cpu")
    panel = widgets.interpolation_panel(m, start=0, end=3, steps=5)
    first = _shown(panel)
    assert first[0][:4] == b"\x89PNG" and "t = 0.00" in first[1]
    panel.controls["frame"].value = 4
    last = _shown(panel)
    assert last[0] != first[0] and "t = 1.00" in last[1]
    panel.controls["end"].value = 7                       # another digit: the path is recomputed
    assert _shown(panel)[0] != last[0]


def test_the_traversal_controls_pick_a_dimension_and_its_value(here):
    m = models.load("t/original/seed-0/deep-128", device="cpu")
    panel = widgets.traversal_panel(m, index=1)
    dims = [d for _, d in panel.controls["dim"].options]
    assert dims == list(views.traversal(m, "all", index=1, values=2).arrays["dims"])
    before = _shown(panel)
    panel.controls["value"].value = 2.5
    after = _shown(panel)
    assert after[0] != before[0] and "= +2.50" in after[1] and "= +0.00" in before[1]
    panel.controls["dim"].value = dims[-1]
    assert f"z{dims[-1]} " in panel.label.value


def test_the_chain_steps_and_resets(here):
    m = models.load("t/original/seed-0/vanilla", device="cpu")
    panel = widgets.chain_panel(m, index=2, steps=6)
    start = _shown(panel)
    assert "step 0:" in start[1]
    panel.controls["step"].click()
    panel.controls["step"].click()
    assert panel.controls["frame"].value == 2
    stepped = _shown(panel)
    assert "step 2:" in stepped[1] and stepped[0] != start[0]
    panel.controls["frame"].value = 6
    panel.controls["step"].click()                        # the last frame stays the last
    assert panel.controls["frame"].value == 6
    panel.controls["reset"].click()
    assert panel.controls["frame"].value == 0 and _shown(panel) == start


def test_play_shows_every_step_and_reset_stops_it_at_zero(here):
    """Play advances one step per tick, each drawn before the next (no frame skipped); Reset
    during Play stops at step 0 and no queued step moves it again (issue 34: it stopped at
    17, 20, 24)."""
    m = models.load("t/original/seed-0/vanilla", device="cpu")
    panel = widgets.chain_panel(m, index=2, steps=6)
    drawn = []
    panel.controls["frame"].observe(lambda change: drawn.append(panel.label.value), "value")
    tick = panel.state["tick"]
    panel.controls["play"].value = True
    while tick():
        pass
    assert [label.split(":")[0] for label in drawn] == [f"<code>step {k}" for k in range(1, 7)]
    assert panel.controls["play"].value is False                   # stopped at the last step
    panel.controls["play"].value = True                            # again: from the start
    assert panel.controls["frame"].value == 0
    tick(), tick(), tick()
    panel.controls["reset"].click()
    assert not tick() and panel.controls["frame"].value == 0
    assert panel.controls["play"].value is False


def test_the_chain_start_image_can_be_chosen_and_pictures_keep_their_size(here):
    m = models.load("t/original/seed-0/vanilla", device="cpu")
    panel = widgets.chain_panel(m, index=2, steps=4)
    panel.controls["step"].click()
    first = _shown(panel)
    panel.controls["start"].value = 5
    assert panel.controls["frame"].value == 0 and _shown(panel)[0] != first[0]
    expected = views.chain(m, index=5, steps=4).arrays["means"][0]
    assert (panel.state["view"].arrays["means"][0] == expected).all()      # frame 0: image 5
    width = int(panel.image.width)
    assert width == int.from_bytes(bytes(panel.image.value)[16:20], "big")
    assert panel.image.layout.max_width == "100%"


def test_the_model_picker_loads_another_model(here):
    app = widgets.explorer_app("t/original/seed-0/deep-128", device="cpu")
    assert list(app.controls["model"].options) == models.available()
    assert [app.controls["tabs"].get_title(i) for i in range(3)] == ["interpolation", "traversal",
                                                                     "chain"]
    assert "deep-128" in app.label.value
    app.controls["tabs"].selected_index = 2                        # on the chain tab
    holders = app.controls["tabs"].children
    app.controls["model"].value = "t/retrained/seed-0/vanilla"
    # the tabs stay the same widgets (a browser shows the first tab when they are replaced):
    # only what they hold changes
    assert app.controls["tabs"].children == holders and app.controls["tabs"].selected_index == 2
    assert holders[2].children == (app.state["panels"]["chain"].box,)
    assert app.state["model"].name == "t/retrained/seed-0/vanilla"
    assert "float16" in app.label.value and "vanilla.pt" in app.label.value

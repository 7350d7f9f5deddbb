"""Sliders and buttons on the exploration views, for JupyterLab (``notebooks/explore.ipynb``).

Glue only: every callback calls a function of :mod:`vae_report.explore` and puts its figure (as a
PNG) into an ``ipywidgets.Image`` and its text into a label. Each panel is a :class:`Panel` whose
``controls`` a test can set (``panel.controls["frame"].value = 3``, ``.click()`` on a button) to
check that the picture and the label follow. Importing this module imports ipywidgets; nothing
else in the package does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import ipywidgets as w

from . import explore
from .explore import Explorer


@dataclass
class Panel:
    """A view with its controls: ``box`` is what the notebook displays; ``image`` and ``label``
    are what the callbacks update; ``controls`` by name."""

    box: w.Box
    image: w.Image
    label: w.HTML
    controls: dict[str, w.Widget] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)


def _show(panel: Panel, figure: Any, text: str) -> None:
    panel.image.value = explore.figure_png(figure)
    panel.label.value = f"<code>{text}</code>"


def _panel(controls: dict[str, w.Widget], layout: list[w.Widget]) -> Panel:
    image, label = w.Image(format="png"), w.HTML()
    return Panel(w.VBox([*layout, image, label]), image, label, controls)


def interpolation_panel(m: Explorer, start: int = 0, end: int = 1, steps: int = 11) -> Panel:
    """Two test digits (their indices) and a slider along the path between them: the frame,
    linear beside spherical, with each one's class and confidence."""
    n = len(m.data.test)
    start_box = w.BoundedIntText(value=start, min=0, max=n - 1, description="from image")
    end_box = w.BoundedIntText(value=end, min=0, max=n - 1, description="to image")
    frame = w.IntSlider(value=0, min=0, max=steps - 1, description="frame")
    panel = _panel({"start": start_box, "end": end_box, "frame": frame},
                   [w.HBox([start_box, end_box]), frame])

    def recompute(_: Any = None) -> None:
        panel.state["view"] = explore.interpolation(m, start_box.value, end_box.value, steps)
        redraw()

    def redraw(_: Any = None) -> None:
        _show(panel, *explore.interpolation_frame(panel.state["view"], frame.value))

    start_box.observe(recompute, "value")
    end_box.observe(recompute, "value")
    frame.observe(redraw, "value")
    recompute()
    return panel


def traversal_panel(m: Explorer, index: int | None = 0, span: float = 3.0) -> Panel:
    """A latent dimension (listed by KL, most informative first, with its state) and a slider
    for its value around test image ``index``: the decoded image and its class."""
    dims = explore.traversal(m, "all", index=index, values=2).arrays
    options = [(f"z{d} · KL {kl:.2f}" + (" · collapsed" if c else " · active" if a else ""), int(d))
               for d, kl, a, c in zip(dims["dims"], dims["kl"], dims["active"], dims["collapsed"])]
    dim = w.Dropdown(options=options, value=int(dims["dims"][0]), description="dimension")
    value = w.FloatSlider(value=0.0, min=-span, max=span, step=span / 20, description="value")
    panel = _panel({"dim": dim, "value": value}, [dim, value])

    def redraw(_: Any = None) -> None:
        view = explore.traversal_point(m, dim.value, value.value, index)
        _show(panel, view.figure, view.arrays["label"])

    dim.observe(redraw, "value")
    value.observe(redraw, "value")
    redraw()
    return panel


def chain_panel(m: Explorer, index: int = 0, steps: int = 50, seed: int = 0,
                interval_ms: int = 200) -> Panel:
    """The x → z → x chain from test image ``index``, stepped by hand (Step, Reset) or played:
    the decoder mean beside a draw with σ, class, confidence and nearest-image distance."""
    view = explore.chain(m, index=index, steps=steps, seed=seed)
    frame = w.IntSlider(value=0, min=0, max=steps, description="step")
    play = w.Play(value=0, min=0, max=steps, interval=interval_ms, description="Play")
    w.link((play, "value"), (frame, "value"))      # kernel-side: the Step and Reset buttons move both
    step_button = w.Button(description="Step", icon="step-forward")
    reset_button = w.Button(description="Reset", icon="undo")
    panel = _panel({"frame": frame, "play": play, "step": step_button, "reset": reset_button},
                   [w.HBox([play, step_button, reset_button, frame])])
    panel.state["view"] = view

    def redraw(_: Any = None) -> None:
        _show(panel, explore.chain_frame(m, view, frame.value), explore.chain_label(view, frame.value))

    def step(_: Any) -> None:
        frame.value = min(frame.value + 1, steps)

    def reset(_: Any) -> None:
        play.playing = False
        frame.value = 0

    frame.observe(redraw, "value")
    step_button.on_click(step)
    reset_button.on_click(reset)
    redraw()
    return panel


PANELS: dict[str, Callable[[Explorer], Panel]] = {
    "interpolation": interpolation_panel, "traversal": traversal_panel, "chain": chain_panel}


def explorer_app(model: str, choices: list[str] | None = None, device: str = "auto") -> Panel:
    """A model picker (every trained model, :func:`explore.available`) above tabs holding the
    three panels; picking another model loads it and rebuilds the tabs."""
    choices = choices or explore.available() or [model]
    picker = w.Dropdown(options=choices, value=model if model in choices else choices[0],
                        description="model")
    tabs = w.Tab()
    status = w.HTML()
    panel = Panel(w.VBox([picker, status, tabs]), w.Image(format="png"), status,
                  {"model": picker, "tabs": tabs})

    def build(_: Any = None) -> None:
        m = explore.load(picker.value, device=device)
        panels = {name: make(m) for name, make in PANELS.items()}
        tabs.children = [p.box for p in panels.values()]
        for i, name in enumerate(panels):
            tabs.set_title(i, name)
        panel.state.update(model=m, panels=panels)
        status.value = "<br>".join([f"<b>{m.name}</b> ({m.source.name})", *m.notes])

    picker.observe(build, "value")
    build()
    return panel

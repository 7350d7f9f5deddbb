"""Sliders and buttons on the exploration views, for JupyterLab (``notebooks/explore.ipynb``).

Glue only: every callback calls a function of :mod:`~vae_report.explore.views` and puts its figure (as a
PNG) into an ``ipywidgets.Image`` and its text into a label. Each panel is a :class:`Panel` whose
``controls`` a test can set (``panel.controls["frame"].value = 3``, ``.click()`` on a button) to
check that the picture and the label follow. Importing this module imports ipywidgets; nothing
else in the package does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import ipywidgets as w

from . import models, views
from .models import Explorer


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
    png = views.figure_png(figure)
    panel.image.value = png
    # shown at the size it was drawn: JupyterLab stretches an Image to its panel's width
    # otherwise (a 167 px traversal at 913 px: blurry, its label pushed off-screen)
    panel.image.width = str(_png_width(png))
    panel.label.value = f"<code>{text}</code>"


def _png_width(png: bytes) -> int:
    """The width of a PNG in pixels, from its IHDR chunk."""
    return int.from_bytes(png[16:20], "big")


def _panel(controls: dict[str, w.Widget], layout: list[w.Widget]) -> Panel:
    # max-width: narrower screens shrink the picture rather than cut it; no stretching up
    image, label = w.Image(format="png", layout=w.Layout(max_width="100%", height="auto")), w.HTML()
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
        panel.state["view"] = views.interpolation(m, start_box.value, end_box.value, steps)
        redraw()

    def redraw(_: Any = None) -> None:
        _show(panel, *views.interpolation_frame(panel.state["view"], frame.value))

    start_box.observe(recompute, "value")
    end_box.observe(recompute, "value")
    frame.observe(redraw, "value")
    recompute()
    return panel


def traversal_panel(m: Explorer, index: int | None = 0, span: float = 3.0) -> Panel:
    """A latent dimension (listed by KL, most informative first, with its state) and a slider
    for its value around test image ``index``: the decoded image and its class."""
    dims = views.traversal(m, "all", index=index, values=2).arrays
    options = [(f"z{d} · KL {kl:.2f}" + (" · collapsed" if c else " · active" if a else ""), int(d))
               for d, kl, a, c in zip(dims["dims"], dims["kl"], dims["active"], dims["collapsed"])]
    dim = w.Dropdown(options=options, value=int(dims["dims"][0]), description="dimension")
    value = w.FloatSlider(value=0.0, min=-span, max=span, step=span / 20, description="value")
    panel = _panel({"dim": dim, "value": value}, [dim, value])

    def redraw(_: Any = None) -> None:
        view = views.traversal_point(m, dim.value, value.value, index)
        _show(panel, view.figure, view.arrays["label"])

    dim.observe(redraw, "value")
    value.observe(redraw, "value")
    redraw()
    return panel


def chain_panel(m: Explorer, index: int = 0, steps: int = 50, seed: int = 0) -> Panel:
    """The x → z → x chain from a test image (``index``, changeable), stepped by hand (Step,
    Reset) or played: the decoder mean beside a draw with σ, class, confidence and
    nearest-image distance.

    Play is driven by the kernel, one step after the last one is drawn (:func:`tick`), so every
    step is shown at the pace the machine allows and Reset stops it where it says: a front-end
    timer (``ipywidgets.Play``) ticked every 200 ms while a redraw took 0.4–0.6 s, skipping
    two steps in three and overriding Reset with steps already queued."""
    n = len(m.data.test)
    start = w.BoundedIntText(value=index, min=0, max=n - 1, description="start image")
    frame = w.IntSlider(value=0, min=0, max=steps, description="step")
    play = w.ToggleButton(value=False, description="Play", icon="play")
    step_button = w.Button(description="Step", icon="step-forward")
    reset_button = w.Button(description="Reset", icon="undo")
    panel = _panel({"start": start, "frame": frame, "play": play, "step": step_button,
                    "reset": reset_button},
                   [start, w.HBox([play, step_button, reset_button, frame])])

    def recompute(_: Any = None) -> None:
        panel.state["view"] = views.chain(m, index=start.value, steps=steps, seed=seed)
        play.value = False
        if frame.value == 0:
            redraw()
        frame.value = 0                    # redraws

    def redraw(_: Any = None) -> None:
        view = panel.state["view"]
        _show(panel, views.chain_frame(m, view, frame.value), views.chain_label(view, frame.value))

    def step(_: Any = None) -> None:
        frame.value = min(frame.value + 1, steps)

    def tick() -> bool:
        """One step of Play: the next step drawn, or Play stopped at the last; whether it
        goes on."""
        if not play.value:
            return False
        if frame.value >= steps:
            play.value = False
            return False
        step()
        return True

    def toggled(change: dict) -> None:
        play.icon = "pause" if change["new"] else "play"
        if change["new"]:
            if frame.value >= steps:
                frame.value = 0
            _run_in_kernel(tick)

    def reset(_: Any) -> None:
        play.value = False
        frame.value = 0

    start.observe(recompute, "value")
    frame.observe(redraw, "value")
    play.observe(toggled, "value")
    step_button.on_click(step)
    reset_button.on_click(reset)
    panel.state["tick"] = tick
    recompute()
    return panel


def _run_in_kernel(tick: Callable[[], bool]) -> None:
    """Call ``tick`` until it says stop, yielding to the kernel's event loop between calls so
    that clicks (Reset, Pause) are handled at once; without a running loop (a script, a test)
    nothing is scheduled and the caller ticks."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return

    async def player() -> None:
        while tick():
            await asyncio.sleep(0.01)      # lets the kernel read the widgets' messages

    loop.create_task(player())


PANELS: dict[str, Callable[[Explorer], Panel]] = {
    "interpolation": interpolation_panel, "traversal": traversal_panel, "chain": chain_panel}


def explorer_app(model: str, choices: list[str] | None = None, device: str = "auto") -> Panel:
    """A model picker (every trained model, :func:`models.available`) above tabs holding the
    three panels; picking another model loads it and refills the tabs (the one shown stays)."""
    choices = choices or models.available() or [model]
    picker = w.Dropdown(options=choices, value=model if model in choices else choices[0],
                        description="model")
    tabs = w.Tab()
    status = w.HTML()
    panel = Panel(w.VBox([picker, status, tabs]), w.Image(format="png"), status,
                  {"model": picker, "tabs": tabs})

    # one holder per tab, made once: a new model fills the holders, the tabs themselves never
    # change — replacing a Tab's children makes the browser jump back to the first tab, whatever
    # the kernel then says its selected index is
    holders = [w.VBox() for _ in PANELS]
    tabs.children = holders
    for i, name in enumerate(PANELS):
        tabs.set_title(i, name)

    def build(_: Any = None) -> None:
        m = models.load(picker.value, device=device)
        panels = {name: make(m) for name, make in PANELS.items()}
        for holder, p in zip(holders, panels.values()):
            holder.children = [p.box]
        panel.state.update(model=m, panels=panels)
        status.value = "<br>".join([f"<b>{m.name}</b> ({m.source.name})", *m.notes])

    picker.observe(build, "value")
    build()
    return panel

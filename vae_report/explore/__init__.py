"""Looking inside trained models: ``models`` finds and loads one by name, ``views`` draws what is
inside it, ``own_digit`` reads a digit of your own, ``widgets`` puts sliders and buttons on the
views for JupyterLab, ``lab`` is `make lab`'s contents manager (notebooks saved without outputs)."""

"""Running the study: ``selection`` is what the Snakefile reads (the selection's checks, seeds,
each notebook's code), ``plan`` what `make report` will run and how long, ``notebook`` what every
step notebook does first, ``kernels`` the notebooks' Jupyter kernels."""

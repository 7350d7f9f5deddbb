"""The VAE report suite's library: everything but the model and the ELBO (those are ``vae_core``).

Folders by concern, each module one concern; importing the package (or any module) loads no
data, parses no argument and touches no global RNG. Imports run downwards only: ``explore``,
``report`` and ``workflow`` use ``train`` and ``metrics``, which use the foundation below.

===============  ==============================================================================
``train/``       training: ``loop`` (the epochs, resume, validation; the one entry
                 ``train_models``), ``state`` (config, history, generators, may it resume?),
                 ``engine`` (the step interface and the one epoch), ``fast_step`` (the
                 hand-written gradient), ``seed_stack`` (a run's seeds as one stacked model),
                 ``checkpoints`` (the checkpoint format, published weights), ``timing``
``metrics/``     what a trained model is measured by: ``evaluation`` (test ELBO, active units,
                 reconstructions, samples), ``iwae`` (the importance-weighted bound),
                 ``discrete`` (the 8-bit likelihood), ``chain`` (the x → z → x chain),
                 ``classifier`` (the digit classifier), ``quality`` (Fréchet, nearest image,
                 chain mixing)
``report/``      the report: ``gather`` (the cells' artifacts into tables), ``tables``,
                 ``figures``, ``display`` (shown in HTML and PDF), ``stats`` (the verdict
                 rule), ``evidence``/``margins``/``claims``/``judge`` (the seed's claims and
                 their verdicts), ``findings`` (the report's words), ``seed_reference``
``explore/``     looking inside trained models: ``models`` (finding and loading them),
                 ``views``, ``own_digit``, ``widgets`` (JupyterLab), ``lab`` (`make lab`)
``workflow/``    running the study: ``selection`` (what the Snakefile reads), ``plan`` (what
                 `make report` will do), ``notebook`` (every step notebook's first cell),
                 ``kernels`` (Jupyter kernels on sockets that cannot collide)
foundation       ``params`` (the one parameter schema), ``param_files`` (the YAML layers, read
                 strictly and merged), ``layout`` (where every file lives), ``data`` (MNIST),
                 ``devices``, ``files`` (atomic writes), ``errors``, ``provenance``,
                 ``pictures`` (image grids, GIFs, filmstrips)
===============  ==============================================================================
"""

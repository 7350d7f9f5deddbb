"""The VAE report suite's library: everything but the model and the ELBO (those are ``vae_core``).

One module per concern; importing the package (or any module) loads no data, parses no argument
and touches no global RNG.

==================  ===========================================================================
``errors``          the exceptions a user can meet, each naming the problem and the fix
``params``          the study's parameters: the schema, the first-cell check, the YAML layers
``layout``          where every output and checkpoint lives (the one definition of the layout)
``workflow``        what the Snakefile reads: the selection's checks, seeds, each notebook's code;
                    damaged checkpoints set aside (for the front door, never at the parse)
``plan``            what `make report` will run and how long, said before it starts
``kernels``         the notebooks' Jupyter kernels, on IPC sockets that cannot collide
``data``            MNIST: idx checks, offline sources, the tensor cache, the train/val split
``devices``         device choice, threads, subnormal flushing
``fast_step``       the hand-written ELBO gradient and the direct fused-Adam call (a backend)
``engine``          the one training loop: an epoch of S ≥ 1 models over a step interface
``seed_stack``      a run's seeds of one architecture trained side by side as one stacked model
``training``        the trainer: config, history, backends, resume, validation, checkpoints
``checkpoints``     the checkpoint format: what is saved, loading it, rebuilding the model; the
                    published float16 weights
``evaluation``      test ELBO, active units, reconstructions, decoder samples
``iwae``            the importance-weighted bound and its curve against K
``discrete``        the likelihood of 8-bit pixels (bins of the decoder Gaussian), in nats ≤ 0
``chain``           the x → z → x Markov chain (the seed's 'limiting distribution'), and the
                    chain as the seed ran it (torch.distributions, its two workarounds)
``classifier``      the digit classifier that judges samples and chains
``quality``         Fréchet distance, nearest-image distance, chain mixing
``figures``         image grids, uint8 arrays, the chain GIFs and filmstrips
``display``         tables and figures shown in both the HTML and the PDF report
``notebook``        what every step notebook does first, and its metrics files
``provenance``      git commit, package versions, machine: saved beside every artifact
``seed_reference``  the seed report's own numbers (Tables 1–4), in one place
``report``          gathering the cells' artifacts into the report's tables
``stats``           the one verdict rule: margins' tests, Welch, Holm, the combined verdict
``verdicts``        the seed's claims, their margins, the sentences not judged
``findings``        the report's words: the summary, the figure notes, the discussion
``explore``         loading a trained model by name, and the views that look inside it
``widgets``         sliders and buttons on those views, for JupyterLab (imports ipywidgets)
``lab``             `make lab`'s contents manager: the project's notebooks saved without outputs
``slices``          a study built over several sittings: cells packed into committed archives
==================  ===========================================================================
"""

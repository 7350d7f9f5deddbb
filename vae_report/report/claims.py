"""The seed's claims (``../shared/SEED-REPORT.md``) as data, in its order: each quotes the seed's
words (a test checks every quote is in the seed, and that every sentence of its results is a
claim, part of one (:attr:`SeedClaim.also`), listed in :data:`NOT_JUDGED` with the reason, or
narrative), says where the seed says it, and names its margin (:mod:`margins`), unit, practical
margin δ and resolution. Claims about the seed's broken chain are judged on the seed-faithful
variant runs and on the chain as the seed ran it (``chain.seed_chain``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .evidence import RUN_A, RUN_B, both_runs
from .margins import (b_deeper_blurrier, batch16_breaks_chain, bound_lifts_deepest,
                      deep256_no_collapse_b, deep512_sharpest, deep_learn_further,
                      deeper_learn_more, deepest_among_sharpest, deepest_chain_clearest,
                      deepest_chain_morphs, deepest_lowest_elbo, deepest_majority,
                      deepest_most_collapsed, deepest_promising, deepest_rises_again,
                      deepest_samples, depth_and_samples, elbo_not_enough, highest, no_collapse,
                      others_collapse, retrained_steadier, slows_after_fifth, std_collapses,
                      validation_follows, vanilla_blur_high, vanilla_chain_still,
                      vanilla_chain_unclear, vanilla_stops_early)


@dataclass(frozen=True)
class SeedClaim:
    """One claim of the seed: its words (``quote``, verbatim; ``also``: other sentences of the
    seed that state the same fact, judged by this row), where it stands (``where``), what this
    study tests (``claim``, a few words), the margin and why (``test``), its unit, practical margin
    ``delta`` and resolution (default: the printed precision ``10^-digits``); ``margin(table)``
    gives the per-seed margins — a Series indexed by seed, a dict run → Series for a claim tested
    in each run, or :class:`TwoRuns` — and the evidence text. ``sized``: the seed's words carry a
    size ("much", "considerably", "sharpest"), so the test is of margin − δ. ``conventions``: an
    ELBO ranking, also judged under the IWAE bound and the 8-bit likelihood
    (``margin(table, column)``)."""

    key: str
    quote: str
    where: str
    claim: str
    test: str
    unit: str
    delta: float
    margin: Callable[..., tuple[Any, str]]
    digits: int = 1
    sized: bool = False
    resolution: float | None = None
    also: tuple[str, ...] = ()
    conventions: bool = False

    @property
    def quantum(self) -> float:
        return self.resolution if self.resolution is not None else 10.0 ** -self.digits


@dataclass(frozen=True)
class NotJudged:
    """A sentence of the seed that states something this study does not judge, and why."""

    quote: str
    where: str
    why: str


_TRAIN, _ELBO, _COLLAPSE, _SAMPLES, _CHAIN, _RETRAIN = (
    "Implementation and training", "Model comparison: ELBO", "Posterior collapse",
    "Decoder evaluation", "Limiting distribution", "Retraining on batches of size 64")
_COUNT = 1.0        # the resolution of a count of dimensions: a margin in whole dimensions

CLAIMS: list[SeedClaim] = [
    SeedClaim("vanilla_stops_early",
              "the vanilla model with only a single linear layer learns really fast to a value of "
              "ELBO around 35 and then it basically stops learning", _TRAIN,
              "Run A: the vanilla model stops learning early",
              "validation ELBO gained after the first tenth of the epochs: smallest deep model's − "
              "vanilla's (its 35 is the seed's scale, not comparable)", "nats", 10.0,
              vanilla_stops_early),
    SeedClaim("validation_follows_training",
              "the validation loss follows exactly the training loss for all models", _TRAIN,
              "Validation follows training (each run)",
              "10 nats per image − the largest |training − validation ELBO| at the last epoch "
              "(nats: a percentage of an ELBO whose zero is arbitrary means nothing)", "nats", 2.0,
              both_runs(validation_follows)),
    SeedClaim("deep_learn_further",
              "all the deeper models look like they could learn further", _TRAIN,
              "Run A: every deep model still improves at the end",
              "the smallest validation-ELBO gain of a deep model over the last tenth of the epochs",
              "nats", 1.0, deep_learn_further, digits=2),
    SeedClaim("deeper_learn_more",
              "especially the models with more layers", _TRAIN,
              "Run A: models with more layers improve more at the end",
              "validation-ELBO gain over the last tenth: mean of the two- and three-layer models − "
              "mean of the one-layer models", "nats", 1.0, deeper_learn_more, digits=2),
    SeedClaim("deep512_highest_elbo",
              "The model with a single hidden layer but most hidden units reached the highest value "
              "of ELBO compared to the other models with a single hidden layer but fewer units.",
              _TRAIN, "Run A: deep-512 has the highest test ELBO",
              "test ELBO: deep-512 − the best other (here always a one-layer model, so one row for "
              "both sentences)", "nats", 5.0, highest(RUN_A, "deep-512"),
              also=("The highest value was achieved by the model with one layer and 512 hidden units",),
              conventions=True),
    SeedClaim("vanilla_blur_high",
              "Even the vanilla model can reconstruct the images but the blur is quite high", _TRAIN,
              "Run A: vanilla reconstructs more blurrily than the one-layer models",
              "test reconstruction squared error per image (from the log-likelihood and σ): "
              "vanilla's − the blurriest one-hidden-layer model's", "sq. error", 0.5,
              vanilla_blur_high, digits=2),
    SeedClaim("deep512_sharpest",
              "the model with one layer with 512 units seems to produce the sharpest images", _TRAIN,
              "Run A: deep-512's reconstructions are the sharpest",
              "test reconstruction squared error: the smallest other − deep-512's, tested for δ "
              "(\"sharpest\": a visible lead)", "sq. error", 0.1, deep512_sharpest, digits=2,
              sized=True),
    SeedClaim("deepest_lowest_elbo",
              "the last model with the most layers in encoder and decoder has the lowest achieved "
              "ELBO", _ELBO, "Run A: the deepest model has the lowest test ELBO",
              "test ELBO: the worst other − deepest", "nats", 5.0, deepest_lowest_elbo,
              conventions=True),
    SeedClaim("deepest_among_sharpest",
              "but the images are among the sharpest produced", _ELBO,
              "Run A: the deepest model's reconstructions are among the two sharpest",
              "sharpness independent of the likelihood — the gradient energy of the "
              "reconstructions ÷ the originals' — deepest's − the second highest other's",
              "ratio", 0.02, deepest_among_sharpest, digits=3),
    SeedClaim("lower_bound_explains",
              "In training we were optimizing a lower bound which might explain this phenomenon.",
              _ELBO, "Run A: the tighter IWAE bound lifts the deepest model past a model that beat "
              "it by ELBO", "IWAE: deepest − the lowest of the models with a higher ELBO (> 0: it "
              "overtakes one)", "nats", 5.0, bound_lifts_deepest),
    SeedClaim("vanilla_no_collapse",
              "the vanilla model does not have any collapsed posteriors", _COLLAPSE,
              "Vanilla has no collapsed dimension (each run)",
              "orders of magnitude the smallest dimension's KL lies above 0.01 nats, log10(KL/0.01) "
              "(this study's threshold; the counts at 0.005, 0.01, 0.02 shown)",
              "log10", 0.0, both_runs(no_collapse("vanilla")), digits=2),
    SeedClaim("deep512_no_collapse",
              "similarly to the model with 512 hidden units", _COLLAPSE,
              "deep-512 has no collapsed dimension (each run)",
              "log10(smallest dimension's KL / 0.01)", "log10", 0.0,
              both_runs(no_collapse("deep-512")), digits=2),
    SeedClaim("others_collapse",
              "All other models I trained have some", _COLLAPSE,
              "Every other model has a collapsed dimension (each run)",
              "−log10(the largest smallest-dimension KL of the other models / 0.01) (> 0: each has "
              "a dimension below the threshold)", "log10", 0.0, both_runs(others_collapse),
              digits=2, also=("but all of the other have some",)),
    SeedClaim("deepest_most_collapsed",
              "the most collapsed posteriors are in the model with 512 – 256 – 128 hidden units",
              _COLLAPSE, "The deepest model has the most collapsed dimensions (each run)",
              "collapsed dimensions at KL < 0.01: deepest − the most of the others",
              "dims", 1.0, both_runs(deepest_most_collapsed), resolution=_COUNT,
              also=("The deepest model has the most collapsed posteriors",)),
    SeedClaim("deepest_samples_digit_like",
              "it generated images that are somewhat similar to the training images from MNIST",
              _SAMPLES, "The deepest model's samples look most like digits (each run)",
              "Fréchet distance in the classifier's features: the best other − deepest; δ = the "
              "distance between two sets of real digits", "FD", 1.0,
              both_runs(deepest_samples), digits=2,
              also=("The other models produce only some mixture of different numbers and most of "
                    "the time it is impossible to say that the image is indeed a number",)),
    SeedClaim("elbo_not_enough",
              "So maybe just using ELBO and collapsed posteriors is not enough to evaluate the "
              "quality of a model.", _SAMPLES,
              "Run A: likelihood ranks the models against their sample quality",
              "−(Spearman correlation over the 7 models of the IWAE bound and −Fréchet distance), "
              "per seed", "−ρ", 0.3, elbo_not_enough, digits=2),
    SeedClaim("depth_matters_for_samples",
              "it might be the case that the depth of the decoder matters much for the quality of "
              "generated images", _SAMPLES,
              "Deeper decoders give much better samples (each run)",
              "Pearson correlation over the 7 models of hidden layers and −Fréchet distance, tested "
              "for δ (\"matters much\")", "r", 0.3, both_runs(depth_and_samples), digits=2,
              sized=True),
    SeedClaim("std_collapses",
              "it collapsed to zero or infinity", _CHAIN,
              "At batch 16, a standard deviation of the seed's model reaches 0 or ∞",
              "the most extreme |log std| (the encoder's along the seed's chain, the decoder's σ) − "
              "87.3 (where float32's exp leaves its range)", "log std", 1.0, std_collapses,
              digits=2),
    SeedClaim("batch16_breaks_chain",
              "The result of the 100 steps resulted in images filled with all ones or close to "
              "all ones.", _CHAIN,
              "The seed's model breaks its chain at batch 16, not at batch 64 + Kaiming",
              "per seed the smaller of (A′'s worst break − ½) and (½ − B′'s worst break); a break "
              "is 1 when sampling failed, else the share of final pixels ≥ 1",
              "share", 0.1, batch16_breaks_chain, digits=2,
              also=("both these approaches led to bad results",
                    "if training the models on batches of size 64 rather than 16, the problem "
                    "disappears",
                    "This time, the generation of the limiting distribution was successful",
                    "we were not able to produce meaningful results with the originally trained "
                    "models")),
    SeedClaim("retrained_steadier",
              "the learning is much more steady in the beginning", _RETRAIN,
              "Run B learns much more steadily than run A early on",
              "epochs of the first fifth whose validation ELBO fell, mean over models: A's − B's "
              "(Welch: the runs' seeds are not paired), tested for δ (\"much\")",
              "epochs", 0.5, retrained_steadier, digits=2, sized=True, resolution=1 / 7),
    SeedClaim("slows_after_twenty",
              "after around 20 epochs, the learning slows down considerably", _RETRAIN,
              "Run B: learning slows considerably after the first fifth",
              "the smallest slowdown over the models: 1 − (validation-ELBO gain per epoch in the "
              "second fifth ÷ in the second tenth; the first tenth's jump left out), tested for δ "
              "(\"considerably\": at least halved)", "share", 0.5, slows_after_fifth, digits=2,
              sized=True),
    SeedClaim("deepest_promising_increase",
              "the most deep model shows some promising increase in ELBO in the last ten or so "
              "epochs", _RETRAIN, "Run B: the deepest model still gains at the end",
              "the deepest model's validation-ELBO gain over the last tenth", "nats", 1.0,
              deepest_promising, digits=2),
    SeedClaim("deeper_blurrier_b",
              "even though the deeper models with considerably bigger blur effect", _RETRAIN,
              "Run B: deeper models reconstruct considerably more blurrily",
              "Pearson correlation over the 7 models of hidden layers and reconstruction error, "
              "tested for δ (\"considerably\")", "r", 0.3, b_deeper_blurrier, digits=2, sized=True),
    SeedClaim("deep256_highest_b",
              "the model with 256 hidden units in one layer achieved the highest ELBO, which then "
              "started to drop", _RETRAIN, "Run B: deep-256 has the highest test ELBO",
              "test ELBO: deep-256 − the best other", "nats", 5.0, highest(RUN_B, "deep-256"),
              conventions=True),
    SeedClaim("deepest_rises_again",
              "for the deepest model, the ELBO started increasing again", _RETRAIN,
              "Run B: the deepest model beats the two-hidden-layer models",
              "test ELBO: deepest − the better two-layer model", "nats", 5.0, deepest_rises_again,
              conventions=True),
    SeedClaim("deep256_no_collapse_b",
              "(and here even 256)", _RETRAIN,
              "Run B: deep-256 has no collapsed dimension",
              "log10(smallest dimension's KL / 0.01)", "log10", 0.0, deep256_no_collapse_b,
              digits=2),
    SeedClaim("deepest_majority_collapsed",
              "which is also the majority of the dimensions", _RETRAIN,
              "Run B: most of the deepest model's dimensions collapse",
              "collapsed dimensions (KL < 0.01) − 32½", "dims", 1.0, deepest_majority,
              resolution=_COUNT),
    SeedClaim("vanilla_chain_still",
              "I include the vanilla model, which does not do much", _RETRAIN,
              "Run B: the vanilla chain moves least of the three shown",
              "class changes per chain: the fewer of deep-256's and the deepest's − vanilla's "
              "(the models whose chains the seed showed)", "changes", 0.5, vanilla_chain_still),
    SeedClaim("vanilla_chain_unclear",
              "sometimes one might discern something what resembles a number but not very clearly",
              _RETRAIN, "Run B: the vanilla chain is the least digit-like of the three shown",
              "mean classifier confidence over the chain's frames: the lower of deep-256's and the "
              "deepest's − vanilla's (the models whose chains the seed showed)",
              "conf.", 0.05, vanilla_chain_unclear, digits=3),
    SeedClaim("deepest_chain_clearest",
              "the best performing model in terms most clear limiting distribution, which is the "
              "deepest model", _RETRAIN, "Run B: the deepest model's chain is the most digit-like",
              "mean frame confidence: deepest − the highest other", "conf.", 0.05,
              deepest_chain_clearest, digits=3,
              also=("In this animation we can clearly see some digits",)),
    SeedClaim("deepest_chain_morphs",
              "they are sometimes morphing into another digits", _RETRAIN,
              "Run B: the deepest model's chains morph from digit to digit",
              "share of chains with a class change between two digit-like frames (confidence ≥ 0.9, "
              "≥ ½ the start's ink) − 0.05", "share", 0.05, deepest_chain_morphs, digits=2),
]

#: The seed's other statements, and why this study does not judge them.
NOT_JUDGED: list[NotJudged] = [
    NotJudged("the learning curves of all deep models have almost exactly the same shape", _TRAIN,
              "no measure of 'shape' is given; Figures 1 and 5 show the curves side by side"),
    NotJudged("they differ only in the speed of learning in the first few iterations, then they "
              "seem to follow similar trends", _TRAIN,
              "the same statement about the curves' shape; the figures show it"),
    NotJudged("all the models reconstruct the images well", _TRAIN,
              "'well' has no bar; the reconstruction errors and the tableau are shown"),
    NotJudged("some models produce more blurry images than others", _TRAIN,
              "true of any seven different numbers; which ones is judged in the rows that follow"),
    NotJudged("maybe together with the model with three layers (last column)", _TRAIN,
              "the deepest model's sharpness is judged with the seed's second sentence on it "
              "('among the sharpest')"),
    NotJudged("the direct comparison between models of different number of layers and sizes might "
              "not be accurate, in my opinion", _ELBO,
              "an opinion on method; the ELBO rankings are shown beside the IWAE bound and the "
              "8-bit likelihood"),
    NotJudged("It is unclear to us why the batch of 16 images is problematic, from the lectures it "
              "seemed that it serves as implicit regularization so the models should generalize "
              "better. But maybe it is something specific to VAEs or the domain.", _CHAIN,
              "an expectation from the lectures that the seed itself doubts, not a result of its "
              "study; the training − validation gaps of both runs are shown (Table 5)"),
    NotJudged("One of these or a combination fixed the problem", _CHAIN,
              "the fix is judged with the broken chain itself (batch 16 against batch 64 + Kaiming); "
              "the two changes are not separated, by the seed or here"),
    NotJudged("all models follow similar trends", _RETRAIN,
              "no measure of 'similar trends' is given; Figure 5 shows the curves"),
    NotJudged("so if we trained for longer there could be some considerable improvements", _RETRAIN,
              "a conjecture about training this study does not run (100 epochs, as the seed)"),
    NotJudged("all models were able to reconstruct the images correctly", _RETRAIN,
              "'correctly' has no bar; Figure 6 shows the reconstructions"),
    NotJudged("However, we can still discern all the written digits.", _RETRAIN,
              "would need the classifier's accuracy on every seed's reconstructions; the committed "
              "cells keep only the first seed's 16 reconstructions (a limitation, not a verdict)"),
    NotJudged("Posterior collapse is exactly the same situation as before", _RETRAIN,
              "the collapse claims are judged in each run separately"),
    NotJudged("so maybe some deeper model could achieve even better performance", _RETRAIN,
              "a conjecture about models this study does not train"),
    NotJudged("we could train a model with much smaller latent dimension",
              _RETRAIN, "a conjecture about models this study does not train (one latent size)"),
    NotJudged("is again similar to the previous case but slightly more blurry", _RETRAIN,
              "no sharpness of samples is measured; the Fréchet distances of both runs are shown"),
    NotJudged("it has a kind of shimmering effect", _RETRAIN,
              "no measure of 'shimmering'; the animations show it"),
]

#: The openings of the seed's sentences that state no finding — what it set out to do, how it
#: built and trained the models, which figure shows what — so that a test can check that every
#: sentence of the seed is a claim, part of one, not judged with a reason, or one of these.
NARRATIVE: tuple[str, ...] = (
    "In this assignment we focus", "We want to train them", "We will try a *vanilla*",
    "These different models will be compared", "Implementation and training (assignments",
    "All the code for models", "The VAE is implemented that", "In the end, we trained multiple",
    "However, we always made the encoder", "The parameters shared all the models",
    "After training the models, we display", "From the curves, we can observe",
    "The final task in this part", "We have compiled them into a grid", "It is quite large but",
    "Model comparison (assignment 3)", "ELBO First, we compare", "Posterior collapse By averaging",
    "For comparison I show only", "In the next part, we will compare", "Decoder evaluation Now we",
    "Again, we display only some", "Limiting distribution While implementing",
    "Moreover, we added the kaiming", "Retraining the models on batches of size 64 In the",
    "The learning curves are shown again", "The number of parameters is the same",
    "The other comparisons of the models", "Then, I include the model which",
)

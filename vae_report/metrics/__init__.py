"""What a trained model is measured by: ``evaluation`` (test ELBO, active units,
reconstructions, samples), ``iwae`` (the importance-weighted bound), ``discrete`` (the 8-bit
likelihood), ``chain`` (the x → z → x chain), ``classifier`` (the digit classifier),
``quality`` (Fréchet and nearest-image distances, chain mixing)."""

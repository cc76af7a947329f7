"""Caption quality: corpus BLEU, CIDEr-D, the human ceiling and the content score."""

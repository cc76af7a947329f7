"""Data: the embedded dataset and its scenes, Flickr8k's download and layout, preprocessing, validation, the vocabulary."""

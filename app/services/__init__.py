"""What the API stands on: models, images, speech, history, training; each attached by its ``init_app``."""

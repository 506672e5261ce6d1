"""GAN quality measures (Fréchet distance, class consistency): they live with the apps, in scratchnet.apps.gan_metrics;
this module keeps the name `scratchnet.metrics` working for code that imports it."""
from .apps.gan_metrics import (WEIGHTS, class_consistency, features, frechet_distance,  # noqa: F401
                               load_classifier)

"""Images and data sets: one preprocessing definition for training, calibration and evaluation."""

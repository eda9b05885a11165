"""The instructor's front door: the Gradescope run, its ``results.json``, the zip to upload."""

"""The TA's front door: authoring and validating problems, regrading a class, its analytics."""

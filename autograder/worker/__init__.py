"""The untrusted side: the processes that run code under test.

Nothing here imports the grader (spec, engine, pydantic, yaml): only the standard library,
numpy, jax, flax, :mod:`autograder.protocol` and the modules of this package."""

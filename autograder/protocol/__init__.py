"""What crosses the boundary between the grader and a worker: plain data only.

Imported by both sides, so it depends on the standard library and numpy alone:
:mod:`.wire` carries JSON lines and ``.npy`` arrays, :mod:`.messages` says what they mean and
checks every reply once, at the boundary."""

"""Pure functions on `keras.ops`: no state, no Python branching on values."""

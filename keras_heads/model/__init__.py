"""Keras integration: `HeadModel` (fit / evaluate / predict) and its export."""

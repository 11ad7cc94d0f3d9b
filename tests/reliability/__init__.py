"""Tests proving the rows of the reliability catalog; each test id names its row (A1, B5, …)."""

"""Tests of the library mirror."""

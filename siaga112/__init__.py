"""Siaga112: the core of a 112 emergency call-center and command-center."""

__version__ = "0.1.0"

"""The Siaga112 test suite."""

# The two commands of Siaga112 (see README.md).

.PHONY: run test setup

# Set up, migrate, load the demo city and run every service on loopback.
run:
	scripts/setup
	.venv/bin/siaga112 db upgrade
	.venv/bin/siaga112 seed demo
	.venv/bin/siaga112 serve

# Set up and run the whole test suite (SQLite and PostgreSQL, browser and speech tests).
test:
	scripts/test

setup:
	scripts/setup --test

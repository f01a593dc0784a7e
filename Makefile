# The two commands of Siaga112 (see README.md).

.PHONY: run test setup

# Set up, migrate, load the demo city and run every service on loopback.
run:
	scripts/setup
	.venv/bin/siaga112 db upgrade
	.venv/bin/siaga112 seed demo
	@echo "Siaga112 runs in this terminal until Ctrl-C: console http://127.0.0.1:8112/, FastAGI 4573, SIA DC-09 10112."
	@echo "Open a second terminal for 'siaga112 user create' and 'siaga112 simulate-call' (see README.md)."
	.venv/bin/siaga112 serve

# Set up and run the whole test suite (SQLite and PostgreSQL, browser and speech tests).
test:
	scripts/test

setup:
	scripts/setup --test

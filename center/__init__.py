"""The command centre as a whole: the one place that joins the frame (`siaga112/`) and its domains.

`siaga112/` knows nothing of calls, incidents or recordings; `ivr/`, `routing/`, `recordings/`
and `agent_console/` know the frame but not each other's wiring. Here, in explicit tables, the
web app gets its blueprints and health checks, the scheduler its jobs, `serve` its services and
the `siaga112` command its domain commands.
"""

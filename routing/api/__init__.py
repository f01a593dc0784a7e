"""HTTP API of routing: incidents, alarms, units, reporters, Open311, text-to-112."""

blueprints: list = []

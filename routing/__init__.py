"""Routing: one engine for calls, app SOS, panic buttons and reports; places, units, incidents, alarms."""

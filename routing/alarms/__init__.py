"""Alarms from every source: app SOS, IP panic buttons, SIA DC-09 panels, text-to-112, and their intake."""

"""Recordings of calls: registered, kept, transcribed, played to supervisors."""

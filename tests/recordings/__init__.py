"""Tests of recordings: audio reading, transcription, live transcription, keyword triage."""

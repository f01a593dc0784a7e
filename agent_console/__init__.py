"""The agent console and the supervisor's floor."""

"""Command-line commands of recordings."""

commands: list = []
import_commands: list = []
seed_commands: list = []

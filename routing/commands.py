"""Command-line commands of routing."""

commands: list = []
import_commands: list = []
seed_commands: list = []

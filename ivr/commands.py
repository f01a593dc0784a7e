"""Command-line commands of ivr."""

commands: list = []
import_commands: list = []
seed_commands: list = []

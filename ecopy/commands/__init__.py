"""One module per further `ecopy` subcommand; see ecopy.cli._command_modules."""

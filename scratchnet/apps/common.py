"""What every app shares: a command-line entry (Command), progress, the random state, eval mode, one fit loop."""
from collections import namedtuple

# a subcommand that is not its module's main one (e.g. `scratchnet evaluate` beside `train` in apps.classify)
Command = namedtuple("Command", "add_arguments run")

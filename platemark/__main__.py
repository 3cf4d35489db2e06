from platemark.cli import cli

cli()

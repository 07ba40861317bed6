"""The `croptfx` command: argument parsing and one function per sub-command.

The top layer: it imports every package it drives, and nothing imports it.
Each sub-command checks its arguments, then calls a plain function of the
package that does the work (`pipeline.run`, `maps.run`, `report.build`, ...).
"""

"""The HTML report of a finished run: `build.write_report(run_dir)`.

One self-contained page (figures inline, no external resources) built from
`run_summary.json` and the artifacts it points at.
"""

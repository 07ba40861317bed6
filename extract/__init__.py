"""`croptfx extract`: Sentinel-2 L2A scenes (STAC items, COGs) and CDL rasters
-> Part-1 rows, as one Beam job.

items     STAC items -> scenes: assets by band name, harmonization rule
aoi       the area: a lon/lat box or a GeoJSON polygon
chunks    the label grid cut into chunks; work items (chunk x scene)
sample    one windowed read per asset per chunk: label blocks, scene samples
pack      the samples of a block of pixel-years -> Part-1 rows and counts
pipeline  the Beam job: work items -> samples -> grouped per pixel-year -> shards
run       the command: checks, runner, progress, counts that reconcile, summary
"""

"""Synthetic data with a known truth: `croptfx generate`.

simulate    the field, phenology and spectra simulator every data set comes from
part1       Part-1 Parquet rows (pixel-years)
imagery     what real sources deliver: Sentinel-2 L2A COGs, STAC items, CDL rasters
cdl_raster  the CDL's national grid and CDL GeoTIFFs
"""

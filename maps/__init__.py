"""Crop maps: the pixel grid, Cloud-Optimized GeoTIFFs and the quicklook."""

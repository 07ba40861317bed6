"""The map's files after the job: rasters, quicklook, page and summary fields.

`maps.run.run_map` calls these in order around the Beam job:
  `check_rasters`   before any work: --like and --reference are rasters
  `maps.pixel_grid.find_grid`   before the job: the grid the job writes cells of
  `write_rasters`   after the job: the COGs and the scores (`maps.raster`)
  `write_quicklook`, `write_page`   the PNG and `map.html`
  `summary_fields`  what they add to `map_summary.json`
Outputs on Cloud Storage are written locally first, then copied.
"""

import datetime
import os
import shutil
import tempfile
from typing import Dict, Optional, Sequence

from apache_beam.io.filesystems import FileSystems

from croptfx import layouts
from croptfx import paths
from croptfx.maps import page
from croptfx.maps import pixel_grid
from croptfx.maps import quicklook
from croptfx.maps import raster
from croptfx.maps import reference as reference_lib


def check_rasters(like: Optional[str], reference: Optional[str]) -> None:
  """--like and --reference open as rasters of the right kind (one line each)."""
  if like:
    pixel_grid.template(like)
  if reference:
    reference_lib.check(reference)


def write_rasters(pixel_files: Sequence[str], layout: layouts.MapLayout,
                  choice: pixel_grid.GridChoice, reference: Optional[str] = None,
                  label_mapping: Optional[str] = None) -> Dict[str, object]:
  """The map's COGs on `choice`'s grid (none, and why, without one), scored
  against `reference` if given: `maps.raster.write_map_rasters`."""
  return raster.write_map_rasters(pixel_files, layout.output, choice.grid, choice.reason,
                                  reference=reference, label_mapping=label_mapping)


def _local(tmp: str, uri: Optional[str]) -> Optional[str]:
  """A local copy of a remote raster, in `tmp`."""
  if not uri:
    return None
  local = os.path.join(tmp, uri.rstrip('/').rsplit('/', 1)[-1])
  with FileSystems.open(uri) as src, open(local, 'wb') as dst:
    shutil.copyfileobj(src, dst)
  return local


def write_quicklook(layout: layouts.MapLayout, title: str) -> str:
  if not paths.is_uri(layout.output):
    return quicklook.write_quicklook(layout.classes_tif, layout.quicklook_path, title)
  with tempfile.TemporaryDirectory(prefix='croptfx-map-') as tmp:
    png = quicklook.write_quicklook(_local(tmp, layout.classes_tif),
                                    os.path.join(tmp, layouts.MAP_QUICKLOOK), title)
    raster.copy_to(png, layout.quicklook_path)
  return layout.quicklook_path


def write_page(layout: layouts.MapLayout, as_of: datetime.date, model: str, data: str,
               choice: pixel_grid.GridChoice, rasters: Dict[str, object],
               pixels_per_class: Dict[str, int]) -> str:
  """`map.html` (`maps.page`) from the rasters just written."""
  summary = {'as_of': as_of.isoformat(), 'model': model, 'data': data,
             'grid': choice.to_dict(), 'raster': rasters,
             'pixels_per_class': pixels_per_class}
  if not paths.is_uri(layout.output):
    return page.write_page(layout.page_path, summary, rasters['classes_tif'],
                           rasters['reference_tif'], rasters['disagreement_tif'],
                           relative_to=layout.output)
  with tempfile.TemporaryDirectory(prefix='croptfx-map-') as tmp:
    html = page.write_page(os.path.join(tmp, layouts.MAP_PAGE), summary,
                           _local(tmp, rasters['classes_tif']),
                           _local(tmp, rasters['reference_tif']),
                           _local(tmp, rasters['disagreement_tif']))
    raster.copy_to(html, layout.page_path)
  return layout.page_path


_RASTER_KEYS = ('written', 'reason', 'grid', 'cells_filled', 'duplicate_cells',
                'duplicate_pixels', 'stripes', 'tiles', 'cell_area_ha', 'map_area_ha')


def summary_fields(choice: pixel_grid.GridChoice, rasters: Dict[str, object]
                   ) -> Dict[str, object]:
  """`grid`, `raster` and `reference` of `map_summary.json`."""
  return {'grid': choice.to_dict(),
          'raster': {k: rasters[k] for k in _RASTER_KEYS},
          'reference': rasters['reference']}

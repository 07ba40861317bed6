"""`croptfx bench`: speed and memory of the loaders and the Beam part.

Modules:
  main         orchestration: settings, the cases in order (`croptfx bench`)
  measure      one function per case, timing it (in a child process for D/E)
  seed_loader  case A: the seed's in-memory pandas + tf.data loader
  loaders      cases B and C: the Trainer's input_fn, the raw read, a timer
  beam_part    ExampleGen + Transform executors (also a command, for E)
  numpy_pass   case D's yardstick: the same grids in one pyarrow + NumPy pass
  trainer_speed  case T: the Trainer's training against the same fit in memory
  map_case     cases F and G: `croptfx map` against the serving signature alone
  raster_case  case H: the map's grid and raster steps alone, 1x and 10x (also a
               command, the measured child process)
  memory       peak RSS of a process tree, polled from /proc
  results      measurements -> figures, ratios against targets, notes
  table        figures, ratios against targets, Markdown tables
  benchmarks_file  machine description and the BENCHMARKS.md section
"""

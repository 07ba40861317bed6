"""Part-1 rows: read, checked and encoded the same way by every job.

reader       list input files, check their footers, stream normalized record batches
validation   vectorized row checks (reasons and notes)
encoding     normalized batches -> serialized raw tf.Examples
quarantine   the table of rows not used, with their file and reason
writer       Parquet files written whole or not at all (any Beam file system)

Used by the ParquetExampleGen, the map job and the extraction job. Pure
NumPy/pyarrow (reader and writer reach cloud URIs through Beam's file systems), no
TensorFlow or TFX, so Beam workers stay light.
"""

"""Part-1 rows: read, checked and encoded the same way by every job.

reader       list input files, check their footers, stream normalized record batches
validation   vectorized row checks (reasons and notes)
encoding     normalized batches -> serialized raw tf.Examples
quarantine   the table of rows not used, with their file and reason

Used by the ParquetExampleGen, the map job and the extraction job. Pure
NumPy/pyarrow (the reader lists cloud URIs with Beam's file systems), no
TensorFlow or TFX, so Beam workers stay light.
"""

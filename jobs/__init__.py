"""What every command's job shares: where its Beam jobs run.

portable   a local Beam job service and an EXTERNAL worker pool (`--runner portable`)
dataflow   the DataflowRunner's pipeline arguments (`--runner dataflow`, `croptfx compile`)
"""

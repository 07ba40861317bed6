"""components/pusher.py: a serving model appears whole or not at all."""

import os

import pytest

from croptfx.components import pusher


def _model(tmp_path):
  model = tmp_path / 'model'
  (model / 'variables').mkdir(parents=True)
  (model / 'variables' / 'variables.data-00000-of-00001').write_bytes(b'w' * 1000)
  (model / 'variables' / 'variables.index').write_bytes(b'i')
  (model / 'saved_model.pb').write_bytes(b'graph')
  return str(model)


def _tree(root):
  return sorted(os.path.relpath(os.path.join(d, f), root)
                for d, _, files in os.walk(root) for f in files)


def test_publish_copies_the_model_under_its_version(tmp_path):
  model, base = _model(tmp_path), str(tmp_path / 'serving')
  path = pusher.publish(model, base, '1700000000')
  assert path == os.path.join(base, '1700000000')
  assert _tree(path) == _tree(model)
  assert os.listdir(base) == ['1700000000']
  # The same version again (the same second): kept as it is.
  assert pusher.publish(model, base, '1700000000') == path


def test_a_failed_push_leaves_no_version_behind(tmp_path, monkeypatch):
  model, base = _model(tmp_path), str(tmp_path / 'serving')
  real_copy = pusher.io_utils.fileio.copy
  copied = []

  def copy_then_fill_the_disk(src, dst, *args, **kwargs):
    if copied:  # the second file: the disk is full
      raise OSError(28, 'No space left on device')
    copied.append(dst)
    return real_copy(src, dst, *args, **kwargs)
  monkeypatch.setattr(pusher.io_utils.fileio, 'copy', copy_then_fill_the_disk)
  with pytest.raises(OSError, match='No space left'):
    pusher.publish(model, base, '1700000001')
  assert copied  # it failed part-way, with a file written
  assert os.listdir(base) == []  # no `1700000001/`, no hidden staging copy

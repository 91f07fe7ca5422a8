"""bench/loops.yml written for pyinfra (bench/loops.py runs it): the same three loops."""

import io
import os

from pyinfra.operations import files

N = int(os.environ.get("PLUMB_LOOP_ITEMS", "200"))

for i in range(N):
    files.directory(name=f"a directory per item ({i})", path=f"/srv/loops/d{i}", present=True)

for i in range(N):
    files.line(name=f"a line per item, in one file ({i})", path="/srv/loops/lines.conf",
               line=f"key_{i}_ = {i}")

for i in range(N):
    files.put(name=f"a small file per item ({i})", src=io.StringIO(f"item {i}\n"),
              dest=f"/srv/loops/f{i}.txt")
